// Package mysqlstore is the store adapter for MySQL 8 and MariaDB 10.11 or
// later, through github.com/go-sql-driver/mysql. Every connection runs in UTC
// with READ COMMITTED isolation; the row locks the queries take (FOR UPDATE,
// guarded UPDATEs) provide the serialisation the ledger needs.
package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/umeme-wallet/umeme/gen/mysqldb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
)

// Options tune the connection pool.
type Options struct {
	// MaxOpenConns caps the connections to the server (default 16).
	MaxOpenConns int
	// MaxIdleConns is how many of them stay open while idle (default
	// MaxOpenConns).
	MaxIdleConns int
	// ConnMaxLifetime retires a connection after this long (default 3
	// minutes), before the server or a proxy drops it as idle.
	ConnMaxLifetime time.Duration
}

// Store is an open MySQL or MariaDB database.
type Store struct {
	db *sql.DB
	// cfg is the configuration of db's connections, kept to open the
	// separate handle migrations need.
	cfg *mysql.Config

	// prepared holds every query prepared on the server once per
	// connection, made on first use (the tables exist only after Migrate).
	mu       sync.Mutex
	prepared *mysqldb.Queries
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by rawURL, of the form
// mysql://user:password@host:port/dbname (mysql+pymysql:// means the same;
// the port defaults to 3306). Query parameters of the URL are ignored: the
// session settings are fixed here. Every connection uses UTC, both for the
// session's time_zone and for the times the driver sends and parses, and
// READ COMMITTED isolation. Open does not apply migrations; call Migrate.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 16
	}
	if opts.MaxIdleConns <= 0 {
		opts.MaxIdleConns = opts.MaxOpenConns
	}
	if opts.ConnMaxLifetime <= 0 {
		opts.ConnMaxLifetime = 3 * time.Minute
	}
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open mysql: %w", err)
	}
	// The isolation level is set per session rather than per transaction so
	// that BEGIN stays one round trip, and the name of its variable depends
	// on the server: MariaDB knows only tx_isolation (before 11.1), MySQL 8
	// only transaction_isolation. Ask the server which it is first.
	version, err := serverVersion(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open mysql: %w", err)
	}
	isolationVar := "transaction_isolation"
	if strings.Contains(version, "MariaDB") {
		isolationVar = "tx_isolation"
	}
	cfg.Params[isolationVar] = "'READ-COMMITTED'"
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open mysql: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	s := &Store{db: db, cfg: cfg}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// ParseURL turns a mysql:// (or mysql+pymysql://) URL into the driver's
// configuration, with the settings every connection of the store shares but
// the isolation level. Errors never repeat the URL's password.
func ParseURL(rawURL string) (*mysql.Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// A *url.Error repeats the URL, password included; keep only why.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid database url: %w", err)
	}
	switch u.Scheme {
	case "mysql", "mysql+pymysql":
	default:
		return nil, fmt.Errorf("invalid database url: scheme %q is not mysql", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("invalid database url: no host")
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(dbName, "/") {
		return nil, fmt.Errorf("invalid database url: database name %q", dbName)
	}
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.DBName = dbName
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// An UPDATE reports the rows it matched, not only those it changed, as
	// SQLite and PostgreSQL do: setting a value a row already has is still
	// a success, not "no row".
	cfg.ClientFoundRows = true
	// Without this the driver prepares, executes and closes a server-side
	// statement for every query with arguments: three round trips instead
	// of one. The driver escapes arguments itself for the connection's
	// character set (utf8mb4), which is safe.
	cfg.InterpolateParams = true
	// DATETIME(6) keeps microseconds. MySQL rounds finer times and MariaDB
	// truncates them; truncating in the driver makes both store the same
	// value and compare it the same way.
	if err := cfg.Apply(mysql.TimeTruncate(time.Microsecond)); err != nil {
		return nil, err
	}
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	return cfg, nil
}

// serverVersion asks the server its version over a connection of its own.
func serverVersion(ctx context.Context, cfg *mysql.Config) (string, error) {
	connector, err := mysql.NewConnector(cfg.Clone())
	if err != nil {
		return "", err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}
	return version, nil
}

// migrationDB opens the handle migrations run on (and close when done):
// golang-migrate sends each migration file as one query, so it needs
// multi-statement support, which the store's own connections leave off.
func (s *Store) migrationDB() (*sql.DB, error) {
	cfg := s.cfg.Clone()
	cfg.MultiStatements = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return sql.OpenDB(connector), nil
}

// Migrate applies (Up) or reverts one (Down) migration.
func (s *Store) Migrate(dir migrations.Direction) error {
	db, err := s.migrationDB()
	if err != nil {
		return err
	}
	return migrations.Run("mysql", db, dir)
}

// MigrationVersion reports the schema version.
func (s *Store) MigrationVersion() (uint, bool, error) {
	db, err := s.migrationDB()
	if err != nil {
		return 0, false, err
	}
	return migrations.Version("mysql", db)
}

// Engine implements store.Store.
func (s *Store) Engine() string { return "mysql" }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping mysql: %w", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prepared != nil {
		s.prepared.Close()
	}
	return s.db.Close()
}

