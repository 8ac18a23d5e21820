package ramp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
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
	calls := func(path string) int {
		n := 0
		for _, r := range x.sim.Requests() {
			if strings.Contains(r.Path, path) {
				n++
			}
		}
		return n
	}
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
