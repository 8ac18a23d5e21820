package ramp_test

// A slow Daraja must not hold the caller (a USSD hop) past its deadline:
// Sell and Buy used to wait for the B2C or STK call on their detached
// 30 s context, so the gateway ended the session unanswered and the user,
// told nothing, could withdraw again. Now the call goes on in the
// background and the caller is answered "started".

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/ramp"
	"github.com/umeme-wallet/umeme/internal/store"
)

// callerDeadline is what the tests' callers give Sell and Buy, and
// darajaSlow how long Daraja takes to answer: three times as long.
const (
	callerDeadline = time.Second
	darajaSlow     = 3 * callerDeadline
)

// bounded calls f with a context ending after callerDeadline and fails the
// test when f returns more than a second after that deadline.
func bounded(t *testing.T, what string, f func(ctx context.Context) (store.Transaction, error)) (store.Transaction, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
	defer cancel()
	start := time.Now()
	tx, err := f(ctx)
	if took := time.Since(start); took > callerDeadline+time.Second {
		t.Errorf("%s returned after %s, past its caller's deadline of %s", what, took.Round(time.Millisecond), callerDeadline)
	}
	return tx, err
}

// mpesaRequest reads a transaction's M-Pesa request.
func (x *world) mpesaRequest(t *testing.T, id int64) store.MpesaRequest {
	t.Helper()
	req, err := x.w.MpesaRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestRailSlowDarajaStartedOnce: Daraja answers a B2C payment and an STK
// push only after three times the caller's deadline. Sell and Buy return
// by the deadline, started; a repeat with the same key while the first
// call is still waiting on Daraja sends nothing and is answered started
// too; and the calls left in the background record the ConversationID and
// the CheckoutRequestID: one B2C and one push in all.
func TestRailSlowDarajaStartedOnce(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		x := newWorld(t, db)
		u, auth := x.user(t, 10_000_000)
		x.sim.QueueB2C(darajasim.B2COutcome{Delivery: darajasim.DeliverLate, Answer: darajasim.Answer{After: darajaSlow}})
		x.sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverLate, Answer: darajasim.Answer{After: darajaSlow}})
		sell := func(ctx context.Context) (store.Transaction, error) {
			return x.ramp.Sell(ctx, auth, x.quote(300), "slow-sell")
		}
		buy := func(ctx context.Context) (store.Transaction, error) {
			return x.ramp.Buy(ctx, u.ID, x.quote(500), "slow-buy")
		}
		wd, err := bounded(t, "Sell", sell)
		if err != nil {
			t.Fatalf("sell: %v", err)
		}
		top, err := bounded(t, "Buy", buy)
		if err != nil {
			t.Fatalf("buy: %v", err)
		}
		if req := x.mpesaRequest(t, wd.ID); req.ConversationID != "" {
			t.Fatalf("withdrawal %d has ConversationID %q before Daraja answered", wd.ID, req.ConversationID)
		}
		again, err := bounded(t, "a repeated Sell", sell)
		if err != nil || again.ID != wd.ID {
			t.Fatalf("repeated sell: %v, transaction %d, want %d", err, again.ID, wd.ID)
		}
		againTop, err := bounded(t, "a repeated Buy", buy)
		if err != nil || againTop.ID != top.ID {
			t.Fatalf("repeated buy: %v, transaction %d, want %d", err, againTop.ID, top.ID)
		}

		x.ramp.Work.Wait()
		if req := x.mpesaRequest(t, wd.ID); req.ConversationID == "" {
			t.Errorf("withdrawal %d: no ConversationID recorded after Daraja answered", wd.ID)
		}
		if req := x.mpesaRequest(t, top.ID); req.CheckoutRequestID == "" {
			t.Errorf("top-up %d: no CheckoutRequestID recorded after Daraja answered", top.ID)
		}
		if b2c, stk := x.calls("b2c"), x.calls("stkpush"); b2c != 1 || stk != 1 {
			t.Errorf("Daraja got %d B2C and %d STK push calls, want 1 and 1", b2c, stk)
		}
		for id, want := range map[int64]store.TransactionStatus{wd.ID: store.StatusPending, top.ID: store.StatusPending} {
			x.waitStatus(t, id, want)
		}
		if got := balance(t, x.w, u.ID); got != 10_000_000-300*8_000-x.w.ServiceFee(300*8_000) {
			t.Errorf("balance %d msat with KES 300 reserved", got)
		}
	})
}

