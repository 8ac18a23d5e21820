// Package sqlitestore is the store adapter for SQLite, the embedded default:
// a file on disk through the pure-Go modernc.org/sqlite driver, so nothing
// needs installing.
package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/umeme-wallet/umeme/gen/sqlitedb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
)

// Options tune the connection pool.
type Options struct {
	MaxOpenConns int
	// BusyTimeout is how long a connection waits for the write lock before
	// failing with SQLITE_BUSY (which InTx then retries).
	BusyTimeout time.Duration
}

// SQLite has no SHA-256 and its date functions stop at milliseconds: the
// ledger's hash chain (ApplyBalanceDelta, and the migration that chained the
// entries already there) calls these Go functions, registered for every
// connection the driver opens, migrations' included.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("sha256_hex", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return store.SHA256Hex(v), nil
		case []byte:
			return store.SHA256Hex(string(v)), nil
		}
		return nil, fmt.Errorf("sha256_hex: want text, got %T", args[0])
	})
	sqlite.MustRegisterDeterministicScalarFunction("unix_micros", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		t, err := parseTime(args[0])
		if err != nil {
			return nil, fmt.Errorf("unix_micros: %w", err)
		}
		return t.UnixMicro(), nil
	})
}

// parseTime reads a time as the driver stores it (see _time_format in Open),
// or as an older writer may have: text in one of the layouts the driver
// itself parses.
func parseTime(v driver.Value) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v, nil
	case string:
		for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", "2006-01-02T15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("unreadable time %q", v)
	}
	return time.Time{}, fmt.Errorf("want a time, got %T", v)
}

// Store is an open SQLite database.
type Store struct {
	db  *sql.DB
	dsn string
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path with WAL,
// foreign keys and a busy timeout; Migrate applies the schema.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 4
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Every transaction here may write, so it takes the write lock at BEGIN:
	// a deferred transaction that reads and then tries to write can fail
	// with SQLITE_BUSY without waiting, where an immediate one queues.
	q.Set("_txlock", "immediate")
	// One fixed text format for times (UTC, zero-padded), so that times
	// compare correctly as strings inside SQL.
	q.Set("_time_format", "sqlite")
	dsn := "file:" + path + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxOpenConns)
	s := &Store{db: db, dsn: dsn}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies (Up) or reverts one (Down) migration.
func (s *Store) Migrate(dir migrations.Direction) error {
	db, err := sql.Open("sqlite", s.dsn)
	if err != nil {
		return fmt.Errorf("open sqlite for migrations: %w", err)
	}
	return migrations.Run("sqlite", db, dir)
}

// MigrationVersion reports the schema version.
func (s *Store) MigrationVersion() (uint, bool, error) {
	db, err := sql.Open("sqlite", s.dsn)
	if err != nil {
		return 0, false, fmt.Errorf("open sqlite for migrations: %w", err)
	}
	return migrations.Version("sqlite", db)
}

// Engine implements store.Store.
func (s *Store) Engine() string { return "sqlite" }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error { return s.db.Close() }

// Autocommit implements store.Store.
func (s *Store) Autocommit(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return store.Retry(ctx, func() error { return fn(ctx, &tx{q: sqlitedb.New(s.db)}) })
}

// InTx implements store.Store.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return store.Retry(ctx, func() error {
		sqlTx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return interpret(fmt.Errorf("begin: %w", err))
		}
		// database/sql also rolls back by itself when ctx is cancelled;
		// after a commit this is a no-op.
		defer sqlTx.Rollback() //nolint:errcheck
		if err := fn(ctx, &tx{q: sqlitedb.New(sqlTx)}); err != nil {
			return err
		}
		if err := sqlTx.Commit(); err != nil {
			return interpret(fmt.Errorf("commit: %w", err))
		}
		return nil
	})
}

// Snapshot implements store.Store: a read-only transaction begins DEFERRED
// (not IMMEDIATE, as InTx's do), so it takes no write lock, and in WAL mode
// it reads one snapshot while writers go on.
func (s *Store) Snapshot(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return interpret(fmt.Errorf("begin snapshot: %w", err))
	}
	defer sqlTx.Rollback() //nolint:errcheck
	return fn(ctx, &tx{q: sqlitedb.New(sqlTx)})
}

