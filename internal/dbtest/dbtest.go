// Package dbtest gives tests a fresh, migrated database on every engine the
// machine offers: SQLite always, MySQL/MariaDB through TEST_MYSQL_URL and
// PostgreSQL through TEST_POSTGRES_URL. Each call creates its own database
// with a random name and drops it when the test ends, so test packages can
// run in parallel. An engine without a URL is skipped with a message naming
// it, unless REQUIRE_ENGINES (e.g. "sqlite,mysql,postgres") lists it: then
// the test fails.
package dbtest

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for RawExec
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, for RawExec

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbadmin"
	"github.com/umeme-wallet/umeme/internal/store"
)

// Engines are the engines every store test runs on, in order.
var Engines = []string{"sqlite", "mysql", "postgres"}

// ForEachEngine runs fn as a subtest named after each engine, in parallel,
// each with its own fresh database.
func ForEachEngine(t *testing.T, fn func(t *testing.T, db database.DB)) {
	t.Helper()
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, engine))
		})
	}
}

// Required reports whether REQUIRE_ENGINES lists the engine.
func Required(engine string) bool {
	return slices.Contains(strings.Split(os.Getenv("REQUIRE_ENGINES"), ","), engine)
}

// URL returns a database URL for a fresh database of the engine, creating
// it, and registers its removal. It skips (or fails, when required) the test
// when the engine is not configured.
func URL(t testing.TB, engine string) string {
	t.Helper()
	switch engine {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "umeme.db")
	case "mysql":
		return create(t, "mysql", serverURL(t, "mysql", "TEST_MYSQL_URL"))
	case "postgres":
		return create(t, "postgres", serverURL(t, "postgres", "TEST_POSTGRES_URL"))
	}
	t.Fatalf("dbtest: unknown engine %q", engine)
	return ""
}

// Open returns a fresh, migrated database of the engine, closed at cleanup.
func Open(t testing.TB, engine string) database.DB {
	t.Helper()
	return OpenWith(t, engine, database.Options{})
}

// OpenWith is Open with options (the pool, the isolation level); the
// database is migrated whatever opts.Migrate says.
func OpenWith(t testing.TB, engine string, opts database.Options) database.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts.Migrate = true
	db, err := database.Open(ctx, URL(t, engine), opts)
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// LogRetries logs how many transactions a store ran (InTx and Autocommit
// calls) and how many attempts collided and were run again, at the
// isolation level named.
func LogRetries(t testing.TB, s store.Store, isolation string) {
	t.Helper()
	txs, retries := s.Transactions(), s.Retries()
	t.Logf("%s at %s: %d transactions, %d retries (%.3f per transaction)", s.Engine(), isolation, txs, retries, float64(retries)/float64(max(txs, 1)))
}

func serverURL(t testing.TB, engine, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		if Required(engine) {
			t.Fatalf("%s is required by REQUIRE_ENGINES but %s is not set", engine, env)
		}
		t.Skipf("%s not set: the %s engine is not tested", env, engine)
	}
	return u
}

// create makes a fresh database on an engine's server and drops it when
// the test ends.
func create(t testing.TB, engine, serverURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbURL, drop, err := dbadmin.Create(ctx, engine, serverURL, dbadmin.RandomName("umeme_test"))
	if err != nil {
		t.Fatalf("dbtest: %s is configured but unusable: %v", engine, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Errorf("dbtest: %v", err)
		}
	})
	return dbURL
}

// RawExec runs one statement on the database a URL names, bypassing the
// store: for tests that must break the data behind the application's back.
func RawExec(t testing.TB, dbURL, query string) {
	t.Helper()
	db := RawDB(t, dbURL)
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatalf("raw exec %q: %v", query, err)
	}
}

// RawDB opens the database a URL names with database/sql, bypassing the
// store: for tests that read or break the rows behind the application's
// back. The caller closes it.
func RawDB(t testing.TB, dbURL string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	switch {
	case strings.HasPrefix(dbURL, "sqlite:"):
		db, err = sql.Open("sqlite", strings.TrimPrefix(dbURL, "sqlite:"))
	case strings.HasPrefix(dbURL, "mysql"):
		cfg, cerr := dbadmin.MySQLConfig(dbURL)
		if cerr != nil {
			t.Fatal(cerr)
		}
		db, err = sql.Open("mysql", cfg.FormatDSN())
	default:
		db, err = sql.Open("pgx", dbURL)
	}
	if err != nil {
		t.Fatalf("raw db: %v", err)
	}
	return db
}

// AtOnce runs fn(i) for i in [0, n) in n goroutines released at the same
// instant (servers sharing one database, racing for the same work), waits
// for all of them and fails the test on the first error.
func AtOnce(t testing.TB, n int, fn func(i int) error) {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
}
