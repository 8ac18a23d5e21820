package sqlitestore

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
)

func TestMayWrite(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                                         false,
		"  select id FROM gate_t":                          false,
		"-- a comment\nSELECT 1":                           false,
		"/* c */ SELECT 1":                                 false,
		"INSERT INTO gate_t VALUES (1)":                    true,
		"UPDATE t SET v = 1":                               true,
		"DELETE FROM gate_t":                               true,
		"WITH x AS (SELECT 1) INSERT INTO gate_t SELECT 1": true,
		"WITH x AS (SELECT 1) SELECT * FROM x":             true, // taken to write: it may
		"PRAGMA foreign_keys = OFF":                        true,
		"":                                                 true,
		"-- only a comment":                                true,
		"/* unterminated":                                  true,
		"SELEC":                                            true,
		"selectx":                                          false, // not SQL we send; harmless either way
	} {
		if got := mayWrite(q); got != want {
			t.Errorf("mayWrite(%q) = %v, want %v", q, got, want)
		}
	}
}

// openGated opens a migrated store on a new file with a table gate_t, n connections and
// the given busy timeout.
func openGated(t *testing.T, conns int, busy time.Duration) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "gate.db"), Options{MaxOpenConns: conns, BusyTimeout: busy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(migrations.Up); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("CREATE TABLE gate_t (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	return s
}

// holdWrite opens a read-write transaction that has written, and returns
// the function that commits it.
func holdWrite(t *testing.T, s *Store) func() {
	t.Helper()
	tx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO gate_t (v) VALUES ('held')"); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(); err != nil {
			t.Error(err)
		}
	}
}

// waitWaiting waits until n writers wait in the gate.
func waitWaiting(t *testing.T, s *Store, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.gate.waiting.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writers wait in the gate, want %d", s.gate.waiting.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGateQueuesWritersNotReaders: while one transaction writes, a write of
// another connection, in a transaction or alone, waits in the gate (not in
// SQLite's busy handler) and goes through once the first ends; reads alone
// and read-only transactions go on meanwhile.
func TestGateQueuesWritersNotReaders(t *testing.T) {
	s := openGated(t, 8, 10*time.Second)
	ctx := context.Background()
	commit := holdWrite(t, s)

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Go(func() {
		_, err := s.db.ExecContext(ctx, "INSERT INTO gate_t (v) VALUES ('alone')")
		errs <- err
	})
	wg.Go(func() {
		var id int64
		errs <- s.db.QueryRowContext(ctx, "INSERT INTO gate_t (v) VALUES ('returning') RETURNING id").Scan(&id)
	})
	wg.Go(func() {
		tx, err := s.db.BeginTx(ctx, nil)
		if err == nil {
			if _, err = tx.Exec("INSERT INTO gate_t (v) VALUES ('in a transaction')"); err == nil {
				err = tx.Commit()
			}
		}
		errs <- err
	})
	waitWaiting(t, s, 3)

	// Readers go on while the writers wait.
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM gate_t").Scan(&n); err != nil || n != 0 {
		t.Fatalf("a read beside the writers: %d rows, %v; want 0 (nothing committed yet)", n, err)
	}
	if err := s.Snapshot(ctx, func(ctx context.Context, _ store.Tx) error { return nil }); err != nil {
		t.Fatalf("a snapshot beside the writers: %v", err)
	}
	commit()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a writer that waited: %v", err)
		}
	}
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM gate_t").Scan(&n); err != nil || n != 4 {
		t.Fatalf("%d rows, %v; want 4", n, err)
	}
}

// TestGateGivenBackHoweverATransactionEnds: after a commit, a rollback, an
// error, a panic in InTx, a cancelled context and a statement that failed,
// the next writer still gets in (a gate kept would make it time out).
func TestGateGivenBackHoweverATransactionEnds(t *testing.T) {
	s := openGated(t, 4, 2*time.Second)
	ctx := context.Background()
	write := func(ctx context.Context, tx store.Tx) error {
		_, err := s.db.ExecContext(ctx, "SELECT 1") // a read on another connection: not gated
		return err
	}
	ends := map[string]func(){
		"commit": func() { holdWrite(t, s)() },
		"rollback": func() {
			tx, _ := s.db.BeginTx(ctx, nil)
			tx.Exec("INSERT INTO gate_t (v) VALUES ('x')") //nolint:errcheck
			if err := tx.Rollback(); err != nil {
				t.Error(err)
			}
		},
		"InTx error": func() {
			s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return errors.New("no") }) //nolint:errcheck
		},
		"InTx panic": func() {
			defer func() { recover() }()                                                //nolint:errcheck
			s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { panic("boom") }) //nolint:errcheck
		},
		"InTx read": func() {
			if err := s.InTx(ctx, write); err != nil {
				t.Error(err)
			}
		},
		"cancelled in a transaction": func() {
			cctx, cancel := context.WithCancel(ctx)
			tx, err := s.db.BeginTx(cctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			tx.Exec("INSERT INTO gate_t (v) VALUES ('x')") //nolint:errcheck
			cancel()
			// database/sql rolls back on its own once the context ends.
			deadline := time.Now().Add(5 * time.Second)
			for tx.Commit() == nil && time.Now().Before(deadline) {
			}
		},
		"failed statement alone": func() {
			if _, err := s.db.ExecContext(ctx, "INSERT INTO nowhere VALUES (1)"); err == nil {
				t.Error("an insert into no table went through")
			}
		},
		"failed INSERT RETURNING alone": func() {
			var id int64
			if err := s.db.QueryRowContext(ctx, "INSERT INTO nowhere VALUES (1) RETURNING id").Scan(&id); err == nil {
				t.Error("an insert into no table went through")
			}
		},
	}
	for name, end := range ends {
		end()
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := s.db.ExecContext(cctx, "INSERT INTO gate_t (v) VALUES ('after')")
		cancel()
		if err != nil {
			t.Errorf("after %s, a writer: %v (the gate was kept)", name, err)
		}
	}
}

// TestGateWaitEnds: a writer waiting in the gate gives up when its context
// ends, and after SQLite's busy timeout with a retryable error; either way
// it leaves the gate as it was.
func TestGateWaitEnds(t *testing.T) {
	s := openGated(t, 4, 200*time.Millisecond)
	ctx := context.Background()
	commit := holdWrite(t, s)

	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := s.db.ExecContext(cctx, "INSERT INTO gate_t (v) VALUES ('cancelled')")
		done <- err
	}()
	waitWaiting(t, s, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled writer: %v, want context.Canceled", err)
	}

	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return nil })
	if !errors.Is(err, store.ErrRetryable) || !errors.Is(err, errGateTimeout) {
		t.Errorf("InTx behind a writer that never ends: %v, want a retryable gate timeout", err)
	}
	commit()
	waitWaiting(t, s, 0)
	if _, err := s.db.ExecContext(ctx, "INSERT INTO gate_t (v) VALUES ('after')"); err != nil {
		t.Errorf("a writer once the gate is free: %v", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM gate_t WHERE v = 'cancelled'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the cancelled write: %d rows, %v; want none", n, err)
	}
}
