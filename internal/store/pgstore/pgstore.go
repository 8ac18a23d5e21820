// Package pgstore is the store adapter for PostgreSQL: a server reached through
// pgx/v5 and its connection pool, for deployments that outgrow one file.
package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/umeme-wallet/umeme/gen/postgresdb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
)

// Options tune the connection pool.
type Options struct {
	// MaxConns caps the pool (default 16).
	MaxConns int32
	// MinConns is how many connections the pool keeps open when idle
	// (default 0, at most MaxConns).
	MinConns int32
}

// rollbackTimeout bounds the rollback of a failed attempt, which runs on a
// context detached from the caller's so that a cancelled request still
// releases its locks and its connection.
const rollbackTimeout = 5 * time.Second

// Store is an open PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at rawURL (postgres://… or
// postgresql://…) with a pool whose sessions all run in UTC, and checks that
// it answers; the schema is brought up to date by Migrate.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	if opts.MinConns < 0 {
		opts.MinConns = 0
	}
	opts.MinConns = min(opts.MinConns, opts.MaxConns)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	cfg.MinConns = opts.MinConns
	// Times travel as TIMESTAMPTZ and so are absolute either way; a fixed
	// session zone only keeps what the server prints and casts (to DATE, to
	// text) independent of the server's configuration.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies (Up) or reverts one (Down) migration.
func (s *Store) Migrate(dir migrations.Direction) error {
	return migrations.Run("postgres", s.migrationDB(), dir)
}

// MigrationVersion reports the schema version.
func (s *Store) MigrationVersion() (uint, bool, error) {
	return migrations.Version("postgres", s.migrationDB())
}

// migrationDB opens a database/sql handle of its own for golang-migrate,
// which keeps a connection until it closes the handle.
func (s *Store) migrationDB() *sql.DB {
	return stdlib.OpenDB(*s.pool.Config().ConnConfig)
}

// Engine implements store.Store.
func (s *Store) Engine() string { return "postgres" }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Autocommit implements store.Store.
func (s *Store) Autocommit(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return store.Retry(ctx, func() error { return fn(ctx, &tx{q: postgresdb.New(s.pool)}) })
}

// InTx implements store.Store.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return store.Retry(ctx, func() error {
		pgxTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
		if err != nil {
			return interpret(fmt.Errorf("begin: %w", err))
		}
		// pgx does not roll back by itself when ctx is cancelled, and a
		// rollback on the cancelled ctx would not be sent: the transaction
		// would keep its row locks until the connection died. So it runs on
		// a detached, bounded context; after a commit it is a no-op.
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			defer cancel()
			pgxTx.Rollback(rctx) //nolint:errcheck
		}()
		if err := fn(ctx, &tx{q: postgresdb.New(pgxTx)}); err != nil {
			return err
		}
		if err := pgxTx.Commit(ctx); err != nil {
			return interpret(fmt.Errorf("commit: %w", err))
		}
		return nil
	})
}

// Snapshot implements store.Store: a REPEATABLE READ, READ ONLY transaction
// sees one snapshot for all its statements and takes no row locks.
func (s *Store) Snapshot(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	pgxTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return interpret(fmt.Errorf("begin snapshot: %w", err))
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		pgxTx.Rollback(rctx) //nolint:errcheck
	}()
	return fn(ctx, &tx{q: postgresdb.New(pgxTx)})
}

// paymentPerHashIndex is the partial unique index of migration 000003 that
// gives a payment hash at most one pending or completed payment.
const paymentPerHashIndex = "transactions_one_payment_per_hash"

// interpret normalises a driver error into the store's kinds.
func interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Classify(store.ErrNotFound, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation: a unique index refused the row.
			if pe.ConstraintName == paymentPerHashIndex {
				err = fmt.Errorf("%w: %w", store.ErrPaymentHashTaken, err)
			}
			return store.Classify(store.ErrConflict, err)
		case "40001", // serialization_failure: under REPEATABLE READ or
			// SERIALIZABLE the transaction read a snapshot another one
			// changed; PostgreSQL asks for it to be run again.
			"40P01", // deadlock_detected: the server aborted this side of a
			// lock cycle; run again, it will likely find the locks free.
			"55P03": // lock_not_available: a lock_timeout (or NOWAIT) gave
			// up waiting for a row lock another transaction held.
			return store.Classify(store.ErrRetryable, err)
		}
	}
	return err
}

