package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/pgstore"
)

// attackProbe opens a store (query mode and pool size as given) on a
// fresh database holding probe(id, v) with rows (1, 0) and (2, 0).
func attackProbe(t *testing.T, isolation store.Isolation, maxConns int32, params string) (context.Context, *pgstore.Store, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	dsn := freshDatabase(t)
	if params != "" {
		dsn += "&" + params
	}
	s, err := pgstore.Open(ctx, dsn, pgstore.Options{MaxConns: maxConns, Isolation: isolation})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := pgstore.PoolOf(s).Exec(ctx, "CREATE TABLE probe (id int PRIMARY KEY, v int NOT NULL); INSERT INTO probe VALUES (1, 0), (2, 0)"); err != nil {
		t.Fatal(err)
	}
	return ctx, s, dsn
}

// cancelRequestStore is a store whose pool answers a cancelled context by
// sending the server a cancel request (pgconn's other context watcher).
func cancelRequestStore(t *testing.T, ctx context.Context, dsn string) *pgstore.Store {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, CancelRequestDelay: 0, DeadlineDelay: 2 * time.Second}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pgstore.StoreOnPool(pool, "begin")
}

func probeV(ctx context.Context, t *testing.T, dsn string, id int) int {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var v int
	if err := c.QueryRow(ctx, "SELECT v FROM probe WHERE id = $1", id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// assertClean: no connection of the pool is out, no session of the
// database is left in a transaction, and probe's rows can be locked at
// once by another session.
func assertClean(ctx context.Context, t *testing.T, s *pgstore.Store, dsn string) {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	assertNoTxLeft(ctx, t, s, c)
	if _, err := c.Exec(ctx, "SET lock_timeout = '2s'; SELECT * FROM probe FOR UPDATE"); err != nil {
		t.Errorf("probe still locked: %v", err)
	}
}
