package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/pgstore"
)

// openBare opens a store on a fresh database with one table of its own,
// probe(id, v), holding the row (1, 0).
func openBare(t *testing.T, isolation store.Isolation) (context.Context, *pgstore.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	s, err := pgstore.Open(ctx, freshDatabase(t), pgstore.Options{MaxConns: 1, Isolation: isolation})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := pgstore.PoolOf(s).Exec(ctx, "CREATE TABLE probe (id int PRIMARY KEY, v int NOT NULL); INSERT INTO probe VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	return ctx, s
}

func probe(ctx context.Context, t *testing.T, s *pgstore.Store) int {
	t.Helper()
	var v int
	if err := pgstore.PoolOf(s).QueryRow(ctx, "SELECT v FROM probe WHERE id = 1").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLazyBeginIsOneTransaction: the BEGIN sent with the first statement
// opens the transaction that the later statements run in, with the store's
// isolation, and COMMIT keeps what it did while an end without one undoes
// it; each way the first statement may be run (Exec, QueryRow, Query).
func TestLazyBeginIsOneTransaction(t *testing.T) {
	for _, isolation := range []store.Isolation{store.IsolationDefault, store.IsolationSerializable} {
		ctx, s := openBare(t, isolation)
		want := map[store.Isolation]string{store.IsolationDefault: "read committed", store.IsolationSerializable: "serializable"}[isolation]
		firsts := map[string]func(tx pgstore.LazyTx) (level string, xid int64, err error){
			"QueryRow": func(tx pgstore.LazyTx) (level string, xid int64, err error) {
				err = tx.QueryRow(ctx, "SELECT current_setting('transaction_isolation'), txid_current()").Scan(&level, &xid)
				return level, xid, err
			},
			"Query": func(tx pgstore.LazyTx) (level string, xid int64, err error) {
				rows, err := tx.Query(ctx, "SELECT current_setting('transaction_isolation'), txid_current() FROM generate_series(1, 3)")
				if err != nil {
					return "", 0, err
				}
				n := 0
				for rows.Next() {
					n++
					if err := rows.Scan(&level, &xid); err != nil {
						return "", 0, err
					}
				}
				if n != 3 {
					t.Errorf("query: %d rows", n)
				}
				return level, xid, rows.Err()
			},
			"Exec": func(tx pgstore.LazyTx) (level string, xid int64, err error) {
				if _, err := tx.Exec(ctx, "SELECT set_config('umeme.probe', txid_current()::text, true)"); err != nil {
					return "", 0, err
				}
				err = tx.QueryRow(ctx, "SELECT current_setting('transaction_isolation'), current_setting('umeme.probe')::bigint").Scan(&level, &xid)
				return level, xid, err
			},
		}
		for name, first := range firsts {
			for _, commit := range []bool{true, false} {
				before := probe(ctx, t, s)
				tx, err := pgstore.BeginLazy(ctx, s, "")
				if err != nil {
					t.Fatal(err)
				}
				level, xid, err := first(tx)
				if err != nil {
					t.Fatalf("%s %s: first statement: %v", isolation, name, err)
				}
				var later int64
				if err := tx.QueryRow(ctx, "UPDATE probe SET v = v + 1 WHERE id = 1 RETURNING txid_current()").Scan(&later); err != nil {
					t.Fatalf("%s %s: %v", isolation, name, err)
				}
				if level != want || later != xid {
					t.Errorf("%s %s: the first statement ran at %q in transaction %d, the next in %d", isolation, name, level, xid, later)
				}
				if commit {
					if err := tx.Commit(ctx); err != nil {
						t.Fatal(err)
					}
				}
				tx.Release(ctx)
				if got, wantV := probe(ctx, t, s), before+map[bool]int{true: 1, false: 0}[commit]; got != wantV {
					t.Errorf("%s %s commit=%v: value %d, want %d", isolation, name, commit, got, wantV)
				}
			}
		}
	}
}

// TestLazyBeginFailures: a BEGIN that fails runs nothing of its batch; a
// transaction whose statement failed is not committed by COMMIT, which
// says so; and the connection goes back to the pool clean each time.
func TestLazyBeginFailures(t *testing.T) {
	ctx, s := openBare(t, store.IsolationDefault)

	// The BEGIN fails: the UPDATE sent with it does not run.
	tx, err := pgstore.BeginLazy(ctx, s, "begin isolation level nonsense")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE probe SET v = v + 100 WHERE id = 1"); err == nil {
		t.Error("a statement sent after a failed BEGIN reported success")
	}
	if err := tx.Commit(ctx); err == nil {
		t.Error("commit after a failed BEGIN reported success")
	}
	tx.Release(ctx)
	if v := probe(ctx, t, s); v != 0 {
		t.Errorf("after a failed BEGIN the value is %d", v)
	}

	// The first statement succeeds, a later one fails and the caller
	// goes on: COMMIT rolls back, and is an error.
	tx, err = pgstore.BeginLazy(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE probe SET v = v + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO probe VALUES (1, 0)"); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Errorf("commit of a failed transaction: %v", err)
	}
	tx.Release(ctx)

	// The first statement itself fails (QueryRow and Exec).
	for _, first := range []func(pgstore.LazyTx) error{
		func(tx pgstore.LazyTx) error {
			return tx.QueryRow(ctx, "UPDATE probe SET v = v + 1 WHERE id = 1 RETURNING 1/0").Scan(new(int))
		},
		func(tx pgstore.LazyTx) error {
			_, err := tx.Exec(ctx, "UPDATE probe SET v = v + 1 / (v - v) WHERE id = 1")
			return err
		},
	} {
		tx, err = pgstore.BeginLazy(ctx, s, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := first(tx); err == nil {
			t.Fatal("division by zero accepted")
		}
		if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
			t.Errorf("commit after a failed first statement: %v", err)
		}
		tx.Release(ctx)
	}
	if v := probe(ctx, t, s); v != 0 {
		t.Errorf("after failed transactions the value is %d", v)
	}

	// A transaction ended without COMMIT leaves no lock behind: the pool's
	// one connection takes the row at once.
	tx, err = pgstore.BeginLazy(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT v FROM probe WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	tx.Release(ctx)
	if _, err := pgstore.PoolOf(s).Exec(ctx, "SELECT v FROM probe WHERE id = 1 FOR UPDATE NOWAIT"); err != nil {
		t.Errorf("the row is still locked: %v", err)
	}
	// And a statement after the end is refused, not run outside it.
	if _, err := tx.Exec(ctx, "UPDATE probe SET v = 7"); !errors.Is(err, pgx.ErrTxClosed) {
		t.Errorf("statement after the end: %v", err)
	}
}

// TestLazyCommitWithLastStatement: a statement that carries the COMMIT
// (a transfer's, migration 000020) commits the transaction in its own
// round trip, whether the BEGIN goes with it or went before: what it did
// is seen from another connection before Commit is called, Commit is then
// a no-op, and a statement after it fails instead of running outside the
// transaction. If the statement fails, PostgreSQL skips the COMMIT: nothing
// is kept, and the connection goes back to the pool clean. Only QueryRow
// carries it.
func TestLazyCommitWithLastStatement(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := pgstore.Open(ctx, freshDatabase(t), pgstore.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := pgstore.PoolOf(s).Exec(ctx, "CREATE TABLE probe (id int PRIMARY KEY, v int NOT NULL); INSERT INTO probe VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	value := func() int { return probe(ctx, t, s) }
	for _, before := range []bool{false, true} {
		tx, err := pgstore.BeginLazy(ctx, s, "")
		if err != nil {
			t.Fatal(err)
		}
		was := value()
		if before {
			if _, err := tx.Exec(ctx, "UPDATE probe SET v = v + 10 WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
		}
		run, ok := tx.CommitWithNext(ctx)
		if !ok {
			t.Fatal("a minute to the deadline did not carry the COMMIT")
		}
		var v int
		if err := tx.QueryRow(run, "UPDATE probe SET v = v + 1 WHERE id = 1 RETURNING v").Scan(&v); err != nil {
			t.Fatalf("before=%v: the last statement: %v", before, err)
		}
		want := was + 1
		if before {
			want += 10
		}
		if got := value(); got != want || v != want {
			t.Fatalf("before=%v: another connection sees %d (the statement returned %d) before Commit, want %d: not committed with it", before, got, v, want)
		}
		if _, err := tx.Exec(ctx, "UPDATE probe SET v = 1000 WHERE id = 1"); !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("before=%v: a statement after the COMMIT: %v, want pgx.ErrTxClosed", before, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Errorf("before=%v: Commit after the COMMIT went: %v", before, err)
		}
		tx.Release(ctx)
		if got := value(); got != want {
			t.Fatalf("before=%v: value %d after Commit, want %d", before, got, want)
		}
	}

	// The statement fails (first, or after another): nothing is kept, the
	// COMMIT answers nothing, a Commit after it reports the rollback.
	for _, before := range []bool{false, true} {
		was := value()
		tx, err := pgstore.BeginLazy(ctx, s, "")
		if err != nil {
			t.Fatal(err)
		}
		if before {
			if _, err := tx.Exec(ctx, "UPDATE probe SET v = v + 10 WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
		}
		run, _ := tx.CommitWithNext(ctx)
		if err := tx.QueryRow(run, "UPDATE probe SET v = v + 1 WHERE id = 1 RETURNING 1/0").Scan(new(int)); err == nil {
			t.Fatal("division by zero accepted")
		}
		if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
			t.Errorf("before=%v: Commit after a failed last statement: %v, want pgx.ErrTxCommitRollback", before, err)
		}
		tx.Release(ctx)
		if got := value(); got != was {
			t.Fatalf("before=%v: value %d after a failed last statement, want %d", before, got, was)
		}
	}
	// Released without Commit after a failed last statement: rolled back,
	// no lock left behind.
	tx, err := pgstore.BeginLazy(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT v FROM probe WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	run, _ := tx.CommitWithNext(ctx)
	if err := tx.QueryRow(run, "SELECT 1/0").Scan(new(int)); err == nil {
		t.Fatal("division by zero accepted")
	}
	tx.Release(ctx)
	if _, err := pgstore.PoolOf(s).Exec(ctx, "SELECT v FROM probe WHERE id = 1 FOR UPDATE NOWAIT"); err != nil {
		t.Errorf("the row is still locked: %v", err)
	}

	// Without a deadline, or with too little time before it, the COMMIT is
	// not carried: the statement runs in the transaction, Commit commits.
	for _, c := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"no deadline", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"50 ms left", func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 50*time.Millisecond) }},
	} {
		cctx, cancel := c.ctx()
		was := value()
		tx, err := pgstore.BeginLazy(ctx, s, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := tx.CommitWithNext(cctx); ok {
			t.Errorf("%s: the COMMIT was carried", c.name)
		}
		if err := tx.QueryRow(ctx, "UPDATE probe SET v = v + 1 WHERE id = 1 RETURNING v").Scan(new(int)); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		tx.Release(ctx)
		cancel()
		if got := value(); got != was+1 {
			t.Errorf("%s: value %d, want %d", c.name, got, was+1)
		}
	}

	// Exec and Query do not carry it: they fail, and nothing commits.
	was := value()
	tx, err = pgstore.BeginLazy(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE probe SET v = v + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	tx.CommitWithNext(ctx)
	if _, err := tx.Exec(ctx, "UPDATE probe SET v = v + 1 WHERE id = 1"); err == nil {
		t.Error("Exec carried the COMMIT")
	}
	tx.Release(ctx)
	if got := value(); got != was {
		t.Errorf("value %d after an Exec asked to carry the COMMIT, want %d", got, was)
	}
}
