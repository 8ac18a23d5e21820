package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/growth"
)

// hotBench measures the accounts many transfers meet (issue 15, target 3):
// clients all paying one merchant, clients all spending from one account,
// and the latency of a transfer from an account with a long history beside
// one from a fresh account. Every transfer charges the -fee-bps fee, so the
// fees account is on every path too. A failure that is not a business
// refusal (a deadlock or serialization failure reaching the caller), a hot
// balance that is not its start plus what the ok transfers moved, or a
// ledger that does not reconcile makes it exit non-zero, after every engine
// ran.
func hotBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hot", flag.ContinueOnError)
	clients, duration := commonFlags(fs)
	feeBps := feeFlag(fs)
	engines := fs.String("engines", "postgres,mysql,sqlite", "engines to measure")
	accounts := fs.Int("accounts", 1000, "funded accounts paying the merchant and paid by the spender")
	historyTxns := fs.Int("history-txns", 207_000, "transactions seeded between the two users of the history case (the history account gets about half of them as entries)")
	historySends := fs.Int("history-transfers", 2000, "transfers measured from each of the history account and the fresh one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list, err := engineList(*engines)
	if err != nil {
		return err
	}
	var errs []error
	for _, engine := range list {
		if err := hotOn(ctx, engine, *clients, *duration, *accounts, *feeBps, *historyTxns, *historySends); err != nil {
			fmt.Printf("hot %s: FAILED: %v\n", engine, err)
			errs = append(errs, fmt.Errorf("%s: %w", engine, err))
		}
	}
	return errors.Join(errs...)
}

func hotOn(ctx context.Context, engine string, clients int, duration time.Duration, accounts int, feeBps int64, historyTxns, historySends int) error {
	dbURL, drop, err := benchDatabase(ctx, engine)
	if err != nil {
		return err
	}
	defer drop()
	// Three more accounts than the crowd: the merchant, the spender and the
	// fresh account of the history case, which nothing else touches.
	r, err := prepareTransfers(ctx, engine, dbURL, clients, accounts+3, feeBps)
	if err != nil {
		return err
	}
	defer r.close()
	merchant, spender, fresh, crowd := r.members[0], r.members[1], r.members[2], r.members[3:]
	// The spender holds what the clients could send at 10,000 transfers/s
	// of the largest amount, so that no refusal stops it.
	most := int64(100_000)
	funding := int64(10_000*duration.Seconds()+1) * (most + r.paid.TransferFee(most))
	if _, err := r.free.Adjust(ctx, spender.phone, funding, "bench hot spender funding", "bench-hot-spender"); err != nil {
		return err
	}

	stopProfile, err := startProfile()
	if err != nil {
		return err
	}
	errs := []error{
		r.hotCase(ctx, "one merchant", merchant, true, duration, func(rng *rand.Rand) (benchMember, benchMember) {
			return crowd[rng.IntN(len(crowd))], merchant
		}),
		r.hotCase(ctx, "one spender", spender, false, duration, func(rng *rand.Rand) (benchMember, benchMember) {
			return spender, crowd[rng.IntN(len(crowd))]
		}),
	}
	stopProfile()
	errs = append(errs, r.history(ctx, fresh, crowd, historyTxns, historySends))
	return errors.Join(errs...)
}

// hotCase drives the clients through pick for duration and proves the hot
// account's balance exact: its start plus the amounts of the ok transfers
// (receives), or minus their amounts and fees (it sends); then reconciles.
func (r *transferRun) hotCase(ctx context.Context, name string, hot benchMember, receives bool, duration time.Duration,
	pick func(*rand.Rand) (from, to benchMember)) error {
	before, err := r.paid.Balance(ctx, hot.auth.UserID())
	if err != nil {
		return err
	}
	l := r.drive(ctx, r.paid, r.clients, duration, pick)
	after, err := r.paid.Balance(ctx, hot.auth.UserID())
	if err != nil {
		return err
	}
	want, moved := before+l.amountMsat, "+ the amounts"
	if !receives {
		want, moved = before-l.amountMsat-l.feeMsat, "- the amounts and fees"
	}
	exact := "exact"
	if after != want {
		exact = fmt.Sprintf("WRONG: %d msat off", after-want)
	}
	fmt.Printf("hot %s %s (%d clients, %s, fee %s): %s; balance %d -> %d msat = start %s of the ok transfers (amounts %d, fees %d msat): %s\n",
		r.engine, name, r.clients, duration, bps(r.paid.Config().TransferFeeBasisPoints), l, before, after, moved, l.amountMsat, l.feeMsat, exact)
	err = l.err()
	if after != want {
		err = errors.Join(err, fmt.Errorf("%s: balance %d msat, want %d", name, after, want))
	}
	if rerr := reconcile(ctx, r.paid); rerr != nil {
		err = errors.Join(err, fmt.Errorf("%s: %w", name, rerr))
	}
	return err
}

