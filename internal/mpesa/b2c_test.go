package mpesa_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/mpesa"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
)

const b2cPath = "/mpesa/b2c/v3/paymentrequest"

func TestMpesaClientB2CPaid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reply := e.pay(t, "wd-1", 1500)
	if reply.ResponseCode != "0" || reply.OriginatorConversationID != "wd-1" || reply.ConversationID == "" {
		t.Fatalf("reply %+v", reply)
	}
	body := e.lastBody(t, b2cPath)
	for k, want := range map[string]any{
		"OriginatorConversationID": "wd-1", "InitiatorName": initiatorName, "CommandID": "BusinessPayment",
		"Amount": 1500.0, "PartyA": b2cShortCode, "PartyB": phone, "Remarks": "Withdrawal", "Occassion": "",
	} {
		if body[k] != want {
			t.Errorf("%s = %v, want %v", k, body[k], want)
		}
	}
	if cred, _ := body["SecurityCredential"].(string); len(cred) < 300 {
		t.Errorf("SecurityCredential %q is no RSA-2048 ciphertext", cred)
	} else if raw, err := base64.StdEncoding.DecodeString(cred); err != nil || len(raw) != 256 {
		t.Errorf("SecurityCredential: %d bytes, %v", len(raw), err)
	}

	got := e.rcv.next(t)
	if got.path != "/cb/result" {
		t.Fatalf("result went to %s", got.path)
	}
	res, err := mpesa.ParseResult(got.body)
	if err != nil {
		t.Fatal(err)
	}
	amount, ok, err := res.AmountKES()
	if res.ResultCode != 0 || res.OriginatorConversationID != "wd-1" || res.ConversationID != reply.ConversationID ||
		res.Receipt() == "" || res.TransactionID != res.Receipt() || amount != 1500 || !ok || err != nil {
		t.Errorf("result %+v (amount %d %v %v)", res, amount, ok, err)
	}

	st := e.status(t, "wd-1")
	amount, _, _ = st.AmountKES()
	if st.ResultCode != 0 || st.TransactionStatus() != "Completed" || st.Receipt() != res.Receipt() || amount != 1500 {
		t.Errorf("status %+v", st)
	}
	body = e.lastBody(t, "/mpesa/transactionstatus/v1/query")
	for k, want := range map[string]any{
		"CommandID": "TransactionStatusQuery", "OriginalConversationID": "wd-1", "PartyA": b2cShortCode,
		"IdentifierType": "4", "Initiator": initiatorName,
	} {
		if body[k] != want {
			t.Errorf("status %s = %v, want %v", k, body[k], want)
		}
	}
	e.rcv.none(t)
}

func TestMpesaClientB2CFailures(t *testing.T) {
	t.Parallel()
	for _, code := range []int{darajasim.ResultInitiatorInvalid, darajasim.ResultUnsupportedReceive, darajasim.ResultInsufficientFunds} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.sim.QueueB2C(darajasim.B2COutcome{ResultCode: code})
			e.pay(t, "wd-f", 100)
			res, err := mpesa.ParseResult(e.rcv.next(t).body)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := res.AmountKES(); res.ResultCode != code || ok || res.Receipt() != "" || len(res.Params) != 0 {
				t.Errorf("result %+v", res)
			}
			if st := e.status(t, "wd-f"); st.ResultCode != code {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestMpesaClientB2CWrongInitiatorPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(_ *darajasim.Config, c *mpesa.Config) { c.InitiatorPassword = "ip-SECRET-wrong3" })
	e.pay(t, "wd-w", 100) // accepted, as Daraja does, and then failed
	res, err := mpesa.ParseResult(e.rcv.next(t).body)
	if err != nil || res.ResultCode != darajasim.ResultInitiatorInvalid {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestMpesaClientB2CForeignCertificate(t *testing.T) {
	t.Parallel()
	other, err := darajasim.New(darajasim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(_ *darajasim.Config, c *mpesa.Config) { c.CertPEM = other.CertPEM() })
	_, err = e.client.B2C(context.Background(), e.b2cReq("wd-c", 100))
	var ae *mpesa.APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 400 || errors.Is(err, mpesa.ErrOutcomeUnknown) {
		t.Fatalf("credential for another key: %v", err)
	}
	assertNoSecrets(t, err)
}

func TestMpesaClientB2CDuplicateRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.pay(t, "wd-d", 100)
	_, err := e.client.B2C(context.Background(), e.b2cReq("wd-d", 100))
	if !mpesa.IsDuplicate(err) || !errors.Is(err, mpesa.ErrOutcomeUnknown) || mpesa.Retryable(err) {
		t.Fatalf("repeat: %v", err)
	}
	assertNoSecrets(t, err)
	e.rcv.next(t)
	e.rcv.none(t)
	// The simulator records a callback once our receiver has answered it,
	// a moment after the receiver saw it: wait for the record.
	var cbs []darajasim.Callback
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cbs = e.sim.Callbacks(); len(cbs) > 0 {
			break
		}
	}
	if len(cbs) != 1 {
		t.Errorf("%d results for one id", len(cbs))
	}
}

