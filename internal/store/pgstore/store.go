// Package pgstore is the store adapter for PostgreSQL: a server reached through
// pgx/v5 and its connection pool, for deployments that outgrow one file.
//
// Its files go by resource, with the same names in every adapter so that
// engines compare file to file: store.go opens the database, runs
// transactions and interprets the driver's errors; users.go, ledger.go,
// transactions.go, invoices.go, sessions.go, notifications.go and
// reconcile.go convert the rows of the queries in sql/queries/postgres/
// (users.go those of users.sql and lightning_names.sql, ledger.go those of
// accounts.sql, the others those of the file of their own name).
package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/umeme-wallet/umeme/gen/postgresdb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

// Options tune the connection pool.
type Options struct {
	// MaxConns caps the pool (default 16).
	MaxConns int32
	// MinConns is how many connections the pool keeps open when idle
	// (default 0, at most MaxConns).
	MinConns int32
	// Isolation is IsolationDefault (READ COMMITTED, with the row locks
	// the queries take) or IsolationSerializable: every session then
	// defaults to SERIALIZABLE, so InTx transactions and Autocommit
	// statements alike run at it, and Snapshot waits for a safe snapshot.
	Isolation store.Isolation
}

// rollbackTimeout bounds the rollback of a failed attempt, which runs on a
// context detached from the caller's so that a cancelled request still
// releases its locks and its connection.
const rollbackTimeout = 5 * time.Second

// rollbackGrace is how long past the caller's deadline a rollback may take:
// a caller with a deadline (a USSD hop) must not wait rollbackTimeout for a
// database that stopped answering. When it runs out pgx closes the
// connection, and the server ends the transaction, locks and all, when it
// sees it closed.
const rollbackGrace = 250 * time.Millisecond

// rollbackContext is the detached, bounded context of a rollback.
func rollbackContext(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := rollbackTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(deadline), 0)+rollbackGrace)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), timeout)
}

// Store is an open PostgreSQL database.
type Store struct {
	// Retrier runs and counts the retried transactions (Retries).
	store.Retrier

	pool *pgxpool.Pool
	// backends names the server process of each pooled connection, for
	// settle.
	backends backends
	// inTxBegin is InTx's BEGIN as sent with its first statement
	// (begin.go), and snapshot the options of Snapshot's, at the store's
	// isolation.
	inTxBegin string
	snapshot  pgx.TxOptions
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
	s := &Store{
		inTxBegin: "begin",
		// REPEATABLE READ READ ONLY: one snapshot, no locks, no waiting.
		snapshot: pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
	}
	switch opts.Isolation {
	case store.IsolationDefault:
	case store.IsolationSerializable:
		// The session default covers Autocommit's single statements
		// and the migrations' connection too: PostgreSQL's SSI only
		// protects serializable transactions from one another, so none
		// may run at a weaker level beside them.
		cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
		s.inTxBegin = "begin isolation level serializable"
		// Beside serializable writers, a REPEATABLE READ snapshot may
		// see a state no serial order of them passes through (the
		// read-only anomaly), and a plain SERIALIZABLE READ ONLY one can
		// be cancelled with 40001, which Snapshot does not retry.
		// DEFERRABLE waits (briefly) for a snapshot that can be neither.
		s.snapshot = pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadOnly, DeferrableMode: pgx.Deferrable}
		s.MaxAttempts = store.SerializableTxAttempts
	default:
		return nil, fmt.Errorf("open postgres: unknown isolation %q", opts.Isolation)
	}
	cfg.AfterConnect = s.backends.identify
	cfg.BeforeClose = s.backends.forget
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s.pool = pool
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

// Pool implements store.Store.
func (s *Store) Pool() store.PoolStats {
	st := s.pool.Stat()
	return store.PoolStats{
		MaxOpen: int(st.MaxConns()), Open: int(st.TotalConns()), InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()),
		WaitCount: st.EmptyAcquireCount(), WaitDuration: st.EmptyAcquireWaitTime(),
	}
}

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
	return s.Retry(ctx, func() error { return fn(ctx, &tx{q: postgresdb.New(s.pool)}) })
}

// InTx implements store.Store.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.RetryTx(ctx, func(batch bool) error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return interpret(fmt.Errorf("begin: %w", err))
		}
		// The BEGIN goes out with the first statement (begin.go).
		lazy := &lazyTx{conn: conn, begin: s.inTxBegin, backends: &s.backends}
		// pgx does not roll back by itself when ctx is cancelled, and a
		// rollback on the cancelled ctx would not be sent: the transaction
		// would keep its row locks until the connection died. So it runs on
		// a detached, bounded context; after a commit it is a no-op.
		defer func() {
			rctx, cancel := rollbackContext(ctx)
			defer cancel()
			lazy.release(rctx)
		}()
		t := &tx{q: postgresdb.New(lazy), posting: store.Posting{InTx: true, Batch: batch}, lazy: lazy}
		err = fn(ctx, t)
		if err == nil {
			err = t.posting.Failed()
		}
		if err == nil {
			if err = lazy.Commit(ctx); err != nil {
				err = interpret(fmt.Errorf("commit: %w", err))
			}
		}
		if err != nil && lazy.unanswered {
			// A COMMIT went out and its answer was lost (settle.go).
			return s.settle(ctx, lazy.backend, err)
		}
		return err
	})
}

// Snapshot implements store.Store: a REPEATABLE READ, READ ONLY transaction
// (SERIALIZABLE READ ONLY DEFERRABLE at IsolationSerializable) sees one
// snapshot for all its statements and takes no row locks.
func (s *Store) Snapshot(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	pgxTx, err := s.pool.BeginTx(ctx, s.snapshot)
	if err != nil {
		return interpret(fmt.Errorf("begin snapshot: %w", err))
	}
	defer func() {
		rctx, cancel := rollbackContext(ctx)
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
	q       *postgresdb.Queries
	posting store.Posting
	// lazy is InTx's transaction, whose last statement may carry the
	// COMMIT (PostTransfer); nil elsewhere.
	lazy *lazyTx
}

// pgx gives a nullable column a pointer where database/sql gives a
// sql.Null* value, so these conversions are PostgreSQL's own and stay here
// rather than in sqlvalue: nullString, nullInt and nullTime turn the
// domain's zero values into NULL, str and i64 turn NULL back into them.
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

// one turns an update's row count into ErrNotFound when it matched nothing.
func one(n int64, err error, what string) error { return sqlvalue.One(n, err, what, interpret) }
