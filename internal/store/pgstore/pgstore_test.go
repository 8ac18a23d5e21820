package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/umeme-wallet/umeme/internal/dbtest"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
	"github.com/umeme-wallet/umeme/internal/store/pgstore"
)

// freshDatabase returns the URL of a fresh database on the server of
// TEST_POSTGRES_URL, dropped when the test ends (dbtest decides whether a
// missing server skips or fails).
func freshDatabase(t *testing.T) string {
	t.Helper()
	return dbtest.URL(t, "postgres")
}

// migratedStore opens a store on dsn with opts and migrates it up; it is
// closed when the test ends.
func migratedStore(ctx context.Context, t *testing.T, dsn string, opts pgstore.Options) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(ctx, dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(migrations.Up); err != nil {
		t.Fatal(err)
	}
	return s
}

// plainConn is a connection to dsn beside the store's, closed when the
// test ends.
func plainConn(ctx context.Context, t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestSmoke(t *testing.T) {
	dsn := freshDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s, err := pgstore.Open(ctx, dsn, pgstore.Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	if s.Engine() != "postgres" {
		t.Fatalf("engine %q", s.Engine())
	}
	if err := s.Migrate(migrations.Up); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	if v, dirty, err := s.MigrationVersion(); err != nil || dirty || v == 0 {
		t.Fatalf("version %d dirty %v err %v", v, dirty, err)
	}

	// Times come back in UTC whatever zone they went in with.
	now := time.Date(2025, 3, 1, 12, 30, 0, 123456000, time.FixedZone("EAT", 3*3600))
	var id int64
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		id, err = tx.InsertUser(ctx, store.NewUser{Phone: "+254700000001", LightningName: "alice", Language: "en", Status: store.UserActive, Now: now})
		if err != nil {
			return err
		}
		if _, err := tx.InsertUserAccount(ctx, id, now); err != nil {
			return err
		}
		created, err := tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: "+254700000001", LightningName: "alice2", Language: "en", Now: now})
		if err != nil || created {
			t.Errorf("insert if absent, taken phone: created %v err %v", created, err)
		}
		created, err = tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: "+254700000002", LightningName: "bob", Language: "sw", Now: now})
		if err != nil || !created {
			t.Errorf("insert if absent, new phone: created %v err %v", created, err)
		}
		if accs, err := tx.LockAccounts(ctx); err != nil || accs == nil || len(accs) != 0 {
			t.Errorf("lock no accounts: %v %v", accs, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}

	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		u, err := tx.UserByPhone(ctx, "+254700000001")
		if err != nil {
			return err
		}
		if u.ID != id || u.LightningName != "alice" || u.Status != store.UserActive || u.PINHash != "" || u.LockedUntil != nil {
			t.Errorf("user %+v", u)
		}
		if !u.CreatedAt.Equal(now) || u.CreatedAt.Location() != time.UTC {
			t.Errorf("created at %v, want %v in UTC", u.CreatedAt, now)
		}
		if _, err := tx.UserByID(ctx, id+1000); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing user: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read user: %v", err)
	}

	// A taken phone number is a conflict, and nothing of the failed
	// transaction stays.
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertUser(ctx, store.NewUser{Phone: "+254700000003", LightningName: "carol", Language: "en", Status: store.UserActive, Now: now}); err != nil {
			return err
		}
		_, err := tx.InsertUser(ctx, store.NewUser{Phone: "+254700000001", LightningName: "dave", Language: "en", Status: store.UserActive, Now: now})
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate phone: %v", err)
	}
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UserByPhone(ctx, "+254700000003")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rolled back user: %v", err)
	}

	// A transaction whose context is cancelled while it holds a row lock
	// still rolls back, so the next one gets the lock at once.
	lockCtx, cancelLock := context.WithCancel(ctx)
	err = s.InTx(lockCtx, func(ctx context.Context, tx store.Tx) error {
		acc, err := tx.AccountByUserID(ctx, id)
		if err != nil {
			return err
		}
		if _, err := tx.LockAccounts(ctx, acc.ID); err != nil {
			return err
		}
		cancelLock()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled transaction: %v", err)
	}
	quick, cancelQuick := context.WithTimeout(ctx, 3*time.Second)
	defer cancelQuick()
	err = s.InTx(quick, func(ctx context.Context, tx store.Tx) error {
		acc, err := tx.AccountByUserID(ctx, id)
		if err != nil {
			return err
		}
		_, err = tx.LockAccounts(ctx, acc.ID)
		return err
	})
	if err != nil {
		t.Fatalf("lock after cancelled transaction: %v", err)
	}

	// Close must not wait on a connection the migrations kept.
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		closed = true
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(10 * time.Second):
		closed = true // leave it; the database is dropped with FORCE
		t.Fatal("close hung")
	}
}