func TestMpesaClientB2CNoCallbackAndDuplicateResult(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sim.QueueB2C(darajasim.B2COutcome{Delivery: darajasim.DeliverNone}, darajasim.B2COutcome{Delivery: darajasim.DeliverTwice})
	e.pay(t, "wd-n", 100)
	if st := e.status(t, "wd-n"); st.ResultCode != 0 || st.TransactionStatus() != "Completed" {
		t.Errorf("status of a payment with no callback: %+v", st)
	}
	e.pay(t, "wd-2", 100)
	a, b := e.rcv.next(t), e.rcv.next(t)
	if string(a.body) != string(b.body) || a.path != "/cb/result" || b.path != "/cb/result" {
		t.Errorf("duplicate result differs:\n%s\n%s", a.body, b.body)
	}
}

func TestMpesaClientB2CQueueTimeout(t *testing.T) {
	t.Parallel()
	for _, code := range []int{0, darajasim.ResultInsufficientFunds} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.sim.SetB2CForPhone(phone, darajasim.B2COutcome{ResultCode: code, Delivery: darajasim.DeliverQueueTimeout})
			e.pay(t, "wd-q", 100)
			got := e.rcv.next(t)
			if got.path != "/cb/timeout" {
				t.Fatalf("time-out went to %s", got.path)
			}
			if _, err := mpesa.ParseResult(got.body); err != nil {
				t.Fatal(err)
			}
			if st := e.status(t, "wd-q"); st.ResultCode != 0 || st.TransactionStatus() != "Pending" || st.Receipt() != "" {
				t.Errorf("status before the decision: %+v", st)
			}
			e.sim.Flush()
			st := e.status(t, "wd-q")
			if code == 0 && (st.ResultCode != 0 || st.TransactionStatus() != "Completed" || st.Receipt() == "") {
				t.Errorf("status of a paid payment: %+v", st)
			}
			if code != 0 && st.ResultCode != code {
				t.Errorf("status of an unpaid payment: %+v", st)
			}
			e.rcv.none(t)
		})
	}
}

func TestMpesaClientB2CLate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sim.QueueB2C(darajasim.B2COutcome{Delivery: darajasim.DeliverLate})
	e.pay(t, "wd-l", 100)
	e.rcv.none(t)
	e.sim.Flush()
	if res, err := mpesa.ParseResult(e.rcv.next(t).body); err != nil || res.ResultCode != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestMpesaClientTransactionStatusNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if st := e.status(t, "never-sent"); st.ResultCode != darajasim.ResultNotFound {
		t.Errorf("%+v", st)
	}
}

