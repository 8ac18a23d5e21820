// Package world simulates everything around the Umeme server on one
// machine, for a person trying it in a browser (`make run`) and for tests:
//
//   - a USSD gateway that keeps one session per phone and calls the
//     server's USSD callback exactly as Africa's Talking does (ussd.go);
//   - Africa's Talking's SMS API (internal/sms/atsim) at
//     /version1/messaging, each phone's inbox, delivery reports posted
//     back to the server, and texts from a phone to the service (phones.go);
//   - Safaricom's Daraja (internal/mpesa/darajasim) under /daraja, whose
//     STK prompts wait for the phone's decision, and M-Pesa's own
//     confirmation texts (mpesa.go);
//   - the rest of the Lightning Network: the regtest "world" lnd, which
//     pays invoices and Lightning Addresses and makes invoices (node.go);
//   - the operator's view of the server's database: users, balances,
//     system accounts and reconcile (operator.go);
//   - the web phone that drives it all (package web).
//
// The JSON API the page uses is the contract in the handlers below; it has
// no authentication and is for loopback only.
package world

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/sms/atsim"
	"github.com/umeme-wallet/umeme/internal/world/web"
)

// Config is what the world is wired to.
type Config struct {
	// ServerURL is the Umeme server's root, e.g. http://127.0.0.1:8001.
	ServerURL string
	// USSDToken and SMSToken are the server's USSD_CALLBACK_TOKEN and
	// SMS_CALLBACK_TOKEN, which the gateway's callbacks carry.
	USSDToken, SMSToken string
	// ServiceCode is the USSD code the phones dial (*384*1234#);
	// ServiceNumber the short code they text (22384).
	ServiceCode, ServiceNumber string
	// Phones are the numbers of the phones on the page (E.164).
	Phones []string
	// Network is the Lightning network's name, shown on the page.
	Network string
	// AddressDomain is the domain of the users' Lightning Addresses (the
	// server's PUBLIC_DOMAIN; default the server URL's host).
	AddressDomain string
	// ATUsername and ATAPIKey are the simulated Africa's Talking account
	// the server sends SMS with (AT_USERNAME, AT_API_KEY).
	ATUsername, ATAPIKey string
	// Daraja is the simulated Daraja account (the server's MPESA_*).
	Daraja darajasim.Config
	// Business is the name M-Pesa shows for the server's paybill.
	Business string
	// Node is the world's lnd (nil: the page has no world node).
	Node *Node
	// DatabaseURL is the server's database, read for the operator's view
	// ("": no view).
	DatabaseURL string
	// USSDTimeout is how long the gateway waits for the server's answer
	// (Africa's Talking: about 15 s); USSDIdle how long a session may wait
	// for the subscriber before the network ends it.
	USSDTimeout, USSDIdle time.Duration
	// Log receives the simulator's own events (never secrets).
	Log *slog.Logger
}

// World is a running simulator. Close it to stop its background posts.
type World struct {
	cfg    Config
	sms    *atsim.Sim
	daraja *darajasim.Sim
	hc     *http.Client
	ussd   gateway
	mpesa  mpesaTexts
	op     operator
	node   nodeCache
	made   invoiceBook
	// posting holds the background posts (USSD end-of-session events).
	posting sync.WaitGroup

	mu     sync.Mutex
	seen   map[string]bool // phones that used the world, beyond cfg.Phones
	recent []event
}

// event is one thing the world node did, for the page's log.
type event struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
}

// maxRecent is how many events the world keeps.
const maxRecent = 50