// queries returns the prepared queries, preparing them the first time.
func (s *Store) queries(ctx context.Context) (*mysqldb.Queries, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prepared == nil {
		q, err := mysqldb.Prepare(ctx, s.db)
		if err != nil {
			return nil, interpret(fmt.Errorf("prepare queries: %w", err))
		}
		s.prepared = q
	}
	return s.prepared, nil
}

// Autocommit implements store.Store.
func (s *Store) Autocommit(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	q, err := s.queries(ctx)
	if err != nil {
		return err
	}
	return store.Retry(ctx, func() error { return fn(ctx, &tx{q: q}) })
}

// InTx implements store.Store.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	q, err := s.queries(ctx)
	if err != nil {
		return err
	}
	return store.Retry(ctx, func() error {
		// The isolation level is the session's (READ COMMITTED, see Open).
		sqlTx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return interpret(fmt.Errorf("begin: %w", err))
		}
		// database/sql also rolls back by itself when ctx is cancelled;
		// after a commit this is a no-op.
		defer sqlTx.Rollback() //nolint:errcheck
		// Each prepared query is bound to the transaction's connection,
		// prepared there the first time that connection runs it.
		if err := fn(ctx, &tx{q: q.WithTx(sqlTx)}); err != nil {
			return err
		}
		if err := sqlTx.Commit(); err != nil {
			return interpret(fmt.Errorf("commit: %w", err))
		}
		return nil
	})
}

// Snapshot implements store.Store: a REPEATABLE READ, READ ONLY transaction
// reads one consistent snapshot (InnoDB's MVCC) without locking rows.
func (s *Store) Snapshot(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	q, err := s.queries(ctx)
	if err != nil {
		return err
	}
	sqlTx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return interpret(fmt.Errorf("begin snapshot: %w", err))
	}
	defer sqlTx.Rollback() //nolint:errcheck
	return fn(ctx, &tx{q: q.WithTx(sqlTx)})
}

// The server error numbers interpret knows.
const (
	// erDupEntry is a unique (or primary) key refusing a duplicate.
	erDupEntry = 1062
	// erLockWaitTimeout is a row lock not granted within
	// innodb_lock_wait_timeout. InnoDB rolls back only the statement, but
	// InTx rolls back the whole transaction and runs it again.
	erLockWaitTimeout = 1205
	// erLockDeadlock is InnoDB breaking a deadlock by rolling back this
	// transaction, the victim; run again, it usually goes through.
	erLockDeadlock = 1213
)

// paymentPerHashIndex is the unique index of migration 000003 on the
// generated payment_hash_claim column: at most one pending or completed
// payment per hash.
const paymentPerHashIndex = "transactions_one_payment_per_hash"

// interpret normalises a driver error into the store's kinds. A lost
// connection (mysql.ErrInvalidConn, driver.ErrBadConn) is not retryable: the
// commit may have happened, and running the transaction again could apply it
// twice.
func interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.Classify(store.ErrNotFound, err)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erDupEntry:
			// The message names the index: "Duplicate entry '…' for key
			// 'transactions_one_payment_per_hash'" (MySQL 8 prefixes the
			// table).
			if strings.Contains(me.Message, paymentPerHashIndex) {
				err = fmt.Errorf("%w: %w", store.ErrPaymentHashTaken, err)
			}
			return store.Classify(store.ErrConflict, err)
		case erLockDeadlock, erLockWaitTimeout:
			return store.Classify(store.ErrRetryable, err)
		}
	}
	return err
}