// TestRailSlowDarajaRefuses: Daraja refuses a B2C payment and an STK push,
// but only after three times the caller's deadline, by when Sell and Buy
// have answered started. The refusal learned in the background refunds
// the withdrawal and fails the top-up, and each user is texted.
func TestRailSlowDarajaRefuses(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		x := newWorld(t, db)
		u, auth := x.user(t, 10_000_000)
		x.sim.QueueB2C(darajasim.B2COutcome{Answer: darajasim.Answer{After: darajaSlow, Refuse: true}})
		x.sim.QueueSTK(darajasim.STKOutcome{Answer: darajasim.Answer{After: darajaSlow, Refuse: true}})
		wd, err := bounded(t, "Sell", func(ctx context.Context) (store.Transaction, error) {
			return x.ramp.Sell(ctx, auth, x.quote(300), "slow-refused-sell")
		})
		if err != nil {
			t.Fatalf("sell: %v (a refusal after the deadline is the background's)", err)
		}
		top, err := bounded(t, "Buy", func(ctx context.Context) (store.Transaction, error) {
			return x.ramp.Buy(ctx, u.ID, x.quote(500), "slow-refused-buy")
		})
		if err != nil {
			t.Fatalf("buy: %v (a refusal after the deadline is the background's)", err)
		}

		x.ramp.Work.Wait()
		x.waitStatus(t, wd.ID, store.StatusFailed)
		x.waitStatus(t, top.ID, store.StatusFailed)
		if got := balance(t, x.w, u.ID); got != 10_000_000 {
			t.Errorf("balance %d msat after the refused withdrawal, want 10000000 (refunded)", got)
		}
		if n := hasNotification(notified(t, db, wd.ID), store.NotifyWithdrawalFailed); n != 1 {
			t.Errorf("%d withdrawal-failed texts queued, want 1", n)
		}
		if n := hasNotification(notified(t, db, top.ID), store.NotifyTopupFailed); n != 1 {
			t.Errorf("%d top-up-failed texts queued, want 1", n)
		}
		if b2c, stk := x.calls("b2c"), x.calls("stkpush"); b2c != 1 || stk != 1 {
			t.Errorf("Daraja got %d B2C and %d STK push calls, want 1 and 1", b2c, stk)
		}
		mustReconcile(t, x.w)
	})
}

// TestRailRefusalInTime: a refusal Daraja answers before the caller's
// deadline is still the caller's error, as before.
func TestRailRefusalInTime(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		x := newWorld(t, db)
		_, auth := x.user(t, 10_000_000)
		x.sim.QueueB2C(darajasim.B2COutcome{Answer: darajasim.Answer{Refuse: true}})
		wd, err := bounded(t, "Sell", func(ctx context.Context) (store.Transaction, error) {
			return x.ramp.Sell(ctx, auth, x.quote(300), "refused-in-time")
		})
		if !errors.Is(err, ramp.ErrRefused) {
			t.Fatalf("sell: %v, want a refusal", err)
		}
		x.waitStatus(t, wd.ID, store.StatusFailed)
	})
}

// TestRailStopped: once the ramp is stopped (the server's Close, about to
// wait for the calls hops left running, then close the database), nothing
// is started: a Sell or Buy is refused before it reserves anything, and
// one that reserved just before the stop does not send, so nothing runs
// untracked against a closing database (outside reviews: a hop the HTTP
// server gave up waiting for could add to the WaitGroup after its Wait,
// then, made to wait itself, strand a refused withdrawal marked sent).
// The reconciler refunds the reserved one as never sent.
func TestRailStopped(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		stop := &stopAfterCommit{DB: db}
		x := newWorld(t, stop)
		u, auth := x.user(t, 10_000_000)
		stop.stop = x.ramp.Stop
		stop.armed.Store(true)
		wd, err := x.ramp.Sell(ctx, auth, x.quote(300), "reserved-then-stopped")
		x.ramp.Work.Wait()
		if !errors.Is(err, ramp.ErrStopped) || wd.ID == 0 {
			t.Fatalf("sell reserved just before the stop: %v (id %d), want ErrStopped", err, wd.ID)
		}
		if req := x.mpesaRequest(t, wd.ID); req.SentAt != nil || x.calls("b2c") != 0 {
			t.Fatalf("a stopped ramp sent withdrawal %d: request %+v, %d B2C calls", wd.ID, req, x.calls("b2c"))
		}
		if _, err := x.ramp.Sell(ctx, auth, x.quote(200), "after-the-stop"); !errors.Is(err, ramp.ErrStopped) {
			t.Errorf("sell after the stop: %v, want ErrStopped", err)
		}
		if _, err := x.ramp.Buy(ctx, u.ID, x.quote(200), "buy-after-the-stop"); !errors.Is(err, ramp.ErrStopped) {
			t.Errorf("buy after the stop: %v, want ErrStopped", err)
		}
		x.clock.Advance(91 * time.Second)
		x.checkDue(t)
		got, _ := x.w.Transaction(ctx, wd.ID)
		if b := balance(t, x.w, u.ID); got.Status != store.StatusFailed || b != 10_000_000 {
			t.Errorf("the reserved withdrawal is %s, balance %d msat; want failed (refunded as never sent) and 10,000,000", got.Status, b)
		}
		if n := len(x.sim.Requests()); n != 0 {
			t.Errorf("Daraja got %d requests from a stopped ramp", n)
		}
	})
}

// stopAfterCommit calls stop, once armed, right after the first
// transaction that committed: the ramp is stopped between a request's
// reservation and its sending.
type stopAfterCommit struct {
	database.DB
	armed atomic.Bool
	stop  func()
}

func (s *stopAfterCommit) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	err := s.DB.InTx(ctx, fn)
	if err == nil && s.armed.CompareAndSwap(true, false) {
		s.stop()
	}
	return err
}
