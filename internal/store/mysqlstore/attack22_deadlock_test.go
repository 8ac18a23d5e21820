package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
)

// a22Deadlock runs two transactions of pool that deadlock on rows 1 and 2
// of probe and returns the victim (its transaction rolled back by InnoDB,
// its sql.Tx still open) and ends the survivor by rolling it back.
func a22Deadlock(t *testing.T, pool *sql.DB) *sql.Tx {
	t.Helper()
	ctx := context.Background()
	t1, err := pool.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := pool.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := t1.ExecContext(ctx, "UPDATE probe SET v = v + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := t2.ExecContext(ctx, "UPDATE probe SET v = v + 1 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := t1.ExecContext(ctx, "UPDATE probe SET v = v + 1 WHERE id = 2")
		first <- err
	}()
	time.Sleep(200 * time.Millisecond) // t1 waits on row 2 (no timing asserted)
	_, err2 := t2.ExecContext(ctx, "UPDATE probe SET v = v + 1 WHERE id = 1")
	var err1 error
	if err2 == nil {
		err1 = <-first
	}
	victim, survivor, verr := t2, t1, err2
	if err2 == nil {
		victim, survivor, verr = t1, t2, err1
	} else {
		// t1 gets row 2 once t2 is rolled back.
		if err := <-first; err != nil {
			t.Fatalf("survivor: %v", err)
		}
	}
	var me *mysql.MySQLError
	if !errors.As(verr, &me) || me.Number != 1213 {
		t.Fatalf("no deadlock: %v / %v", err1, err2)
	}
	if err := survivor.Rollback(); err != nil {
		t.Fatal(err)
	}
	return victim
}

// TestAttack22DeadlockVictim: InnoDB rolls back the victim's whole
// transaction, but its sql.Tx goes on. On the other pool (START
// TRANSACTION, autocommit on) each later statement commits on its own, even
// when the Tx then rolls back (logged, not asserted). A lazy transaction is
// over at the deadlock: a later statement and COMMIT return the deadlock,
// and nothing written after it is kept.
func TestAttack22DeadlockVictim(t *testing.T) {
	a := a22Open(t, 4)
	ctx := context.Background()
	if _, err := a.admin.Exec("CREATE TABLE probe (id INT PRIMARY KEY, v INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.admin.Exec("INSERT INTO probe VALUES (1, 0), (2, 0)"); err != nil {
		t.Fatal(err)
	}
	exists := func(id int) bool {
		var n int
		if err := a.admin.QueryRow("SELECT COUNT(*) FROM probe WHERE id = ?", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	for _, c := range []struct {
		pool   string
		db     *sql.DB
		commit bool
		id     int
	}{
		{"lazy", mysqlstore.TxPool(a.s), false, 10},
		{"lazy", mysqlstore.TxPool(a.s), true, 11},
		{"start transaction", mysqlstore.OtherPool(a.s), false, 20},
		{"start transaction", mysqlstore.OtherPool(a.s), true, 21},
	} {
		victim := a22Deadlock(t, c.db)
		_, err := victim.ExecContext(ctx, "INSERT INTO probe VALUES (?, 0)", c.id)
		var me *mysql.MySQLError
		switch {
		case c.pool == "lazy" && (!errors.As(err, &me) || me.Number != 1213):
			t.Errorf("lazy: a statement after the deadlock: %v, want the deadlock", err)
		case c.pool != "lazy" && err != nil:
			t.Fatalf("%s: statement after the deadlock: %v", c.pool, err)
		}
		if c.commit {
			err = victim.Commit()
		} else {
			err = victim.Rollback()
		}
		switch {
		case c.pool == "lazy" && c.commit && (!errors.As(err, &me) || me.Number != 1213):
			t.Errorf("lazy: COMMIT after the deadlock: %v, want the deadlock", err)
		case (c.pool != "lazy" || !c.commit) && err != nil:
			t.Fatalf("%s: end: %v", c.pool, err)
		}
		kept := exists(c.id)
		if c.pool == "lazy" && kept {
			t.Errorf("lazy transaction: a row written after the deadlock was kept")
		}
		t.Logf("%s, victim goes on and %s: its later row kept=%v", c.pool, map[bool]string{true: "commits", false: "rolls back"}[c.commit], kept)
		if c.pool == "lazy" && !c.commit && kept {
			t.Errorf("lazy transaction: a row written after the deadlock survived the ROLLBACK")
		}
		var v1, v2 int
		if err := a.admin.QueryRow("SELECT (SELECT v FROM probe WHERE id = 1), (SELECT v FROM probe WHERE id = 2)").Scan(&v1, &v2); err != nil {
			t.Fatal(err)
		}
		if v1 != 0 || v2 != 0 {
			t.Errorf("%s: a rolled back update was kept: %d %d", c.pool, v1, v2)
		}
	}
	if ids := a.openTrx(t); len(ids) != 0 {
		t.Errorf("transactions left open: %v", ids)
	}
	a.noMetadataLocks(t, "probe")
}
