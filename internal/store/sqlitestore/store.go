// Package sqlitestore is the store adapter for SQLite, the embedded default:
// a file on disk through the pure-Go modernc.org/sqlite driver, so nothing
// needs installing.
//
// Its files go by resource, with the same names in every adapter so that
// engines compare file to file: store.go opens the database, runs
// transactions and interprets the driver's errors; users.go, ledger.go,
// transactions.go, invoices.go, sessions.go, notifications.go and
// reconcile.go convert the rows of the queries in sql/queries/sqlite/
// (users.go those of users.sql and lightning_names.sql, ledger.go those of
// accounts.sql, the others those of the file of their own name).
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
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
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
	// Retrier runs and counts the retried transactions (Retries).
	store.Retrier

	db   *sql.DB
	dsn  string
	gate *gate // the writers of this process queue here (gate.go)

	// prepared holds every query, prepared on each connection the first
	// time it runs there: SQLite otherwise parses each statement's text on
	// every call.
	prepared sqlvalue.Prepared[*sqlitedb.Queries]
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
	// The driver registered as "sqlite", with this package's functions,
	// behind the write gate (gate.go). Opening a pool connects nothing.
	plain, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	d := plain.Driver()
	plain.Close()
	g := newGate(opts.BusyTimeout)
	db := sql.OpenDB(connector{dsn: dsn, d: gatedDriver{Driver: d, gate: g}})
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxOpenConns)
	s := &Store{db: db, dsn: dsn, gate: g}
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

// Pool implements store.Store.
func (s *Store) Pool() store.PoolStats { return sqlvalue.PoolStats(s.db) }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error { return s.prepared.Close(s.db) }

// queries returns the prepared queries, preparing them the first time.
func (s *Store) queries(ctx context.Context) (*sqlitedb.Queries, error) {
	return s.prepared.Get(ctx, func(ctx context.Context) (*sqlitedb.Queries, error) { return sqlitedb.Prepare(ctx, s.db) }, interpret)
}

// Autocommit implements store.Store.
func (s *Store) Autocommit(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	q, err := s.queries(ctx)
	if err != nil {
		return err
	}
	return s.Retry(ctx, func() error { return fn(ctx, &tx{q: q}) })
}

// InTx implements store.Store.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	q, err := s.queries(ctx)
	if err != nil {
		return err
	}
	return s.Retry(ctx, func() error {
		sqlTx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return interpret(fmt.Errorf("begin: %w", err))
		}
		// database/sql also rolls back by itself when ctx is cancelled;
		// after a commit this is a no-op.
		defer sqlTx.Rollback() //nolint:errcheck
		t := &tx{q: q.WithTx(sqlTx), posting: store.Posting{InTx: true}}
		if err := fn(ctx, t); err != nil {
			return err
		}
		if err := t.posting.Failed(); err != nil {
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
	q, err := s.queries(ctx)
	if err != nil {
		return err
	}
	sqlTx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return interpret(fmt.Errorf("begin snapshot: %w", err))
	}
	defer sqlTx.Rollback() //nolint:errcheck
	return fn(ctx, &tx{q: q.WithTx(sqlTx)})
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
	if errors.Is(err, errGateTimeout) {
		return store.Classify(store.ErrRetryable, err)
	}
	return err
}

// tx implements store.Tx over one SQLite transaction.
type tx struct {
	q       *sqlitedb.Queries
	posting store.Posting
}

// one turns an update's row count into ErrNotFound when it matched nothing.
func one(n int64, err error, what string) error { return sqlvalue.One(n, err, what, interpret) }
