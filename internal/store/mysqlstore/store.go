// Package mysqlstore is the store adapter for MySQL 8 and MariaDB 10.11 or
// later, through github.com/go-sql-driver/mysql. Every connection runs in UTC
// with READ COMMITTED isolation; the row locks the queries take (FOR UPDATE,
// guarded UPDATEs) provide the serialisation the ledger needs.
//
// Its files go by resource, with the same names in every adapter so that
// engines compare file to file: store.go opens the database, runs
// transactions and interprets the driver's errors; users.go, ledger.go,
// transactions.go, invoices.go, sessions.go, notifications.go and
// reconcile.go convert the rows of the queries in sql/queries/mysql/
// (users.go those of users.sql and lightning_names.sql, ledger.go those of
// accounts.sql, the others those of the file of their own name).
package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/umeme-wallet/umeme/gen/mysqldb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

// Options tune the connection pools: InTx's transactions run on a pool of
// their own (begin.go), everything else on the other, and each has these
// settings, so the store opens up to twice MaxOpenConns connections.
type Options struct {
	// MaxOpenConns caps the connections of each pool (default 16).
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
	// Retrier runs and counts the retried transactions (Retries).
	store.Retrier

	db *sql.DB
	// txdb is InTx's pool: sessions with autocommit off, whose
	// transactions begin with their first statement (begin.go).
	txdb *sql.DB
	// cfg is the configuration of db's connections, kept to open the
	// separate handle migrations need.
	cfg *mysql.Config
	// settler ends the server thread of a COMMIT whose answer was lost
	// (settle.go).
	settler *sql.DB

	// prepared holds every query prepared on the server once per
	// connection, made on first use (the tables exist only after Migrate).
	prepared, txPrepared sqlvalue.Prepared[*mysqldb.Queries]

	// system is the set of system accounts, which post_legs is told of.
	system systemAccounts
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by rawURL, of the form
// mysql://user:password@host:port/dbname (mysql+pymysql:// means the same;
// the port defaults to 3306). The session settings are fixed here, but for
// the one query parameter ParseURL reads (wsrep_sync_wait, for MariaDB
// Galera); others are ignored. Every connection uses UTC, both for the
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
	var pools [2]*sql.DB
	for i, txOnly := range []bool{false, true} {
		connector, err := newConnector(cfg, txOnly)
		if err != nil {
			return nil, fmt.Errorf("open mysql: %w", err)
		}
		pools[i] = sql.OpenDB(connector)
		pools[i].SetMaxOpenConns(opts.MaxOpenConns)
		pools[i].SetMaxIdleConns(opts.MaxIdleConns)
		pools[i].SetConnMaxLifetime(opts.ConnMaxLifetime)
	}
	settler, err := openSettler(cfg)
	if err != nil {
		return nil, fmt.Errorf("open mysql: %w", err)
	}
	s := &Store{db: pools[0], txdb: pools[1], cfg: cfg, settler: settler}
	if err := s.Ping(ctx); err != nil {
		s.db.Close()
		s.txdb.Close()
		s.settler.Close()
		return nil, err
	}
	return s, nil
}

// ParseURL turns a mysql:// (or mysql+pymysql://) URL into the driver's
// configuration, with the settings every connection of the store shares but
// the isolation level. Errors never repeat the URL's password.
//
// The query parameter wsrep_sync_wait=N (0-15) sets that session variable
// of MariaDB Galera on every connection: with 1, a read waits until the
// node has applied every commit the cluster made before it, so that servers
// on different nodes see each other's writes (a USSD session whose hops
// land on different servers). Other query parameters are ignored.
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
	if v := u.Query().Get("wsrep_sync_wait"); v != "" {
		// The driver sends each of Params as SET v=value when it connects:
		// only a small number goes through.
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 15 {
			return nil, fmt.Errorf("invalid database url: wsrep_sync_wait %q is not a number from 0 to 15", v)
		}
		cfg.Params["wsrep_sync_wait"] = strconv.Itoa(n)
	}
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

// Pool implements store.Store.
func (s *Store) Pool() store.PoolStats {
	return sqlvalue.PoolStats(s.db).Add(sqlvalue.PoolStats(s.txdb))
}

