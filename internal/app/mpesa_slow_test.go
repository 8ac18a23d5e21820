package app_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/store"
)

// The hop deadline of the slow-Daraja tests, and how long Daraja takes
// to answer there: three times as long.
const (
	slowHopDeadline = time.Second
	darajaSlow      = 3 * slowHopDeadline
)

// timedHop runs one hop and fails the test when it was answered more than
// a second after the hop's deadline.
func timedHop(t *testing.T, hop func() string) string {
	t.Helper()
	start := time.Now()
	screen := hop()
	if took := time.Since(start); took > slowHopDeadline+time.Second {
		t.Errorf("hop answered after %s, past its deadline of %s: %q", took.Round(time.Millisecond), slowHopDeadline, screen)
	}
	return screen
}

// historyOf is the newest n transactions of p's user, newest first.
func historyOf(t *testing.T, a *app.App, p *phone, n int) []store.Transaction {
	t.Helper()
	ctx := context.Background()
	u, err := a.Wallet.UserByPhone(ctx, p.number)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := a.Wallet.History(ctx, u.ID, 1<<62, n)
	if err != nil {
		t.Fatal(err)
	}
	return hist
}

// lastOf is the newest transaction of type typ of p's user.
func lastOf(t *testing.T, a *app.App, p *phone, typ store.TransactionType) store.Transaction {
	t.Helper()
	for _, h := range historyOf(t, a, p, 20) {
		if h.Type == typ {
			return h
		}
	}
	t.Fatalf("%s has no %s", p.number, typ)
	return store.Transaction{}
}

// waitRequest waits up to 15 s for a transaction's M-Pesa request to
// satisfy ok.
func waitRequest(t *testing.T, a *app.App, id int64, what string, ok func(store.MpesaRequest) bool) store.MpesaRequest {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, err := a.Wallet.MpesaRequest(context.Background(), id)
		if err == nil && ok(req) {
			return req
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction %d: %s never came (%+v, %v)", id, what, req, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// darajaCalls counts the requests the simulator got whose path holds path.
func darajaCalls(sim *darajasim.Sim, path string) int {
	n := 0
	for _, r := range sim.Requests() {
		if strings.Contains(r.Path, path) {
			n++
		}
	}
	return n
}

// sellHop walks p to the PIN of a KES 100 withdrawal and answers it: the
// last screen.
func sellHop(t *testing.T, p *phone) string {
	t.Helper()
	expect(t, p.press(menuItem(t, p.dial(), "Sell to M-Pesa")), "Amount in KES")
	expect(t, p.press("100"), "Get KES 100 on M-Pesa for ", "1. Confirm")
	expect(t, p.press("1"), "PIN")
	return timedHop(t, func() string { return p.press("7391") })
}

// TestMpesaSlowDarajaHop: Daraja answers a B2C payment and an STK push only
// after three times the hop's deadline. Each hop is answered by its
// deadline with the screen that says the withdrawal, or the top-up, has
// started (it used to wait for Daraja, past the gateway's patience, and
// the user saw an error); later the ConversationID and the
// CheckoutRequestID are recorded, from one B2C and one push.
func TestMpesaSlowDarajaHop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		cfg, sim := mpesaConfig(t, engine)
		cfg.USSDHopTimeout = slowHopDeadline
		a := startAppWith(t, cfg)
		alice := newPhone(t, a)
		register(t, alice, "7391")
		fund(t, a, alice, 100_000)
		sim.QueueB2C(darajasim.B2COutcome{Delivery: darajasim.DeliverLate, Answer: darajasim.Answer{After: darajaSlow}})
		sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverLate, Answer: darajasim.Answer{After: darajaSlow}})

		expect(t, sellHop(t, alice), "END ", "KES 100 is on its way")
		expect(t, alice.press(menuItem(t, alice.dial(), "Buy with M-Pesa")), "Amount in KES")
		expect(t, alice.press("500"), "Pay KES 500 for ", "1. Confirm")
		expect(t, timedHop(t, func() string { return alice.press("1") }), "END ", "enter your M-Pesa PIN to pay KES 500")

		wd, top := lastOf(t, a, alice, store.TypeWithdraw), lastOf(t, a, alice, store.TypeTopup)
		waitRequest(t, a, wd.ID, "the ConversationID", func(r store.MpesaRequest) bool { return r.ConversationID != "" })
		waitRequest(t, a, top.ID, "the CheckoutRequestID", func(r store.MpesaRequest) bool { return r.CheckoutRequestID != "" })
		if b2c, stk := darajaCalls(sim, "b2c"), darajaCalls(sim, "stkpush"); b2c != 1 || stk != 1 {
			t.Errorf("Daraja got %d B2C and %d STK push calls, want 1 and 1", b2c, stk)
		}
	})
}

// TestMpesaCloseWaitsForSlowDaraja: a hop leaves a B2C call waiting on a
// slow Daraja, and the server is stopped at once. Close waits for the
// call, so the ConversationID Daraja answers is recorded before the
// database is closed: it is there when the database is opened again.
func TestMpesaCloseWaitsForSlowDaraja(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		cfg, sim := mpesaConfig(t, engine)
		cfg.USSDHopTimeout = slowHopDeadline
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		a, err := app.Open(ctx, cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		alice := newPhone(t, a)
		register(t, alice, "7391")
		fund(t, a, alice, 100_000)
		sim.QueueB2C(darajasim.B2COutcome{Delivery: darajasim.DeliverLate, Answer: darajasim.Answer{After: darajaSlow}})
		expect(t, sellHop(t, alice), "END ", "KES 100 is on its way")
		wd := lastOf(t, a, alice, store.TypeWithdraw)

		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := a.Close(cctx); err != nil {
			t.Fatalf("close: %v", err)
		}
		b, err := app.Open(ctx, cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(ctx)
		req, err := b.Wallet.MpesaRequest(ctx, wd.ID)
		if err != nil {
			t.Fatal(err)
		}
		if req.ConversationID == "" || req.SentAt == nil {
			t.Errorf("withdrawal %d after Close: ConversationID %q, sent at %v; the B2C's answer was lost", wd.ID, req.ConversationID, req.SentAt)
		}
		if n := darajaCalls(sim, "b2c"); n != 1 {
			t.Errorf("Daraja got %d B2C calls, want 1", n)
		}
	})
}
