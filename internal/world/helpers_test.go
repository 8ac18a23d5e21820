package world_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/fleet"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/world"
)

const (
	phoneA = "+254700000001"
	phoneB = "+254700000002"
	pinA   = "7391"
	pinB   = "5820"

	ussdToken = "world-test-ussd-token"
	smsToken  = "world-test-sms-token-0123456789"
	atKey     = "world-test-at-key"
)

var darajaAccount = darajasim.Config{ConsumerKey: "k", ConsumerSecret: "s", ShortCode: "174379", PassKey: "p",
	B2CShortCode: "600000", InitiatorName: "i", InitiatorPassword: "ip"}

// env is a world wired to a server, driven over the world's HTTP API as
// the web phone drives it.
type env struct {
	t      *testing.T
	url    string // the world's
	server string // the server's
	dbURL  string
	w      *world.World
	app    *app.App
	// logs holds what the server and the world logged, for a failing
	// test to show.
	logs *logBuffer
	// hops counts the inputs sent (each a hop of the server's).
	hops int
}

// teeHandler gives each record to both handlers.
type teeHandler struct{ a, b slog.Handler }

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.a.Enabled(ctx, l) || h.b.Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.a.Enabled(ctx, r.Level) {
		err = h.a.Handle(ctx, r.Clone())
	}
	if h.b.Enabled(ctx, r.Level) {
		err = errors.Join(err, h.b.Handle(ctx, r.Clone()))
	}
	return err
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{h.a.WithAttrs(as), h.b.WithAttrs(as)}
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{h.a.WithGroup(name), h.b.WithGroup(name)}
}

// logBuffer keeps the last of what loggers write (it is shared by the
// server's and the world's goroutines).
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
	// whole keeps everything written (a test that reads the whole log).
	whole bool
}

// maxLog is how much of the log a logBuffer keeps.
const maxLog = 1 << 20

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > maxLog && !b.whole {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-maxLog/2:]...)
	}
	return len(p), nil
}

// String is what the buffer holds.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// tail is the last n lines written.
func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(b.buf), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// startWorld starts a world and a development server (internal/app,
// in-process) on a fresh database of engine, wired together as
// cmd/world wires them; with n, the server's node is n's "ours" and the
// world node is n's "world".
func startWorld(t *testing.T, engine string, n *regtest.Network) *env {
	t.Helper()
	return startWorldWith(t, engine, n, worldOptions{})
}

// worldOptions change what startWorld wires.
type worldOptions struct {
	// serverLog, when set, also receives the server's log (the text one
	// goes to env.logs).
	serverLog *slog.Logger
	// daraja replaces the M-Pesa account darajaAccount.
	daraja *darajasim.Config
	// mutate changes the server's configuration last.
	mutate func(*config.Config)
}

func startWorldWith(t *testing.T, engine string, n *regtest.Network, o worldOptions) *env {
	t.Helper()
	addr := fleet.FreeAddr(t)
	e := &env{t: t, server: "http://" + addr, dbURL: dbtest.URL(t, engine), logs: &logBuffer{}}
	daraja := darajaAccount
	if o.daraja != nil {
		daraja = *o.daraja
	}
	cfg := world.Config{ServerURL: e.server, USSDToken: ussdToken, SMSToken: smsToken, Phones: []string{phoneA, phoneB},
		ATUsername: "umeme", ATAPIKey: atKey, Daraja: daraja, DatabaseURL: e.dbURL,
		Log: slog.New(slog.NewTextHandler(e.logs, nil)).With("from", "world")}
	if n != nil {
		cfg.Node = &world.Node{LNCLI: filepath.Join(regtest.BinDir(), "lncli"), Dir: n.World.Dir, RPC: n.World.RPC, Network: "regtest"}
	}
	w, err := world.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sim := httptest.NewServer(w.Handler())
	t.Cleanup(func() { sim.Close(); w.Close() })
	e.url, e.w = sim.URL, w
	cert := filepath.Join(t.TempDir(), "daraja.pem")
	if err := os.WriteFile(cert, w.Daraja().CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}

	c := config.Default()
	c.Environment = config.Development
	c.DatabaseURL, c.ListenAddr, c.PublicDomain = e.dbURL, addr, addr
	c.HopsPerMinute, c.PINsPerMinute = 0, 0
	c.USSDCallbackToken = ussdToken
	c.KESPerBTC = "13000000"
	m := &c.Mpesa
	m.BaseURL, m.ConsumerKey, m.ConsumerSecret = sim.URL+"/daraja", daraja.ConsumerKey, daraja.ConsumerSecret
	m.ShortCode, m.PassKey, m.B2CShortCode = daraja.ShortCode, daraja.PassKey, daraja.B2CShortCode
	m.InitiatorName, m.InitiatorPassword, m.CertPath = daraja.InitiatorName, daraja.InitiatorPassword, cert
	m.CallbackURL, m.CallbackToken = e.server, "world-test-daraja-token-0123456789"
	c.SMS.BaseURL, c.SMS.Username, c.SMS.APIKey, c.SMS.CallbackToken = sim.URL, "umeme", atKey, smsToken
	if n != nil {
		c.LNDAddress, c.LNDTLSCertPath, c.LNDMacaroonPath, c.LNDNetwork = n.Ours.RPC, n.Ours.TLSCertPath(), n.Ours.MacaroonPath(), "regtest"
	}
	if o.mutate != nil {
		o.mutate(&c)
	}
	log := slog.New(slog.NewTextHandler(e.logs, nil)).With("from", "server")
	if o.serverLog != nil {
		log = slog.New(teeHandler{log.Handler(), o.serverLog.Handler()})
	}
	a, err := app.Open(context.Background(), c, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Close(ctx)
	})
	e.app = a
	return e
}

