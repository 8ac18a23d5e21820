package ramp_test

// Kill points of the M-Pesa rail found by the fleet's crash suite
// (TestCrashAnywhere, issue 13): the server stops between committing a
// request and calling Daraja, or between Daraja's acceptance of a push and
// the recording of its CheckoutRequestID. Each is simulated in-process:
// the ledger step runs, the process "dies" (nothing more of Sell or Buy
// runs), and a server started afterwards reconciles.

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/ramp"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// notified lists the kinds and bodies of the texts queued about a
// transaction.
func notified(t *testing.T, db database.DB, transactionID int64) []store.Notification {
	t.Helper()
	var ns []store.Notification
	err := db.Autocommit(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		ns, err = tx.NotificationsOf(ctx, transactionID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func hasNotification(ns []store.Notification, kind store.NotificationKind) int {
	n := 0
	for _, x := range ns {
		if x.Kind == kind {
			n++
		}
	}
	return n
}

// askStatus lets rounds times every pass, the reconciler asking Transaction
// Status each time, and waits for each answer.
func (x *world) askStatus(t *testing.T, rounds int, every time.Duration) {
	t.Helper()
	for range rounds {
		x.clock.Advance(every)
		x.checkDue(t)
		x.statusAnswers++
		x.callbackOf(t, "status-result", x.statusAnswers)
	}
}

// lostSell is a world with a user who had 10,000,000 msat and sold KES 125
// whose B2C never reached M-Pesa: a gateway answered 502 without passing it
// on, so its outcome is unknown to the server.
func lostSell(t *testing.T, db database.DB) (*world, wallet.User, store.Transaction) {
	t.Helper()
	x, f := newFaultyWorld(t, db)
	u, auth := x.user(t, 10_000_000)
	f.add(pathB2C, drop502)
	wd, err := x.ramp.Sell(context.Background(), auth, x.quote(125), "sell-lost")
	if err != nil {
		t.Fatal(err)
	}
	return x, u, wd
}

// checkDue runs the reconciler once.
func (x *world) checkDue(t *testing.T) {
	t.Helper()
	if _, err := x.ramp.CheckDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

var op = wallet.Action{Operator: "ops-test", Reason: "ticket 42: the user showed the M-Pesa message"}

// TestRampCrashWithdrawalNeverSent: the withdrawal is reserved (what Sell
// commits first) and the process dies before the B2C call. The reconciler
// of the restarted server refunds it (no B2C was ever sent, so it is
// certain M-Pesa paid nothing), the user is texted, and the request can no
// longer be marked sent (a Sell still running could not send it now).
func TestRampCrashWithdrawalNeverSent(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x := newWorld(t, db)
		u, auth := x.user(t, 10_000_000)
		q := x.quote(125)
		wd := x.reserveUnsent(t, auth, q, "sell-died", 90*time.Second)
		// The process dies here. Before its first check, nothing is done.
		x.checkDue(t)
		if got, _ := x.w.Transaction(ctx, wd.ID); got.Status != store.StatusPending {
			t.Fatalf("refunded before the bound: %s", got.Status)
		}
		x.clock.Advance(91 * time.Second)
		x.checkDue(t)
		got, _ := x.w.Transaction(ctx, wd.ID)
		req, _ := x.w.MpesaRequest(ctx, wd.ID)
		if b := balance(t, x.w, u.ID); got.Status != store.StatusFailed || b != 10_000_000 {
			t.Fatalf("a withdrawal whose B2C was never sent is %s, balance %d msat (result %q, %d checks); want failed and 10,000,000 back",
				got.Status, b, req.ResultCode, req.Checks)
		}
		if req.ResultCode != wallet.MpesaUnsent || req.NextCheckAt != nil || req.SentAt != nil {
			t.Errorf("refunded request: %+v", req)
		}
		if n := hasNotification(notified(t, db, wd.ID), store.NotifyWithdrawalFailed); n != 1 {
			t.Errorf("%d withdrawal-failed texts, want 1", n)
		}
		if _, ok, err := x.w.MarkMpesaSent(ctx, wd.ID); err != nil || ok {
			t.Errorf("a refunded unsent request could still be marked sent: %v %v", ok, err)
		}
		for _, cb := range x.sim.Callbacks() {
			t.Errorf("Daraja was asked about a payment it never got: %s callback", cb.Kind)
		}
		mustReconcile(t, x.w)
	})
}

// TestRampCrashTopupNeverSent: the top-up is committed (what Buy commits
// first) and the process dies before the push. It is failed as not sent
// (nothing charged, the user texted) once its first check is due, not
// after the ten minutes a sent push is given.
func TestRampCrashTopupNeverSent(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x := newWorld(t, db)
		u, _ := x.user(t, 0)
		tp, fresh, err := x.w.StartTopup(ctx, u.ID, x.quote(500), 90*time.Second, "buy-died")
		if err != nil || !fresh {
			t.Fatalf("start: %v (fresh %v)", err, fresh)
		}
		x.clock.Advance(91 * time.Second)
		x.checkDue(t)
		got, _ := x.w.Transaction(ctx, tp.ID)
		req, _ := x.w.MpesaRequest(ctx, tp.ID)
		if got.Status != store.StatusFailed || req.ResultCode != wallet.MpesaUnsent || req.NextCheckAt != nil {
			t.Fatalf("a top-up whose push was never sent is %s (request %+v); want failed %q", got.Status, req, wallet.MpesaUnsent)
		}
		ns := notified(t, db, tp.ID)
		if hasNotification(ns, store.NotifyTopupFailed) != 1 || ns[0].Body != wallet.MpesaUnsent {
			t.Errorf("texts: %+v", ns)
		}
		if _, ok, err := x.w.MarkMpesaSent(ctx, tp.ID); err != nil || ok {
			t.Errorf("a failed unsent top-up could still be marked sent: %v %v", ok, err)
		}
		if b := balance(t, x.w, u.ID); b != 0 {
			t.Errorf("balance %d", b)
		}
		mustReconcile(t, x.w)
	})
}

