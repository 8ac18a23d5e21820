package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/umeme-wallet/umeme/gen/postgresdb"
	"github.com/umeme-wallet/umeme/internal/store"
)

func (t *tx) InsertUserAccount(ctx context.Context, userID int64, now time.Time) (int64, error) {
	id, err := t.q.InsertUserAccount(ctx, postgresdb.InsertUserAccountParams{UserID: nullInt(userID), Now: now.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert account: %w", err))
	}
	return id, nil
}

func toAccount(r postgresdb.Account) store.Account {
	return store.Account{ID: r.ID, UserID: i64(r.UserID), Code: store.SystemAccountCode(str(r.Code)), BalanceMsat: r.BalanceMsat, DayOutMsat: r.DayOutMsat, DayOutDay: r.DayOutDay}
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
	r, err := t.q.GetAccountByUserID(ctx, nullInt(userID))
	if err != nil {
		return store.Account{}, interpret(fmt.Errorf("account of user %d: %w", userID, err))
	}
	return toAccount(r), nil
}

func (t *tx) SystemAccount(ctx context.Context, code store.SystemAccountCode) (store.Account, error) {
	r, err := t.q.GetSystemAccount(ctx, nullString(string(code)))
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

// transferLegs is the most legs post_transfer posts (as post_ledger).
const transferLegs = 8

// PostTransfer implements store.Tx: in a transaction run by InTx, one
// round trip through post_transfer_or_abort (migration 000020) that also
// carries the transaction's COMMIT (and its BEGIN, when nothing went
// before) when ctx's deadline leaves time for it (begin.go: the server
// stops the statement before the deadline, and ctx cancelled earlier does
// not abandon it), so PostTransfer must be the transaction's last statement; a
// refused leg aborts the transaction and the store runs it again one
// statement after another, as it does outside InTx.
func (t *tx) PostTransfer(ctx context.Context, n store.NewTransfer, entries []store.Entry, guard store.Guard, note store.NewNotification) (int64, error) {
	if !t.posting.Batch {
		return store.PostTransfer(ctx, t, &t.posting, n, entries, guard, note)
	}
	ordered, err := store.PreparePosting(entries)
	if err != nil {
		return 0, t.posting.Fail(err)
	}
	if !store.OneRoundTrip(ordered, transferLegs) {
		return store.PostTransfer(ctx, t, &t.posting, n, entries, guard, note)
	}
	now := n.Now.UTC().Truncate(time.Microsecond)
	accounts, amounts, dayOuts := legs(ordered)
	if t.lazy != nil {
		run, cancel, _ := t.lazy.commitWithNext(ctx)
		defer cancel()
		ctx = run
	}
	id, err := t.q.PostTransfer(ctx, postgresdb.PostTransferParams{
		SenderID: n.SenderID, SenderPhone: n.SenderPhone, RecipientID: n.RecipientID, RecipientPhone: n.RecipientPhone,
		AmountMsat: n.AmountMsat, FeeMsat: n.FeeMsat, Description: n.Description, SendKey: n.IdempotencyKey, ReceiveKey: n.ReceiveKey(),
		Accounts: accounts, Amounts: amounts, DayOuts: dayOuts, Day: guard.Day, CreatedUs: now.UnixMicro(),
		MaxBalance: guard.MaxBalanceMsat, DayLimit: guard.DayLimitMsat, Now: now,
		NoteUserID: note.UserID, NotePhone: note.Phone, NoteKind: string(note.Kind), NoteAmount: note.AmountMsat,
		NoteCounterparty: note.Counterparty, NoteBody: note.Body,
	})
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == refusedCode:
		return 0, t.posting.Fail(store.ErrBatchRefused)
	case err != nil:
		return 0, t.posting.Fail(interpret(fmt.Errorf("post transfer: %w", err)))
	case id <= 0:
		return 0, t.posting.Fail(fmt.Errorf("post transfer: the server answered id %d", id))
	}
	return id, nil
}

// refusedCode is the SQLSTATE post_transfer_or_abort raises when a leg is
// refused (migration 000020).
const refusedCode = "UM001"

// legs splits a posting into post_ledger's arrays.
func legs(entries []store.Entry) (accounts, amounts, dayOuts []int64) {
	accounts, amounts, dayOuts = make([]int64, len(entries)), make([]int64, len(entries)), make([]int64, len(entries))
	for i, e := range entries {
		accounts[i], amounts[i], dayOuts[i] = e.AccountID, e.AmountMsat, e.DayOutMsat
	}
	return accounts, amounts, dayOuts
}

func (t *tx) PostEntries(ctx context.Context, transactionID int64, entries []store.Entry, guard store.Guard, now time.Time) error {
	var w store.LedgerWriter = ledgerWriter{t.q}
	if t.posting.Batch {
		w = batchWriter{ledgerWriter{t.q}}
	}
	return t.posting.Post(ctx, w, transactionID, entries, guard, now.UTC())
}

// ledgerWriter gives store.PostLedgerEntries its statements.
type ledgerWriter struct{ q *postgresdb.Queries }

// batchWriter adds post_ledger, for a transaction run by InTx.
type batchWriter struct{ ledgerWriter }

// MaxLegs implements store.BatchPoster: post_ledger takes arrays; more legs
// than any posting of the wallet has (three) is the spare.
func (batchWriter) MaxLegs() int { return transferLegs }

func (w batchWriter) PostLedger(ctx context.Context, transactionID int64, entries []store.Entry, guard store.Guard, now time.Time) (bool, error) {
	accounts, amounts, dayOuts := legs(entries)
	posted, err := w.q.PostLedger(ctx, postgresdb.PostLedgerParams{
		TransactionID: transactionID, Accounts: accounts, Amounts: amounts, DayOuts: dayOuts, Day: guard.Day,
		CreatedUs: now.UnixMicro(), MaxBalance: guard.MaxBalanceMsat, DayLimit: guard.DayLimitMsat, Now: now,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("post ledger: %w", err))
	}
	return posted, nil
}

func (w ledgerWriter) ApplyBalanceDelta(ctx context.Context, transactionID int64, e store.Entry, guard store.Guard, now time.Time) (bool, error) {
	applied, err := w.q.ApplyBalanceDelta(ctx, postgresdb.ApplyBalanceDeltaParams{
		TransactionID: transactionID, Delta: e.AmountMsat, DayOut: e.DayOutMsat, Day: guard.Day, CreatedUs: now.UnixMicro(),
		ID: e.AccountID, MaxBalance: guard.MaxBalanceMsat, DayLimit: guard.DayLimitMsat,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("apply balance delta: %w", err))
	}
	return applied, nil
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
	err := w.q.InsertLedgerEntry(ctx, postgresdb.InsertLedgerEntryParams{
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

func toEntry(r postgresdb.LedgerEntry) store.LedgerEntry {
	return store.LedgerEntry{
		ID: r.ID, TransactionID: r.TransactionID, AccountID: r.AccountID, AmountMsat: r.AmountMsat, DayOutMsat: r.DayOutMsat,
		DayOutDay: r.DayOutDay, Seq: i64(r.Seq), BalanceAfterMsat: i64(r.BalanceAfterMsat), Hash: str(r.Hash), CreatedAt: r.CreatedAt.UTC(),
	}
}

func (t *tx) HeldBy(ctx context.Context, transactionID, accountID int64) (int64, error) {
	n, err := t.q.SumEntriesForAccountAndTransaction(ctx, postgresdb.SumEntriesForAccountAndTransactionParams{TransactionID: transactionID, AccountID: accountID})
	if err != nil {
		return 0, interpret(fmt.Errorf("held by: %w", err))
	}
	return n, nil
}