// paymentPerHashColumn is how SQLite names the partial unique index of
// migration 000003 (one pending or completed payment per hash) when it
// refuses a row: by its column, not by its name. No other unique index
// covers that column.
const paymentPerHashColumn = "UNIQUE constraint failed: transactions.payment_hash"

// interpret normalises a driver error into the store's kinds.
func interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.Classify(store.ErrNotFound, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			if strings.Contains(se.Error(), paymentPerHashColumn) {
				err = fmt.Errorf("%w: %w", store.ErrPaymentHashTaken, err)
			}
			return store.Classify(store.ErrConflict, err)
		}
		switch se.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return store.Classify(store.ErrRetryable, err)
		}
	}
	return err
}

// tx implements store.Tx over one SQLite transaction.
type tx struct {
	q *sqlitedb.Queries
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
func nullInt(i int64) sql.NullInt64      { return sql.NullInt64{Int64: i, Valid: i != 0} }
func nullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}
func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
func strPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func (t *tx) InsertUserIfAbsent(ctx context.Context, u store.NewUser) (bool, error) {
	n, err := t.q.InsertUserIfAbsent(ctx, sqlitedb.InsertUserIfAbsentParams{
		Phone: u.Phone, LightningName: u.LightningName, Language: u.Language, Now: u.Now.UTC(),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("insert user: %w", err))
	}
	return n == 1, nil
}

