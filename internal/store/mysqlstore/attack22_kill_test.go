package mysqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
)

// TestAttack22KillMidTx: the server kills InTx's connection after fn's
// first row; fn returns nil. The COMMIT fails, the row is not kept, the
// failure is not retried (a lost connection is an unknown outcome), and
// the pool serves the next InTx.
func TestAttack22KillMidTx(t *testing.T) {
	a := a22Open(t, 1)
	bg := context.Background()
	if err := a.s.InTx(bg, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertUser(ctx, a22NewUser("w", 1))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	runs, retries := a.s.Transactions(), a.s.Retries()
	err := a.s.InTx(bg, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertUser(ctx, a22NewUser("k", 2)); err != nil {
			return err
		}
		ids := a.openTrx(t)
		if len(ids) != 1 {
			return fmt.Errorf("open transactions %v", ids)
		}
		if _, err := a.admin.Exec(fmt.Sprintf("KILL %d", ids[0])); err != nil {
			return err
		}
		return nil
	})
	if err == nil {
		t.Fatal("InTx succeeded on a killed connection")
	}
	t.Logf("killed: %v", err)
	if errors.Is(err, store.ErrRetryable) {
		t.Errorf("a lost COMMIT reads as retryable: %v", err)
	}
	if a.s.Transactions()-runs != 1 || a.s.Retries() != retries {
		t.Errorf("retried")
	}
	if a.users(t, 2) != 0 {
		t.Error("the killed transaction's row was kept")
	}
	if err := a.s.InTx(bg, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertUser(ctx, a22NewUser("w", 3))
		return err
	}); err != nil {
		t.Fatalf("after the kill: %v", err)
	}
}

// TestAttack22KillIdle: InTx's only pooled connection is killed (and, on
// another round, its next query is killed) while it idles; the next InTx
// either commits both its rows or neither, and the one after commits.
func TestAttack22KillIdle(t *testing.T) {
	a := a22Open(t, 1)
	bg := context.Background()
	for i, kill := range []string{"KILL", "KILL QUERY", "KILL CONNECTION"} {
		if err := a.s.InTx(bg, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertUser(ctx, a22NewUser("w", 100+i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		_, _, id := a22TxSession(t, a.s)
		if _, err := a.admin.Exec(fmt.Sprintf("%s %d", kill, id)); err != nil {
			t.Fatal(err)
		}
		err := a.s.InTx(bg, func(ctx context.Context, tx store.Tx) error {
			for _, n := range []int{200 + 10*i, 201 + 10*i} {
				if _, err := tx.InsertUser(ctx, a22NewUser("i", n)); err != nil {
					return err
				}
			}
			return nil
		})
		got := a.users(t, 200+10*i) + a.users(t, 201+10*i)
		t.Logf("%s while idle: InTx %v, rows kept %d", kill, err, got)
		if (err == nil) != (got == 2) || got == 1 {
			t.Errorf("%s: InTx returned %v with %d of 2 rows kept", kill, err, got)
		}
		if err := a.s.InTx(bg, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertUser(ctx, a22NewUser("v", 300+i))
			return err
		}); err != nil {
			t.Errorf("%s: the InTx after: %v", kill, err)
		}
	}
	if ids := a.openTrx(t); len(ids) != 0 {
		t.Errorf("transactions left open: %v", ids)
	}
}

// TestAttack22LockWaitTimeout: a lock wait timeout undoes the statement
// alone (innodb_rollback_on_timeout off): the transaction keeps its earlier
// row and lock, as after START TRANSACTION, and its ROLLBACK frees both; the
// connection goes on to the next transaction clean.
func TestAttack22LockWaitTimeout(t *testing.T) {
	a := a22Open(t, 1)
	ctx := context.Background()
	if _, err := a.admin.Exec("CREATE TABLE probe (id INT PRIMARY KEY, v INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.admin.Exec("INSERT INTO probe VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	holder, err := a.admin.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback() //nolint:errcheck
	if _, err := holder.Exec("UPDATE probe SET v = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	tx, err := mysqlstore.TxPool(a.s).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO probe VALUES (10, 0)"); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec("SET STATEMENT innodb_lock_wait_timeout = 1 FOR UPDATE probe SET v = 2 WHERE id = 1")
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1205 {
		t.Fatalf("no lock wait timeout: %v", err)
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM probe WHERE id = 10").Scan(&n); err != nil || n != 1 {
		t.Errorf("after the timeout the transaction lost its row: %d %v", n, err)
	}
	if _, err := a.admin.Exec("SELECT * FROM probe WHERE id = 10 FOR UPDATE NOWAIT"); err == nil {
		t.Error("after the timeout the transaction no longer locks its row")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	next, err := mysqlstore.TxPool(a.s).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := next.Exec("INSERT INTO probe VALUES (11, 0)"); err != nil {
		t.Fatal(err)
	}
	if err := next.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := a.admin.QueryRow("SELECT COUNT(*) FROM probe WHERE id = 10").Scan(&n); err != nil || n != 0 {
		t.Errorf("the rolled back row was kept by the next COMMIT: %d %v", n, err)
	}
	if ids := a.openTrx(t); len(ids) != 0 {
		t.Errorf("transactions left open: %v", ids)
	}
}
