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
	// ApplyBalanceDelta moves one cached balance by the entry's amount (and
	// the daily counter by its DayOutMsat) under the guard of the
	// ApplyBalanceDelta query, advances a user account's chain head over the
	// entry as posted in transactionID at now, and reports whether the row
	// was changed.
	ApplyBalanceDelta(ctx context.Context, transactionID int64, e Entry, guard Guard, now time.Time) (bool, error)
	// LockAccount reads an account and locks it for the transaction, to
	// explain a refusal.
	LockAccount(ctx context.Context, id int64) (Account, error)
	// InsertLedgerEntry appends the entry that ApplyBalanceDelta has just
	// applied, copying its account's new chain head.
	InsertLedgerEntry(ctx context.Context, transactionID int64, e Entry, guard Guard, now time.Time) error
}

// BatchPoster is what an engine with server-side routines adds to its
// LedgerWriter: a posting on distinct accounts in one round trip (every
// move and every insert), for postings of 2 to MaxLegs legs, given in
// ascending account order (PreparePosting's). false means a
// leg was refused and the posting stopped half way, so the transaction must
// not commit: PostLedgerEntries then answers ErrBatchRefused, and the
// adapter's InTx runs the transaction again with a writer that posts one
// statement at a time, which says which leg was refused and why.
type BatchPoster interface {
	MaxLegs() int
	PostLedger(ctx context.Context, transactionID int64, entries []Entry, guard Guard, now time.Time) (bool, error)
}

// ErrBatchRefused is PostLedgerEntries reporting a refusal of BatchPoster:
// a retryable error whose retry must post one statement at a time (see
// RetryTx).
var ErrBatchRefused = Classify(ErrRetryable, errors.New("a leg of a posting made in one round trip was refused; posting again one statement at a time"))

// ErrPostOutsideTx refuses a posting in Autocommit: its legs would each
// commit on their own, and a refused leg would leave the others moved.
var ErrPostOutsideTx = errors.New("ledger entries are posted only inside InTx")

// Posting is an adapter transaction's view of its postings. A failed
// posting may have moved some of its legs before a later one was refused
// (each leg is its own statement, or a routine that stops half way), so
// once one fails the transaction must not commit, even if fn goes on and
// returns nil: InTx asks Failed before committing.
type Posting struct {
	// InTx is set for a transaction run by InTx; Batch lets a BatchPoster
	// post a posting in one statement (see RetryTx).
	InTx, Batch bool
	failed      error
}

// Post runs PostLedgerEntries and remembers a failure.
func (p *Posting) Post(ctx context.Context, w LedgerWriter, transactionID int64, entries []Entry, guard Guard, now time.Time) error {
	if !p.InTx {
		return ErrPostOutsideTx
	}
	return p.Fail(PostLedgerEntries(ctx, w, transactionID, entries, guard, now))
}

// Fail remembers err, if it is the transaction's first posting error, and
// returns it: for an adapter that posts by other means than Post.
func (p *Posting) Fail(err error) error {
	if err != nil && p.failed == nil {
		p.failed = err
	}
	return err
}

// Failed is the first posting error of the transaction, if any: InTx
// returns it instead of committing.
func (p *Posting) Failed() error {
	if p.failed == nil {
		return nil
	}
	return fmt.Errorf("the transaction went on after a failed posting, and was rolled back: %w", p.failed)
}

// ErrUnbalanced is returned for a posting whose entries do not sum to zero.
var ErrUnbalanced = errors.New("ledger entries do not sum to zero")

// PostLedgerEntries implements Tx.PostEntries for every adapter: it checks
// that the posting balances, moves the cached balances in ascending account
// order (so concurrent postings lock rows in one order and cannot deadlock),
// and appends the entries. Each entry copies its account's chain head from
// the row its balance move just updated, so an entry is inserted after its
// account moved and before the same account moves again. A posting on
// distinct accounts goes to the server's routine in one round trip where
// the writer has one (BatchPoster) for that many legs; any other moves and
// inserts one entry at a time. The time is kept to the microsecond,
// the finest every engine stores, so that the hashed time is the stored one.
func PostLedgerEntries(ctx context.Context, w LedgerWriter, transactionID int64, entries []Entry, guard Guard, now time.Time) error {
	ordered, err := PreparePosting(entries)
	if err != nil {
		return err
	}
	now = now.Truncate(time.Microsecond)
	if p, ok := w.(BatchPoster); ok && OneRoundTrip(ordered, p.MaxLegs()) {
		posted, err := p.PostLedger(ctx, transactionID, ordered, guard, now)
		switch {
		case err != nil:
			return fmt.Errorf("post entries: %w", err)
		case !posted:
			return ErrBatchRefused
		}
		return nil
	}
	for _, e := range ordered {
		if err := apply(ctx, w, transactionID, e, guard, now); err != nil {
			return err
		}
		if err := w.InsertLedgerEntry(ctx, transactionID, e, guard, now); err != nil {
			return fmt.Errorf("post entries: %w", err)
		}
	}
	return nil
}

