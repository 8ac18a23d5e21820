package storetest

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testChain: every entry on a user account takes the next place in the
// account's chain with the balance after it, the day it counted on, its time
// to the microsecond and the hash ChainHash computes (the SQL of each engine
// and the Go of the verifier agree byte for byte); entries on system
// accounts carry no chain. A posting that names one account twice chains
// both of its entries.
func testChain(t *testing.T, s store.Store) {
	userA, accA, _ := NewFundedUser(t, s, 0)
	_, accB, _ := NewFundedUser(t, s, 0)
	at := base.Add(1234567 * time.Nanosecond)
	guard := store.Guard{MaxBalanceMsat: 1 << 62, Day: 20_000, DayLimitMsat: 1 << 62}
	var adj, fees int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		a, err := tx.SystemAccount(ctx, store.AccountAdjustments)
		if err != nil {
			return err
		}
		f, err := tx.SystemAccount(ctx, store.AccountFees)
		adj, fees = a.ID, f.ID
		return err
	})
	var ids []int64
	post := func(entries ...store.Entry) {
		t.Helper()
		var id int64
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			if id, err = tx.InsertTransaction(ctx, newTxn(t, userA, store.TypeAdjustment, store.StatusCompleted, 1, at)); err != nil {
				return err
			}
			return tx.PostEntries(ctx, id, entries, guard, at)
		})
		ids = append(ids, id)
	}
	post(store.Entry{AccountID: adj, AmountMsat: -10_000}, store.Entry{AccountID: accA, AmountMsat: 10_000})
	post(store.Entry{AccountID: accA, AmountMsat: -3_100, DayOutMsat: 3_000}, store.Entry{AccountID: accB, AmountMsat: 3_000}, store.Entry{AccountID: fees, AmountMsat: 100})
	post(store.Entry{AccountID: accB, AmountMsat: -1_000}, store.Entry{AccountID: accA, AmountMsat: 1_000})
	post(store.Entry{AccountID: accA, AmountMsat: -5}, store.Entry{AccountID: accA, AmountMsat: 5}, store.Entry{AccountID: accB, AmountMsat: -7}, store.Entry{AccountID: accB, AmountMsat: 7})

	var entries []store.LedgerEntry
	balances := map[int64]int64{}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range ids {
			es, err := tx.EntriesOf(ctx, id)
			if err != nil {
				return err
			}
			entries = append(entries, es...)
		}
		for _, acc := range []int64{accA, accB} {
			a, err := tx.AccountByID(ctx, acc)
			if err != nil {
				return err
			}
			balances[acc] = a.BalanceMsat
		}
		return nil
	})
	if len(entries) != 11 {
		t.Fatalf("%d entries: %+v", len(entries), entries)
	}
	slices.SortFunc(entries, func(a, b store.LedgerEntry) int {
		return cmp.Or(cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.Seq, b.Seq))
	})
	last := map[int64]store.LedgerEntry{}
	for _, e := range entries {
		if e.AccountID != accA && e.AccountID != accB {
			if e.Seq != 0 || e.Hash != "" || e.BalanceAfterMsat != 0 {
				t.Fatalf("an entry on a system account with a chain: %+v", e)
			}
			continue
		}
		prev := last[e.AccountID]
		if e.Seq != prev.Seq+1 || e.BalanceAfterMsat != prev.BalanceAfterMsat+e.AmountMsat || e.DayOutDay != guard.Day ||
			!e.CreatedAt.Equal(at.Truncate(time.Microsecond)) {
			t.Fatalf("entry %+v after %+v", e, prev)
		}
		if want := store.ChainHash(e, prev.Hash); e.Hash != want {
			t.Fatalf("entry %+v: hash %s, the verifier computes %s from %q", e, e.Hash, want, store.ChainText(e, prev.Hash))
		}
		last[e.AccountID] = e
	}
	if last[accA].Seq != 5 || last[accB].Seq != 4 || balances[accA] != last[accA].BalanceAfterMsat || balances[accB] != last[accB].BalanceAfterMsat {
		t.Fatalf("heads %+v, balances %v", last, balances)
	}
}
