package mpesa_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/mpesa"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
)

// Test credentials. They are distinctive so that an error string carrying
// one is caught by assertNoSecrets.
const (
	consumerKey       = "ck-test-key"
	consumerSecret    = "cs-SECRET-5f2a9d"
	shortCode         = "174379"
	passKey           = "pk-SECRET-77c1e0"
	b2cShortCode      = "600000"
	initiatorName     = "umemeapi"
	initiatorPassword = "ip-SECRET-a93b41"
	phone             = "254712345678"
)

var secrets = []string{consumerSecret, passKey, initiatorPassword}

// clock is a settable clock shared by a client and a simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// received is one callback the receiver got.
type received struct {
	path string
	body []byte
}

// receiver stands for Umeme's callback endpoints: it records each body and
// answers Accepted (or status, if set).
type receiver struct {
	srv    *httptest.Server
	ch     chan received
	status int
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{ch: make(chan received, 64), status: http.StatusOK}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(http.MaxBytesReader(w, req.Body, mpesa.MaxCallbackBytes))
		r.ch <- received{path: req.URL.Path, body: b}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(r.status)
		_, _ = w.Write(mpesa.Accepted)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url(path string) string { return r.srv.URL + path }

// next waits for the next callback; it fails the test after 5 s.
func (r *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case got := <-r.ch:
		return got
	case <-time.After(5 * time.Second):
		t.Fatal("no callback within 5 s")
		return received{}
	}
}

// none checks that no callback is waiting.
func (r *receiver) none(t *testing.T) {
	t.Helper()
	select {
	case got := <-r.ch:
		t.Fatalf("unexpected callback to %s: %s", got.path, got.body)
	default:
	}
}

// env is a client talking to a simulator over loopback HTTP.
type env struct {
	client *mpesa.Client
	sim    *darajasim.Sim
	simURL string
	rcv    *receiver
	clock  *clock
}

type option func(*darajasim.Config, *mpesa.Config)

func newEnv(t *testing.T, opts ...option) *env {
	t.Helper()
	e := &env{rcv: newReceiver(t), clock: newClock()}
	scfg := darajasim.Config{
		ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		ShortCode: shortCode, PassKey: passKey,
		B2CShortCode: b2cShortCode, InitiatorName: initiatorName, InitiatorPassword: initiatorPassword,
		LateDelay: time.Hour, // late things happen on Flush unless a test says otherwise
		Now:       e.clock.Now,
	}
	ccfg := mpesa.Config{
		ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		ShortCode: shortCode, PassKey: passKey,
		B2CShortCode: b2cShortCode, InitiatorName: initiatorName, InitiatorPassword: initiatorPassword,
		Now: e.clock.Now,
	}
	for _, o := range opts {
		o(&scfg, &ccfg)
	}
	sim, err := darajasim.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	e.sim = sim
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // runs first: no callback is posted after it
	e.simURL = srv.URL
	ccfg.BaseURL = srv.URL
	if ccfg.CertPEM == nil {
		ccfg.CertPEM = sim.CertPEM()
	}
	e.client, err = mpesa.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// calls counts the requests the simulator got on a path.
func (e *env) calls(path string) int {
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// lastBody is the JSON body of the last request on a path.
func (e *env) lastBody(t *testing.T, path string) map[string]any {
	t.Helper()
	var last []byte
	for _, r := range e.sim.Requests() {
		if r.Path == path {
			last = r.Body
		}
	}
	if last == nil {
		t.Fatalf("no request to %s", path)
	}
	var m map[string]any
	if err := json.Unmarshal(last, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) push(t *testing.T, amount int64) mpesa.STKPushReply {
	t.Helper()
	r, err := e.client.STKPush(context.Background(), mpesa.STKPush{
		Phone: "0712345678", AmountKES: amount, AccountReference: "UMEME", Description: "Top-up",
		CallbackURL: e.rcv.url("/cb/stk"),
	})
	if err != nil {
		t.Fatalf("STKPush: %v", err)
	}
	return r
}

func (e *env) pay(t *testing.T, id string, amount int64) mpesa.B2CReply {
	t.Helper()
	r, err := e.client.B2C(context.Background(), e.b2cReq(id, amount))
	if err != nil {
		t.Fatalf("B2C: %v", err)
	}
	return r
}

func (e *env) b2cReq(id string, amount int64) mpesa.B2C {
	return mpesa.B2C{
		OriginatorConversationID: id, Phone: "+254712345678", AmountKES: amount,
		Remarks: "Withdrawal", ResultURL: e.rcv.url("/cb/result"), QueueTimeOutURL: e.rcv.url("/cb/timeout"),
	}
}

func (e *env) status(t *testing.T, id string) mpesa.Result {
	t.Helper()
	_, err := e.client.TransactionStatus(context.Background(), mpesa.TransactionStatus{
		OriginatorConversationID: id, Remarks: "Reconcile",
		ResultURL: e.rcv.url("/cb/status"), QueueTimeOutURL: e.rcv.url("/cb/status-timeout"),
	})
	if err != nil {
		t.Fatalf("TransactionStatus: %v", err)
	}
	got := e.rcv.next(t)
	if got.path != "/cb/status" {
		t.Fatalf("status result went to %s", got.path)
	}
	res, err := mpesa.ParseResult(got.body)
	if err != nil {
		t.Fatalf("ParseResult: %v", err)
	}
	return res
}

// assertNoSecrets fails if err's text holds a secret, a token the
// simulator issued, or a full phone number.
func assertNoSecrets(t *testing.T, err error, extra ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range append(append([]string{}, secrets...), extra...) {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error %q contains a secret", msg)
		}
	}
	for _, p := range []string{phone, "0712345678", "712345678"} {
		if strings.Contains(msg, p) {
			t.Errorf("error %q contains an unmasked phone number", msg)
		}
	}
}