// Ping implements store.Store. A MariaDB Galera node cut off from the
// primary component still answers the protocol's ping but refuses every
// query (1047), so Ping asks the node's wsrep_cluster_status instead (one
// round trip too): non-Primary is ErrUnavailable. A server without Galera
// has no such status (MySQL) or is Disconnected (MariaDB).
func (s *Store) Ping(ctx context.Context) error {
	var name, status string
	err := s.db.QueryRowContext(ctx, "SHOW STATUS LIKE 'wsrep_cluster_status'").Scan(&name, &status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("ping mysql: %w", interpret(err))
	case status == "non-Primary":
		return fmt.Errorf("ping mysql: %w", store.Classify(store.ErrUnavailable,
			errors.New("this Galera node is not in the primary component")))
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	return errors.Join(s.prepared.Close(s.db), s.txPrepared.Close(s.txdb), s.settler.Close())
}

// queries returns the prepared queries, preparing them the first time.
func (s *Store) queries(ctx context.Context) (*mysqldb.Queries, error) {
	return s.prepared.Get(ctx, func(ctx context.Context) (*mysqldb.Queries, error) { return mysqldb.Prepare(ctx, s.db) }, interpret)
}

// txQueries returns the queries prepared for InTx's pool.
func (s *Store) txQueries(ctx context.Context) (*mysqldb.Queries, error) {
	return s.txPrepared.Get(ctx, func(ctx context.Context) (*mysqldb.Queries, error) { return mysqldb.Prepare(ctx, s.txdb) }, interpret)
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
	q, err := s.txQueries(ctx)
	if err != nil {
		return err
	}
	return s.RetryTx(ctx, func(batch bool) error {
		return s.interruptibly(ctx, s.txdb, func(ctx context.Context, conn *sql.Conn) error {
			// The isolation level is the session's (READ COMMITTED, see
			// Open), and the transaction begins with its first statement
			// (begin.go).
			sqlTx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				return interpret(fmt.Errorf("begin: %w", err))
			}
			committed := false
			defer func() {
				if !committed {
					sqlTx.Rollback() //nolint:errcheck // an ended Tx, or a broken connection dropped
				}
			}()
			// Each prepared query is bound to the transaction's connection,
			// prepared there the first time that connection runs it.
			t := &tx{q: q.WithTx(sqlTx), posting: store.Posting{InTx: true, Batch: batch}, system: &s.system}
			if err := fn(ctx, t); err != nil {
				return err
			}
			if err := t.posting.Failed(); err != nil {
				return err
			}
			if err := sqlTx.Commit(); err != nil {
				var lost *unansweredCommit
				if errors.As(err, &lost) {
					// The COMMIT went out and its answer was lost
					// (settle.go).
					return s.settle(ctx, lost.thread, fmt.Errorf("commit: %w", err))
				}
				var me *mysql.MySQLError
				if errors.As(err, &me) && !rolledBack(me.Number) {
					// An answer that does not say the transaction rolled
					// back: a Galera node that lost the primary component
					// while it committed answers 1180, and its write set
					// may have been applied by the others; a session
					// killed in the binlog's or wsrep's commit answers
					// 1317 or 1927. Ending this session decides nothing.
					return store.Classify(store.ErrOutcomeUnknown, fmt.Errorf("commit: %w", err))
				}
				return interpret(fmt.Errorf("commit: %w", err))
			}
			committed = true
			return nil
		})
	})
}

// interruptibly runs fn on a connection of its own whose statements reach
// the driver with their contexts uncancellable, and which ctx ending
// interrupts instead (see interrupt.go): a server that hangs, or a network
// that drops its packets, still cannot hold a USSD hop past its deadline
// (TestDatabaseRestartFrozenCommit), and no goroutine watches each
// statement. A connection ctx ended on is never reused, and the error then
// carries ctx's (the outcome of a COMMIT cut off is unknown, as for any
// lost connection).
func (s *Store) interruptibly(ctx context.Context, db *sql.DB, fn func(ctx context.Context, conn *sql.Conn) error) (err error) {
	sc, err := db.Conn(ctx)
	if err != nil {
		return interpret(fmt.Errorf("connection: %w", err))
	}
	var c *conn
	_ = sc.Raw(func(dc any) error { c, _ = dc.(*conn); return nil })
	if c == nil || c.nc == nil {
		// Nothing to interrupt: the driver watches ctx itself.
		defer sc.Close()
		return fn(ctx, sc)
	}
	c.quiet.Store(true)
	stop := context.AfterFunc(ctx, c.nc.interrupt)
	defer func() {
		c.quiet.Store(false)
		if !stop() {
			// ctx ended while the connection was ours: it may be
			// interrupted (or be about to be), so it goes, not back to
			// the pool.
			_ = sc.Raw(func(any) error { return driver.ErrBadConn })
			if err != nil && !errors.Is(err, ctx.Err()) {
				err = interpret(fmt.Errorf("%w: %w", ctx.Err(), err))
			}
		}
		sc.Close()
	}()
	return fn(ctx, sc)
}

// Snapshot implements store.Store: a REPEATABLE READ, READ ONLY transaction
// reads one consistent snapshot (InnoDB's MVCC) without locking rows.
func (s *Store) Snapshot(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	q, err := s.queries(ctx)
	if err != nil {
		return err
	}
	return s.interruptibly(ctx, s.db, func(ctx context.Context, conn *sql.Conn) error {
		sqlTx, err := conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			return interpret(fmt.Errorf("begin snapshot: %w", err))
		}
		defer sqlTx.Rollback() //nolint:errcheck // read only: nothing to keep
		return fn(ctx, &tx{q: q.WithTx(sqlTx)})
	})
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
	// erReadOnly refuses a write on a read-only server.
	erReadOnly = 1290
	// erUnknownCom is what a Galera node that lost the primary component
	// answers to every query ("WSREP has not yet prepared node for
	// application use"): the node is unavailable, nothing was done.
	erUnknownCom = 1047
)

// rolledBack reports whether a COMMIT answered with the error number
// surely rolled back: a deadlock (InnoDB's, or a Galera certification
// failure, both 1213), a Galera node out of the primary component (1047,
// which replicates nothing), a read-only server. Any other error leaves
// the outcome unknown.
func rolledBack(number uint16) bool {
	switch number {
	case erLockDeadlock, erUnknownCom, erReadOnly:
		return true
	}
	return false
}

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
		case erUnknownCom:
			return store.Classify(store.ErrUnavailable, err)
		}
	}
	return err
}

// tx implements store.Tx over one MySQL transaction.
type tx struct {
	q       *mysqldb.Queries
	posting store.Posting
	// system tells post_legs which legs are on system accounts (nil:
	// none is hinted, which still posts correctly).
	system *systemAccounts
}

// one turns an update's row count into ErrNotFound when it matched nothing.
// The count is of matched rows (ClientFoundRows, see ParseURL).
func one(n int64, err error, what string) error { return sqlvalue.One(n, err, what, interpret) }