// New makes a world from cfg.
func New(cfg Config) (*World, error) {
	if cfg.ServerURL == "" {
		return nil, errors.New("world: no server URL")
	}
	if u, err := url.Parse(cfg.ServerURL); err != nil || u.Host == "" {
		return nil, fmt.Errorf("world: server URL %q is not http://host:port", cfg.ServerURL)
	}
	cfg.ServerURL = strings.TrimRight(cfg.ServerURL, "/")
	if cfg.AddressDomain == "" {
		u, _ := url.Parse(cfg.ServerURL)
		cfg.AddressDomain = u.Host
	}
	if cfg.ServiceCode == "" {
		cfg.ServiceCode = "*384*1234#"
	}
	if cfg.ServiceNumber == "" {
		cfg.ServiceNumber = "22384"
	}
	if cfg.Business == "" {
		cfg.Business = "Umeme"
	}
	if cfg.Network == "" {
		cfg.Network = "regtest"
	}
	if cfg.USSDTimeout <= 0 {
		cfg.USSDTimeout = 15 * time.Second
	}
	if cfg.USSDIdle <= 0 {
		cfg.USSDIdle = 3 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	for _, p := range cfg.Phones {
		if !sms.IsE164(p) {
			return nil, fmt.Errorf("world: phone %q is not E.164 (+2547…)", p)
		}
	}
	d, err := darajasim.New(cfg.Daraja)
	if err != nil {
		return nil, err
	}
	// A person answers every prompt on the page.
	d.SetSTKDefault(darajasim.STKOutcome{Delivery: darajasim.DeliverManual})
	hc := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	w := &World{cfg: cfg, daraja: d, hc: hc, seen: map[string]bool{}}
	// The SMS simulator's client notes the id of each inbound text.
	w.sms = atsim.New(atsim.Config{Username: cfg.ATUsername, APIKey: cfg.ATAPIKey, AutoDeliver: true,
		Client: &http.Client{Timeout: 10 * time.Second, Transport: idCatcher{http.DefaultTransport},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}})
	if cfg.SMSToken != "" {
		w.sms.SetDeliveryURL(cfg.ServerURL + "/sms/" + url.PathEscape(cfg.SMSToken) + "/delivery")
	}
	w.ussd.sessions = map[string]*session{}
	w.op.url = cfg.DatabaseURL
	w.node.node = cfg.Node
	return w, nil
}

// Daraja is the Daraja simulator (its certificate is the server's
// MPESA_CERT_PATH).
func (w *World) Daraja() *darajasim.Sim { return w.daraja }

// SMS is the Africa's Talking simulator.
func (w *World) SMS() *atsim.Sim { return w.sms }

// Close stops the simulators' background work and waits for posts in
// flight, and closes the operator's database.
func (w *World) Close() {
	w.daraja.Close()
	w.sms.Close()
	w.posting.Wait()
	w.op.close()
}

// Handler serves the page, its JSON API and the simulated providers'
// endpoints the server calls.
func (w *World) Handler() http.Handler {
	mux := http.NewServeMux()
	page := web.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /static/", page)
	mux.HandleFunc("GET /api/config", w.apiConfig)
	mux.HandleFunc("POST /api/ussd", w.apiUSSD)
	mux.HandleFunc("POST /api/ussd/cancel", w.apiUSSDCancel)
	mux.HandleFunc("GET /api/phones/{phone}", w.apiPhone)
	mux.HandleFunc("POST /api/phones/{phone}/sms", w.apiPhoneSMS)
	mux.HandleFunc("POST /api/stk/{id}", w.apiSTK)
	mux.HandleFunc("GET /api/world", w.apiWorld)
	mux.HandleFunc("POST /api/world/pay", w.apiWorldPay)
	mux.HandleFunc("POST /api/world/invoice", w.apiWorldInvoice)
	mux.Handle("/api/", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		writeError(rw, http.StatusNotFound, "no such API")
	}))
	// What the server calls: Africa's Talking's SMS API and Daraja. The
	// simulators' own control APIs are beside them, for a person.
	mux.Handle("/version1/messaging", w.sms.Handler())
	mux.Handle("/daraja/", http.StripPrefix("/daraja", w.daraja))
	mux.Handle("/sim/sms/", http.StripPrefix("/sim/sms", w.sms.Control()))
	mux.Handle("/sim/daraja/", http.StripPrefix("/sim/daraja", w.daraja.Control()))
	return mux
}

// apiConfig answers GET /api/config.
func (w *World) apiConfig(rw http.ResponseWriter, _ *http.Request) {
	phones := w.cfg.Phones
	if phones == nil {
		phones = []string{}
	}
	writeJSON(rw, http.StatusOK, map[string]any{
		"serviceCode": w.cfg.ServiceCode, "serviceNumber": w.cfg.ServiceNumber,
		"phones": phones, "network": w.cfg.Network, "addressDomain": w.cfg.AddressDomain,
	})
}

// saw notes a phone that used the world, for the operator's view.
func (w *World) saw(phone string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen[phone] = true
}

// phones is every phone the world knows: the page's, then the others
// that used it or were texted.
func (w *World) phones() []string {
	out := append([]string(nil), w.cfg.Phones...)
	known := map[string]bool{}
	for _, p := range out {
		known[p] = true
	}
	w.mu.Lock()
	for p := range w.seen {
		if !known[p] {
			known[p] = true
			out = append(out, p)
		}
	}
	w.mu.Unlock()
	for _, m := range w.sms.Messages() {
		if !known[m.To] && sms.IsE164(m.To) {
			known[m.To] = true
			out = append(out, m.To)
		}
	}
	return out
}

// note records what the world node did.
func (w *World) note(what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.recent = append(w.recent, event{At: time.Now().UTC(), What: what})
	if len(w.recent) > maxRecent {
		w.recent = w.recent[len(w.recent)-maxRecent:]
	}
}

func (w *World) recentEvents() []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]event{}, w.recent...)
}

// background runs fn in the background, tracked by Close.
func (w *World) background(fn func(ctx context.Context)) {
	w.posting.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.USSDTimeout)
		defer cancel()
		fn(ctx)
	})
}
