package app_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store/growth"
)

// TestGrowthHistoryHopStaysFlat: a database grown from 10 thousand to 100
// thousand transactions (users, ledger entries with their chains, invoices,
// top-ups, sessions, texts, all reconciled at the small size) answers the
// USSD history hop, through the real server and its PIN, about as fast as
// before: the p50 at the big size stays within a generous factor of the
// small size's. The full form, 10 million transactions over a million
// users, is `make soak` (cmd/bench growth).
func TestGrowthHistoryHopStaysFlat(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		a := startApp(t, engine, nil)
		const pin = "2791"
		hash, err := a.Wallet.PreparePIN(pin)
		if err != nil {
			t.Fatal(err)
		}
		endpoint := "http://" + a.Addr() + "/ussd?token=" + url.QueryEscape(a.Config.USSDCallbackToken)
		start := time.Now()
		steps, err := growth.Run(ctx, a.DB, endpoint, pin, string(hash),
			[]growth.Size{{Users: 1_000, Transactions: 10_000}, {Users: 10_000, Transactions: 100_000}}, 100, nil, nil,
			func(st growth.Step) {
				t.Logf("%s at %d transactions (%d users, seeded in %s): history hop p50 %s, p99 %s over %d hops",
					engine, st.Size.Transactions, st.Size.Users, st.Seeded.Elapsed.Round(time.Millisecond),
					st.P50.Round(10*time.Microsecond), st.P99.Round(10*time.Microsecond), len(st.Hops))
			})
		if err != nil {
			t.Fatal(err)
		}
		small, big := steps[0], steps[1]
		if small.Reconciled == 0 {
			t.Fatal("the small ledger was not reconciled")
		}
		// Generous: the machine is shared and noisy; a query that reads
		// a growing table through would be 20 times slower here.
		if limit := 4*small.P50 + 20*time.Millisecond; big.P50 > limit {
			t.Errorf("%s: the history hop's p50 went from %s at %d transactions to %s at %d (limit %s)",
				engine, small.P50, small.Size.Transactions, big.P50, big.Size.Transactions, limit)
		}
		t.Logf("%s: the whole growth run took %s", engine, time.Since(start).Round(time.Second))
	})
}