// call sends a request to the world's API and decodes the JSON answer
// into out (when not nil), failing unless the status is want.
func (e *env) call(method, path string, body any, want int, out any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// screen is POST /api/ussd's answer.
type screen struct {
	SessionID string `json:"sessionId"`
	Text      string `json:"text"`
	End       bool   `json:"end"`
	MS        int64  `json:"ms"`
}

// ussd sends one input of a phone (a dial when no session is open).
func (e *env) ussd(phone, input string) screen {
	e.t.Helper()
	e.hops++
	var s screen
	e.call(http.MethodPost, "/api/ussd", map[string]string{"phone": phone, "input": input}, http.StatusOK, &s)
	return s
}

// expect fails unless the screen holds every want.
func expect(t *testing.T, s screen, wants ...string) screen {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s.Text, w) {
			t.Fatalf("screen %q (end %v) lacks %q", s.Text, s.End, w)
		}
	}
	return s
}

// menuItem finds the number of a menu item on a screen.
func menuItem(t *testing.T, s screen, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(\d+)\. ` + regexp.QuoteMeta(label)).FindStringSubmatch(s.Text)
	if m == nil {
		t.Fatalf("no %q on %q", label, s.Text)
	}
	return m[1]
}

// register dials and creates an account with pin.
func (e *env) register(phone, pin string) {
	e.t.Helper()
	expect(e.t, e.ussd(phone, ""), "1. Create account")
	expect(e.t, e.ussd(phone, "1"), "Choose a PIN")
	expect(e.t, e.ussd(phone, pin), "again")
	if s := e.ussd(phone, pin); !s.End {
		e.t.Fatalf("registration did not end: %q", s.Text)
	}
}

// phoneState is GET /api/phones/{phone}.
type phoneState struct {
	SMS []struct {
		ID, From, Text, Status string
		At                     time.Time
	} `json:"sms"`
	STK *struct {
		ID        string `json:"id"`
		AmountKES int64  `json:"amountKES"`
		Account   string `json:"account"`
		Text      string `json:"text"`
	} `json:"stk"`
	Mpesa []struct {
		Text string    `json:"text"`
		At   time.Time `json:"at"`
	} `json:"mpesa"`
}

func (e *env) phone(p string) phoneState {
	e.t.Helper()
	var st phoneState
	e.call(http.MethodGet, "/api/phones/"+url.PathEscape(p), nil, http.StatusOK, &st)
	return st
}

// worldState is GET /api/world.
type worldState struct {
	Node *struct {
		Alias       string `json:"alias"`
		BalanceSats int64  `json:"balanceSats"`
		ChannelSats int64  `json:"channelSats"`
		Pubkey      string `json:"pubkey"`
		Error       string `json:"error"`
	} `json:"node"`
	Operator struct {
		Users []struct {
			Phone       string `json:"phone"`
			Status      string `json:"status"`
			BalanceSats int64  `json:"balanceSats"`
		} `json:"users"`
		LiabilitiesSats int64            `json:"liabilitiesSats"`
		SystemAccounts  map[string]int64 `json:"systemAccounts"`
		Reconcile       struct {
			OK   bool   `json:"ok"`
			Text string `json:"text"`
		} `json:"reconcile"`
	} `json:"operator"`
	Invoices []struct {
		Invoice string `json:"invoice"`
		Sats    int64  `json:"sats"`
		Memo    string `json:"memo"`
		State   string `json:"state"`
	} `json:"invoices"`
	Recent []struct {
		At   time.Time `json:"at"`
		What string    `json:"what"`
	} `json:"recent"`
}

func (e *env) world() worldState {
	e.t.Helper()
	var ws worldState
	e.call(http.MethodGet, "/api/world", nil, http.StatusOK, &ws)
	return ws
}

// balance is a user's balance in the operator's view (-1: not listed).
func (ws worldState) balance(phone string) int64 {
	for _, u := range ws.Operator.Users {
		if u.Phone == phone {
			return u.BalanceSats
		}
	}
	return -1
}

// eventually polls cond until it holds, failing with its last word after
// d. The world is another process's view: there is no event to wait on.
func eventually(t *testing.T, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// buy buys KES kes with M-Pesa over USSD and approves the STK prompt on
// the page's API; it returns the sats credited.
func (e *env) buy(phone string, kes string) int64 {
	e.t.Helper()
	before := e.world().balance(phone)
	item := menuItem(e.t, e.ussd(phone, ""), "Buy with M-Pesa")
	expect(e.t, e.ussd(phone, item), "Amount in KES")
	expect(e.t, e.ussd(phone, kes), "Pay KES "+kes+" for ", "1. Confirm")
	if s := expect(e.t, e.ussd(phone, "1"), "enter your M-Pesa PIN to pay KES "+kes); !s.End {
		e.t.Fatalf("buy did not end: %q", s.Text)
	}
	var st phoneState
	eventually(e.t, 10*time.Second, func() (bool, string) {
		st = e.phone(phone)
		return st.STK != nil, "no STK prompt on the phone"
	})
	if want := "Enter M-Pesa PIN to pay KES " + kes + " to Umeme"; st.STK.Text != want || st.STK.Account == "" {
		e.t.Fatalf("prompt %+v, want %q", st.STK, want)
	}
	mpesaBefore := len(st.Mpesa)
	e.call(http.MethodPost, "/api/stk/"+url.PathEscape(st.STK.ID), map[string]string{"action": "approve"}, http.StatusOK, nil)
	var credited int64
	eventually(e.t, 20*time.Second, func() (bool, string) {
		credited = e.world().balance(phone) - max(before, 0)
		return credited > 0, "the top-up is not credited"
	})
	// The simulator texts its own confirmation beside the callback that
	// credits us: either may be seen first.
	eventually(e.t, 10*time.Second, func() (bool, string) {
		st = e.phone(phone)
		return len(st.Mpesa) > mpesaBefore, "no M-Pesa confirmation on the phone"
	})
	if st.STK != nil || len(st.Mpesa) != mpesaBefore+1 || !strings.Contains(st.Mpesa[len(st.Mpesa)-1].Text, "Confirmed. Ksh"+kes+".00 sent to Umeme") {
		e.t.Fatalf("after approving: %+v", st)
	}
	return credited
}

// waitReady waits until the server's /readyz says its database and node
// answer.
func (e *env) waitReady() {
	e.t.Helper()
	eventually(e.t, 60*time.Second, func() (bool, string) {
		resp, err := http.Get(e.server + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, "the server's node is not ready"
	})
}

// worldPaid is the world's answer to a payment (POST /api/world/pay).
type worldPaid struct {
	OK      bool   `json:"ok"`
	Status  string `json:"status"`
	FeeSats int64  `json:"feeSats"`
}

// payAddress has the world node pay sats to phone's Lightning Address, and
// waits until phone holds want sats.
func (e *env) payAddress(phone string, sats, want int64) {
	e.t.Helper()
	var paid worldPaid
	address := strings.TrimPrefix(phone, "+") + "@" + strings.TrimPrefix(e.server, "http://")
	e.call(http.MethodPost, "/api/world/pay", map[string]any{"address": address, "sats": sats}, http.StatusOK, &paid)
	if !paid.OK || paid.Status != "SUCCEEDED" || paid.FeeSats != 0 {
		e.t.Fatalf("paying %s: %+v", address, paid)
	}
	eventually(e.t, 30*time.Second, func() (bool, string) {
		b := e.world().balance(phone)
		return b == want, fmt.Sprintf("%s holds %d sats, want %d", phone, b, want)
	})
}