// pushThenDie is a Daraja whose STK push reaches Daraja (which the user
// pays, with the callback going to a server that is down), and then the
// process dies before Buy records the CheckoutRequestID.
type pushThenDie struct {
	ramp.Daraja
	down string
}

var errDied = errors.New("the process died after Daraja accepted the push")

func (d pushThenDie) STKPush(ctx context.Context, p ramp.STKPush) (string, error) {
	p.CallbackURL = d.down
	if _, err := d.Daraja.STKPush(ctx, p); err != nil {
		return "", err
	}
	return "", errDied
}

// deadURL is a loopback URL nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/cb/stk"
}

// TestRampCrashTopupSentUnacknowledged: Daraja accepted the push and the
// user paid, but the process died before recording its CheckoutRequestID,
// and the callback came while the server was down. After giveUpAfter it is
// not "nothing charged": it stays pending, out of the balance, marked for
// the operator, and the user is texted once to bring the M-Pesa message to
// support. The operator then credits it once with its receipt (a receipt
// credits one top-up), or fails another as not paid; each is in the audit
// log, and reconcile passes. A held top-up whose callback comes late is
// credited by it.
func TestRampCrashTopupSentUnacknowledged(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x := newWorld(t, db)
		u, _ := x.user(t, 0)
		x.ramp.Daraja = pushThenDie{Daraja: x.ramp.Daraja, down: deadURL(t)}
		tp, err := x.ramp.Buy(ctx, u.ID, x.quote(500), "buy-paid")
		if err != nil {
			t.Fatal(err)
		}
		cb := x.callbacks(t, 1)[0] // M-Pesa's callback, to nobody
		res, err := ramp.STKCallback(cb.Body)
		if err != nil || res.ResultCode != 0 || res.Receipt == "" {
			t.Fatalf("the simulator did not pay: %v %s", err, cb.Body)
		}
		if err := x.w.ResolveMpesa(ctx, tp.ID, wallet.MpesaDecision{Paid: true, Receipt: res.Receipt}, op); !errors.Is(err, wallet.ErrNotUndecidable) {
			t.Errorf("an operator decided a top-up not yet given up: %v", err)
		}
		x.clock.Advance(11 * time.Minute)
		x.checkDue(t)
		got, _ := x.w.Transaction(ctx, tp.ID)
		req, _ := x.w.MpesaRequest(ctx, tp.ID)
		if got.Status != store.StatusPending || req.ResultCode != wallet.MpesaUnconfirmed || req.NextCheckAt == nil {
			t.Fatalf("a push M-Pesa may have charged, never acknowledged, is %s (request result %q, next %v); want pending, %q, still open",
				got.Status, req.ResultCode, req.NextCheckAt, wallet.MpesaUnconfirmed)
		}
		x.clock.Advance(2 * time.Hour)
		x.checkDue(t) // asked again: no second text
		if n := hasNotification(notified(t, db, tp.ID), store.NotifyTopupUnconfirmed); n != 1 {
			t.Errorf("%d could-not-confirm texts, want 1", n)
		}
		if b := balance(t, x.w, u.ID); b != 0 {
			t.Fatalf("balance %d before the operator decided", b)
		}
		mustReconcile(t, x.w)

		// The operator credits it with the user's receipt, once.
		if err := x.w.ResolveMpesa(ctx, tp.ID, wallet.MpesaDecision{Paid: true, Receipt: res.Receipt}, wallet.Action{Operator: "ops-test"}); err == nil {
			t.Error("a decision without a reason was taken")
		}
		if err := x.w.ResolveMpesa(ctx, tp.ID, wallet.MpesaDecision{Paid: true, Receipt: res.Receipt}, op); err != nil {
			t.Fatal(err)
		}
		if err := x.w.ResolveMpesa(ctx, tp.ID, wallet.MpesaDecision{Paid: true, Receipt: res.Receipt}, op); !errors.Is(err, wallet.ErrNotUndecidable) {
			t.Errorf("a second decision: %v", err)
		}
		if b := balance(t, x.w, u.ID); b != 4_000_000 {
			t.Fatalf("balance %d after the operator credited KES 500", b)
		}
		// A second such top-up: the same receipt cannot credit it.
		tp2, err := x.ramp.Buy(ctx, u.ID, x.quote(500), "buy-paid-2")
		if err != nil {
			t.Fatal(err)
		}
		x.callbacks(t, 2)
		x.clock.Advance(11 * time.Minute)
		x.checkDue(t)
		if err := x.w.ResolveMpesa(ctx, tp2.ID, wallet.MpesaDecision{Paid: true, Receipt: res.Receipt}, op); !errors.Is(err, wallet.ErrMpesaMismatch) {
			t.Errorf("a receipt credited twice: %v", err)
		}
		if err := x.w.ResolveMpesa(ctx, tp2.ID, wallet.MpesaDecision{}, op); err != nil {
			t.Fatal(err)
		}
		if got, _ := x.w.Transaction(ctx, tp2.ID); got.Status != store.StatusFailed || balance(t, x.w, u.ID) != 4_000_000 {
			t.Fatalf("not paid: %s, balance %d", got.Status, balance(t, x.w, u.ID))
		}
		// A third: held for the operator, then its callback comes after
		// all (the server is up): it is credited, no operator needed.
		tp3, err := x.ramp.Buy(ctx, u.ID, x.quote(500), "buy-paid-3")
		if err != nil {
			t.Fatal(err)
		}
		late := x.callbacks(t, 3)[2]
		x.clock.Advance(11 * time.Minute)
		x.checkDue(t)
		if r, _ := x.w.MpesaRequest(ctx, tp3.ID); r.ResultCode != wallet.MpesaUnconfirmed {
			t.Fatalf("third top-up not held: %+v", r)
		}
		post(t, x.api+ramp.PathSTK, late.Body)
		x.waitStatus(t, tp3.ID, store.StatusCompleted)
		if b := balance(t, x.w, u.ID); b != 8_000_000 {
			t.Fatalf("balance %d after a held top-up's late callback, want 8,000,000", b)
		}
		rep, err := x.w.UserReport(ctx, u.Phone, 10)
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]int{}
		for _, a := range rep.Audit {
			actions[a.Action]++
			if a.Operator != op.Operator || a.Reason != op.Reason {
				t.Errorf("audit row %+v", a)
			}
		}
		if actions[wallet.AuditMpesaPaid] != 1 || actions[wallet.AuditMpesaNotPaid] != 1 || len(rep.Audit) != 2 {
			t.Errorf("audit log: %+v", rep.Audit)
		}
		mustReconcile(t, x.w)
	})
}

