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
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for RawExec
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, for RawExec

	"github.com/umeme-wallet/umeme/internal/database"
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
		return createMySQL(t, serverURL(t, "mysql", "TEST_MYSQL_URL"))
	case "postgres":
		return createPostgres(t, serverURL(t, "postgres", "TEST_POSTGRES_URL"))
	}
	t.Fatalf("dbtest: unknown engine %q", engine)
	return ""
}

// Open returns a fresh, migrated database of the engine, closed at cleanup.
func Open(t testing.TB, engine string) database.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := database.Open(ctx, URL(t, engine), database.Options{Migrate: true})
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
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

func randomName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "umeme_test_" + hex.EncodeToString(b)
}

// withDatabase replaces the database (path) of a server URL.
func withDatabase(t testing.TB, raw, name string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("dbtest: bad url: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func createMySQL(t testing.TB, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("dbtest: bad TEST_MYSQL_URL: %v", err)
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", u.Host
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("dbtest: mysql: %v", err)
	}
	defer admin.Close()
	name := randomName()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		failUnavailable(t, "mysql", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(t, raw, name)
}

func createPostgres(t testing.TB, raw string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		failUnavailable(t, "postgres", err)
	}
	defer conn.Close(ctx)
	name := randomName()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		failUnavailable(t, "postgres", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, raw)
		if err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(t, raw, name)
}

// RawExec runs one statement on the database a URL names, bypassing the
// store: for tests that must break the data behind the application's back.
func RawExec(t testing.TB, dbURL, query string) {
	t.Helper()
	var db *sql.DB
	var err error
	switch {
	case strings.HasPrefix(dbURL, "sqlite:"):
		db, err = sql.Open("sqlite", strings.TrimPrefix(dbURL, "sqlite:"))
	case strings.HasPrefix(dbURL, "mysql"):
		u, perr := url.Parse(dbURL)
		if perr != nil {
			t.Fatal(perr)
		}
		cfg := mysql.NewConfig()
		cfg.Net, cfg.Addr, cfg.DBName = "tcp", u.Host, strings.TrimPrefix(u.Path, "/")
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		db, err = sql.Open("mysql", cfg.FormatDSN())
	default:
		db, err = sql.Open("pgx", dbURL)
	}
	if err != nil {
		t.Fatalf("raw exec: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatalf("raw exec %q: %v", query, err)
	}
}

// failUnavailable fails the test: a configured engine that does not answer is
// an error, never a skip.
func failUnavailable(t testing.TB, engine string, err error) {
	t.Helper()
	t.Fatalf("dbtest: %s is configured but unusable: %v", engine, fmt.Sprint(err))
}
