// Package database opens the store named by a database URL: SQLite for the
// embedded default, MySQL/MariaDB or PostgreSQL for production.
package database

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
	"github.com/umeme-wallet/umeme/internal/store/pgstore"
	"github.com/umeme-wallet/umeme/internal/store/sqlitestore"
)

// DB is an open store that can also migrate its own schema.
type DB interface {
	store.Store
	// Migrate applies every pending migration (Up) or reverts the latest (Down).
	Migrate(dir migrations.Direction) error
	// MigrationVersion reports the schema version and whether it is dirty.
	MigrationVersion() (uint, bool, error)
}

// Options are the settings common to every engine.
type Options struct {
	// MaxConns caps the connection pool (0: the engine's default).
	MaxConns int
	// Migrate applies pending migrations right after opening.
	Migrate bool
	// Isolation is the transactions' isolation level (DB_ISOLATION):
	// IsolationSerializable runs PostgreSQL at SERIALIZABLE, is what
	// SQLite always is, and is refused on MySQL/MariaDB.
	Isolation store.Isolation
}

// Engine names the engine a URL selects: "sqlite", "mysql" or "postgres".
func Engine(url string) (string, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		return "sqlite", nil
	case strings.HasPrefix(url, "mysql://"), strings.HasPrefix(url, "mysql+pymysql://"):
		return "mysql", nil
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return "postgres", nil
	}
	return "", fmt.Errorf("database url: unknown scheme (want sqlite:PATH, mysql://… or postgres://…)")
}

// Open opens the database the URL names:
//
//	sqlite:PATH (or sqlite://PATH)   a file, created with its folder if missing
//	mysql://user:pass@host:port/db   also mysql+pymysql://…
//	postgres://… or postgresql://…
func Open(ctx context.Context, url string, opts Options) (DB, error) {
	engine, err := Engine(url)
	if err != nil {
		return nil, err
	}
	if err := CheckIsolation(engine, opts.Isolation); err != nil {
		return nil, err
	}
	var db DB
	switch engine {
	case "sqlite":
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
		db, err = sqlitestore.Open(ctx, path, sqlitestore.Options{MaxOpenConns: opts.MaxConns})
	case "mysql":
		db, err = mysqlstore.Open(ctx, url, mysqlstore.Options{MaxOpenConns: opts.MaxConns})
	case "postgres":
		db, err = pgstore.Open(ctx, url, pgstore.Options{MaxConns: int32(opts.MaxConns), Isolation: opts.Isolation})
	}
	if err != nil {
		return nil, err
	}
	if opts.Migrate {
		if err := db.Migrate(migrations.Up); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// CheckIsolation refuses an isolation level the engine cannot run the
// wallet at. SQLite's transactions are serializable already (one writer at
// a time, taken at BEGIN), so IsolationSerializable changes nothing there.
// InnoDB's SERIALIZABLE is not what the setting stands for (the
// optimistic, retry-on-conflict SERIALIZABLE of CockroachDB and
// YugabyteDB): it is REPEATABLE READ with every plain read taking shared
// locks, which turns the wallet's read-then-lock transactions into
// deadlocks, and Galera certifies write sets at commit without honouring
// it across nodes; so MySQL and MariaDB refuse it rather than pretend.
func CheckIsolation(engine string, iso store.Isolation) error {
	switch iso {
	case store.IsolationDefault:
		return nil
	case store.IsolationSerializable:
		if engine == "mysql" {
			return fmt.Errorf("DB_ISOLATION=serializable is for PostgreSQL (and SQLite, which always is): " +
				"MySQL/MariaDB run at READ COMMITTED with row locks; see docs/distributed-sql.md")
		}
		return nil
	}
	return fmt.Errorf("DB_ISOLATION: unknown isolation %q", iso)
}

// Healthy pings the database within timeout.
func Healthy(ctx context.Context, s store.Store, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return s.Ping(ctx)
}