// TestRampCrashWithdrawalNotFoundOperator: a B2C marked sent (its answer
// lost) that Transaction Status never finds is never refunded on a guess:
// it stays reserved, asked about; after a day an operator
// may refund it as not paid, recorded in the audit log; not before, and
// never "paid" by hand.
func TestRampCrashWithdrawalNotFoundOperator(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x, u, wd := lostSell(t, db)
		if req, _ := x.w.MpesaRequest(ctx, wd.ID); req.SentAt == nil {
			t.Fatalf("Sell called Daraja without marking the request sent: %+v", req)
		}
		x.askStatus(t, 1, 6*time.Hour)
		if err := x.w.ResolveMpesa(ctx, wd.ID, wallet.MpesaDecision{}, op); !errors.Is(err, wallet.ErrNotUndecidable) {
			t.Errorf("refunded by hand after 6 hours: %v", err)
		}
		x.askStatus(t, 4, 6*time.Hour)
		got, _ := x.w.Transaction(ctx, wd.ID)
		if req, _ := x.w.MpesaRequest(ctx, wd.ID); got.Status != store.StatusPending || req.ResultCode != wallet.MpesaNotFound || req.NextCheckAt == nil {
			t.Fatalf("a sent withdrawal never found is %s (request %+v); want still reserved, not-found noted, still asked about", got.Status, req)
		}
		mustReconcile(t, x.w)
		if err := x.w.ResolveMpesa(ctx, wd.ID, wallet.MpesaDecision{Paid: true, Receipt: "SIMX"}, op); !errors.Is(err, wallet.ErrNotUndecidable) {
			t.Errorf("a withdrawal settled by hand: %v", err)
		}
		if err := x.w.ResolveMpesa(ctx, wd.ID, wallet.MpesaDecision{}, op); err != nil {
			t.Fatal(err)
		}
		got, _ = x.w.Transaction(ctx, wd.ID)
		if b := balance(t, x.w, u.ID); got.Status != store.StatusFailed || b != 10_000_000 {
			t.Fatalf("after the operator's refund: %s, balance %d", got.Status, b)
		}
		rep, _ := x.w.UserReport(ctx, u.Phone, 10)
		if len(rep.Audit) != 1 || rep.Audit[0].Action != wallet.AuditMpesaNotPaid {
			t.Errorf("audit: %+v", rep.Audit)
		}
		mustReconcile(t, x.w)
	})
}