// TestPostLedgerLooksUpAccounts: post_ledger does not scan accounts,
// whatever plan PL/pgSQL keeps. Before migration 000019 its entries' INSERT
// joined the legs to accounts, and the generic plan PL/pgSQL settles on
// after five calls hashed a sequential scan of the whole table while it
// was small and had no statistics yet, as a new wallet's: one per posting
// (1,005 rows a transfer under the bench, seen with auto_explain). The
// scans are counted in the transaction itself (pg_stat_xact_user_tables),
// so nothing else on the server can add any, and autovacuum is kept off
// the table, so that it cannot analyze it halfway.
func TestPostLedgerLooksUpAccounts(t *testing.T) {
	dsn := freshDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	migratedStore(ctx, t, dsn, pgstore.Options{MaxConns: 2})
	conn := plainConn(ctx, t, dsn)
	const users = 200
	for _, q := range []string{
		`ALTER TABLE accounts SET (autovacuum_enabled = off)`,
		`INSERT INTO users (phone, lightning_name, status, created_at, updated_at)
		 SELECT '+2547' || lpad(g::text, 8, '0'), 'u' || g, 'active', now(), now() FROM generate_series(1, 200) g`,
		`INSERT INTO accounts (user_id, kind, balance_msat, created_at) SELECT id, 'user', 1000000000, now() FROM users`,
		`INSERT INTO transactions (type, direction, status, amount_msat, idempotency_key, created_at, updated_at)
		 VALUES ('adjustment', 'in', 'completed', 1, 'post-ledger-plan', now(), now())`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var first, last, txID int64
	if err := conn.QueryRow(ctx, `SELECT min(id), max(id) FROM accounts WHERE kind = 'user'`).Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT id FROM transactions WHERE idempotency_key = 'post-ledger-plan'`).Scan(&txID); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // the test's own rows
	// The view also counts what the connection did before and has not
	// reported yet: the postings' scans are the difference.
	scans := func() int64 {
		t.Helper()
		var n int64
		if err := tx.QueryRow(ctx, `SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'accounts'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := scans()
	const postings = 20
	for i := range int64(postings) {
		a, b := first+i, last-i
		var ok bool
		err := tx.QueryRow(ctx, `SELECT post_ledger($1, $2, $3, $4, 1, 0, 1000000000000, 1000000000000, now())`,
			txID, []int64{a, b}, []int64{-1000, 1000}, []int64{1000, 0}).Scan(&ok)
		if err != nil || !ok {
			t.Fatalf("posting %d: %v %v", i, ok, err)
		}
	}
	scanned := scans() - before
	var entries int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM ledger_entries WHERE transaction_id = $1 AND seq IS NOT NULL AND hash IS NOT NULL`, txID).Scan(&entries); err != nil {
		t.Fatal(err)
	}
	if entries != 2*postings {
		t.Fatalf("%d chained entries, want %d", entries, 2*postings)
	}
	if scanned != 0 {
		t.Fatalf("%d postings on %d accounts scanned the accounts table %d times", postings, users, scanned)
	}
}