func TestMpesaClientB2CValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, mut := range map[string]func(*mpesa.B2C){
		"below 10":    func(p *mpesa.B2C) { p.AmountKES = 9 },
		"above limit": func(p *mpesa.B2C) { p.AmountKES = 250_001 },
		"no id":       func(p *mpesa.B2C) { p.OriginatorConversationID = "" },
		"phone":       func(p *mpesa.B2C) { p.Phone = "12345" },
		"no remarks":  func(p *mpesa.B2C) { p.Remarks = "" },
		"no timeout":  func(p *mpesa.B2C) { p.QueueTimeOutURL = "" },
	} {
		p := e.b2cReq("wd-v", 100)
		mut(&p)
		_, err := e.client.B2C(context.Background(), p)
		if !errors.Is(err, mpesa.ErrInvalidRequest) || errors.Is(err, mpesa.ErrOutcomeUnknown) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := e.calls(b2cPath); n != 0 {
		t.Errorf("%d invalid payments reached Daraja", n)
	}
	c, err := mpesa.New(mpesa.Config{BaseURL: e.simURL, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.B2C(context.Background(), e.b2cReq("wd-v", 100)); !errors.Is(err, mpesa.ErrNotConfigured) {
		t.Errorf("B2C without its configuration: %v", err)
	}
}

// fakeDaraja answers OAuth and hands B2C requests to b2c.
func fakeDaraja(t *testing.T, b2c http.HandlerFunc) *mpesa.Client {
	t.Helper()
	sim, err := darajasim.New(darajasim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == oauthPath {
			w.Write([]byte(`{"access_token":"tok-SECRET-9","expires_in":"3599"}`))
			return
		}
		b2c(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := mpesa.New(mpesa.Config{
		BaseURL: srv.URL, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		B2CShortCode: b2cShortCode, InitiatorName: initiatorName, InitiatorPassword: initiatorPassword, CertPEM: sim.CertPEM(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func b2cReq() mpesa.B2C {
	return mpesa.B2C{OriginatorConversationID: "wd-x", Phone: phone, AmountKES: 100, Remarks: "Withdrawal",
		ResultURL: "http://127.0.0.1:1/r", QueueTimeOutURL: "http://127.0.0.1:1/t"}
}

func TestMpesaClientB2CConnectionDroppedIsUnknown(t *testing.T) {
	t.Parallel()
	var got atomic.Int32
	c := fakeDaraja(t, func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close() // the request was read; the answer never comes
	})
	_, err := c.B2C(context.Background(), b2cReq())
	if !errors.Is(err, mpesa.ErrOutcomeUnknown) || mpesa.Retryable(err) {
		t.Fatalf("dropped connection: %v", err)
	}
	if got.Load() != 1 {
		t.Errorf("%d requests arrived", got.Load())
	}
	assertNoSecrets(t, err, "tok-SECRET-9")
}

func TestMpesaClientB2CTimeoutIsUnknown(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	c := fakeDaraja(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.B2C(ctx, b2cReq())
	if !errors.Is(err, mpesa.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out B2C: %v", err)
	}
}

func TestMpesaClientB2CAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    int
		body      string
		unknown   bool
		retryable bool
	}{
		{503, `<html>busy</html>`, true, false},
		{500, `{"requestId":"r","errorCode":"500.003.02","errorMessage":"System is busy"}`, true, false},
		{200, `{not json`, true, false},
		{400, `{"requestId":"r","errorCode":"400.002.02","errorMessage":"Bad Request - Invalid Amount"}`, false, false},
		{429, `{"requestId":"r","errorCode":"429.001.01","errorMessage":"Too many requests"}`, false, true},
		{200, `{"ConversationID":"","OriginatorConversationID":"wd-x","ResponseCode":"1","ResponseDescription":"Rejected"}`, false, false},
	} {
		c := fakeDaraja(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			w.Write([]byte(tc.body))
		})
		_, err := c.B2C(context.Background(), b2cReq())
		if err == nil || errors.Is(err, mpesa.ErrOutcomeUnknown) != tc.unknown || mpesa.Retryable(err) != tc.retryable {
			t.Errorf("HTTP %d %s: %v (unknown %v, retryable %v)", tc.status, tc.body, err,
				errors.Is(err, mpesa.ErrOutcomeUnknown), mpesa.Retryable(err))
		}
		assertNoSecrets(t, err)
	}
}

func TestMpesaClientB2CUnreachableIsDefinite(t *testing.T) {
	t.Parallel()
	// Nothing listens: the connection is never made, so nothing was sent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sim, _ := darajasim.New(darajasim.Config{})
	c, err := mpesa.New(mpesa.Config{BaseURL: "http://" + addr, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		B2CShortCode: b2cShortCode, InitiatorName: initiatorName, InitiatorPassword: initiatorPassword, CertPEM: sim.CertPEM()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.B2C(context.Background(), b2cReq())
	if err == nil || errors.Is(err, mpesa.ErrOutcomeUnknown) || !mpesa.Retryable(err) {
		t.Fatalf("unreachable Daraja: %v", err)
	}
	assertNoSecrets(t, err)

	// With a token cached, the B2C call itself cannot connect.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == oauthPath {
			w.Write([]byte(`{"access_token":"tok-SECRET-9","expires_in":"3599"}`))
			return
		}
		w.WriteHeader(400)
	}))
	c, err = mpesa.New(mpesa.Config{BaseURL: srv.URL, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		B2CShortCode: b2cShortCode, InitiatorName: initiatorName, InitiatorPassword: initiatorPassword, CertPEM: sim.CertPEM()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.B2C(context.Background(), b2cReq()); err == nil || errors.Is(err, mpesa.ErrOutcomeUnknown) {
		t.Fatalf("refused B2C: %v", err)
	}
	srv.Close()
	_, err = c.B2C(context.Background(), b2cReq())
	if err == nil || errors.Is(err, mpesa.ErrOutcomeUnknown) || !mpesa.Retryable(err) {
		t.Fatalf("B2C to a closed server: %v", err)
	}
}
