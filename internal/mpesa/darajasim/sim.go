// Package darajasim is a simulator of Safaricom's Daraja API, an
// http.Handler that speaks the endpoints and JSON internal/mpesa uses:
// OAuth, STK push and query, B2C and Transaction Status. It checks what
// Daraja checks (credentials, token, STK password and timestamp, the B2C
// SecurityCredential, amounts, phones, field lengths), answers errors in
// Daraja's shape, and posts callbacks to the URLs the requests gave.
//
// What M-Pesa does with each request is chosen by the test or the person
// driving it: a default outcome, per-phone overrides, and a queue of next
// outcomes (the queue first, then the phone's, then the default). It is
// independent of internal/mpesa on purpose: both computing a password the
// same wrong way would hide the mistake.
package darajasim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"time"
)

// nairobi is East Africa Time, UTC+3 all year.
var nairobi = time.FixedZone("EAT", 3*60*60)

// Config is the simulated account. Empty durations take their defaults.
type Config struct {
	ConsumerKey       string
	ConsumerSecret    string
	ShortCode         string // STK paybill
	PassKey           string
	B2CShortCode      string
	InitiatorName     string
	InitiatorPassword string

	// TokenLifetime is how long an issued token is valid (default 3599 s,
	// as Daraja); short ones make a client's refresh testable.
	TokenLifetime time.Duration
	// LateDelay is how long a late callback and a queue time-out's
	// decision wait (default 2 s). Flush runs everything waiting at once.
	LateDelay time.Duration
	// TimestampSkew is how far an STK Timestamp may be from now (default
	// 5 min).
	TimestampSkew time.Duration
	// Now is the clock of tokens, timestamps and receipts (default
	// time.Now).
	Now func() time.Time
	// CallbackClient posts callbacks (default: 5 s timeout, no redirects).
	CallbackClient *http.Client
}

// Request is one request the simulator received. Body is as it came,
// credentials included: for a test's assertions, never for a log.
type Request struct {
	At     time.Time
	Method string
	Path   string
	Body   []byte
	Status int
}

// Callback is one callback attempt and how it was answered. Status is 0
// and Err set when no answer came. Callbacks are never retried.
type Callback struct {
	At   time.Time
	Kind string // "stk", "b2c-result", "b2c-timeout", "status-result"
	URL  string
	Body []byte
	// Status and Err are the receiver's answer.
	Status int
	Err    string
}

// Sim is the simulator. All its methods are safe for concurrent use.
type Sim struct {
	cfg     Config
	key     *rsa.PrivateKey
	certPEM []byte
	mux     *http.ServeMux
	hc      *http.Client

	mu        sync.Mutex
	seq       int
	tokens    map[string]time.Time
	stk       map[string]*stkTxn
	phoneLock map[string]string // phone → CheckoutRequestID of its open prompt
	b2c       map[string]*b2cTxn
	receipts  map[string]*b2cTxn
	stkOut    choice[STKOutcome]
	b2cOut    choice[B2COutcome]
	requests  []Request
	callbacks []Callback
	waiting   map[int]*delayed
	closed    bool
	sending   sync.WaitGroup
}

type delayed struct {
	timer *time.Timer
	fn    func()
}