func (t *tx) InsertUser(ctx context.Context, u store.NewUser) (int64, error) {
	id, err := t.q.InsertUser(ctx, sqlitedb.InsertUserParams{
		Phone: u.Phone, LightningName: u.LightningName, Language: u.Language, Status: string(u.Status), Now: u.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert user: %w", err))
	}
	return id, nil
}

func toUser(r sqlitedb.User) store.User {
	return store.User{
		ID: r.ID, Phone: r.Phone, LightningName: r.LightningName, LightningPubkey: r.LightningPubkey.String,
		PINHash: r.PinHash.String, FailedPINAttempts: int(r.FailedPinAttempts), LockoutCount: int(r.LockoutCount),
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
	n, err := t.q.SetUserPIN(ctx, sqlitedb.SetUserPINParams{PinHash: nullString(pinHash), Status: string(status), Now: now.UTC(), ID: id})
	return one(n, err, "set user pin")
}

func (t *tx) SetUserPINGuard(ctx context.Context, g store.PINGuard) error {
	n, err := t.q.SetUserPINGuard(ctx, sqlitedb.SetUserPINGuardParams{
		FailedPinAttempts: int64(g.Failed), LockoutCount: int64(g.Lockouts), LockedUntil: nullTime(g.LockedUntil), Now: g.Now.UTC(), ID: g.UserID,
	})
	return one(n, err, "set user pin guard")
}

func (t *tx) SetUserLanguage(ctx context.Context, id int64, lang string, now time.Time) error {
	n, err := t.q.SetUserLanguage(ctx, sqlitedb.SetUserLanguageParams{Language: lang, Now: now.UTC(), ID: id})
	return one(n, err, "set user language")
}

func (t *tx) SetUserStatus(ctx context.Context, id int64, status store.UserStatus, now time.Time) error {
	n, err := t.q.SetUserStatus(ctx, sqlitedb.SetUserStatusParams{Status: string(status), Now: now.UTC(), ID: id})
	return one(n, err, "set user status")
}

func (t *tx) InsertLightningName(ctx context.Context, userID int64, name string, now time.Time) error {
	err := t.q.InsertLightningName(ctx, sqlitedb.InsertLightningNameParams{Name: name, UserID: userID, Now: now.UTC()})
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
	n, err := t.q.SetUserLightningName(ctx, sqlitedb.SetUserLightningNameParams{LightningName: name, Now: now.UTC(), ID: id})
	return one(n, err, "set user lightning name")
}

func (t *tx) InsertUserAccount(ctx context.Context, userID int64, now time.Time) (int64, error) {
	id, err := t.q.InsertUserAccount(ctx, sqlitedb.InsertUserAccountParams{UserID: nullInt(userID), Now: now.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert account: %w", err))
	}
	return id, nil
}

func toAccount(r sqlitedb.Account) store.Account {
	return store.Account{ID: r.ID, UserID: r.UserID.Int64, Code: store.SystemAccountCode(r.Code.String), BalanceMsat: r.BalanceMsat, DayOutMsat: r.DayOutMsat, DayOutDay: r.DayOutDay}
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
type ledgerWriter struct{ q *sqlitedb.Queries }

func (w ledgerWriter) ApplyBalanceDelta(ctx context.Context, transactionID int64, e store.Entry, guard store.Guard, now time.Time) (bool, error) {
	n, err := w.q.ApplyBalanceDelta(ctx, sqlitedb.ApplyBalanceDeltaParams{
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
	err := w.q.InsertLedgerEntry(ctx, sqlitedb.InsertLedgerEntryParams{
		TransactionID: transactionID, AccountID: e.AccountID, AmountMsat: e.AmountMsat, DayOut: e.DayOutMsat, Day: guard.Day, Now: now,
	})
	return interpret(err)
}

func (w ledgerWriter) InsertLedgerEntryPair(ctx context.Context, transactionID int64, a, b store.Entry, guard store.Guard, now time.Time) error {
	err := w.q.InsertLedgerEntryPair(ctx, sqlitedb.InsertLedgerEntryPairParams{
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

func toEntry(r sqlitedb.LedgerEntry) store.LedgerEntry {
	return store.LedgerEntry{
		ID: r.ID, TransactionID: r.TransactionID, AccountID: r.AccountID, AmountMsat: r.AmountMsat, DayOutMsat: r.DayOutMsat,
		DayOutDay: r.DayOutDay, Seq: r.Seq.Int64, BalanceAfterMsat: r.BalanceAfterMsat.Int64, Hash: r.Hash.String, CreatedAt: r.CreatedAt.UTC(),
	}
}

func (t *tx) HeldBy(ctx context.Context, transactionID, accountID int64) (int64, error) {
	n, err := t.q.SumEntriesForAccountAndTransaction(ctx, sqlitedb.SumEntriesForAccountAndTransactionParams{TransactionID: transactionID, AccountID: accountID})
	if err != nil {
		return 0, interpret(fmt.Errorf("held by: %w", err))
	}
	return n, nil
}

func (t *tx) InsertTransaction(ctx context.Context, n store.NewTransaction) (int64, error) {
	id, err := t.q.InsertTransaction(ctx, sqlitedb.InsertTransactionParams{
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

func toTransaction(r sqlitedb.Transaction) store.Transaction {
	return store.Transaction{
		ID: r.ID, UserID: r.UserID.Int64, Type: store.TransactionType(r.Type), Direction: store.Direction(r.Direction),
		Status: store.TransactionStatus(r.Status), AmountMsat: r.AmountMsat, FeeMsat: r.FeeMsat, Invoice: r.Invoice.String,
		PaymentHash: r.PaymentHash.String, MpesaReceipt: r.MpesaReceipt.String, MpesaCheckoutRequestID: r.MpesaCheckoutRequestID.String,
		MpesaConversationID: r.MpesaConversationID.String, CounterpartyPhone: r.CounterpartyPhone.String, Description: r.Description,
		IdempotencyKey: r.IdempotencyKey, RelatedID: r.RelatedID.Int64, HeldMsat: r.HeldMsat, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (t *tx) InsertTransfer(ctx context.Context, n store.NewTransfer) (int64, error) {
	rows, err := t.q.InsertTransfer(ctx, sqlitedb.InsertTransferParams{
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
	n, err := t.q.FinishTransaction(ctx, sqlitedb.FinishTransactionParams{ToStatus: string(f.To), AmountMsat: f.AmountMsat, FeeMsat: f.FeeMsat, Now: f.Now.UTC(), ID: f.ID, FromStatus: string(f.From)})
	if err != nil {
		return false, interpret(fmt.Errorf("finish transaction %d: %w", f.ID, err))
	}
	return n == 1, nil
}

func (t *tx) LatestTransactions(ctx context.Context, userID, beforeID int64, limit int) ([]store.Transaction, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	rows, err := t.q.ListUserTransactions(ctx, sqlitedb.ListUserTransactionsParams{UserID: nullInt(userID), BeforeID: beforeID, MaxRows: int64(limit)})
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
	r, err := t.q.GetPaymentByHash(ctx, nullString(hash))
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
	id, err := t.q.InsertInvoice(ctx, sqlitedb.InsertInvoiceParams{
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
		ID: r.ID, UserID: r.UserID.Int64, Phone: r.Phone.String, Origin: store.InvoiceOrigin(r.Origin), PayerComment: r.PayerComment, TransactionID: r.TransactionID.Int64, Invoice: r.Invoice, PaymentHash: r.PaymentHash,
		AmountMsat: r.AmountMsat, AmountPaidMsat: r.AmountPaidMsat.Int64, Status: store.InvoiceStatus(r.Status),
		Description: r.Description, AddIndex: r.AddIndex.Int64, ExpiresAt: r.ExpiresAt.UTC(), PaidAt: timePtr(r.PaidAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}, nil
}

func (t *tx) MarkInvoicePaid(ctx context.Context, hash string, amountPaidMsat int64, now time.Time) (bool, error) {
	n, err := t.q.MarkInvoicePaid(ctx, sqlitedb.MarkInvoicePaidParams{
		AmountPaidMsat: sql.NullInt64{Int64: amountPaidMsat, Valid: true}, PaidAt: nullTime(&now), Now: now.UTC(), PaymentHash: hash,
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
	n, err := t.q.ExpireInvoice(ctx, sqlitedb.ExpireInvoiceParams{Now: now.UTC(), PaymentHash: hash})
	if err != nil {
		return false, interpret(fmt.Errorf("expire invoice: %w", err))
	}
	return n == 1, nil
}

func (t *tx) UnpaidAddressInvoices(ctx context.Context, phone string, now time.Time) ([]string, error) {
	hashes, err := t.q.ListUnpaidAddressInvoices(ctx, sqlitedb.ListUnpaidAddressInvoicesParams{Phone: nullString(phone), Now: now.UTC()})
	if err != nil {
		return nil, interpret(fmt.Errorf("unpaid address invoices: %w", err))
	}
	return hashes, nil
}

func (t *tx) SetInvoiceReceipt(ctx context.Context, hash string, userID, transactionID int64, now time.Time) error {
	n, err := t.q.SetInvoiceReceipt(ctx, sqlitedb.SetInvoiceReceiptParams{
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

func toSession(r sqlitedb.UssdSession) (store.Session, error) {
	buf, err := store.DecodeInputBuffer(r.InputBuffer)
	if err != nil {
		return store.Session{}, err
	}
	return store.Session{
		ID: r.ID, SessionID: r.SessionID, UserID: r.UserID.Int64, Phone: r.Phone, State: r.State, InputBuffer: buf,
		LastInput: strPtr(r.LastInput), LastResponse: strPtr(r.LastResponse), Hops: int(r.Hops), EndStatus: r.EndStatus.String,
		DurationMs: r.DurationMs.Int64, Active: r.Active, LastActivityAt: r.LastActivityAt.UTC(), CreatedAt: r.CreatedAt.UTC(),
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
	err = t.q.UpsertSession(ctx, sqlitedb.UpsertSessionParams{
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
	n, err := t.q.SetSessionInputBuffer(ctx, sqlitedb.SetSessionInputBufferParams{InputBuffer: store.EncodeInputBuffer(buf), Now: now.UTC(), SessionID: sessionID})
	if err := one(n, err, "append session input"); err != nil {
		return nil, err
	}
	return buf, nil
}

func (t *tx) SaveSessionHop(ctx context.Context, h store.SessionHop) error {
	n, err := t.q.SaveSessionHop(ctx, sqlitedb.SaveSessionHopParams{
		UserID: nullInt(h.UserID), State: h.State, InputBuffer: store.EncodeInputBuffer(h.InputBuffer),
		LastInput: sql.NullString{String: h.LastInput, Valid: true}, LastResponse: sql.NullString{String: h.LastResponse, Valid: true},
		Now: h.Now.UTC(), SessionID: h.SessionID,
		Active: !h.End, EndedAt: endedAt(h),
	})
	return one(n, err, "save session hop")
}

// endedAt is when a hop closed its session, or NULL.
func endedAt(h store.SessionHop) sql.NullTime {
	if !h.End {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: h.Now.UTC(), Valid: true}
}

func (t *tx) EndSession(ctx context.Context, e store.SessionEnd) error {
	n, err := t.q.EndSession(ctx, sqlitedb.EndSessionParams{
		EndStatus: nullString(e.Status), DurationMs: sql.NullInt64{Int64: e.DurationMs, Valid: true}, Hops: int64(e.Hops),
		Now: sql.NullTime{Time: e.Now.UTC(), Valid: true}, SessionID: e.SessionID,
	})
	return one(n, err, "end session")
}

func (t *tx) CloseIdleSessions(ctx context.Context, idleBefore, now time.Time) (int64, error) {
	n, err := t.q.CloseIdleSessions(ctx, sqlitedb.CloseIdleSessionsParams{Now: sql.NullTime{Time: now.UTC(), Valid: true}, IdleBefore: idleBefore.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("close idle sessions: %w", err))
	}
	return n, nil
}

func (t *tx) InsertNotification(ctx context.Context, n store.NewNotification) (int64, error) {
	id, err := t.q.InsertNotification(ctx, sqlitedb.InsertNotificationParams{
		UserID: nullInt(n.UserID), Phone: n.Phone, Kind: string(n.Kind), TransactionID: nullInt(n.TransactionID),
		AmountMsat: n.AmountMsat, Counterparty: n.Counterparty, Body: n.Body, Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert notification: %w", err))
	}
	return id, nil
}

func toNotification(r sqlitedb.Notification) store.Notification {
	return store.Notification{
		ID: r.ID, UserID: r.UserID.Int64, Phone: r.Phone, Kind: store.NotificationKind(r.Kind), TransactionID: r.TransactionID.Int64,
		AmountMsat: r.AmountMsat, Counterparty: r.Counterparty, Body: r.Body, Status: store.NotificationStatus(r.Status),
		Attempts: int(r.Attempts), NextAttemptAt: r.NextAttemptAt.UTC(), CreatedAt: r.CreatedAt.UTC(), SentAt: timePtr(r.SentAt),
	}
}

func toNotifications(rows []sqlitedb.Notification) []store.Notification {
	out := make([]store.Notification, len(rows))
	for i, r := range rows {
		out[i] = toNotification(r)
	}
	return out
}

func (t *tx) DueNotifications(ctx context.Context, now time.Time, limit int) ([]store.Notification, error) {
	rows, err := t.q.ListDueNotifications(ctx, sqlitedb.ListDueNotificationsParams{Now: now.UTC(), MaxRows: int64(limit)})
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
	n, err := t.q.MarkNotificationSent(ctx, sqlitedb.MarkNotificationSentParams{SentAt: nullTime(&now), ID: id})
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
	n, err := t.q.RescheduleNotification(ctx, sqlitedb.RescheduleNotificationParams{Status: string(status), NextAttemptAt: next.UTC(), ID: id})
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
	rows, err := t.q.ListLightningMovements(ctx, sqlitedb.ListLightningMovementsParams{LightningAccount: ln.ID, AfterID: afterID, MaxRows: int64(limit)})
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
	rows, err := r.t.q.ListChainAccounts(ctx, sqlitedb.ListChainAccountsParams{AfterID: afterID, MaxRows: int64(limit)})
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
	rows, err := r.t.q.ListChainEntries(ctx, sqlitedb.ListChainEntriesParams{AfterAccount: afterAccount, AfterSeq: sql.NullInt64{Int64: afterSeq, Valid: true}, MaxRows: int64(limit)})
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.LedgerEntry, len(rows))
	for i, r := range rows {
		out[i] = store.LedgerEntry{
			ID: r.ID, TransactionID: r.TransactionID, AccountID: r.AccountID, AmountMsat: r.AmountMsat, DayOutMsat: r.DayOutMsat,
			DayOutDay: r.DayOutDay, Seq: r.Seq.Int64, BalanceAfterMsat: r.BalanceAfterMsat.Int64, Hash: r.Hash.String, CreatedAt: r.CreatedAt.UTC(),
		}
	}
	return out, nil
}

func (r ledgerReader) UnchainedEntries(ctx context.Context, limit int) ([]store.LedgerEntry, error) {
	rows, err := r.t.q.ListUnchainedEntries(ctx, int64(limit))
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
	rows, err := r.t.q.ListTransactionShapes(ctx, sqlitedb.ListTransactionShapesParams{AfterID: afterID, UptoID: uptoID})
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
