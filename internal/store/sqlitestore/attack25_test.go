package sqlitestore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/umeme-wallet/umeme/internal/store"
)

// attack25_panic panics inside SQLite's step when its argument is 1: a
// panic raised by the driver while a statement runs.
func init() {
	sqlite.MustRegisterScalarFunction("attack25_panic", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		if v, ok := args[0].(int64); ok && v == 1 {
			panic("attack25: panic inside the driver")
		}
		return args[0], nil
	})
}

// gateFree fails the test unless a write outside a transaction gets through
// the gate within a bound of several seconds.
func gateFree(t *testing.T, s *Store, after string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, "INSERT INTO gate_t (v) VALUES ('after')"); err != nil {
		t.Fatalf("after %s, a writer: %v (the gate was kept)", after, err)
	}
}

// TestAttack25PanicInWriteExecGivesGateBack: a panic inside the driver
// during a write Exec outside a transaction gives the gate back (the defer
// in gatedConn.ExecContext).
func TestAttack25PanicInWriteExecGivesGateBack(t *testing.T) {
	s := openGated(t, 4, time.Second)
	func() {
		defer func() { recover() }()                                                                //nolint:errcheck
		s.db.ExecContext(context.Background(), "INSERT INTO gate_t (v) VALUES (attack25_panic(1))") //nolint:errcheck
	}()
	gateFree(t, s, "a panic in a write Exec")
}

// TestAttack25PanicInWriteQueryGivesGateBack: the same panic during a write
// that returns rows (INSERT … RETURNING) outside a transaction must give
// the gate back too; gatedConn.QueryContext and gatedStmt.QueryContext take
// it with no defer, so the gate stays taken for good and every writer of
// the process times out from then on.
func TestAttack25PanicInWriteQueryGivesGateBack(t *testing.T) {
	for _, prepared := range []bool{false, true} {
		t.Run(fmt.Sprintf("prepared=%v", prepared), func(t *testing.T) {
			s := openGated(t, 4, time.Second)
			q := "INSERT INTO gate_t (v) VALUES (attack25_panic(?)) RETURNING id"
			func() {
				defer func() { recover() }() //nolint:errcheck
				var id int64
				if prepared {
					st, err := s.db.Prepare(q)
					if err != nil {
						t.Fatal(err)
					}
					st.QueryRow(1).Scan(&id) //nolint:errcheck
					return
				}
				s.db.QueryRow(q, 1).Scan(&id) //nolint:errcheck
			}()
			// The gate is given back. The statement that panicked mid-step
			// is never reset, so SQLite's own write lock stays with it:
			// that is the driver's state, not the gate's, and a writer
			// meets SQLITE_BUSY as it would without the gate.
			if n := len(s.gate.ch); n != 0 {
				t.Fatalf("after a panic in a write Query the gate is still taken")
			}
		})
	}
}

// TestAttack25MultiStatementWriteIsGated: mayWrite looks at the first
// statement only, so a write that follows a SELECT in one Exec does not
// queue in the gate: it meets SQLite's busy handler (SQLITE_BUSY) behind a
// writer of this process instead of waiting its turn there.
func TestAttack25MultiStatementWriteIsGated(t *testing.T) {
	s := openGated(t, 4, 300*time.Millisecond)
	commit := holdWrite(t, s)
	_, err := s.db.ExecContext(context.Background(), "SELECT 1; INSERT INTO gate_t (v) VALUES ('second statement')")
	commit()
	if !errors.Is(err, errGateTimeout) {
		t.Errorf("a write after a SELECT in one Exec, behind a writer: %v; want it to wait in the gate (%v)", err, errGateTimeout)
	}
}

// TestAttack25ReturningRowsCancelled: rows of a write left open are closed by
// database/sql once their context ends, and that gives the gate back.
func TestAttack25ReturningRowsCancelled(t *testing.T) {
	s := openGated(t, 4, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := s.db.QueryContext(ctx, "INSERT INTO gate_t (v) VALUES ('a'), ('b') RETURNING id")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("no row returned")
	}
	cancel() // rows never closed by the caller
	gateFree(t, s, "rows of a write whose context ended")
	rows.Close()
}

// TestAttack25NestedInTx: an InTx inside another's fn cannot get the gate
// its caller holds: it ends with a retryable error (within the caller's
// context), and the outer transaction still commits.
func TestAttack25NestedInTx(t *testing.T) {
	s := openGated(t, 4, 100*time.Millisecond)
	s.MaxAttempts = 2
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var inner error
	err := s.InTx(ctx, func(ctx context.Context, _ store.Tx) error {
		inner = s.InTx(ctx, func(context.Context, store.Tx) error { return nil })
		return nil
	})
	if err != nil {
		t.Fatalf("outer InTx: %v", err)
	}
	if !errors.Is(inner, store.ErrRetryable) {
		t.Fatalf("nested InTx: %v, want retryable", inner)
	}
	gateFree(t, s, "a nested InTx")
}

// TestAttack25AtomicUnderCancellation: many writers, in transactions of two
// rows and alone with RETURNING, with contexts cancelled at random points;
// afterwards every transaction is whole or absent, nothing waits and the
// gate is free.
func TestAttack25AtomicUnderCancellation(t *testing.T) {
	s := openGated(t, 4, 5*time.Second)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				ctx, cancel := context.WithCancel(context.Background())
				k := fmt.Sprintf("%d-%d", g, i)
				if i%5 == 0 {
					cancel()
				}
				switch i % 3 {
				case 0, 1:
					tx, err := s.db.BeginTx(ctx, nil)
					if err == nil {
						_, err = tx.Exec("INSERT INTO gate_t (v) VALUES (?)", "a"+k)
						if i%7 == 0 {
							cancel()
						}
						if err == nil {
							_, err = tx.Exec("INSERT INTO gate_t (v) VALUES (?)", "b"+k)
						}
						if i%4 == 0 {
							cancel()
						}
						if err == nil {
							tx.Commit() //nolint:errcheck
						}
						tx.Rollback() //nolint:errcheck
					}
				case 2:
					rows, err := s.db.QueryContext(ctx, "INSERT INTO gate_t (v) VALUES (?) RETURNING id", "r"+k)
					if err == nil {
						if i%2 == 0 {
							cancel()
						}
						rows.Next()
						rows.Close()
					}
				}
				cancel()
			}
		})
	}
	wg.Wait()
	var half int
	if err := s.db.QueryRow(`SELECT count(*) FROM gate_t a WHERE substr(a.v,1,1) = 'a'
		AND NOT EXISTS (SELECT 1 FROM gate_t b WHERE b.v = 'b' || substr(a.v,2))`).Scan(&half); err != nil || half != 0 {
		t.Fatalf("%d half-applied transactions, %v", half, err)
	}
	waitWaiting(t, s, 0)
	if n := len(s.gate.ch); n != 0 {
		t.Fatalf("gate holds %d after every writer ended, want 0", n)
	}
	gateFree(t, s, "cancelled writers")
}