// AddBuckets adds a system account's buckets, summed by sum, to its row's
// balance (migration 000016: its cached balance is the two together); a
// user account has none and comes back as it is.
func AddBuckets(ctx context.Context, a Account, sum func(ctx context.Context, accountID int64) (int64, error)) (Account, error) {
	if !a.IsSystem() {
		return a, nil
	}
	n, err := sum(ctx, a.ID)
	if err == nil {
		a.BalanceMsat, err = AddMsat(a.BalanceMsat, n)
	}
	if err != nil {
		return Account{}, fmt.Errorf("buckets of account %d: %w", a.ID, err)
	}
	return a, nil
}

// PreparePosting checks a posting and returns its entries in ascending
// account order, the order its accounts move in: at least two legs, none
// of zero, every amount and day count in range, summing to zero without
// wrapping around. Amounts are bounded here, before any arithmetic in Go or
// in SQL: the sum must not wrap around to a false zero, and no entry may
// carry a balance (or a day's sends) past int64.
func PreparePosting(entries []Entry) ([]Entry, error) {
	if len(entries) < 2 {
		return nil, fmt.Errorf("post entries: %w: %d entries", ErrUnbalanced, len(entries))
	}
	var sum int64
	for _, e := range entries {
		if e.AmountMsat == 0 {
			return nil, fmt.Errorf("post entries: zero amount on account %d", e.AccountID)
		}
		if err := errors.Join(CheckMsat(e.AmountMsat), CheckMsat(e.DayOutMsat)); err != nil {
			return nil, fmt.Errorf("post entries: account %d: %w", e.AccountID, err)
		}
		var err error
		if sum, err = AddMsat(sum, e.AmountMsat); err != nil {
			return nil, fmt.Errorf("post entries: %w", err)
		}
	}
	if sum != 0 {
		return nil, fmt.Errorf("post entries: %w: sum %d", ErrUnbalanced, sum)
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
	return ordered, nil
}

// OneRoundTrip reports whether a routine of at most maxLegs legs may post
// a prepared posting: one on distinct accounts, each once.
func OneRoundTrip(ordered []Entry, maxLegs int) bool {
	if len(ordered) > maxLegs {
		return false
	}
	for i := 1; i < len(ordered); i++ {
		if ordered[i].AccountID == ordered[i-1].AccountID {
			return false
		}
	}
	return true
}

// PostTransfer implements Tx.PostTransfer one statement after another, for
// an engine without a routine for it (and to explain a routine's refusal):
// the transfer's rows, the sender's check, its entries under the sending
// row, the recipient's text. p is the adapter
// transaction's: outside InTx it refuses before writing anything, or the
// completed rows (and their idempotency key) would commit on their own
// with no money moved.
func PostTransfer(ctx context.Context, tx Tx, p *Posting, t NewTransfer, entries []Entry, guard Guard, note NewNotification) (int64, error) {
	if !p.InTx {
		return 0, ErrPostOutsideTx
	}
	id, err := tx.InsertTransfer(ctx, t)
	if err != nil {
		return 0, err
	}
	// The rows are in: a refused sender, like a refused leg, must keep the
	// transaction from committing even if fn goes on (Posting), or they
	// would commit as a completed transfer that moved nothing.
	sender, err := tx.ShareLockUser(ctx, t.SenderID)
	if err != nil {
		return 0, p.Fail(err)
	}
	// Now as it is, not truncated: a PIN reset stored to the microsecond
	// (PostgreSQL, MariaDB) is due at Now exactly when it is due at Now
	// truncated, as the routines compare; SQLite keeps the reset's
	// nanoseconds, and a truncated Now would miss a reset due within its
	// microsecond.
	if err := MaySend(sender, t.Now); err != nil {
		return 0, p.Fail(err)
	}
	if err := tx.PostEntries(ctx, id, entries, guard, t.Now); err != nil {
		return 0, err
	}
	note.TransactionID = id
	if _, err := tx.InsertNotification(ctx, note); err != nil {
		return 0, err
	}
	return id, nil
}

// apply moves one entry's account, explaining a refusal.
func apply(ctx context.Context, w LedgerWriter, transactionID int64, e Entry, guard Guard, now time.Time) error {
	ok, err := w.ApplyBalanceDelta(ctx, transactionID, e, guard, now)
	if err != nil {
		return fmt.Errorf("post entries: %w", err)
	}
	if ok {
		return nil
	}
	if err := refusal(ctx, w, e, guard); err != nil {
		return err
	}
	// The row changed between the guarded update and the locked read (a
	// concurrent credit committed): the entry fits now, and with the lock
	// held the update cannot be refused again.
	switch ok, err = w.ApplyBalanceDelta(ctx, transactionID, e, guard, now); {
	case err != nil:
		// Kept wrapped: a deadlock or a certification conflict here is
		// retryable like anywhere else in the transaction.
		return fmt.Errorf("post entries: account %d under lock: %w", e.AccountID, err)
	case !ok:
		return fmt.Errorf("post entries: account %d refused under lock", e.AccountID)
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
	return guard.Refusal(a, e)
}

// Refusal is why the guard refuses entry e on account a as it is (a
// BalanceError, or an overflow), or nil if e fits: the rule every engine's
// ApplyBalanceDelta enforces. A system account refuses nothing.
func (guard Guard) Refusal(a Account, e Entry) error {
	if a.IsSystem() {
		return nil
	}
	var err error
	dayOut := e.DayOutMsat
	if a.DayOutDay >= guard.Day {
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