// tx implements store.Tx over one PostgreSQL transaction.
type tx struct {
	q *postgresdb.Queries
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
func nullInt(i int64) *int64 {
	if i == 0 {
		return nil
	}
	return &i
}
func nullTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
func timePtr(t *time.Time) *time.Time { return nullTime(t) }
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
func i64(i *int64) int64 {
	if i == nil {
		return 0
	}
	return *i
}

// int32Of narrows a count for an INTEGER column, saturating instead of
// wrapping around.
func int32Of(n int) int32 { return int32(max(min(n, math.MaxInt32), math.MinInt32)) }

func (t *tx) InsertUserIfAbsent(ctx context.Context, u store.NewUser) (bool, error) {
	n, err := t.q.InsertUserIfAbsent(ctx, postgresdb.InsertUserIfAbsentParams{
		Phone: u.Phone, LightningName: u.LightningName, Language: u.Language, Now: u.Now.UTC(),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("insert user: %w", err))
	}
	return n == 1, nil
}

func (t *tx) InsertUser(ctx context.Context, u store.NewUser) (int64, error) {
	id, err := t.q.InsertUser(ctx, postgresdb.InsertUserParams{
		Phone: u.Phone, LightningName: u.LightningName, Language: u.Language, Status: string(u.Status), Now: u.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert user: %w", err))
	}
	return id, nil
}

func toUser(r postgresdb.User) store.User {
	return store.User{
		ID: r.ID, Phone: r.Phone, LightningName: r.LightningName, LightningPubkey: str(r.LightningPubkey),
		PINHash: str(r.PinHash), FailedPINAttempts: int(r.FailedPinAttempts), LockoutCount: int(r.LockoutCount),
		LockedUntil: timePtr(r.LockedUntil), Language: r.Language, Status: store.UserStatus(r.Status),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (t *tx) UserByID(ctx context.Context, id int64) (store.User, error) {
	r, err := t.q.GetUserByID(ctx, id)
	if err != nil {
		return store.User{}, interpret(fmt.Errorf("user %d: %w", id, err))
	}
	return toUser(r), nil
}

func (t *tx) LockUser(ctx context.Context, id int64) (store.User, error) {
	r, err := t.q.GetUserByIDForUpdate(ctx, id)
	if err != nil {
		return store.User{}, interpret(fmt.Errorf("lock user %d: %w", id, err))
	}
	return toUser(r), nil
}

func (t *tx) UserByPhone(ctx context.Context, phone string) (store.User, error) {
	r, err := t.q.GetUserByPhone(ctx, phone)
	if err != nil {
		return store.User{}, interpret(fmt.Errorf("user by phone: %w", err))
	}
	return toUser(r), nil
}

func (t *tx) UserByLightningName(ctx context.Context, name string) (store.User, error) {
	r, err := t.q.GetUserByLightningName(ctx, name)
	if err != nil {
		return store.User{}, interpret(fmt.Errorf("user by lightning name: %w", err))
	}
	return toUser(r), nil
}

// one turns an update's row count into ErrNotFound when it matched nothing.
func one(n int64, err error, what string) error {
	if err != nil {
		return interpret(fmt.Errorf("%s: %w", what, err))
	}
	if n == 0 {
		return store.Classify(store.ErrNotFound, errors.New(what+": no row"))
	}
	return nil
}

func (t *tx) SetUserPIN(ctx context.Context, id int64, pinHash string, status store.UserStatus, now time.Time) error {
	n, err := t.q.SetUserPIN(ctx, postgresdb.SetUserPINParams{PinHash: nullString(pinHash), Status: string(status), Now: now.UTC(), ID: id})
	return one(n, err, "set user pin")
}

func (t *tx) SetUserPINGuard(ctx context.Context, g store.PINGuard) error {
	n, err := t.q.SetUserPINGuard(ctx, postgresdb.SetUserPINGuardParams{
		FailedPinAttempts: int32Of(g.Failed), LockoutCount: int32Of(g.Lockouts), LockedUntil: nullTime(g.LockedUntil), Now: g.Now.UTC(), ID: g.UserID,
	})
	return one(n, err, "set user pin guard")
}

func (t *tx) SetUserLanguage(ctx context.Context, id int64, lang string, now time.Time) error {
	n, err := t.q.SetUserLanguage(ctx, postgresdb.SetUserLanguageParams{Language: lang, Now: now.UTC(), ID: id})
	return one(n, err, "set user language")
}

func (t *tx) SetUserStatus(ctx context.Context, id int64, status store.UserStatus, now time.Time) error {
	n, err := t.q.SetUserStatus(ctx, postgresdb.SetUserStatusParams{Status: string(status), Now: now.UTC(), ID: id})
	return one(n, err, "set user status")
}

func (t *tx) InsertLightningName(ctx context.Context, userID int64, name string, now time.Time) error {
	err := t.q.InsertLightningName(ctx, postgresdb.InsertLightningNameParams{Name: name, UserID: userID, Now: now.UTC()})
	if err != nil {
		return interpret(fmt.Errorf("insert lightning name: %w", err))
	}
	return nil
}

func (t *tx) LightningNameOwner(ctx context.Context, name string) (int64, error) {
	id, err := t.q.GetLightningNameOwner(ctx, name)
	if err != nil {
		return 0, interpret(fmt.Errorf("lightning name owner: %w", err))
	}
	return id, nil
}

func (t *tx) CountLightningNames(ctx context.Context, userID int64) (int64, error) {
	n, err := t.q.CountLightningNames(ctx, userID)
	if err != nil {
		return 0, interpret(fmt.Errorf("count lightning names: %w", err))
	}
	return n, nil
}

func (t *tx) SetUserLightningName(ctx context.Context, id int64, name string, now time.Time) error {
	n, err := t.q.SetUserLightningName(ctx, postgresdb.SetUserLightningNameParams{LightningName: name, Now: now.UTC(), ID: id})
	return one(n, err, "set user lightning name")
}

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

func (t *tx) AccountByID(ctx context.Context, id int64) (store.Account, error) {
	r, err := t.q.GetAccountByID(ctx, id)
	if err != nil {
		return store.Account{}, interpret(fmt.Errorf("account %d: %w", id, err))
	}
	return toAccount(r), nil
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
	return toAccount(r), nil
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
		out[i] = toAccount(r)
	}
	return out, nil
}

func (t *tx) PostEntries(ctx context.Context, transactionID int64, entries []store.Entry, guard store.Guard, now time.Time) error {
	return store.PostLedgerEntries(ctx, ledgerWriter{t.q}, transactionID, entries, guard, now.UTC())
}

// ledgerWriter gives store.PostLedgerEntries its statements.
type ledgerWriter struct{ q *postgresdb.Queries }

func (w ledgerWriter) ApplyBalanceDelta(ctx context.Context, transactionID int64, e store.Entry, guard store.Guard, now time.Time) (bool, error) {
	n, err := w.q.ApplyBalanceDelta(ctx, postgresdb.ApplyBalanceDeltaParams{
		TransactionID: transactionID, Delta: e.AmountMsat, DayOut: e.DayOutMsat, Day: guard.Day, CreatedUs: now.UnixMicro(),
		ID: e.AccountID, MaxBalance: guard.MaxBalanceMsat, DayLimit: guard.DayLimitMsat,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("apply balance delta: %w", err))
	}
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
	err := w.q.InsertLedgerEntry(ctx, postgresdb.InsertLedgerEntryParams{
		TransactionID: transactionID, AccountID: e.AccountID, AmountMsat: e.AmountMsat, DayOut: e.DayOutMsat, Day: guard.Day, Now: now,
	})
	return interpret(err)
}

func (w ledgerWriter) InsertLedgerEntryPair(ctx context.Context, transactionID int64, a, b store.Entry, guard store.Guard, now time.Time) error {
	err := w.q.InsertLedgerEntryPair(ctx, postgresdb.InsertLedgerEntryPairParams{
		TransactionID: transactionID, AccountA: a.AccountID, AmountA: a.AmountMsat, DayOutA: a.DayOutMsat,
		AccountB: b.AccountID, AmountB: b.AmountMsat, DayOutB: b.DayOutMsat, Day: guard.Day, Now: now,
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

func (t *tx) InsertTransaction(ctx context.Context, n store.NewTransaction) (int64, error) {
	id, err := t.q.InsertTransaction(ctx, postgresdb.InsertTransactionParams{
		UserID: nullInt(n.UserID), Type: string(n.Type), Direction: string(n.Direction), Status: string(n.Status),
		AmountMsat: n.AmountMsat, FeeMsat: n.FeeMsat, Invoice: nullString(n.Invoice), PaymentHash: nullString(n.PaymentHash),
		MpesaReceipt: nullString(n.MpesaReceipt), MpesaCheckoutRequestID: nullString(n.MpesaCheckoutRequestID),
		MpesaConversationID: nullString(n.MpesaConversationID), CounterpartyPhone: nullString(n.CounterpartyPhone),
		Description: n.Description, IdempotencyKey: n.IdempotencyKey, RelatedID: nullInt(n.RelatedID), HeldMsat: n.HeldMsat, Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert transaction: %w", err))
	}
	return id, nil
}

func toTransaction(r postgresdb.Transaction) store.Transaction {
	return store.Transaction{
		ID: r.ID, UserID: i64(r.UserID), Type: store.TransactionType(r.Type), Direction: store.Direction(r.Direction),
		Status: store.TransactionStatus(r.Status), AmountMsat: r.AmountMsat, FeeMsat: r.FeeMsat, Invoice: str(r.Invoice),
		PaymentHash: str(r.PaymentHash), MpesaReceipt: str(r.MpesaReceipt), MpesaCheckoutRequestID: str(r.MpesaCheckoutRequestID),
		MpesaConversationID: str(r.MpesaConversationID), CounterpartyPhone: str(r.CounterpartyPhone), Description: r.Description,
		IdempotencyKey: r.IdempotencyKey, RelatedID: i64(r.RelatedID), HeldMsat: r.HeldMsat, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (t *tx) InsertTransfer(ctx context.Context, n store.NewTransfer) (int64, error) {
	rows, err := t.q.InsertTransfer(ctx, postgresdb.InsertTransferParams{
		SenderID: nullInt(n.SenderID), RecipientID: nullInt(n.RecipientID),
		SenderPhone: nullString(n.SenderPhone), RecipientPhone: nullString(n.RecipientPhone),
		AmountMsat: n.AmountMsat, FeeMsat: n.FeeMsat, Description: n.Description,
		SendKey: n.IdempotencyKey, ReceiveKey: n.ReceiveKey(), Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert transfer: %w", err))
	}
	for _, r := range rows {
		if r.Type == string(store.TypeSend) {
			return r.ID, nil
		}
	}
	return 0, fmt.Errorf("insert transfer: no sending row returned")
}

func (t *tx) TransactionByID(ctx context.Context, id int64) (store.Transaction, error) {
	r, err := t.q.GetTransactionByID(ctx, id)
	if err != nil {
		return store.Transaction{}, interpret(fmt.Errorf("transaction %d: %w", id, err))
	}
	return toTransaction(r), nil
}

func (t *tx) TransactionByIdempotencyKey(ctx context.Context, key string) (store.Transaction, error) {
	r, err := t.q.GetTransactionByIdempotencyKey(ctx, key)
	if err != nil {
		return store.Transaction{}, interpret(fmt.Errorf("transaction by key: %w", err))
	}
	return toTransaction(r), nil
}

func (t *tx) FinishTransaction(ctx context.Context, f store.Finish) (bool, error) {
	n, err := t.q.FinishTransaction(ctx, postgresdb.FinishTransactionParams{ToStatus: string(f.To), AmountMsat: f.AmountMsat, FeeMsat: f.FeeMsat, Now: f.Now.UTC(), ID: f.ID, FromStatus: string(f.From)})
	if err != nil {
		return false, interpret(fmt.Errorf("finish transaction %d: %w", f.ID, err))
	}
	return n == 1, nil
}

func (t *tx) LatestTransactions(ctx context.Context, userID, beforeID int64, limit int) ([]store.Transaction, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	// PostgreSQL refuses a negative LIMIT where SQLite reads it as none.
	if limit < 0 {
		limit = math.MaxInt32
	}
	rows, err := t.q.ListUserTransactions(ctx, postgresdb.ListUserTransactionsParams{UserID: nullInt(userID), BeforeID: beforeID, MaxRows: int32Of(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("latest transactions: %w", err))
	}
	out := make([]store.Transaction, len(rows))
	for i, r := range rows {
		out[i] = toTransaction(r)
	}
	return out, nil
}

func (t *tx) PaymentByHash(ctx context.Context, hash string) (store.Transaction, error) {
	r, err := t.q.GetPaymentByHash(ctx, &hash)
	if err != nil {
		return store.Transaction{}, interpret(fmt.Errorf("payment by hash: %w", err))
	}
	return toTransaction(r), nil
}

func (t *tx) PendingTransactions(ctx context.Context, typ store.TransactionType) ([]store.Transaction, error) {
	rows, err := t.q.ListPendingTransactions(ctx, string(typ))
	if err != nil {
		return nil, interpret(fmt.Errorf("pending transactions: %w", err))
	}
	out := make([]store.Transaction, len(rows))
	for i, r := range rows {
		out[i] = toTransaction(r)
	}
	return out, nil
}

func (t *tx) InsertInvoice(ctx context.Context, n store.NewInvoice) (int64, error) {
	origin := n.Origin
	if origin == "" {
		origin = store.InvoiceByUser
	}
	id, err := t.q.InsertInvoice(ctx, postgresdb.InsertInvoiceParams{
		UserID: nullInt(n.UserID), TransactionID: nullInt(n.TransactionID), Invoice: n.Invoice, PaymentHash: n.PaymentHash,
		AmountMsat: n.AmountMsat, Description: n.Description, AddIndex: nullInt(n.AddIndex), ExpiresAt: n.ExpiresAt.UTC(),
		Phone: nullString(n.Phone), Origin: string(origin), PayerComment: n.PayerComment, Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert invoice: %w", err))
	}
	return id, nil
}

func (t *tx) InvoiceByPaymentHash(ctx context.Context, hash string) (store.Invoice, error) {
	r, err := t.q.GetInvoiceByPaymentHash(ctx, hash)
	if err != nil {
		return store.Invoice{}, interpret(fmt.Errorf("invoice by hash: %w", err))
	}
	return store.Invoice{
		ID: r.ID, UserID: i64(r.UserID), Phone: str(r.Phone), Origin: store.InvoiceOrigin(r.Origin), PayerComment: r.PayerComment, TransactionID: i64(r.TransactionID), Invoice: r.Invoice, PaymentHash: r.PaymentHash,
		AmountMsat: r.AmountMsat, AmountPaidMsat: i64(r.AmountPaidMsat), Status: store.InvoiceStatus(r.Status),
		Description: r.Description, AddIndex: i64(r.AddIndex), ExpiresAt: r.ExpiresAt.UTC(), PaidAt: timePtr(r.PaidAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}, nil
}

func (t *tx) MarkInvoicePaid(ctx context.Context, hash string, amountPaidMsat int64, now time.Time) (bool, error) {
	n, err := t.q.MarkInvoicePaid(ctx, postgresdb.MarkInvoicePaidParams{
		AmountPaidMsat: &amountPaidMsat, PaidAt: nullTime(&now), Now: now.UTC(), PaymentHash: hash,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("mark invoice paid: %w", err))
	}
	return n == 1, nil
}

func (t *tx) ExpireInvoices(ctx context.Context, now time.Time) (int64, error) {
	n, err := t.q.ExpireInvoices(ctx, now.UTC())
	if err != nil {
		return 0, interpret(fmt.Errorf("expire invoices: %w", err))
	}
	if _, err := t.q.ExpireInvoiceTransactions(ctx, now.UTC()); err != nil {
		return 0, interpret(fmt.Errorf("expire invoice transactions: %w", err))
	}
	return n, nil
}

func (t *tx) ExpireInvoice(ctx context.Context, hash string, now time.Time) (bool, error) {
	n, err := t.q.ExpireInvoice(ctx, postgresdb.ExpireInvoiceParams{Now: now.UTC(), PaymentHash: hash})
	if err != nil {
		return false, interpret(fmt.Errorf("expire invoice: %w", err))
	}
	return n == 1, nil
}

func (t *tx) UnpaidAddressInvoices(ctx context.Context, phone string, now time.Time) ([]string, error) {
	hashes, err := t.q.ListUnpaidAddressInvoices(ctx, postgresdb.ListUnpaidAddressInvoicesParams{Phone: nullString(phone), Now: now.UTC()})
	if err != nil {
		return nil, interpret(fmt.Errorf("unpaid address invoices: %w", err))
	}
	return hashes, nil
}

func (t *tx) SetInvoiceReceipt(ctx context.Context, hash string, userID, transactionID int64, now time.Time) error {
	n, err := t.q.SetInvoiceReceipt(ctx, postgresdb.SetInvoiceReceiptParams{
		UserID: nullInt(userID), TransactionID: nullInt(transactionID), Now: now.UTC(), PaymentHash: hash,
	})
	return one(n, err, "set invoice receipt")
}

func (t *tx) DeleteStaleAddressInvoices(ctx context.Context, before time.Time) (int64, error) {
	n, err := t.q.DeleteStaleAddressInvoices(ctx, before.UTC())
	if err != nil {
		return 0, interpret(fmt.Errorf("delete stale address invoices: %w", err))
	}
	return n, nil
}

func (t *tx) MaxInvoiceAddIndex(ctx context.Context) (int64, error) {
	n, err := t.q.MaxInvoiceAddIndex(ctx)
	if err != nil {
		return 0, interpret(fmt.Errorf("max invoice add index: %w", err))
	}
	return n, nil
}

func (t *tx) MinUnpaidInvoiceAddIndex(ctx context.Context, since time.Time) (int64, error) {
	n, err := t.q.MinUnpaidInvoiceAddIndex(ctx, since.UTC())
	if err != nil {
		return 0, interpret(fmt.Errorf("min unpaid invoice add index: %w", err))
	}
	return n, nil
}

func toSession(r postgresdb.UssdSession) (store.Session, error) {
	buf, err := store.DecodeInputBuffer(r.InputBuffer)
	if err != nil {
		return store.Session{}, err
	}
	return store.Session{
		ID: r.ID, SessionID: r.SessionID, UserID: i64(r.UserID), Phone: r.Phone, State: r.State, InputBuffer: buf,
		LastInput: r.LastInput, LastResponse: r.LastResponse, Hops: int(r.Hops), EndStatus: str(r.EndStatus),
		DurationMs: i64(r.DurationMs), Active: r.Active, LastActivityAt: r.LastActivityAt.UTC(), CreatedAt: r.CreatedAt.UTC(),
		EndedAt: timePtr(r.EndedAt),
	}, nil
}

func (t *tx) UpsertSession(ctx context.Context, n store.NewSession) (store.Session, error) {
	// Most hops find their session: one read. Only the first hop writes,
	// and its insert gives way to a concurrent twin (the upsert), then the
	// row is read back.
	r, err := t.q.GetSessionForUpdate(ctx, n.SessionID)
	if err == nil {
		return toSession(r)
	}
	if err := interpret(err); !errors.Is(err, store.ErrNotFound) {
		return store.Session{}, fmt.Errorf("session: %w", err)
	}
	err = t.q.UpsertSession(ctx, postgresdb.UpsertSessionParams{
		SessionID: n.SessionID, UserID: nullInt(n.UserID), Phone: n.Phone, State: n.State, Now: n.Now.UTC(),
	})
	if err != nil {
		return store.Session{}, interpret(fmt.Errorf("upsert session: %w", err))
	}
	if r, err = t.q.GetSessionForUpdate(ctx, n.SessionID); err != nil {
		return store.Session{}, interpret(fmt.Errorf("session: %w", err))
	}
	return toSession(r)
}

func (t *tx) Session(ctx context.Context, sessionID string) (store.Session, error) {
	r, err := t.q.GetSession(ctx, sessionID)
	if err != nil {
		return store.Session{}, interpret(fmt.Errorf("session: %w", err))
	}
	return toSession(r)
}

func (t *tx) AppendSessionInput(ctx context.Context, sessionID, key string, now time.Time) ([]string, error) {
	r, err := t.q.GetSessionForUpdate(ctx, sessionID)
	if err != nil {
		return nil, interpret(fmt.Errorf("session: %w", err))
	}
	buf, err := store.DecodeInputBuffer(r.InputBuffer)
	if err != nil {
		return nil, err
	}
	buf = append(buf, key)
	n, err := t.q.SetSessionInputBuffer(ctx, postgresdb.SetSessionInputBufferParams{InputBuffer: store.EncodeInputBuffer(buf), Now: now.UTC(), SessionID: sessionID})
	if err := one(n, err, "append session input"); err != nil {
		return nil, err
	}
	return buf, nil
}

func (t *tx) SaveSessionHop(ctx context.Context, h store.SessionHop) error {
	n, err := t.q.SaveSessionHop(ctx, postgresdb.SaveSessionHopParams{
		UserID: nullInt(h.UserID), State: h.State, InputBuffer: store.EncodeInputBuffer(h.InputBuffer),
		LastInput: &h.LastInput, LastResponse: &h.LastResponse,
		Now: h.Now.UTC(), SessionID: h.SessionID,
		Active: !h.End, EndedAt: endedAt(h),
	})
	return one(n, err, "save session hop")
}

// endedAt is when a hop closed its session, or nil.
func endedAt(h store.SessionHop) *time.Time {
	if !h.End {
		return nil
	}
	t := h.Now.UTC()
	return &t
}

func (t *tx) EndSession(ctx context.Context, e store.SessionEnd) error {
	n, err := t.q.EndSession(ctx, postgresdb.EndSessionParams{
		EndStatus: nullString(e.Status), DurationMs: &e.DurationMs, Hops: int32Of(e.Hops),
		Now: nullTime(&e.Now), SessionID: e.SessionID,
	})
	return one(n, err, "end session")
}

func (t *tx) CloseIdleSessions(ctx context.Context, idleBefore, now time.Time) (int64, error) {
	n, err := t.q.CloseIdleSessions(ctx, postgresdb.CloseIdleSessionsParams{Now: nullTime(&now), IdleBefore: idleBefore.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("close idle sessions: %w", err))
	}
	return n, nil
}

func (t *tx) InsertNotification(ctx context.Context, n store.NewNotification) (int64, error) {
	id, err := t.q.InsertNotification(ctx, postgresdb.InsertNotificationParams{
		UserID: nullInt(n.UserID), Phone: n.Phone, Kind: string(n.Kind), TransactionID: nullInt(n.TransactionID),
		AmountMsat: n.AmountMsat, Counterparty: n.Counterparty, Body: n.Body, Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert notification: %w", err))
	}
	return id, nil
}

func toNotification(r postgresdb.Notification) store.Notification {
	return store.Notification{
		ID: r.ID, UserID: i64(r.UserID), Phone: r.Phone, Kind: store.NotificationKind(r.Kind), TransactionID: i64(r.TransactionID),
		AmountMsat: r.AmountMsat, Counterparty: r.Counterparty, Body: r.Body, Status: store.NotificationStatus(r.Status),
		Attempts: int(r.Attempts), NextAttemptAt: r.NextAttemptAt.UTC(), CreatedAt: r.CreatedAt.UTC(), SentAt: timePtr(r.SentAt),
	}
}

func toNotifications(rows []postgresdb.Notification) []store.Notification {
	out := make([]store.Notification, len(rows))
	for i, r := range rows {
		out[i] = toNotification(r)
	}
	return out
}

func (t *tx) DueNotifications(ctx context.Context, now time.Time, limit int) ([]store.Notification, error) {
	rows, err := t.q.ListDueNotifications(ctx, postgresdb.ListDueNotificationsParams{Now: now.UTC(), MaxRows: int32Of(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("due notifications: %w", err))
	}
	return toNotifications(rows), nil
}

func (t *tx) NotificationsOf(ctx context.Context, transactionID int64) ([]store.Notification, error) {
	rows, err := t.q.ListNotificationsByTransaction(ctx, nullInt(transactionID))
	if err != nil {
		return nil, interpret(fmt.Errorf("notifications of %d: %w", transactionID, err))
	}
	return toNotifications(rows), nil
}

func (t *tx) MarkNotificationSent(ctx context.Context, id int64, now time.Time) (bool, error) {
	n, err := t.q.MarkNotificationSent(ctx, postgresdb.MarkNotificationSentParams{SentAt: nullTime(&now), ID: id})
	if err != nil {
		return false, interpret(fmt.Errorf("mark notification sent: %w", err))
	}
	return n == 1, nil
}

func (t *tx) RescheduleNotification(ctx context.Context, id int64, next time.Time, giveUp bool) (bool, error) {
	status := store.NotificationPending
	if giveUp {
		status = store.NotificationFailed
	}
	n, err := t.q.RescheduleNotification(ctx, postgresdb.RescheduleNotificationParams{Status: string(status), NextAttemptAt: next.UTC(), ID: id})
	if err != nil {
		return false, interpret(fmt.Errorf("reschedule notification: %w", err))
	}
	return n == 1, nil
}

func (t *tx) Reconcile(ctx context.Context) (store.ReconcileReport, error) {
	return store.Reconcile(ctx, ledgerReader{t})
}

func (t *tx) LightningMovements(ctx context.Context, afterID int64, limit int) ([]store.LightningMovement, error) {
	ln, err := t.SystemAccount(ctx, store.AccountLightning)
	if err != nil {
		return nil, err
	}
	rows, err := t.q.ListLightningMovements(ctx, postgresdb.ListLightningMovementsParams{LightningAccount: ln.ID, AfterID: afterID, MaxRows: int32Of(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("lightning movements: %w", err))
	}
	out := make([]store.LightningMovement, len(rows))
	for i, r := range rows {
		out[i] = store.LightningMovement{
			TransactionID: r.ID, Type: store.TransactionType(r.Type), Status: store.TransactionStatus(r.Status), PaymentHash: r.PaymentHash,
			AmountMsat: r.AmountMsat, FeeMsat: r.FeeMsat, LightningMsat: r.LightningMsat,
		}
	}
	return out, nil
}

// ledgerReader gives store.Reconcile its reads.
type ledgerReader struct{ t *tx }

func (r ledgerReader) UnbalancedTransactions(ctx context.Context) ([]store.Imbalance, error) {
	rows, err := r.t.q.ListUnbalancedTransactions(ctx)
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.Imbalance, len(rows))
	for i, r := range rows {
		out[i] = store.Imbalance{TransactionID: r.TransactionID, SumMsat: r.Total}
	}
	return out, nil
}

func (r ledgerReader) BalanceDrift(ctx context.Context) ([]store.Drift, error) {
	rows, err := r.t.q.ListBalanceDrift(ctx)
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.Drift, len(rows))
	for i, r := range rows {
		out[i] = store.Drift{AccountID: r.ID, BalanceMsat: r.BalanceMsat, LedgerMsat: r.LedgerMsat}
	}
	return out, nil
}

func (r ledgerReader) NegativeUserAccounts(ctx context.Context) ([]store.Drift, error) {
	rows, err := r.t.q.ListNegativeUserAccounts(ctx)
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.Drift, len(rows))
	for i, r := range rows {
		out[i] = store.Drift{AccountID: r.ID, BalanceMsat: r.BalanceMsat}
	}
	return out, nil
}

func (r ledgerReader) ReservationMismatches(ctx context.Context, reservedID int64) ([]store.Reservation, error) {
	rows, err := r.t.q.ListReservationMismatches(ctx, reservedID)
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.Reservation, len(rows))
	for i, r := range rows {
		out[i] = store.Reservation{TransactionID: r.TransactionID, Status: store.TransactionStatus(r.Status), HeldMsat: r.HeldMsat}
	}
	return out, nil
}

func (r ledgerReader) SumAllBalances(ctx context.Context) (int64, error) {
	n, err := r.t.q.SumAllBalances(ctx)
	return n, interpret(err)
}

func (r ledgerReader) SystemAccount(ctx context.Context, code store.SystemAccountCode) (store.Account, error) {
	return r.t.SystemAccount(ctx, code)
}

func (r ledgerReader) ChainAccounts(ctx context.Context, afterID int64, limit int) ([]store.ChainAccount, error) {
	rows, err := r.t.q.ListChainAccounts(ctx, postgresdb.ListChainAccountsParams{AfterID: afterID, MaxRows: int32Of(limit)})
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.ChainAccount, len(rows))
	for i, r := range rows {
		out[i] = store.ChainAccount{ID: r.ID, BalanceMsat: r.BalanceMsat, Counter: store.DayCounter{Day: r.DayOutDay, OutMsat: r.DayOutMsat}, HeadSeq: r.HeadSeq, HeadHash: r.HeadHash}
	}
	return out, nil
}

func (r ledgerReader) ChainEntries(ctx context.Context, afterAccount, afterSeq int64, limit int) ([]store.LedgerEntry, error) {
	rows, err := r.t.q.ListChainEntries(ctx, postgresdb.ListChainEntriesParams{AfterAccount: afterAccount, AfterSeq: &afterSeq, MaxRows: int32Of(limit)})
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.LedgerEntry, len(rows))
	for i, r := range rows {
		out[i] = store.LedgerEntry{
			ID: r.ID, TransactionID: r.TransactionID, AccountID: r.AccountID, AmountMsat: r.AmountMsat, DayOutMsat: r.DayOutMsat,
			DayOutDay: r.DayOutDay, Seq: i64(r.Seq), BalanceAfterMsat: i64(r.BalanceAfterMsat), Hash: str(r.Hash), CreatedAt: r.CreatedAt.UTC(),
		}
	}
	return out, nil
}

func (r ledgerReader) UnchainedEntries(ctx context.Context, limit int) ([]store.LedgerEntry, error) {
	rows, err := r.t.q.ListUnchainedEntries(ctx, int32Of(limit))
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.LedgerEntry, len(rows))
	for i, r := range rows {
		out[i] = store.LedgerEntry{ID: r.ID, TransactionID: r.TransactionID, AccountID: r.AccountID, AmountMsat: r.AmountMsat}
	}
	return out, nil
}

func (r ledgerReader) MaxTransactionID(ctx context.Context) (int64, error) {
	n, err := r.t.q.MaxTransactionID(ctx)
	return n, interpret(err)
}

func (r ledgerReader) ShapeTransactions(ctx context.Context, afterID, uptoID int64) ([]store.ShapeTransaction, error) {
	rows, err := r.t.q.ListTransactionShapes(ctx, postgresdb.ListTransactionShapesParams{AfterID: afterID, UptoID: uptoID})
	if err != nil {
		return nil, interpret(err)
	}
	var out []store.ShapeTransaction
	for _, r := range rows {
		if n := len(out); n == 0 || out[n-1].ID != r.ID {
			out = append(out, store.ShapeTransaction{
				ID: r.ID, Type: store.TransactionType(r.Type), Direction: store.Direction(r.Direction), Status: store.TransactionStatus(r.Status),
				AmountMsat: r.AmountMsat, FeeMsat: r.FeeMsat, HeldMsat: r.HeldMsat, PaymentHash: r.PaymentHash,
				UserAccount: r.UserAccount, CounterpartyAccount: r.CounterpartyAccount,
			})
		}
		if r.EntryID != 0 {
			t := &out[len(out)-1]
			t.Entries = append(t.Entries, store.LedgerEntry{ID: r.EntryID, TransactionID: r.ID, AccountID: r.EntryAccount, AmountMsat: r.EntryAmount, DayOutMsat: r.EntryDayOut, DayOutDay: r.EntryDay})
		}
	}
	return out, nil
}
