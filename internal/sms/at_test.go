package sms_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/sms/atsim"
)

const (
	user   = "umeme"
	apiKey = "atsk_0123456789abcdef_SECRET"
	alice  = "+254711222333"
)

// lockedBuffer is a log sink the adapter may write from any goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type rig struct {
	sim  *atsim.Sim
	at   *sms.AT
	logs *lockedBuffer
}

// newRig starts atsim over real HTTP and an adapter pointed at it. Every
// log line the adapter wrote is checked, at the end, for the apiKey and
// for Alice's whole number.
func newRig(t *testing.T, mod func(*sms.Config)) *rig {
	t.Helper()
	sim := atsim.New(atsim.Config{Username: user, APIKey: apiKey})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	logs := &lockedBuffer{}
	cfg := sms.Config{BaseURL: srv.URL + "/", Username: user, APIKey: apiKey, Timeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if mod != nil {
		mod(&cfg)
	}
	at, err := sms.NewAT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s := logs.String(); strings.Contains(s, apiKey) || strings.Contains(s, alice) {
			t.Errorf("logs hold the apiKey or a whole number:\n%s", s)
		}
	})
	return &rig{sim: sim, at: at, logs: logs}
}

func (r *rig) send(t *testing.T, text string) (sms.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := r.at.Send(ctx, sms.Message{To: alice, Text: text})
	checkErr(t, res, err)
	return res, err
}

// checkErr holds for every Send: a nil error means Sent, an error is a
// *sms.Error with a zero Result, and its text never holds the apiKey or
// the whole number.
func checkErr(t *testing.T, res sms.Result, err error) {
	t.Helper()
	if err == nil {
		if !res.Sent {
			t.Errorf("nil error but not Sent: %+v", res)
		}
		return
	}
	var e *sms.Error
	if !errors.As(err, &e) {
		t.Errorf("error %v (%T) is not a *sms.Error", err, err)
	}
	if res != (sms.Result{}) {
		t.Errorf("error %v with a result %+v", err, res)
	}
	if s := err.Error(); strings.Contains(s, apiKey) || strings.Contains(s, alice) {
		t.Errorf("error text holds a secret or a whole number: %s", s)
	}
}

type want int

const (
	wantSent want = iota
	wantPermanent
	wantRetryable
	wantOperator // retryable, and the operator must act
)

func (w want) String() string {
	return [...]string{"sent", "permanent", "retryable", "retryable+operator"}[w]
}

func classOf(err error) want {
	switch {
	case err == nil:
		return wantSent
	case sms.Permanent(err):
		return wantPermanent
	case sms.NeedsOperator(err):
		return wantOperator
	default:
		return wantRetryable
	}
}

func TestSMSAdapterSendsTheDocumentedRequest(t *testing.T) {
	for _, from := range []string{"", "UMEME"} {
		t.Run("from="+from, func(t *testing.T) {
			r := newRig(t, func(c *sms.Config) { c.From = from })
			res, err := r.send(t, "Invoice: lnbc10u1p...")
			if err != nil {
				t.Fatal(err)
			}
			msgs := r.sim.Messages()
			if len(msgs) != 1 || res.MessageID != msgs[0].ID || !strings.HasPrefix(res.MessageID, "ATXid_") ||
				res.Cost != "KES 0.8000" || res.StatusCode != 101 || res.Status != "Success" {
				t.Fatalf("result %+v, messages %+v", res, msgs)
			}
			if msgs[0].To != alice || msgs[0].Text != "Invoice: lnbc10u1p..." || msgs[0].From != from {
				t.Errorf("message %+v", msgs[0])
			}
			req := r.sim.Requests()[0]
			if req.Header.Get("apiKey") != apiKey || req.Header.Get("Accept") != "application/json" ||
				req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
				t.Errorf("headers %v", req.Header)
			}
			if _, has := req.Form["from"]; has != (from != "") {
				t.Errorf("from sent: %v, want %v", has, from != "")
			}
			if wantFields := map[bool]int{false: 3, true: 4}[from != ""]; len(req.Form) != wantFields {
				t.Errorf("form fields %v", req.Form)
			}
		})
	}
}

