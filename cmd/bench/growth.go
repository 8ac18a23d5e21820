package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/internal/store/growth"
)

// growthBench seeds a fresh database of each engine in two steps, a small
// ledger then a big one, and measures the USSD history hop (the real server,
// over HTTP) at both sizes: issue 13's "10 thousand to 10 million rows stay
// flat".
func growthBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("growth", flag.ContinueOnError)
	engines := fs.String("engines", "postgres,mysql,sqlite", "engines to measure")
	users := fs.Int("users", 1_000_000, "users at the big size")
	txns := fs.Int("txns", 10_000_000, "transactions at the big size")
	smallUsers := fs.Int("small-users", 1_000, "users at the small size")
	smallTxns := fs.Int("small-txns", 10_000, "transactions at the small size")
	probes := fs.Int("probes", 300, "history sessions measured at each size (two history hops each)")
	reconcile := fs.Bool("reconcile", false, "reconcile the whole ledger at the big size too (long)")
	keep := fs.Bool("keep", false, "keep the database (its URL is printed) instead of dropping it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list, err := engineList(*engines)
	if err != nil {
		return err
	}
	if *users <= *smallUsers || *txns <= *smallTxns {
		return fmt.Errorf("the big size must be above the small one")
	}
	for _, engine := range list {
		if err := growthOn(ctx, engine, *smallUsers, *smallTxns, *users, *txns, *probes, *reconcile, *keep); err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
	}
	return nil
}

func growthOn(ctx context.Context, engine string, smallUsers, smallTxns, users, txns, probes int, reconcile, keep bool) error {
	a, endpoint, stop, err := benchServer(ctx, engine, keep)
	if err != nil {
		return err
	}
	defer stop()
	const pin = "2791"
	hash, err := a.Wallet.PreparePIN(pin)
	if err != nil {
		return err
	}
	last := time.Now()
	sizes := []growth.Size{{Users: smallUsers, Transactions: smallTxns}, {Users: users, Transactions: txns}}
	_, err = growth.Run(ctx, a.DB, endpoint, pin, string(hash), sizes, probes,
		func(i int) bool { return i == 0 || reconcile },
		func(p growth.Progress) {
			if time.Since(last) > 30*time.Second {
				last = time.Now()
				fmt.Printf("growth %s: %d/%d transactions loaded in %s\n", engine, p.Transactions, p.Of, p.Elapsed.Round(time.Second))
			}
		},
		func(st growth.Step) {
			res := st.Seeded
			fmt.Printf("growth %s: seeded %d users, %d transactions, %d entries, %d invoices, %d M-Pesa requests, %d sessions, %d texts in %s (%.0f transactions/s)\n",
				engine, res.Users, res.Transactions, res.Entries, res.Invoices, res.MpesaRequests, res.Sessions, res.Notifications,
				res.Elapsed.Round(time.Millisecond), float64(res.Transactions)/res.Elapsed.Seconds())
			if st.Reconciled > 0 {
				fmt.Printf("growth %s: reconcile passed in %s\n", engine, st.Reconciled.Round(time.Millisecond))
			}
			fmt.Printf("growth %s: USSD history hop at %d transactions (%d users): p50 %s, p99 %s (%d hops)\n",
				engine, st.Size.Transactions, st.Size.Users, ms(st.P50), ms(st.P99), len(st.Hops))
		})
	return err
}
