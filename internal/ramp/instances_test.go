package ramp_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/store"
)

// servers is several servers' ramps on one database: each its own
// connection pool, wallet, Daraja client and callback endpoints, as
// several `server serve` processes are; they share the simulator and the
// clock.
func servers(t *testing.T, engine string, n int) []*world {
	t.Helper()
	url := dbtest.URL(t, engine)
	sim, simURL := newDaraja(t)
	c := &clock{}
	out := make([]*world, n)
	for i := range out {
		db, err := database.Open(context.Background(), url, database.Options{Migrate: i == 0})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		out[i] = serverOn(t, db, sim, simURL, c)
	}
	return out
}

// darajaCalls counts the simulator's requests on path by the value of
// field in their bodies.
func darajaCalls(t *testing.T, sim *darajasim.Sim, path, field string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, r := range sim.Requests() {
		if r.Path != path {
			continue
		}
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		id, _ := body[field].(string)
		n[id]++
	}
	return n
}

// TestInstancesMpesaReconciler: three servers' reconcilers on one database,
// run at the same instant, ask Daraja about each overdue request exactly
// once per round (the STK query of top-ups whose callback never came, the
// Transaction Status of withdrawals whose result never came), each
// withdrawal's B2C is sent once, by the server that took the request, and
// every top-up is credited and every withdrawal settled once, with the
// same callbacks delivered to all three servers.
func TestInstancesMpesaReconciler(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			xs := servers(t, engine, 3)
			x, ctx := xs[0], context.Background()
			u, auth := x.user(t, 100_000_000) // the seller
			const topups, withdrawals = 6, 4
			var ids, buyers []int64
			for i := range topups {
				b, _ := x.user(t, 0) // one prompt per phone at a time
				buyers = append(buyers, b.ID)
				o := darajasim.STKOutcome{Delivery: darajasim.DeliverNone}
				if i == 0 {
					o.Delivery = darajasim.DeliverManual // still on the phone at the first query
				}
				x.sim.QueueSTK(o)
				tp, err := xs[i%3].ramp.Buy(ctx, b.ID, x.quote(int64(100+i)), "buy-"+string(rune('a'+i)))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, tp.ID)
			}
			var wds []int64
			for i := range withdrawals {
				x.sim.QueueB2C(darajasim.B2COutcome{Delivery: darajasim.DeliverQueueTimeout})
				wd, err := xs[i%3].ramp.Sell(ctx, auth, x.quote(int64(200+i)), "sell-"+string(rune('a'+i)))
				if err != nil {
					t.Fatal(err)
				}
				wds = append(wds, wd.ID)
			}
			x.callbacks(t, withdrawals) // the queue time-outs were answered: their checks are due now
			x.sim.Flush()               // M-Pesa decides the first top-up and pays the withdrawals, telling nobody
			x.clock.Advance(91 * time.Second)

			for round := 1; round <= 2; round++ {
				dbtest.AtOnce(t, len(xs), func(i int) error { _, err := xs[i].ramp.CheckDue(ctx); return err })
				if round == 1 {
					// The answers (Transaction Status's come by callback)
					// are in before the next round is due.
					for _, id := range append(ids[1:], wds...) {
						x.waitStatus(t, id, store.StatusCompleted)
					}
				}
				x.clock.Advance(91 * time.Second)
			}
			queries := darajaCalls(t, x.sim, "/mpesa/stkpushquery/v1/query", "CheckoutRequestID")
			for i, id := range ids {
				req, err := x.w.MpesaRequest(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				want := 1
				if i == 0 {
					want = 2 // one a round: still on the phone at both
				}
				if q := queries[req.CheckoutRequestID]; q != want || req.Checks != want {
					t.Errorf("top-up %d: %d STK queries and %d checks recorded, want %d", i, q, req.Checks, want)
				}
			}
			if len(queries) != topups {
				t.Errorf("STK queries about %d pushes, want %d", len(queries), topups)
			}
			status := darajaCalls(t, x.sim, "/mpesa/transactionstatus/v1/query", "OriginalConversationID")
			b2c := darajaCalls(t, x.sim, "/mpesa/b2c/v3/paymentrequest", "OriginatorConversationID")
			for i, id := range wds {
				req, err := x.w.MpesaRequest(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if s, p := status[req.OriginatorConversationID], b2c[req.OriginatorConversationID]; s != 1 || p != 1 {
					t.Errorf("withdrawal %d: %d Transaction Status queries and %d B2C payments, want 1 and 1", i, s, p)
				}
			}
			if len(b2c) != withdrawals || len(status) != withdrawals {
				t.Errorf("B2C of %d withdrawals and Transaction Status of %d, want %d", len(b2c), len(status), withdrawals)
			}
			// The first top-up's user pays at last.
			if req, err := x.w.MpesaRequest(ctx, ids[0]); err != nil || x.sim.Approve(req.CheckoutRequestID) != nil {
				t.Fatalf("approve the first top-up: %v", err)
			}
			x.waitStatus(t, ids[0], store.StatusCompleted)
			// Every callback again, to every server at once (Daraja
			// retrying, a balancer spreading them): nothing moves twice.
			total := func() int64 {
				sum := balance(t, x.w, u.ID)
				for _, id := range buyers {
					sum += balance(t, x.w, id)
				}
				return sum
			}
			before := total()
			for _, cb := range x.sim.Callbacks() {
				_, path, ok := strings.Cut(cb.URL, "/cb/"+token)
				if !ok {
					t.Fatalf("a callback to %s", cb.URL)
				}
				dbtest.AtOnce(t, len(xs), func(i int) error {
					post(t, xs[i].api+path, cb.Body)
					return nil
				})
			}
			if b := total(); b != before {
				t.Fatalf("callbacks replayed to every server moved the balance from %d to %d", before, b)
			}
			var kes int64
			for i := range topups {
				kes += int64(100 + i)
			}
			var fees int64
			for i := range withdrawals {
				kes -= int64(200 + i)
				fees += x.w.ServiceFee(int64(200+i) * 8_000)
			}
			if want := 100_000_000 + kes*8_000 - fees; before != want {
				t.Fatalf("balances sum to %d, want %d", before, want)
			}
			mustReconcile(t, x.w)
		})
	}
}