func TestSMSAdapterStatusCodes(t *testing.T) {
	cases := map[int]want{
		100: wantSent, 101: wantSent, 102: wantSent,
		403: wantPermanent, 404: wantPermanent, 406: wantPermanent, 409: wantPermanent,
		401: wantRetryable, 405: wantRetryable, 407: wantRetryable,
		500: wantRetryable, 501: wantRetryable, 502: wantRetryable,
		402: wantOperator, 499: wantOperator, 103: wantOperator,
	}
	r := newRig(t, nil)
	for code, w := range cases {
		r.sim.Queue(atsim.Outcome{StatusCode: code})
		res, err := r.send(t, "x")
		if got := classOf(err); got != w {
			t.Errorf("status %d: %v (%v), want %v", code, got, err, w)
		}
		if err == nil {
			if res.StatusCode != code || res.MessageID == "" {
				t.Errorf("status %d: result %+v", code, res)
			}
			continue
		}
		var e *sms.Error
		if errors.As(err, &e) && (e.StatusCode != code || e.Status != atsim.StatusName(code) || e.HTTPStatus != 201) {
			t.Errorf("status %d: error keeps %d %q HTTP %d", code, e.StatusCode, e.Status, e.HTTPStatus)
		}
	}
	if got := r.sim.Count(alice); got != 3 {
		t.Errorf("atsim accepted %d, want 3 (100, 101, 102)", got)
	}
}

func TestSMSAdapterHTTPErrors(t *testing.T) {
	cases := map[int]want{
		http.StatusInternalServerError: wantRetryable,
		http.StatusBadGateway:          wantRetryable,
		http.StatusServiceUnavailable:  wantRetryable,
		http.StatusGatewayTimeout:      wantRetryable,
		http.StatusTooManyRequests:     wantRetryable,
		http.StatusBadRequest:          wantOperator,
		http.StatusNotFound:            wantOperator,
	}
	r := newRig(t, nil)
	for status, w := range cases {
		r.sim.Queue(atsim.Outcome{HTTPStatus: status})
		_, err := r.send(t, "x")
		var e *sms.Error
		if got := classOf(err); got != w || !errors.As(err, &e) || e.HTTPStatus != status {
			t.Errorf("HTTP %d: %v (%v), want %v", status, got, err, w)
		}
	}
	r.sim.Queue(atsim.Outcome{HTTPStatus: http.StatusOK})
	if res, err := r.send(t, "x"); err != nil || res.StatusCode != 101 {
		t.Errorf("a 200 answer: %+v %v", res, err)
	}
}

func TestSMSAdapterAuthFailure(t *testing.T) {
	for name, mod := range map[string]func(*sms.Config){
		"apiKey":   func(c *sms.Config) { c.APIKey = apiKey + "x" },
		"username": func(c *sms.Config) { c.Username = "someone" },
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, mod)
			_, err := r.send(t, "x")
			var e *sms.Error
			if classOf(err) != wantOperator || !errors.As(err, &e) || e.HTTPStatus != http.StatusUnauthorized {
				t.Fatalf("%v: want a retryable error for the operator, HTTP 401", err)
			}
			if s := err.Error(); !strings.Contains(s, "credentials") || !strings.Contains(s, "The supplied authentication is invalid") {
				t.Errorf("error does not say the credentials are wrong: %s", s)
			}
			if !strings.Contains(r.logs.String(), "refused the credentials") {
				t.Errorf("no log for the operator: %s", r.logs.String())
			}
			if r.sim.Count(alice) != 0 {
				t.Error("sent with bad credentials")
			}
		})
	}
}