// New starts a simulator with a fresh self-signed RSA-2048 certificate.
func New(cfg Config) (*Sim, error) {
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 3599 * time.Second
	}
	if cfg.LateDelay <= 0 {
		cfg.LateDelay = 2 * time.Second
	}
	if cfg.TimestampSkew <= 0 {
		cfg.TimestampSkew = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.CallbackClient
	if hc == nil {
		hc = &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("darajasim: key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Daraja simulator", Organization: []string{"Umeme tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("darajasim: certificate: %w", err)
	}
	s := &Sim{
		cfg:       cfg,
		key:       key,
		certPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		hc:        hc,
		tokens:    map[string]time.Time{},
		stk:       map[string]*stkTxn{},
		phoneLock: map[string]string{},
		b2c:       map[string]*b2cTxn{},
		receipts:  map[string]*b2cTxn{},
		stkOut:    choice[STKOutcome]{phone: map[string]STKOutcome{}},
		b2cOut:    choice[B2COutcome]{phone: map[string]B2COutcome{}},
		waiting:   map[int]*delayed{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/v1/generate", s.oauth)
	mux.HandleFunc("POST /mpesa/stkpush/v1/processrequest", s.authed(s.stkPush))
	mux.HandleFunc("POST /mpesa/stkpushquery/v1/query", s.authed(s.stkQuery))
	mux.HandleFunc("POST /mpesa/b2c/v3/paymentrequest", s.authed(s.b2cPay))
	mux.HandleFunc("POST /mpesa/transactionstatus/v1/query", s.authed(s.transactionStatus))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, http.StatusNotFound, "404.001.01", "Resource not found")
	})
	s.mux = mux
	return s, nil
}

// CertPEM is the simulator's certificate, for the client's Config.CertPEM.
func (s *Sim) CertPEM() []byte { return bytes.Clone(s.certPEM) }

// ServeHTTP records the request and answers it as Daraja would, after
// the answer's Answer.After when its outcome holds it.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		s.fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid payload")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusWriter{header: w.Header(), status: http.StatusOK}
	s.mux.ServeHTTP(rec, r)
	s.mu.Lock()
	s.requests = append(s.requests, Request{At: s.cfg.Now(), Method: r.Method, Path: r.URL.Path, Body: body, Status: rec.status})
	s.mu.Unlock()
	if rec.hold > 0 {
		t := time.NewTimer(rec.hold)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

// statusWriter keeps a handler's answer until ServeHTTP writes it, and
// how long to hold it.
type statusWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
	hold   time.Duration
}

func (w *statusWriter) Header() http.Header         { return w.header }
func (w *statusWriter) WriteHeader(code int)        { w.status = code }
func (w *statusWriter) Write(b []byte) (int, error) { return w.body.Write(b) }

// hold has the answer being written to w wait d before it is sent.
func (s *Sim) hold(w http.ResponseWriter, d time.Duration) {
	if sw, ok := w.(*statusWriter); ok {
		sw.hold = d
	}
}

// Requests is every request received so far, oldest first.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Callbacks is every callback attempt so far, oldest first.
func (s *Sim) Callbacks() []Callback {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Callback(nil), s.callbacks...)
}

// Flush runs at once, in the order they were scheduled, everything
// waiting on LateDelay (late callbacks, decisions after a queue time-out),
// so a test need not wait for them.
func (s *Sim) Flush() {
	s.mu.Lock()
	ids := slices.Sorted(maps.Keys(s.waiting))
	var fns []func()
	for _, id := range ids {
		// Whoever removes the entry runs it: a timer that fired but has
		// not taken the lock yet finds it gone and does nothing.
		d := s.waiting[id]
		d.timer.Stop()
		fns = append(fns, d.fn)
		delete(s.waiting, id)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Close stops everything waiting and waits for callbacks being posted.
// Nothing is posted after it.
func (s *Sim) Close() {
	s.mu.Lock()
	s.closed = true
	for id, d := range s.waiting {
		d.timer.Stop()
		delete(s.waiting, id)
	}
	s.mu.Unlock()
	s.sending.Wait()
}

// later runs fn after LateDelay unless Flush runs it first or Close drops
// it. Called with s.mu held.
func (s *Sim) later(fn func()) {
	if s.closed {
		return
	}
	s.seq++
	id := s.seq
	d := &delayed{fn: fn}
	d.timer = time.AfterFunc(s.cfg.LateDelay, func() {
		s.mu.Lock()
		_, ok := s.waiting[id]
		delete(s.waiting, id)
		s.mu.Unlock()
		if ok {
			fn()
		}
	})
	s.waiting[id] = d
}

// post sends a callback times times, one after the other (a duplicate
// never overtakes its original), in the background, recording each
// attempt. Called with s.mu held.
func (s *Sim) post(kind, url string, payload any, times int) {
	if s.closed {
		return
	}
	body, err := json.Marshal(payload)
	if err != nil {
		panic(err) // the simulator's own maps always encode
	}
	s.sending.Add(1)
	go func() {
		defer s.sending.Done()
		for range times {
			cb := Callback{At: s.cfg.Now(), Kind: kind, URL: url, Body: body}
			resp, err := s.hc.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				cb.Err = err.Error()
			} else {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				cb.Status = resp.StatusCode
			}
			s.mu.Lock()
			s.callbacks = append(s.callbacks, cb)
			s.mu.Unlock()
		}
	}()
}

// id makes a fresh identifier. Called with s.mu held.
func (s *Sim) id(prefix string) string {
	s.seq++
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s%d%s", prefix, s.seq, hex.EncodeToString(b))
}

// receipt makes an M-Pesa-like receipt: ten upper-case characters.
// Called with s.mu held.
func (s *Sim) receipt() string {
	s.seq++
	return fmt.Sprintf("SIM%07d", s.seq%10_000_000)
}

// fail answers in Daraja's error shape.
func (s *Sim) fail(w http.ResponseWriter, status int, code, msg string) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	writeJSON(w, status, map[string]string{
		"requestId":    hex.EncodeToString(b),
		"errorCode":    code,
		"errorMessage": msg,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var errNotPending = errors.New("darajasim: no pending prompt with that CheckoutRequestID")
