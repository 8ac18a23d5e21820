package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/pgstore"
)

// modes are the query exec modes a deployment may name in its URL; the
// lazy BEGIN must hold in each.
var attackModes = []string{"", "default_query_exec_mode=simple_protocol", "default_query_exec_mode=exec",
	"default_query_exec_mode=describe_exec", "default_query_exec_mode=cache_describe"}

// TestAttack23FirstStatementFailsCallerGoesOn: whatever way the first
// statement fails (the server refuses it at parse, at run time, the
// client cannot encode its argument, the context is already done, the
// context runs out while it runs), a caller that ignores the error and
// goes on with a good context must not get a statement run outside a
// transaction: the later UPDATE and the COMMIT may not leave v changed,
// and nothing may be left locked or in a transaction. In every query mode.
func TestAttack23FirstStatementFailsCallerGoesOn(t *testing.T) {
	for _, mode := range attackModes {
		ctx, s, dsn := attackProbe(t, store.IsolationDefault, 1, mode)
		done, cancel := context.WithCancel(ctx)
		cancel()
		firsts := map[string]func(pgstore.LazyTx) error{
			"parse": func(tx pgstore.LazyTx) error {
				_, err := tx.Exec(ctx, "UPDATE probe SET nope = 1 WHERE id = $1", 1)
				return err
			},
			"run": func(tx pgstore.LazyTx) error {
				return tx.QueryRow(ctx, "UPDATE probe SET v = v + 1 WHERE id = $1 RETURNING 1/0", 1).Scan(new(int))
			},
			"encode": func(tx pgstore.LazyTx) error {
				_, err := tx.Exec(ctx, "UPDATE probe SET v = v + $1 WHERE id = 1", "not a number")
				return err
			},
			"done ctx exec": func(tx pgstore.LazyTx) error {
				_, err := tx.Exec(done, "UPDATE probe SET v = v + $1 WHERE id = 1", 1000)
				return err
			},
			"done ctx query": func(tx pgstore.LazyTx) error {
				rows, err := tx.Query(done, "SELECT v FROM probe WHERE id = $1 FOR UPDATE", 1)
				if err == nil {
					for rows.Next() {
					}
					rows.Close()
					err = rows.Err()
				}
				return err
			},
			"deadline mid statement": func(tx pgstore.LazyTx) error {
				short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
				return tx.QueryRow(short, "UPDATE probe SET v = v + 1000 WHERE id = $1 RETURNING pg_sleep(1)::text", 1).Scan(new(string))
			},
		}
		for name, first := range firsts {
			tx, err := pgstore.BeginLazy(ctx, s, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := first(tx); err == nil {
				t.Errorf("%q %s: the first statement succeeded", mode, name)
			}
			_, laterErr := tx.Exec(ctx, "UPDATE probe SET v = v + 1 WHERE id = $1", 2)
			commitErr := tx.Commit(ctx)
			tx.Release(ctx)
			if v1, v2 := probeV(ctx, t, dsn, 1), probeV(ctx, t, dsn, 2); v1 != 0 || v2 != 0 {
				t.Errorf("%q %s: v = %d, %d after a failed first statement (later: %v, commit: %v)", mode, name, v1, v2, laterErr, commitErr)
			}
			if commitErr == nil {
				t.Errorf("%q %s: commit succeeded", mode, name)
			}
			assertClean(ctx, t, s, dsn)
		}
	}
}

// TestAttack23FirstStatementToleratedErrors: the first statement's
// outcomes a caller may rightly go on from (no row; a Go-side scan error;
// rows read in part and closed) leave the transaction open and the same:
// what follows runs in it and COMMIT keeps both.
func TestAttack23FirstStatementToleratedErrors(t *testing.T) {
	for _, mode := range attackModes {
		ctx, s, dsn := attackProbe(t, store.IsolationDefault, 1, mode)
		firsts := map[string]func(pgstore.LazyTx) (int64, error){
			"no rows": func(tx pgstore.LazyTx) (int64, error) {
				var x int64
				err := tx.QueryRow(ctx, "UPDATE probe SET v = v + 1 WHERE id = $1 RETURNING txid_current()", 3).Scan(&x)
				if !errors.Is(err, pgx.ErrNoRows) {
					t.Errorf("%q no rows: %v", mode, err)
				}
				_, err = tx.Exec(ctx, "UPDATE probe SET v = v + 1 WHERE id = $1", 1)
				return 0, err
			},
			"scan error": func(tx pgstore.LazyTx) (int64, error) {
				var b bool
				err := tx.QueryRow(ctx, "UPDATE probe SET v = v + 1 WHERE id = $1 RETURNING 'x'::text", 1).Scan(&b)
				if err == nil {
					t.Errorf("%q: text scanned into a bool", mode)
				}
				return 0, nil
			},
			"rows in part": func(tx pgstore.LazyTx) (int64, error) {
				rows, err := tx.Query(ctx, "SELECT txid_current() FROM probe, generate_series(1, 1000) FOR UPDATE OF probe")
				if err != nil {
					return 0, err
				}
				var x int64
				rows.Next()
				err = rows.Scan(&x)
				rows.Close()
				if err != nil || rows.Err() != nil {
					return 0, errors.Join(err, rows.Err())
				}
				_, err = tx.Exec(ctx, "UPDATE probe SET v = v + 1 WHERE id = $1", 1)
				return x, err
			},
		}
		for name, first := range firsts {
			before := probeV(ctx, t, dsn, 1)
			tx, err := pgstore.BeginLazy(ctx, s, "")
			if err != nil {
				t.Fatal(err)
			}
			xid, err := first(tx)
			if err != nil {
				t.Fatalf("%q %s: %v", mode, name, err)
			}
			var later int64
			if err := tx.QueryRow(ctx, "SELECT txid_current()").Scan(&later); err != nil {
				t.Fatalf("%q %s: %v", mode, name, err)
			}
			if xid != 0 && xid != later {
				t.Errorf("%q %s: transaction %d then %d", mode, name, xid, later)
			}
			var status string
			if err := tx.QueryRow(ctx, "SELECT now() = statement_timestamp()").Scan(&status); err == nil && status == "true" {
				t.Errorf("%q %s: the later statement ran in a transaction of its own", mode, name)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatalf("%q %s: commit %v", mode, name, err)
			}
			tx.Release(ctx)
			if v := probeV(ctx, t, dsn, 1); v != before+1 {
				t.Errorf("%q %s: v %d, want %d", mode, name, v, before+1)
			}
			assertClean(ctx, t, s, dsn)
		}
	}
}

// TestAttack23FirstResultLeftOpen: a caller that leaves the first
// statement's rows (or its row) unread and then commits does not commit,
// and the connection goes back with no transaction or lock on it.
func TestAttack23FirstResultLeftOpen(t *testing.T) {
	ctx, s, dsn := attackProbe(t, store.IsolationDefault, 1, "")
	for name, first := range map[string]func(pgstore.LazyTx){
		"rows": func(tx pgstore.LazyTx) {
			if _, err := tx.Query(ctx, "UPDATE probe SET v = v + 1 RETURNING v"); err != nil {
				t.Fatal(err)
			}
		},
		"row": func(tx pgstore.LazyTx) { tx.QueryRow(ctx, "UPDATE probe SET v = v + 1 RETURNING v") },
	} {
		tx, err := pgstore.BeginLazy(ctx, s, "")
		if err != nil {
			t.Fatal(err)
		}
		first(tx)
		_, laterErr := tx.Exec(ctx, "UPDATE probe SET v = v + 10 WHERE id = $1", 2)
		err = tx.Commit(ctx)
		tx.Release(ctx)
		if err == nil && probeV(ctx, t, dsn, 1) != 1 {
			t.Errorf("%s: commit reported success, but v is %d", name, probeV(ctx, t, dsn, 1))
		}
		if v1, v2 := probeV(ctx, t, dsn, 1), probeV(ctx, t, dsn, 2); v2 == 10 && v1 == 0 {
			t.Errorf("%s: the later statement committed without the first (later %v, commit %v)", name, laterErr, err)
		}
		t.Logf("%s: later %v; commit %v; v = %d, %d", name, laterErr, err, probeV(ctx, t, dsn, 1), probeV(ctx, t, dsn, 2))
		assertClean(ctx, t, s, dsn)
	}
}

// TestAttack23CancelRequestDuringFirstStatement: with pgconn's other
// context watcher, a cancelled context sends the server a cancel request
// instead of closing the socket: the first statement is cancelled inside
// the transaction BEGIN opened, so a caller that goes on gets 25P02, the
// COMMIT rolls back, and nothing was changed.
func TestAttack23CancelRequestDuringFirstStatement(t *testing.T) {
	ctx, _, dsn := attackProbe(t, store.IsolationDefault, 1, "")
	s := cancelRequestStore(t, ctx, dsn)
	for _, query := range []bool{false, true} {
		tx, err := pgstore.BeginLazy(ctx, s, "")
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if query {
			err = tx.QueryRow(short, "UPDATE probe SET v = v + 1000 WHERE id = $1 RETURNING pg_sleep(1)::text", 1).Scan(new(string))
		} else {
			_, err = tx.Exec(short, "UPDATE probe SET v = v + 1000 WHERE id = $1 AND pg_sleep(1) IS NOT NULL", 1)
		}
		cancel()
		if err == nil || !strings.Contains(err.Error(), "57014") {
			t.Logf("first statement: %v", err)
		}
		_, laterErr := tx.Exec(ctx, "UPDATE probe SET v = v + 1 WHERE id = $1", 2)
		commitErr := tx.Commit(ctx)
		tx.Release(ctx)
		if v1, v2 := probeV(ctx, t, dsn, 1), probeV(ctx, t, dsn, 2); v1 != 0 || v2 != 0 || commitErr == nil {
			t.Errorf("after a cancel request: v = %d, %d (later %v, commit %v)", v1, v2, laterErr, commitErr)
		}
		assertClean(ctx, t, s, dsn)
	}
}
