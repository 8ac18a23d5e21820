package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// LedgerWriter is the small set of statements PostLedgerEntries is built
// from; each adapter provides them from its generated queries.
type LedgerWriter interface {
	// ApplyBalanceDelta moves one cached balance by delta under the guard of
	// the ApplyBalanceDelta query and reports whether the row was changed.
	ApplyBalanceDelta(ctx context.Context, accountID, delta, maxBalance int64) (bool, error)
	InsertLedgerEntry(ctx context.Context, transactionID int64, e Entry, now time.Time) error
	InsertLedgerEntryPair(ctx context.Context, transactionID int64, a, b Entry, now time.Time) error
}

// ErrUnbalanced is returned for a posting whose entries do not sum to zero.
var ErrUnbalanced = errors.New("ledger entries do not sum to zero")

// PostLedgerEntries implements Tx.PostEntries for every adapter: it checks
// that the posting balances, moves the cached balances in ascending account
// order (so concurrent postings lock rows in one order and cannot deadlock),
// and appends the entries.
func PostLedgerEntries(ctx context.Context, w LedgerWriter, transactionID int64, entries []Entry, maxBalance int64, now time.Time) error {
	if len(entries) < 2 {
		return fmt.Errorf("post entries: %w: %d entries", ErrUnbalanced, len(entries))
	}
	var sum int64
	for _, e := range entries {
		if e.AmountMsat == 0 {
			return fmt.Errorf("post entries: zero amount on account %d", e.AccountID)
		}
		sum += e.AmountMsat
	}
	if sum != 0 {
		return fmt.Errorf("post entries: %w: sum %d", ErrUnbalanced, sum)
	}
	ordered := slices.Clone(entries)
	slices.SortStableFunc(ordered, func(a, b Entry) int {
		switch {
		case a.AccountID < b.AccountID:
			return -1
		case a.AccountID > b.AccountID:
			return 1
		}
		return 0
	})
	for _, e := range ordered {
		ok, err := w.ApplyBalanceDelta(ctx, e.AccountID, e.AmountMsat, maxBalance)
		if err != nil {
			return fmt.Errorf("post entries: %w", err)
		}
		if !ok {
			return &BalanceError{AccountID: e.AccountID, AmountMsat: e.AmountMsat}
		}
	}
	if len(entries) == 2 {
		if err := w.InsertLedgerEntryPair(ctx, transactionID, entries[0], entries[1], now); err != nil {
			return fmt.Errorf("post entries: %w", err)
		}
		return nil
	}
	for _, e := range entries {
		if err := w.InsertLedgerEntry(ctx, transactionID, e, now); err != nil {
			return fmt.Errorf("post entries: %w", err)
		}
	}
	return nil
}
