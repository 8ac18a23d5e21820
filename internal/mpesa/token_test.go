package mpesa_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/mpesa"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
)

const oauthPath = "/oauth/v1/generate"

func TestMpesaClientTokenCachedAndRefreshed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s *darajasim.Config, _ *mpesa.Config) { s.TokenLifetime = 10 * time.Minute })
	reply := e.push(t, 10)
	for range 3 {
		if _, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.calls(oauthPath); n != 1 {
		t.Fatalf("%d OAuth calls for 4 requests, want 1", n)
	}
	e.clock.Advance(9*time.Minute - time.Second) // still within the token's life less 60 s
	if _, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID); err != nil {
		t.Fatal(err)
	}
	if n := e.calls(oauthPath); n != 1 {
		t.Fatalf("refreshed early: %d OAuth calls", n)
	}
	e.clock.Advance(2 * time.Second) // 60 s before expiry: refresh
	if _, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID); err != nil {
		t.Fatal(err)
	}
	if n := e.calls(oauthPath); n != 2 {
		t.Fatalf("%d OAuth calls after the refresh point, want 2", n)
	}
	for _, r := range e.sim.Requests() {
		if r.Status == http.StatusUnauthorized {
			t.Errorf("a request was sent with an expired token: %s", r.Path)
		}
	}
}

func TestMpesaClientTokenShortLifeRefreshedAtHalf(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s *darajasim.Config, _ *mpesa.Config) { s.TokenLifetime = 60 * time.Second })
	reply := e.push(t, 10)
	e.clock.Advance(29 * time.Second)
	if _, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID); err != nil {
		t.Fatal(err)
	}
	if n := e.calls(oauthPath); n != 1 {
		t.Fatalf("%d OAuth calls, want 1", n)
	}
	e.clock.Advance(2 * time.Second)
	if _, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID); err != nil {
		t.Fatal(err)
	}
	if n := e.calls(oauthPath); n != 2 {
		t.Fatalf("%d OAuth calls past half life, want 2", n)
	}
}

func TestMpesaClientTokenSharedByConcurrentCallers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := e.client.STKQuery(context.Background(), "ws_CO_unknown")
			var ae *mpesa.APIError
			if !errors.As(err, &ae) || ae.HTTPStatus != 400 {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.calls(oauthPath); n != 1 {
		t.Errorf("%d OAuth calls for 20 concurrent callers, want 1", n)
	}
}

func TestMpesaClientToken401RetriedOnce(t *testing.T) {
	t.Parallel()
	simClock := newClock()
	e := newEnv(t, func(s *darajasim.Config, _ *mpesa.Config) { s.Now = simClock.Now; s.TokenLifetime = 2 * time.Minute })
	e.sim.SetSTKDefault(darajasim.STKOutcome{Delivery: darajasim.DeliverNone})
	reply := e.push(t, 10)
	// The simulator's token expired; the client's clock says it has not.
	// (Three minutes is within the simulator's timestamp tolerance.)
	simClock.Advance(3 * time.Minute)
	if q, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID); err != nil || q.ResultCode != 0 {
		t.Fatalf("query after a 401: %+v, %v", q, err)
	}
	if n := e.calls(oauthPath); n != 2 {
		t.Fatalf("%d OAuth calls, want 2", n)
	}
	var unauthorized int
	for _, r := range e.sim.Requests() {
		if r.Status == http.StatusUnauthorized {
			unauthorized++
		}
	}
	if unauthorized != 1 {
		t.Errorf("%d 401 answers, want 1", unauthorized)
	}
}

func TestMpesaClientTokenPersistent401(t *testing.T) {
	t.Parallel()
	var oauth, calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == oauthPath {
			oauth.Add(1)
			w.Write([]byte(`{"access_token":"tok-SECRET-1","expires_in":3599}`))
			return
		}
		calls.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"requestId":"r1","errorCode":"404.001.03","errorMessage":"Invalid Access Token"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := mpesa.New(mpesa.Config{BaseURL: srv.URL, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, ShortCode: shortCode, PassKey: passKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.STKQuery(context.Background(), "ws_CO_1")
	var ae *mpesa.APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 401 || ae.ErrorCode != "404.001.03" {
		t.Fatalf("%v", err)
	}
	if oauth.Load() != 2 || calls.Load() != 2 {
		t.Errorf("oauth %d, calls %d: want one retry with a new token", oauth.Load(), calls.Load())
	}
	assertNoSecrets(t, err, "tok-SECRET-1")
}

func TestMpesaClientWrongConsumerSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(_ *darajasim.Config, c *mpesa.Config) { c.ConsumerSecret = "cs-SECRET-wrong2" })
	_, err := e.client.STKQuery(context.Background(), "ws_CO_1")
	var ae *mpesa.APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 400 || ae.ErrorCode != "400.008.01" {
		t.Fatalf("%v", err)
	}
	if mpesa.Retryable(err) {
		t.Error("bad credentials are retryable")
	}
	assertNoSecrets(t, err, "cs-SECRET-wrong2")
	if n := e.calls("/mpesa/stkpushquery/v1/query"); n != 0 {
		t.Errorf("the query was sent without a token (%d)", n)
	}
}

func TestMpesaClientExpiresInAsNumberOrString(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"access_token":"a","expires_in":"3599"}`,
		`{"access_token":"a","expires_in":3599}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == oauthPath {
				if u, p, _ := r.BasicAuth(); u != consumerKey || p != consumerSecret {
					w.WriteHeader(400)
					return
				}
				w.Write([]byte(body))
				return
			}
			w.WriteHeader(500)
			w.Write([]byte(`{"requestId":"r","errorCode":"500.001.1001","errorMessage":"The transaction is being processed"}`))
		}))
		c, err := mpesa.New(mpesa.Config{BaseURL: srv.URL, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, ShortCode: shortCode, PassKey: passKey})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.STKQuery(context.Background(), "ws_CO_1"); !mpesa.IsBeingProcessed(err) {
			t.Errorf("%s: %v", body, err)
		}
		srv.Close()
	}
}

func TestMpesaClientRedirectRefused(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte(`{"access_token":"a","expires_in":"3599"}`))
	}))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	c, err := mpesa.New(mpesa.Config{BaseURL: srv.URL, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, ShortCode: shortCode, PassKey: passKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.STKQuery(context.Background(), "ws_CO_1")
	if err == nil || elsewhere.Load() != 0 {
		t.Fatalf("redirect followed: %v, %d requests elsewhere", err, elsewhere.Load())
	}
	assertNoSecrets(t, err)
}

func TestMpesaClientSTKQueryResultCodeForms(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]int{
		`{"ResponseCode":"0","ResultCode":"1032","ResultDesc":"Request cancelled by user"}`: 1032,
		`{"ResponseCode":"0","ResultCode":1032,"ResultDesc":"Request cancelled by user"}`:   1032,
		`{"ResponseCode":"0","ResultCode":0,"ResultDesc":"ok"}`:                             0,
		`{"ResponseCode":0,"ResultCode":"0","ResultDesc":"ok"}`:                             0,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == oauthPath {
				w.Write([]byte(`{"access_token":"a","expires_in":"3599"}`))
				return
			}
			w.Write([]byte(body))
		}))
		c, err := mpesa.New(mpesa.Config{BaseURL: srv.URL, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, ShortCode: shortCode, PassKey: passKey})
		if err != nil {
			t.Fatal(err)
		}
		q, err := c.STKQuery(context.Background(), "ws_CO_1")
		if err != nil || q.ResultCode != want {
			t.Errorf("%s: %+v, %v", body, q, err)
		}
		srv.Close()
	}
}
