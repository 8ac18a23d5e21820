package ramp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestRailCommitAnswerLost: the COMMIT of a withdrawal's reservation, or
// of a top-up's pending row, is answered into the void (a TCP proxy drops
// the answer), and the wallet learns by the key that it committed. The
// rail must then be called, once, as for any fresh request: a withdrawal
// reported as started must have its B2C sent, a top-up its STK push
// (outside review: both were left unsent, for the reconciler to give up).
// MariaDB, whose store sends the COMMIT the proxy watches for as text.
func TestRailCommitAnswerLost(t *testing.T) {
	db, proxy, _ := dbtest.OpenProxied(t, "mysql", database.Options{MaxConns: 4})
	ctx := context.Background()
	x := newWorld(t, db)
	u, auth := x.user(t, 10_000_000)
	// A first withdrawal and top-up, untouched, warm the pools.
	if _, err := x.ramp.Sell(ctx, auth, x.quote(100), "warm-sell"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.ramp.Buy(ctx, u.ID, x.quote(100), "warm-buy"); err != nil {
		t.Fatal(err)
	}
	calls := x.calls
	for _, c := range []struct {
		name, path string
		run        func(ctx context.Context) (store.Transaction, error)
	}{
		{"withdrawal", "b2c", func(ctx context.Context) (store.Transaction, error) {
			return x.ramp.Sell(ctx, auth, x.quote(200), "cut-sell")
		}},
		{"top-up", "stkpush", func(ctx context.Context) (store.Transaction, error) {
			return x.ramp.Buy(ctx, u.ID, x.quote(200), "cut-buy")
		}},
	} {
		before := calls(c.path)
		proxy.LoseRepliesAfter("COMMIT")
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		tr, err := c.run(tctx)
		cancel()
		if err != nil || tr.ID == 0 {
			t.Fatalf("%s: %v (id %d), though it committed", c.name, err, tr.ID)
		}
		req, err := x.w.MpesaRequest(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if req.SentAt == nil {
			t.Errorf("%s %d reported started, its M-Pesa request never marked sent", c.name, tr.ID)
		}
		if got := calls(c.path) - before; got != 1 {
			t.Errorf("%s %d: Daraja got %d %s calls, want 1", c.name, tr.ID, got, c.path)
		}
		// The same request again sends nothing more.
		if _, err := c.run(ctx); err != nil {
			t.Fatalf("%s again: %v", c.name, err)
		}
		if got := calls(c.path) - before; got != 1 {
			t.Errorf("%s %d repeated: Daraja got %d %s calls, want 1", c.name, tr.ID, got, c.path)
		}
	}
}

// TestRailRepeatSendsOnce: a request whose first call committed its
// reservation (or pending top-up) and then never sent it (the caller was
// told the outcome could not be confirmed, or the process stopped) is
// sent by its repeat, once; a third call sends nothing (outside review of
// a6deb50: a repeat used to report it started and send nothing, for the
// reconciler to give up).
func TestRailRepeatSendsOnce(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x := newWorld(t, db)
		u, auth := x.user(t, 10_000_000)
		calls := x.calls
		q := x.quote(300)
		if _, fresh, err := x.w.ReserveFresh(ctx, auth, wallet.Reservation{
			Type: store.TypeWithdraw, AmountMsat: q.Msat, CounterpartyPhone: auth.Phone(), Description: "KES 300 to M-Pesa",
			IdempotencyKey: "first-never-sent", Mpesa: &wallet.MpesaWithdrawal{Quote: q, CheckAfter: time.Minute},
		}); err != nil || !fresh {
			t.Fatalf("reserve: %v (fresh %v)", err, fresh)
		}
		if _, fresh, err := x.w.StartTopup(ctx, u.ID, q, time.Minute, "first-never-pushed"); err != nil || !fresh {
			t.Fatalf("start top-up: %v (fresh %v)", err, fresh)
		}
		for i := 1; i <= 2; i++ {
			if _, err := x.ramp.Sell(ctx, auth, q, "first-never-sent"); err != nil {
				t.Fatalf("sell, call %d: %v", i, err)
			}
			if _, err := x.ramp.Buy(ctx, u.ID, q, "first-never-pushed"); err != nil {
				t.Fatalf("buy, call %d: %v", i, err)
			}
			if b2c, stk := calls("b2c"), calls("stkpush"); b2c != 1 || stk != 1 {
				t.Fatalf("after repeat %d Daraja got %d B2C and %d STK push calls, want 1 and 1", i, b2c, stk)
			}
		}
	})
}

// calls counts the requests Daraja got whose path holds path.
func (x *world) calls(path string) int {
	n := 0
	for _, r := range x.sim.Requests() {
		if strings.Contains(r.Path, path) {
			n++
		}
	}
	return n
}