func TestSMSAdapterSlowAnswerTimesOut(t *testing.T) {
	r := newRig(t, func(c *sms.Config) { c.Timeout = 200 * time.Millisecond })
	r.sim.Queue(atsim.Outcome{Delay: time.Minute})
	start := time.Now()
	_, err := r.send(t, "x")
	if classOf(err) != wantRetryable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v: want a retryable timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v with a 200 ms timeout", d)
	}
	// The next message is not held up by the abandoned one.
	if _, err := r.send(t, "y"); err != nil {
		t.Fatal(err)
	}
}

func TestSMSAdapterCallerCancels(t *testing.T) {
	r := newRig(t, nil)
	r.sim.Queue(atsim.Outcome{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := r.at.Send(ctx, sms.Message{To: alice, Text: "x"})
	checkErr(t, res, err)
	if classOf(err) != wantRetryable {
		t.Fatalf("%v: want retryable", err)
	}
}

func TestSMSAdapterDroppedConnection(t *testing.T) {
	r := newRig(t, nil)
	r.sim.Queue(atsim.Outcome{Drop: true})
	if _, err := r.send(t, "x"); classOf(err) != wantRetryable {
		t.Fatalf("%v: want retryable", err)
	}
	if n := r.sim.Count(alice); n != 0 {
		t.Errorf("atsim accepted %d", n)
	}
}

func TestSMSAdapterDropAfterAccept(t *testing.T) {
	r := newRig(t, nil)
	r.sim.Queue(atsim.Outcome{DropAfterAccept: true})
	if _, err := r.send(t, "x"); classOf(err) != wantRetryable {
		t.Fatalf("%v: want retryable (the answer was lost)", err)
	}
	if n := r.sim.Count(alice); n != 1 {
		t.Fatalf("atsim counted %d, want 1: the adapter must not resend by itself", n)
	}
	if n := len(r.sim.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestSMSAdapterLenientDecoding(t *testing.T) {
	r := newRig(t, nil)
	r.sim.Queue(atsim.Outcome{StringStatusCode: true})
	if res, err := r.send(t, "x"); err != nil || res.StatusCode != 101 {
		t.Errorf("string 101: %+v %v", res, err)
	}
	r.sim.Queue(atsim.Outcome{StringStatusCode: true, StatusCode: 406})
	if _, err := r.send(t, "x"); classOf(err) != wantPermanent {
		t.Errorf("string 406: %v, want permanent", err)
	}
	r.sim.Queue(atsim.Outcome{StringStatusCode: true, StatusCode: 405})
	if _, err := r.send(t, "x"); classOf(err) != wantRetryable {
		t.Errorf("string 405: %v, want retryable", err)
	}
	// The code alone decides, without a status text to fall back on.
	r.sim.Queue(atsim.Outcome{RawBody: `{"SMSMessageData":{"Recipients":[{"statusCode":"102","number":"+254711222333","messageId":"ATXid_9"}]}}`})
	if res, err := r.send(t, "x"); err != nil || res.StatusCode != 102 || res.Status != "Queued" || res.MessageID != "ATXid_9" {
		t.Errorf("string 102 without status text: %+v %v", res, err)
	}
	r.sim.Queue(atsim.Outcome{RawBody: `{"SMSMessageData":{"Recipients":[{"statusCode":" 409 ","number":"+254711222333","messageId":"None"}]}}`})
	if _, err := r.send(t, "x"); classOf(err) != wantPermanent {
		t.Errorf("string 409 without status text: %v, want permanent", err)
	}
}

func TestSMSAdapterMalformedAnswers(t *testing.T) {
	answer := func(summary string) string {
		return `{"SMSMessageData":{"Message":"` + summary +
			`","Recipients":[{"statusCode":101,"number":"+254711222333","status":"Success","cost":"KES 0.8000","messageId":"ATXid_1"}]}}`
	}
	big := answer(strings.Repeat("a", 70<<10))
	for name, tc := range map[string]struct {
		o    atsim.Outcome
		want want
	}{
		"no recipient":      {atsim.Outcome{NoRecipients: true}, wantOperator},
		"html":              {atsim.Outcome{RawBody: "<html><body>Bad gateway</body></html>"}, wantRetryable},
		"plain text":        {atsim.Outcome{RawBody: "ok", HTTPStatus: 200}, wantRetryable},
		"empty":             {atsim.Outcome{RawBody: " "}, wantRetryable},
		"over 64 KiB":       {atsim.Outcome{RawBody: big}, wantRetryable},
		"code as text only": {atsim.Outcome{RawBody: `{"SMSMessageData":{"Recipients":[{"number":"+254711222333","status":"UserInBlacklist","messageId":"None"}]}}`}, wantPermanent},
		"no code, no text":  {atsim.Outcome{RawBody: `{"SMSMessageData":{"Recipients":[{"number":"+254711222333","messageId":"ATXid_1"}]}}`}, wantOperator},
		"two, ours second": {atsim.Outcome{RawBody: `{"SMSMessageData":{"Recipients":[{"number":"+254700000001","statusCode":101,"messageId":"ATXid_1"},` +
			`{"number":"+254711222333","statusCode":"409","status":"DoNotDisturbRejection","messageId":"None"}]}}`}, wantPermanent},
	} {
		r := newRig(t, nil)
		r.sim.Queue(tc.o)
		if _, err := r.send(t, "x"); classOf(err) != tc.want {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// A small valid body sent as raw text is read: the guard above is
	// the size, not the raw path.
	r := newRig(t, nil)
	r.sim.Queue(atsim.Outcome{RawBody: answer("Sent to 1/1")})
	if res, err := r.send(t, "x"); err != nil || res.MessageID != "ATXid_1" {
		t.Errorf("small raw body: %+v %v", res, err)
	}
}

func TestSMSAdapterRefusesBadMessagesWithoutSending(t *testing.T) {
	r := newRig(t, nil)
	for _, m := range []sms.Message{
		{To: "0711222333", Text: "x"},
		{To: "254711222333", Text: "x"},
		{To: "+254711222333,+254722000111", Text: "x"},
		{To: "+0711222333", Text: "x"},
		{To: alice, Text: " \n"},
		{To: alice, Text: strings.Repeat("x", 1601)},
	} {
		res, err := r.at.Send(context.Background(), m)
		checkErr(t, res, err)
		if !sms.Permanent(err) {
			t.Errorf("%q/%d bytes: %v, want permanent", m.To, len(m.Text), err)
		}
	}
	if n := len(r.sim.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestSMSAdapterRefusesRedirects(t *testing.T) {
	leaked := make(chan string, 1)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked <- r.Header.Get("apiKey")
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.RedirectHandler(other.URL+"/version1/messaging", http.StatusTemporaryRedirect))
	defer redirector.Close()
	at, err := sms.NewAT(sms.Config{BaseURL: redirector.URL, Username: user, APIKey: apiKey, Timeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := at.Send(context.Background(), sms.Message{To: alice, Text: "x"})
	checkErr(t, res, err)
	if !sms.NeedsOperator(err) || sms.Permanent(err) {
		t.Fatalf("%v: want a retryable error for the operator", err)
	}
	select {
	case k := <-leaked:
		t.Fatalf("the redirect target received the apiKey %q", k)
	default:
	}
}

func TestSMSAdapterConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	at, err := sms.NewAT(sms.Config{BaseURL: base, Username: user, APIKey: apiKey, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := at.Send(context.Background(), sms.Message{To: alice, Text: "x"})
	checkErr(t, res, err)
	if classOf(err) != wantRetryable {
		t.Fatalf("%v: want retryable", err)
	}
}

func TestSMSAdapterConfig(t *testing.T) {
	for name, cfg := range map[string]sms.Config{
		"no URL":      {Username: user, APIKey: apiKey},
		"bad scheme":  {BaseURL: "ftp://x", Username: user, APIKey: apiKey},
		"no username": {BaseURL: "https://api.africastalking.com", APIKey: apiKey},
		"no apiKey":   {BaseURL: "https://api.africastalking.com", Username: user},
	} {
		if _, err := sms.NewAT(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), apiKey) {
			t.Errorf("%s: error holds the apiKey", name)
		}
	}
}
