package ramp_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/httpapi"
	"github.com/umeme-wallet/umeme/internal/mpesa"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/ramp"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

const token = "cb-token-0123456789abcdef"

// clock is the wallet's and the ramp's clock: real time plus what a test
// moved it by (the simulator keeps real time for its timestamps).
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// world is a wallet on one engine, the Daraja simulator, the server's
// callback endpoints and a ramp between them, over loopback HTTP.
type world struct {
	w     *wallet.Service
	sim   *darajasim.Sim
	ramp  *ramp.Ramp
	clock *clock
	api   string // the callback base, token included
	// statusAnswers counts the Transaction Status answers askStatus saw.
	statusAnswers int
}

func newWorld(t *testing.T, db database.DB) *world {
	t.Helper()
	sim, simURL := newDaraja(t)
	return serverOn(t, db, sim, simURL, &clock{})
}

// darajaConfig is the simulator's app, shortcodes and initiator, which
// serverOn's client uses.
var darajaConfig = darajasim.Config{ConsumerKey: "key", ConsumerSecret: "secret", ShortCode: "174379", PassKey: "passkey",
	B2CShortCode: "600000", InitiatorName: "testapi", InitiatorPassword: "initiator-pw", LateDelay: time.Hour}

// newDaraja serves a fresh Daraja simulator over loopback HTTP.
func newDaraja(t *testing.T) (*darajasim.Sim, string) {
	t.Helper()
	sim, err := darajasim.New(darajaConfig)
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); simSrv.Close() })
	return sim, simSrv.URL
}