// history seeds two users with a long ledger between them (growth.Seed) and
// measures, with one client, transfers from the first of them beside
// transfers from fresh, alternating, so that both see the same machine.
func (r *transferRun) history(ctx context.Context, fresh benchMember, crowd []benchMember, txns, n int) error {
	hash, err := r.free.PreparePIN(benchPIN)
	if err != nil {
		return err
	}
	res, err := growth.Seed(ctx, r.db, growth.Options{Users: 2, Transactions: txns, PINHash: string(hash), Seed: 1})
	if err != nil {
		return err
	}
	fmt.Printf("hot %s history: seeded %d transactions, %d entries between 2 users in %s\n",
		r.engine, res.Transactions, res.Entries, res.Elapsed.Round(time.Millisecond))
	auth, err := r.paid.VerifyPIN(ctx, res.FirstUser, benchPIN)
	if err != nil {
		return err
	}
	old := benchMember{phone: growth.Phone(res.FirstUser), auth: auth}
	oldEntries, err := r.chainLength(ctx, old, crowd[0])
	if err != nil {
		return err
	}
	freshEntries, err := r.chainLength(ctx, fresh, crowd[0])
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))
	var warm, hist, young load
	const warmUp = 50
	for i := range warmUp + n {
		to := crowd[rng.IntN(len(crowd))]
		amount := (1 + rng.Int64N(100)) * 1000
		a, b := &hist, &young
		if i < warmUp {
			a, b = &warm, &warm
		}
		key := fmt.Sprintf("bench-history-%d-%d", rng.Uint64(), i)
		if i%2 == 0 {
			a.send(ctx, r.paid, old, to, amount, key+"-old")
			b.send(ctx, r.paid, fresh, to, amount, key+"-fresh")
		} else {
			b.send(ctx, r.paid, fresh, to, amount, key+"-fresh")
			a.send(ctx, r.paid, old, to, amount, key+"-old")
		}
	}
	fmt.Printf("hot %s history: %d entries p50 %s p99 %s | fresh, %d entries, p50 %s p99 %s (%d transfers each, alternating, 1 client; %d+%d ok, %d+%d refused, %d+%d failed)\n",
		r.engine, oldEntries, ms(hist.lat.percentile(50)), ms(hist.lat.percentile(99)), freshEntries, ms(young.lat.percentile(50)), ms(young.lat.percentile(99)),
		n, hist.ok, young.ok, hist.refused, young.refused, hist.failed, young.failed)
	err = errors.Join(warm.err(), hist.err(), young.err())
	t0 := time.Now()
	if rerr := reconcile(ctx, r.paid); rerr != nil {
		return errors.Join(err, fmt.Errorf("history: %w", rerr))
	}
	fmt.Printf("hot %s history: reconcile passed in %s\n", r.engine, time.Since(t0).Round(time.Millisecond))
	return err
}

// chainLength is how many ledger entries from's account holds before one
// more transfer to to: the place (seq) of that transfer's entry in the
// account's hash chain, less one. Reconcile proves the chain gapless.
func (r *transferRun) chainLength(ctx context.Context, from, to benchMember) (int64, error) {
	t, err := r.paid.Transfer(ctx, from.auth, to.phone, 1000, fmt.Sprintf("bench-chain-%d-%d", from.auth.UserID(), time.Now().UnixNano()))
	if err != nil {
		return 0, err
	}
	var entries []store.LedgerEntry
	err = r.db.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		entries, err = tx.EntriesOf(ctx, t.ID)
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.AmountMsat < 0 {
			return e.Seq - 1, nil
		}
	}
	return 0, fmt.Errorf("transfer %d has no debit entry", t.ID)
}
