package mysqlstore

import (
	"context"
	"fmt"
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

// PostTransfer implements store.Tx one statement after another.
func (t *tx) PostTransfer(ctx context.Context, n store.NewTransfer, entries []store.Entry, guard store.Guard, note store.NewNotification) (int64, error) {
	return store.PostTransfer(ctx, t, &t.posting, n, entries, guard, note)
}

func (t *tx) PostEntries(ctx context.Context, transactionID int64, entries []store.Entry, guard store.Guard, now time.Time) error {
	var w store.LedgerWriter = ledgerWriter{t.q}
	if t.posting.Batch {
		w = batchWriter{ledgerWriter{t.q}}
	}
	return t.posting.Post(ctx, w, transactionID, entries, guard, now.UTC())
}

// ledgerWriter gives store.PostLedgerEntries its statements.
type ledgerWriter struct{ q *mysqldb.Queries }

// batchWriter adds post_ledger with two or three legs, for a transaction
// run by InTx.
type batchWriter struct{ ledgerWriter }

// MaxLegs implements store.BatchPoster: the procedure takes three legs.
func (batchWriter) MaxLegs() int { return 3 }

// PostLedger implements store.BatchPoster. MariaDB counts, for a CALL that
// posted, each leg moved and each entry inserted.
func (w batchWriter) PostLedger(ctx context.Context, transactionID int64, entries []store.Entry, guard store.Guard, now time.Time) (bool, error) {
	if len(entries) < 2 || len(entries) > 3 {
		return false, fmt.Errorf("post ledger: %d legs", len(entries))
	}
	var c store.Entry // AccountID 0: no third leg
	if len(entries) == 3 {
		c = entries[2]
	}
	a, b := entries[0], entries[1]
	n, err := w.q.PostLedger(ctx, mysqldb.PostLedgerParams{
		TransactionID: transactionID, AccountA: a.AccountID, AmountA: a.AmountMsat, DayOutA: a.DayOutMsat,
		AccountB: b.AccountID, AmountB: b.AmountMsat, DayOutB: b.DayOutMsat,
		AccountC: c.AccountID, AmountC: c.AmountMsat, DayOutC: c.DayOutMsat, Day: guard.Day, CreatedUs: now.UnixMicro(),
		MaxBalance: guard.MaxBalanceMsat, DayLimit: guard.DayLimitMsat, Now: now,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("post ledger: %w", err))
	}
	posted := int64(2 * len(entries))
	switch {
	case n == posted:
		return true, nil
	case n < posted:
		return false, nil
	}
	return false, fmt.Errorf("post ledger: the server counted %d rows, not %d or fewer", n, posted)
}

func (w ledgerWriter) ApplyBalanceDelta(ctx context.Context, transactionID int64, e store.Entry, guard store.Guard, now time.Time) (bool, error) {
	n, err := w.q.ApplyBalanceDelta(ctx, mysqldb.ApplyBalanceDeltaParams{
		TransactionID: transactionID, Delta: e.AmountMsat, DayOut: e.DayOutMsat, Day: guard.Day, CreatedUs: now.UnixMicro(),
		ID: e.AccountID, MaxBalance: guard.MaxBalanceMsat, DayLimit: guard.DayLimitMsat,
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
