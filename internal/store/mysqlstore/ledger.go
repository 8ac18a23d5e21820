package mysqlstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/umeme-wallet/umeme/gen/mysqldb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) InsertUserAccount(ctx context.Context, userID int64, now time.Time) (int64, error) {
	id, err := t.q.InsertUserAccount(ctx, mysqldb.InsertUserAccountParams{UserID: sqlvalue.NullInt(userID), Now: now.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert account: %w", err))
	}
	return id, nil
}

func toAccount(r mysqldb.Account) store.Account {
	return store.Account{ID: r.ID, UserID: r.UserID.Int64, Code: store.SystemAccountCode(r.Code.String), BalanceMsat: r.BalanceMsat, DayOutMsat: r.DayOutMsat, DayOutDay: r.DayOutDay}
}

// withBuckets adds a system account's buckets to its row's balance.
func (t *tx) withBuckets(ctx context.Context, a store.Account) (store.Account, error) {
	a, err := store.AddBuckets(ctx, a, t.q.SumAccountBuckets)
	return a, interpret(err)
}

func (t *tx) AccountByID(ctx context.Context, id int64) (store.Account, error) {
	r, err := t.q.GetAccountByID(ctx, id)
	if err != nil {
		return store.Account{}, interpret(fmt.Errorf("account %d: %w", id, err))
	}
	return t.withBuckets(ctx, toAccount(r))
}

func (t *tx) AccountByUserID(ctx context.Context, userID int64) (store.Account, error) {
	r, err := t.q.GetAccountByUserID(ctx, sqlvalue.NullInt(userID))
	if err != nil {
		return store.Account{}, interpret(fmt.Errorf("account of user %d: %w", userID, err))
	}
	return toAccount(r), nil
}

func (t *tx) SystemAccount(ctx context.Context, code store.SystemAccountCode) (store.Account, error) {
	r, err := t.q.GetSystemAccount(ctx, sqlvalue.NullString(string(code)))
	if err != nil {
		return store.Account{}, interpret(fmt.Errorf("system account %s: %w", code, err))
	}
	return t.withBuckets(ctx, toAccount(r))
}

func (t *tx) UserAccountByPhone(ctx context.Context, phone string) (store.UserAccount, error) {
	r, err := t.q.GetUserAccountByPhone(ctx, phone)
	if err != nil {
		return store.UserAccount{}, interpret(fmt.Errorf("user account by phone: %w", err))
	}
	return store.UserAccount{UserID: r.UserID, UserStatus: store.UserStatus(r.UserStatus), AccountID: r.AccountID, BalanceMsat: r.BalanceMsat}, nil
}

func (t *tx) LockAccounts(ctx context.Context, ids ...int64) ([]store.Account, error) {
	if len(ids) == 0 {
		// IN (NULL) would match nothing anyway; skip the round trip.
		return []store.Account{}, nil
	}
	rows, err := t.q.LockAccounts(ctx, ids)
	if err != nil {
		return nil, interpret(fmt.Errorf("lock accounts: %w", err))
	}
	out := make([]store.Account, len(rows))
	for i, r := range rows {
		if out[i], err = t.withBuckets(ctx, toAccount(r)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// transferLegs is the most legs post_legs posts.
const transferLegs = 3

// PostTransfer implements store.Tx: in a transaction run by InTx, the two
// rows (InsertTransfer, which returns their id; MariaDB reports none for a
// CALL) and the rest in one more round trip through post_legs
// (migration 000019): the sender's check, the legs, the text. Else one
// statement after another.
func (t *tx) PostTransfer(ctx context.Context, n store.NewTransfer, entries []store.Entry, guard store.Guard, note store.NewNotification) (int64, error) {
	if !t.posting.Batch {
		return store.PostTransfer(ctx, t, &t.posting, n, entries, guard, note)
	}
	ordered, err := store.PreparePosting(entries)
	if err != nil {
		return 0, t.posting.Fail(err)
	}
	if !store.OneRoundTrip(ordered, transferLegs) || note.Phone == "" || n.SenderID == 0 {
		// post_legs takes three legs, and a text with a phone; its
		// sender id 0 means no check, where PostTransfer wants the
		// sender's row (the statements refuse a missing one).
		return store.PostTransfer(ctx, t, &t.posting, n, entries, guard, note)
	}
	id, err := t.InsertTransfer(ctx, n)
	if err != nil {
		return 0, err
	}
	// From here on the rows are in and the posting may stop half way: a
	// CALL is not atomic on MariaDB (a statement that errs inside it is
	// undone alone, the legs moved before it stay), so any error keeps the
	// transaction from committing (store.Posting), as a refusal does.
	now := n.Now.UTC().Truncate(time.Microsecond)
	p, err := t.system.params(ctx, t.q, id, ordered, guard, now)
	if err != nil {
		return 0, t.posting.Fail(err)
	}
	count, err := t.q.PostTransfer(ctx, mysqldb.PostTransferParams{
		TransactionID: p.TransactionID, SenderID: n.SenderID,
		AccountA: p.AccountA, AmountA: p.AmountA, DayOutA: p.DayOutA, SystemA: p.SystemA,
		AccountB: p.AccountB, AmountB: p.AmountB, DayOutB: p.DayOutB, SystemB: p.SystemB,
		AccountC: p.AccountC, AmountC: p.AmountC, DayOutC: p.DayOutC, SystemC: p.SystemC,
		Day: p.Day, CreatedUs: p.CreatedUs, MaxBalance: p.MaxBalance, DayLimit: p.DayLimit, Now: p.Now,
		NoteUserID: note.UserID, NotePhone: note.Phone, NoteKind: string(note.Kind), NoteAmount: note.AmountMsat,
		NoteCounterparty: note.Counterparty, NoteBody: note.Body,
	})
	if err != nil {
		return 0, t.posting.Fail(interpret(fmt.Errorf("post transfer: %w", err)))
	}
	if ok, err := posted(count, len(ordered), 1); !ok {
		if err == nil {
			err = store.ErrBatchRefused
		}
		return 0, t.posting.Fail(err)
	}
	return id, nil
}

// posted reads post_legs' count for legs and extra rows (the text): it
// posted when the count is twice the legs plus extra, and refused when it is
// less (the transaction must roll back).
func posted(count int64, legs, extra int) (bool, error) {
	want := int64(2*legs + extra)
	if count > want {
		return false, fmt.Errorf("post entries: the server counted %d rows, not %d or fewer", count, want)
	}
	return count == want, nil
}

func (t *tx) PostEntries(ctx context.Context, transactionID int64, entries []store.Entry, guard store.Guard, now time.Time) error {
	w := ledgerWriter{t.q, t.system}
	if t.posting.Batch {
		return t.posting.Post(ctx, batchWriter{w}, transactionID, entries, guard, now.UTC())
	}
	return t.posting.Post(ctx, w, transactionID, entries, guard, now.UTC())
}

// systemAccounts is the set of system accounts, read once: post_legs
// moves a system account's bucket and a user account's row, and is told
// which is which (migration 000018). An account's kind never changes; a
// system account made after the read is not hinted, and post_legs still
// posts it correctly (it moves the row).
type systemAccounts struct {
	mu  sync.Mutex                     // held while reading them
	ids atomic.Pointer[map[int64]bool] // nil until read
}

// read returns the set, reading it the first time.
func (s *systemAccounts) read(ctx context.Context, q *mysqldb.Queries) (map[int64]bool, error) {
	if s == nil {
		return nil, nil
	}
	if ids := s.ids.Load(); ids != nil {
		return *ids, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ids := s.ids.Load(); ids != nil {
		return *ids, nil
	}
	rows, err := q.ListSystemAccountIDs(ctx)
	if err != nil {
		return nil, interpret(fmt.Errorf("system accounts: %w", err))
	}
	ids := make(map[int64]bool, len(rows))
	for _, id := range rows {
		ids[id] = true
	}
	s.ids.Store(&ids)
	return ids, nil
}

// params lays out two or three legs, in the order given, for post_legs
// (the legs of a missing one are 0), hinting the system accounts.
func (s *systemAccounts) params(ctx context.Context, q *mysqldb.Queries, transactionID int64, entries []store.Entry, guard store.Guard, now time.Time) (mysqldb.PostLedgerParams, error) {
	if len(entries) < 2 || len(entries) > transferLegs {
		return mysqldb.PostLedgerParams{}, fmt.Errorf("post entries: %d legs", len(entries))
	}
	system, err := s.read(ctx, q)
	if err != nil {
		return mysqldb.PostLedgerParams{}, err
	}
	var legs [transferLegs]store.Entry // AccountID 0: no such leg
	copy(legs[:], entries)
	a, b, c := legs[0], legs[1], legs[2]
	return mysqldb.PostLedgerParams{
		TransactionID: transactionID,
		AccountA:      a.AccountID, AmountA: a.AmountMsat, DayOutA: a.DayOutMsat, SystemA: hint(system, a.AccountID),
		AccountB: b.AccountID, AmountB: b.AmountMsat, DayOutB: b.DayOutMsat, SystemB: hint(system, b.AccountID),
		AccountC: c.AccountID, AmountC: c.AmountMsat, DayOutC: c.DayOutMsat, SystemC: hint(system, c.AccountID),
		Day: guard.Day, CreatedUs: now.UnixMicro(), MaxBalance: guard.MaxBalanceMsat, DayLimit: guard.DayLimitMsat, Now: now,
	}, nil
}

// hint is post_legs' flag for a system account.
func hint(system map[int64]bool, id int64) int64 {
	if system[id] {
		return 1
	}
	return 0
}

// ledgerWriter gives store.PostLedgerEntries its statements.
type ledgerWriter struct {
	q      *mysqldb.Queries
	system *systemAccounts
}

// batchWriter adds post_legs with two or three legs, for a transaction
// run by InTx.
type batchWriter struct{ ledgerWriter }

// MaxLegs implements store.BatchPoster: the procedure takes three legs.
func (batchWriter) MaxLegs() int { return transferLegs }

// PostLedger implements store.BatchPoster: post_legs counts, when it
// posted, each leg moved and each entry inserted.
func (w batchWriter) PostLedger(ctx context.Context, transactionID int64, entries []store.Entry, guard store.Guard, now time.Time) (bool, error) {
	p, err := w.system.params(ctx, w.q, transactionID, entries, guard, now)
	if err != nil {
		return false, err
	}
	n, err := w.q.PostLedger(ctx, p)
	if err != nil {
		return false, interpret(fmt.Errorf("post ledger: %w", err))
	}
	return posted(n, len(entries), 0)
}

// ApplyBalanceDelta implements store.LedgerWriter: post_legs with one
// leg counts 1 when it moved the account.
func (w ledgerWriter) ApplyBalanceDelta(ctx context.Context, transactionID int64, e store.Entry, guard store.Guard, now time.Time) (bool, error) {
	system, err := w.system.read(ctx, w.q)
	if err != nil {
		return false, err
	}
	n, err := w.q.ApplyBalanceDelta(ctx, mysqldb.ApplyBalanceDeltaParams{
		TransactionID: transactionID, ID: e.AccountID, Delta: e.AmountMsat, DayOut: e.DayOutMsat, IsSystem: hint(system, e.AccountID),
		Day: guard.Day, CreatedUs: now.UnixMicro(), MaxBalance: guard.MaxBalanceMsat, DayLimit: guard.DayLimitMsat,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("apply balance delta: %w", err))
	}
	// A delta is never zero, so the matched row is also a changed row.
	return n == 1, nil
}

func (w ledgerWriter) LockAccount(ctx context.Context, id int64) (store.Account, error) {
	accounts, err := (&tx{q: w.q}).LockAccounts(ctx, id)
	if err == nil && len(accounts) != 1 {
		err = store.Classify(store.ErrNotFound, fmt.Errorf("account %d", id))
	}
	if err != nil {
		return store.Account{}, err
	}
	return accounts[0], nil
}

func (w ledgerWriter) InsertLedgerEntry(ctx context.Context, transactionID int64, e store.Entry, guard store.Guard, now time.Time) error {
	err := w.q.InsertLedgerEntry(ctx, mysqldb.InsertLedgerEntryParams{
		TransactionID: transactionID, AccountID: e.AccountID, AmountMsat: e.AmountMsat, DayOut: e.DayOutMsat, Day: guard.Day, Now: now,
	})
	return interpret(err)
}

func (t *tx) EntriesOf(ctx context.Context, transactionID int64) ([]store.LedgerEntry, error) {
	rows, err := t.q.ListEntriesByTransaction(ctx, transactionID)
	if err != nil {
		return nil, interpret(fmt.Errorf("entries of %d: %w", transactionID, err))
	}
	out := make([]store.LedgerEntry, len(rows))
	for i, r := range rows {
		out[i] = toEntry(r)
	}
	return out, nil
}

func toEntry(r mysqldb.LedgerEntry) store.LedgerEntry {
	return store.LedgerEntry{
		ID: r.ID, TransactionID: r.TransactionID, AccountID: r.AccountID, AmountMsat: r.AmountMsat, DayOutMsat: r.DayOutMsat,
		DayOutDay: r.DayOutDay, Seq: r.Seq.Int64, BalanceAfterMsat: r.BalanceAfterMsat.Int64, Hash: r.Hash.String, CreatedAt: r.CreatedAt.UTC(),
	}
}

func (t *tx) HeldBy(ctx context.Context, transactionID, accountID int64) (int64, error) {
	n, err := t.q.SumEntriesForAccountAndTransaction(ctx, mysqldb.SumEntriesForAccountAndTransactionParams{TransactionID: transactionID, AccountID: accountID})
	if err != nil {
		return 0, interpret(fmt.Errorf("held by: %w", err))
	}
	return n, nil
}
