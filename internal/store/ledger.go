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
	// ApplyBalanceDelta moves one cached balance by delta (and the day's
	// sends by dayOut) under the guard of the ApplyBalanceDelta query and
	// reports whether the row was changed.
	ApplyBalanceDelta(ctx context.Context, accountID, delta, dayOut int64, guard Guard) (bool, error)
	// LockAccount reads an account and locks it for the transaction, to
	// explain a refusal.
	LockAccount(ctx context.Context, id int64) (Account, error)
	InsertLedgerEntry(ctx context.Context, transactionID int64, e Entry, now time.Time) error
	InsertLedgerEntryPair(ctx context.Context, transactionID int64, a, b Entry, now time.Time) error
}

// ErrUnbalanced is returned for a posting whose entries do not sum to zero.
var ErrUnbalanced = errors.New("ledger entries do not sum to zero")

// PostLedgerEntries implements Tx.PostEntries for every adapter: it checks
// that the posting balances, moves the cached balances in ascending account
// order (so concurrent postings lock rows in one order and cannot deadlock),
// and appends the entries.
func PostLedgerEntries(ctx context.Context, w LedgerWriter, transactionID int64, entries []Entry, guard Guard, now time.Time) error {
	if len(entries) < 2 {
		return fmt.Errorf("post entries: %w: %d entries", ErrUnbalanced, len(entries))
	}
	// Amounts are bounded before any arithmetic, here or in SQL: the sum
	// of entries must not wrap around to a false zero, and no entry may
	// carry a balance (or a day's sends) past int64.
	var sum int64
	for _, e := range entries {
		if e.AmountMsat == 0 {
			return fmt.Errorf("post entries: zero amount on account %d", e.AccountID)
		}
		if err := errors.Join(CheckMsat(e.AmountMsat), CheckMsat(e.DayOutMsat)); err != nil {
			return fmt.Errorf("post entries: account %d: %w", e.AccountID, err)
		}
		var err error
		if sum, err = AddMsat(sum, e.AmountMsat); err != nil {
			return fmt.Errorf("post entries: %w", err)
		}
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
		ok, err := w.ApplyBalanceDelta(ctx, e.AccountID, e.AmountMsat, e.DayOutMsat, guard)
		if err != nil {
			return fmt.Errorf("post entries: %w", err)
		}
		if !ok {
			if err := refusal(ctx, w, e, guard); err != nil {
				return err
			}
			// The row changed between the guarded update and the locked
			// read (a concurrent credit committed): the entry fits now,
			// and with the lock held the update cannot be refused again.
			if ok, err = w.ApplyBalanceDelta(ctx, e.AccountID, e.AmountMsat, e.DayOutMsat, guard); err != nil || !ok {
				return fmt.Errorf("post entries: account %d refused under lock: %v", e.AccountID, err)
			}
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

// refusal explains why ApplyBalanceDelta refused an entry, reading the
// account under a row lock (a cost paid only on this path); nil means the
// entry fits the account as it is now.
func refusal(ctx context.Context, w LedgerWriter, e Entry, guard Guard) error {
	a, err := w.LockAccount(ctx, e.AccountID)
	if err != nil {
		return fmt.Errorf("post entries: %w", err)
	}
	if a.IsSystem() {
		return nil
	}
	dayOut := e.DayOutMsat
	if a.DayOutDay == guard.Day {
		dayOut, err = AddMsat(dayOut, a.DayOutMsat)
	}
	after, aerr := AddMsat(a.BalanceMsat, e.AmountMsat)
	if err = errors.Join(err, aerr); err != nil {
		return fmt.Errorf("post entries: account %d: %w", e.AccountID, err)
	}
	var reason BalanceReason
	switch {
	case after < 0:
		reason = ReasonInsufficient
	case e.AmountMsat > 0 && after > guard.MaxBalanceMsat:
		reason = ReasonMaxBalance
	case e.DayOutMsat > 0 && dayOut > guard.DayLimitMsat:
		reason = ReasonDailyLimit
	default:
		return nil
	}
	return &BalanceError{AccountID: e.AccountID, AmountMsat: e.AmountMsat, Reason: reason}
}