// serverOn is one server's side over db: a wallet on clock c, a Daraja
// client of the simulator at simURL, a ramp and its callback endpoints.
func serverOn(t *testing.T, db database.DB, sim *darajasim.Sim, simURL string, c *clock) *world {
	t.Helper()
	cfg := wallet.DefaultConfig()
	cfg.Argon2 = wallet.Argon2Params{Time: 1, Memory: 1024, Threads: 1}
	cfg.Now = c.Now
	cfg.AuthorizationTTL = time.Hour
	w, err := wallet.New(context.Background(), db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := mpesa.New(mpesa.Config{BaseURL: simURL, ConsumerKey: "key", ConsumerSecret: "secret", ShortCode: "174379",
		PassKey: "passkey", B2CShortCode: "600000", InitiatorName: "testapi", InitiatorPassword: "initiator-pw", CertPEM: sim.CertPEM()})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The requests left to finish in the background end before the
	// callback server and the database close.
	work := &sync.WaitGroup{}
	r := &ramp.Ramp{Wallet: w, Daraja: ramp.Client{C: client}, Log: log, Config: ramp.Config{QueryAfter: 90 * time.Second, Now: c.Now}, Work: work}
	api := &httpapi.Server{DB: db, Log: log, Ramp: r, MpesaCallbackToken: token}
	apiSrv := httptest.NewServer(api.Routes())
	t.Cleanup(apiSrv.Close)
	t.Cleanup(work.Wait)
	r.Config.CallbackBase = apiSrv.URL + "/cb/" + token
	return &world{w: w, sim: sim, ramp: r, clock: c, api: r.Config.CallbackBase}
}

// user registers a number holding msat.
func (x *world) user(t *testing.T, msat int64) (wallet.User, wallet.Authorization) {
	t.Helper()
	ctx := context.Background()
	u, _, err := x.w.EnsureUser(ctx, storetest.Phone(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.w.Register(ctx, u.ID, "2791"); err != nil {
		t.Fatal(err)
	}
	if msat > 0 {
		if _, err := x.w.Adjust(ctx, u.Phone, msat, "test funding", "fund:"+u.Phone); err != nil {
			t.Fatal(err)
		}
	}
	auth, err := x.w.VerifyPIN(ctx, u.ID, "2791")
	if err != nil {
		t.Fatal(err)
	}
	return u, auth
}

// quote is a quote of kes at KES 12,500,000 per bitcoin without spread,
// where a shilling is exactly 8,000 msat both ways.
func (x *world) quote(kes int64) wallet.MpesaQuote {
	return wallet.MpesaQuote{KES: kes, Msat: kes * 8_000, RateMilliKESPerBTC: 12_500_000_000, ExpiresAt: x.clock.Now().Add(2 * time.Minute)}
}

// waitStatus waits for a transaction to reach a status.
func (x *world) waitStatus(t *testing.T, id int64, want store.TransactionStatus) store.Transaction {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tx, err := x.w.Transaction(context.Background(), id)
		if err == nil && tx.Status == want {
			return tx
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction %d: %s (%v), want %s", id, tx.Status, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled waits until the simulator has no callback in flight and the
// recorded ones were all answered.
func (x *world) callbacks(t *testing.T, n int) []darajasim.Callback {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cbs := x.sim.Callbacks()
		if len(cbs) >= n {
			return cbs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callbacks, want %d", len(cbs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func balance(t *testing.T, w *wallet.Service, userID int64) int64 {
	t.Helper()
	b, err := w.Balance(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustReconcile(t *testing.T, w *wallet.Service) {
	t.Helper()
	rep, err := w.Reconcile(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("reconcile: %v\n%+v", err, rep)
	}
}

func post(t *testing.T, url string, body []byte) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMpesaTopups: a top-up whose success callback arrives twice, and is
// then replayed, credits once; a forged callback (no token, another
// amount, an unknown push) credits nothing; each failure code fails the
// top-up; a missing callback is finished by the reconciler's STK query;
// "being processed" stays pending; reconcile passes after each.
func TestMpesaTopups(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x := newWorld(t, db)
		u, _ := x.user(t, 0)

		x.sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverTwice})
		tp, err := x.ramp.Buy(ctx, u.ID, x.quote(500), "buy-1")
		if err != nil {
			t.Fatal(err)
		}
		x.waitStatus(t, tp.ID, store.StatusCompleted)
		cbs := x.callbacks(t, 2)
		for _, cb := range cbs {
			if cb.Status != http.StatusOK {
				t.Errorf("callback answered %d", cb.Status)
			}
		}
		// Replayed by an attacker who saw it (with the token): nothing.
		if code := post(t, x.api+ramp.PathSTK, cbs[0].Body); code != http.StatusOK {
			t.Errorf("replay answered %d", code)
		}
		if b := balance(t, x.w, u.ID); b != 4_000_000 {
			t.Fatalf("balance %d after a doubled and replayed callback, want 4,000,000", b)
		}
		req, _ := x.w.MpesaRequest(ctx, tp.ID)
		if req.Receipt == "" || req.NextCheckAt != nil {
			t.Errorf("request after the callback: %+v", req)
		}
		mustReconcile(t, x.w)

		// Forged: without the token, then with it but another amount, then
		// for a push nobody made.
		forged := bytes.Replace(cbs[0].Body, []byte(req.Receipt), []byte("SIMFORGED1"), 1)
		if code := post(t, strings.Replace(x.api, token, "wrong-token-0123456789", 1)+ramp.PathSTK, forged); code != http.StatusNotFound {
			t.Errorf("a callback without the token answered %d, want 404", code)
		}
		x.sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverNone})
		tp2, err := x.ramp.Buy(ctx, u.ID, x.quote(100), "buy-2")
		if err != nil {
			t.Fatal(err)
		}
		req2, _ := x.w.MpesaRequest(ctx, tp2.ID)
		body := []byte(`{"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"` + req2.CheckoutRequestID +
			`","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{"Item":[{"Name":"Amount","Value":1},{"Name":"MpesaReceiptNumber","Value":"SIMFORGED2"},{"Name":"PhoneNumber","Value":` +
			req2.Phone + `}]}}}}`)
		post(t, x.api+ramp.PathSTK, body)
		post(t, x.api+ramp.PathSTK, bytes.Replace(body, []byte(req2.CheckoutRequestID), []byte("ws_CO_nobody"), 1))
		if got, _ := x.w.Transaction(ctx, tp2.ID); got.Status != store.StatusPending || balance(t, x.w, u.ID) != 4_000_000 {
			t.Fatalf("after forged callbacks: %s, balance %d", got.Status, balance(t, x.w, u.ID))
		}

		// No callback: the reconciler's query finds it paid, once it is due.
		if n, err := x.ramp.CheckDue(ctx); err != nil || n != 0 {
			t.Fatalf("checked %d before anything was due: %v", n, err)
		}
		x.clock.Advance(91 * time.Second)
		if n, err := x.ramp.CheckDue(ctx); err != nil || n != 1 {
			t.Fatalf("checked %d, want 1: %v", n, err)
		}
		x.waitStatus(t, tp2.ID, store.StatusCompleted)
		if b := balance(t, x.w, u.ID); b != 4_800_000 {
			t.Fatalf("balance %d after the queried top-up", b)
		}
		mustReconcile(t, x.w)

		// Being processed: still pending after a query, asked again later.
		x.sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverLate})
		tp3, err := x.ramp.Buy(ctx, u.ID, x.quote(100), "buy-3")
		if err != nil {
			t.Fatal(err)
		}
		x.clock.Advance(91 * time.Second)
		if _, err := x.ramp.CheckDue(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := x.w.Transaction(ctx, tp3.ID); got.Status != store.StatusPending {
			t.Fatalf("a push being processed is %s", got.Status)
		}
		if r, _ := x.w.MpesaRequest(ctx, tp3.ID); r.Checks != 1 || r.NextCheckAt == nil {
			t.Errorf("rescheduled request: %+v", r)
		}
		x.sim.Flush()
		x.waitStatus(t, tp3.ID, store.StatusCompleted)

		// Every failure code fails its top-up and credits nothing.
		before := balance(t, x.w, u.ID)
		for i, code := range []int{1, 1032, 1037, 1019, 2001, 17} {
			x.sim.QueueSTK(darajasim.STKOutcome{ResultCode: code})
			tp, err := x.ramp.Buy(ctx, u.ID, x.quote(int64(100+i)), "fail-"+string(rune('a'+i)))
			if err != nil {
				t.Fatal(err)
			}
			x.waitStatus(t, tp.ID, store.StatusFailed)
			if r, _ := x.w.MpesaRequest(ctx, tp.ID); r.ResultCode == "0" || r.NextCheckAt != nil {
				t.Errorf("code %d: request %+v", code, r)
			}
		}
		if b := balance(t, x.w, u.ID); b != before {
			t.Fatalf("failed top-ups moved the balance from %d to %d", before, b)
		}
		mustReconcile(t, x.w)
	})
}

// TestMpesaWithdrawals: a withdrawal is paid and settled with its receipt;
// a failure refunds the whole hold; a queue time-out is not a failure: the
// funds stay reserved until Transaction Status says it was paid; a
// repeated request never pays twice; reconcile passes after each.
func TestMpesaWithdrawals(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x := newWorld(t, db)
		u, auth := x.user(t, 10_000_000)
		fee := x.w.ServiceFee(1_000_000)

		wd, err := x.ramp.Sell(ctx, auth, x.quote(125), "sell-1")
		if err != nil {
			t.Fatal(err)
		}
		x.waitStatus(t, wd.ID, store.StatusCompleted)
		if r, _ := x.w.MpesaRequest(ctx, wd.ID); r.Receipt == "" || r.ConversationID == "" {
			t.Errorf("settled request: %+v", r)
		}
		// The same request again (a repeated hop): the first withdrawal,
		// and no second payment.
		again, err := x.ramp.Sell(ctx, auth, x.quote(125), "sell-1")
		if err != nil || again.ID != wd.ID {
			t.Fatalf("repeated sell: %+v %v", again, err)
		}
		if b := balance(t, x.w, u.ID); b != 10_000_000-1_000_000-fee {
			t.Fatalf("balance %d after one withdrawal", b)
		}
		mustReconcile(t, x.w)

		x.sim.QueueB2C(darajasim.B2COutcome{ResultCode: 2001})
		failed, err := x.ramp.Sell(ctx, auth, x.quote(125), "sell-2")
		if err != nil {
			t.Fatal(err)
		}
		x.waitStatus(t, failed.ID, store.StatusFailed)
		if b := balance(t, x.w, u.ID); b != 10_000_000-1_000_000-fee {
			t.Fatalf("balance %d after a refunded withdrawal", b)
		}

		x.sim.QueueB2C(darajasim.B2COutcome{Delivery: darajasim.DeliverQueueTimeout})
		slow, err := x.ramp.Sell(ctx, auth, x.quote(125), "sell-3")
		if err != nil {
			t.Fatal(err)
		}
		x.callbacks(t, 3) // the time-out has been answered
		if got, _ := x.w.Transaction(ctx, slow.ID); got.Status != store.StatusPending {
			t.Fatalf("a queue time-out made the withdrawal %s", got.Status)
		}
		x.sim.Flush() // M-Pesa pays it, and tells nobody
		if _, err := x.ramp.CheckDue(ctx); err != nil {
			t.Fatal(err)
		}
		x.waitStatus(t, slow.ID, store.StatusCompleted)
		if b := balance(t, x.w, u.ID); b != 10_000_000-2*(1_000_000+fee) {
			t.Fatalf("balance %d after the timed-out withdrawal was paid", b)
		}
		mustReconcile(t, x.w)
	})
}

// reserveUnsent reserves a withdrawal of q under key, as Sell does first,
// and sends nothing: a first call that died, or never got to send it.
func (x *world) reserveUnsent(t *testing.T, auth wallet.Authorization, q wallet.MpesaQuote, key string, checkAfter time.Duration) store.Transaction {
	t.Helper()
	wd, fresh, err := x.w.ReserveFresh(context.Background(), auth, wallet.Reservation{
		Type: store.TypeWithdraw, AmountMsat: q.Msat, CounterpartyPhone: auth.Phone(), Description: fmt.Sprintf("KES %d to M-Pesa", q.KES),
		IdempotencyKey: key, Mpesa: &wallet.MpesaWithdrawal{Quote: q, CheckAfter: checkAfter},
	})
	if err != nil || !fresh {
		t.Fatalf("reserve %s: %v (fresh %v)", key, err, fresh)
	}
	return wd
}