// tx implements store.Tx over one MySQL transaction.
type tx struct {
	q *mysqldb.Queries
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

// int32Of clamps n into the range of an INT column's parameter.
func int32Of(n int) int32 { return int32(max(min(n, math.MaxInt32), math.MinInt32)) }

func (t *tx) InsertUserIfAbsent(ctx context.Context, u store.NewUser) (bool, error) {
	// INSERT IGNORE: a taken phone number inserts nothing and affects 0 rows.
	n, err := t.q.InsertUserIfAbsent(ctx, mysqldb.InsertUserIfAbsentParams{
		Phone: u.Phone, LightningName: u.LightningName, Language: u.Language, Now: u.Now.UTC(),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("insert user: %w", err))
	}
	if n == 1 {
		return true, nil
	}
	// IGNORE also skips a row that a taken Lightning name (or, on MySQL, a
	// CHECK constraint) refuses, where the other engines fail. Only a user
	// with that phone number means "already there".
	if _, err := t.q.GetUserByPhone(ctx, u.Phone); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, store.Classify(store.ErrConflict, errors.New("insert user: row ignored, but no user has that phone number"))
		}
		return false, interpret(fmt.Errorf("insert user: %w", err))
	}
	return false, nil
}

func (t *tx) InsertUser(ctx context.Context, u store.NewUser) (int64, error) {
	id, err := t.q.InsertUser(ctx, mysqldb.InsertUserParams{
		Phone: u.Phone, LightningName: u.LightningName, Language: u.Language, Status: string(u.Status), Now: u.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert user: %w", err))
	}
	return id, nil
}

func toUser(r mysqldb.User) store.User {
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
// The count is of matched rows (ClientFoundRows, see ParseURL).
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
	n, err := t.q.SetUserPIN(ctx, mysqldb.SetUserPINParams{PinHash: nullString(pinHash), Status: string(status), Now: now.UTC(), ID: id})
	return one(n, err, "set user pin")
}

func (t *tx) SetUserPINGuard(ctx context.Context, g store.PINGuard) error {
	n, err := t.q.SetUserPINGuard(ctx, mysqldb.SetUserPINGuardParams{
		FailedPinAttempts: int32Of(g.Failed), LockoutCount: int32Of(g.Lockouts), LockedUntil: nullTime(g.LockedUntil), Now: g.Now.UTC(), ID: g.UserID,
	})
	return one(n, err, "set user pin guard")
}

func (t *tx) SetUserLanguage(ctx context.Context, id int64, lang string, now time.Time) error {
	n, err := t.q.SetUserLanguage(ctx, mysqldb.SetUserLanguageParams{Language: lang, Now: now.UTC(), ID: id})
	return one(n, err, "set user language")
}

func (t *tx) SetUserStatus(ctx context.Context, id int64, status store.UserStatus, now time.Time) error {
	n, err := t.q.SetUserStatus(ctx, mysqldb.SetUserStatusParams{Status: string(status), Now: now.UTC(), ID: id})
	return one(n, err, "set user status")
}

func (t *tx) InsertLightningName(ctx context.Context, userID int64, name string, now time.Time) error {
	err := t.q.InsertLightningName(ctx, mysqldb.InsertLightningNameParams{Name: name, UserID: userID, Now: now.UTC()})
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
	n, err := t.q.SetUserLightningName(ctx, mysqldb.SetUserLightningNameParams{LightningName: name, Now: now.UTC(), ID: id})
	return one(n, err, "set user lightning name")
}

func (t *tx) InsertUserAccount(ctx context.Context, userID int64, now time.Time) (int64, error) {
	id, err := t.q.InsertUserAccount(ctx, mysqldb.InsertUserAccountParams{UserID: nullInt(userID), Now: now.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert account: %w", err))
	}
	return id, nil
}

func toAccount(r mysqldb.Account) store.Account {
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
		out[i] = toAccount(r)
	}
	return out, nil
}

func (t *tx) PostEntries(ctx context.Context, transactionID int64, entries []store.Entry, guard store.Guard, now time.Time) error {
	return store.PostLedgerEntries(ctx, ledgerWriter{t.q}, transactionID, entries, guard, now.UTC())
}

// ledgerWriter gives store.PostLedgerEntries its statements.
type ledgerWriter struct{ q *mysqldb.Queries }

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

func (w ledgerWriter) InsertLedgerEntryPair(ctx context.Context, transactionID int64, a, b store.Entry, guard store.Guard, now time.Time) error {
	err := w.q.InsertLedgerEntryPair(ctx, mysqldb.InsertLedgerEntryPairParams{
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

func (t *tx) InsertTransaction(ctx context.Context, n store.NewTransaction) (int64, error) {
	id, err := t.q.InsertTransaction(ctx, mysqldb.InsertTransactionParams{
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

func toTransaction(r mysqldb.Transaction) store.Transaction {
	return store.Transaction{
		ID: r.ID, UserID: r.UserID.Int64, Type: store.TransactionType(r.Type), Direction: store.Direction(r.Direction),
		Status: store.TransactionStatus(r.Status), AmountMsat: r.AmountMsat, FeeMsat: r.FeeMsat, Invoice: r.Invoice.String,
		PaymentHash: r.PaymentHash.String, MpesaReceipt: r.MpesaReceipt.String, MpesaCheckoutRequestID: r.MpesaCheckoutRequestID.String,
		MpesaConversationID: r.MpesaConversationID.String, CounterpartyPhone: r.CounterpartyPhone.String, Description: r.Description,
		IdempotencyKey: r.IdempotencyKey, RelatedID: r.RelatedID.Int64, HeldMsat: r.HeldMsat, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (t *tx) InsertTransfer(ctx context.Context, n store.NewTransfer) (int64, error) {
	// The sending row comes first in the statement, and MySQL's last insert
	// id of a multi-row insert is the first row's.
	id, err := t.q.InsertTransfer(ctx, mysqldb.InsertTransferParams{
		SenderID: nullInt(n.SenderID), RecipientID: nullInt(n.RecipientID),
		SenderPhone: nullString(n.SenderPhone), RecipientPhone: nullString(n.RecipientPhone),
		AmountMsat: n.AmountMsat, FeeMsat: n.FeeMsat, Description: n.Description,
		SendKey: n.IdempotencyKey, ReceiveKey: n.ReceiveKey(), Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert transfer: %w", err))
	}
	return id, nil
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
	n, err := t.q.FinishTransaction(ctx, mysqldb.FinishTransactionParams{ToStatus: string(f.To), AmountMsat: f.AmountMsat, FeeMsat: f.FeeMsat, Now: f.Now.UTC(), ID: f.ID, FromStatus: string(f.From)})
	if err != nil {
		return false, interpret(fmt.Errorf("finish transaction %d: %w", f.ID, err))
	}
	return n == 1, nil
}

func (t *tx) LatestTransactions(ctx context.Context, userID, beforeID int64, limit int) ([]store.Transaction, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	if limit < 0 {
		// MySQL refuses a negative LIMIT; SQLite reads it as no limit.
		limit = math.MaxInt32
	}
	rows, err := t.q.ListUserTransactions(ctx, mysqldb.ListUserTransactionsParams{UserID: nullInt(userID), BeforeID: beforeID, Limit: int32Of(limit)})
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
	id, err := t.q.InsertInvoice(ctx, mysqldb.InsertInvoiceParams{
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
	n, err := t.q.MarkInvoicePaid(ctx, mysqldb.MarkInvoicePaidParams{
		AmountPaidMsat: sql.NullInt64{Int64: amountPaidMsat, Valid: true}, PaidAt: nullTime(&now), Now: now.UTC(), PaymentHash: hash,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("mark invoice paid: %w", err))
	}
	return n == 1, nil
}

func (t *tx) ExpireInvoices(ctx context.Context, now time.Time) (int64, error) {
	n, err := t.q.ExpireInvoices(ctx, mysqldb.ExpireInvoicesParams{Now: now.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("expire invoices: %w", err))
	}
	if _, err := t.q.ExpireInvoiceTransactions(ctx, now.UTC()); err != nil {
		return 0, interpret(fmt.Errorf("expire invoice transactions: %w", err))
	}
	return n, nil
}

func (t *tx) ExpireInvoice(ctx context.Context, hash string, now time.Time) (bool, error) {
	n, err := t.q.ExpireInvoice(ctx, mysqldb.ExpireInvoiceParams{Now: now.UTC(), PaymentHash: hash})
	if err != nil {
		return false, interpret(fmt.Errorf("expire invoice: %w", err))
	}
	return n == 1, nil
}

func (t *tx) UnpaidAddressInvoices(ctx context.Context, phone string, now time.Time) ([]string, error) {
	hashes, err := t.q.ListUnpaidAddressInvoices(ctx, mysqldb.ListUnpaidAddressInvoicesParams{Phone: nullString(phone), Now: now.UTC()})
	if err != nil {
		return nil, interpret(fmt.Errorf("unpaid address invoices: %w", err))
	}
	return hashes, nil
}

func (t *tx) SetInvoiceReceipt(ctx context.Context, hash string, userID, transactionID int64, now time.Time) error {
	n, err := t.q.SetInvoiceReceipt(ctx, mysqldb.SetInvoiceReceiptParams{
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

func toSession(r mysqldb.UssdSession) (store.Session, error) {
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
	err = t.q.UpsertSession(ctx, mysqldb.UpsertSessionParams{
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
	n, err := t.q.SetSessionInputBuffer(ctx, mysqldb.SetSessionInputBufferParams{InputBuffer: store.EncodeInputBuffer(buf), Now: now.UTC(), SessionID: sessionID})
	if err := one(n, err, "append session input"); err != nil {
		return nil, err
	}
	return buf, nil
}

func (t *tx) SaveSessionHop(ctx context.Context, h store.SessionHop) error {
	n, err := t.q.SaveSessionHop(ctx, mysqldb.SaveSessionHopParams{
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
	n, err := t.q.EndSession(ctx, mysqldb.EndSessionParams{
		// sqlc types the argument of GREATEST as interface{}; hops is an INT.
		EndStatus: nullString(e.Status), DurationMs: sql.NullInt64{Int64: e.DurationMs, Valid: true}, Hops: int64(e.Hops),
		Now: sql.NullTime{Time: e.Now.UTC(), Valid: true}, SessionID: e.SessionID,
	})
	return one(n, err, "end session")
}

func (t *tx) CloseIdleSessions(ctx context.Context, idleBefore, now time.Time) (int64, error) {
	n, err := t.q.CloseIdleSessions(ctx, mysqldb.CloseIdleSessionsParams{Now: sql.NullTime{Time: now.UTC(), Valid: true}, IdleBefore: idleBefore.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("close idle sessions: %w", err))
	}
	return n, nil
}

func (t *tx) InsertNotification(ctx context.Context, n store.NewNotification) (int64, error) {
	id, err := t.q.InsertNotification(ctx, mysqldb.InsertNotificationParams{
		UserID: nullInt(n.UserID), Phone: n.Phone, Kind: string(n.Kind), TransactionID: nullInt(n.TransactionID),
		AmountMsat: n.AmountMsat, Counterparty: n.Counterparty, Body: n.Body, Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert notification: %w", err))
	}
	return id, nil
}

func toNotification(r mysqldb.Notification) store.Notification {
	return store.Notification{
		ID: r.ID, UserID: r.UserID.Int64, Phone: r.Phone, Kind: store.NotificationKind(r.Kind), TransactionID: r.TransactionID.Int64,
		AmountMsat: r.AmountMsat, Counterparty: r.Counterparty, Body: r.Body, Status: store.NotificationStatus(r.Status),
		Attempts: int(r.Attempts), NextAttemptAt: r.NextAttemptAt.UTC(), CreatedAt: r.CreatedAt.UTC(), SentAt: timePtr(r.SentAt),
	}
}

func toNotifications(rows []mysqldb.Notification) []store.Notification {
	out := make([]store.Notification, len(rows))
	for i, r := range rows {
		out[i] = toNotification(r)
	}
	return out
}

func (t *tx) DueNotifications(ctx context.Context, now time.Time, limit int) ([]store.Notification, error) {
	rows, err := t.q.ListDueNotifications(ctx, mysqldb.ListDueNotificationsParams{Now: now.UTC(), Limit: int32Of(limit)})
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
	n, err := t.q.MarkNotificationSent(ctx, mysqldb.MarkNotificationSentParams{SentAt: nullTime(&now), ID: id})
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
	n, err := t.q.RescheduleNotification(ctx, mysqldb.RescheduleNotificationParams{Status: string(status), NextAttemptAt: next.UTC(), ID: id})
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
	rows, err := t.q.ListLightningMovements(ctx, mysqldb.ListLightningMovementsParams{LightningAccount: ln.ID, AfterID: afterID, Limit: int32Of(limit)})
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
	rows, err := r.t.q.ListChainAccounts(ctx, mysqldb.ListChainAccountsParams{AfterID: afterID, Limit: int32Of(limit)})
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
	rows, err := r.t.q.ListChainEntries(ctx, mysqldb.ListChainEntriesParams{AfterAccount: afterAccount, AfterSeq: sql.NullInt64{Int64: afterSeq, Valid: true}, Limit: int32Of(limit)})
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
	rows, err := r.t.q.ListTransactionShapes(ctx, mysqldb.ListTransactionShapesParams{AfterID: afterID, UptoID: uptoID})
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
