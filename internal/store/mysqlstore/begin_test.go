package mysqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
)

// sessionStatus reads one of the session's status counters inside tx.
func sessionStatus(ctx context.Context, t *testing.T, tx *sql.Tx, name string) int64 {
	t.Helper()
	var k string
	var v int64
	if err := tx.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE '"+name+"'").Scan(&k, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// TestInTxBeginsWithFirstStatement runs transactions on InTx's pool and
// asks the server what it was sent: no START TRANSACTION, one COMMIT or
// ROLLBACK each, autocommit off; and what a transaction did is kept by
// its COMMIT, undone by its ROLLBACK, with its row locks held to its end.
func TestInTxBeginsWithFirstStatement(t *testing.T) {
	s, _ := openMigrated(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := mysqlstore.OtherPool(s).ExecContext(ctx, "CREATE TABLE begin_probe (id INT PRIMARY KEY, v INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := mysqlstore.OtherPool(s).ExecContext(ctx, "INSERT INTO begin_probe VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	value := func() int {
		var v int
		if err := mysqlstore.OtherPool(s).QueryRowContext(ctx, "SELECT v FROM begin_probe WHERE id = 1").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	var begins, commits, rollbacks int64 = -1, -1, -1
	for i, commit := range []bool{true, false, true, false} {
		err := func() error {
			conn, err := mysqlstore.TxPool(s).Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback() //nolint:errcheck // ended already, unless the test failed
			b, c, r := sessionStatus(ctx, t, tx, "Com_begin"), sessionStatus(ctx, t, tx, "Com_commit"), sessionStatus(ctx, t, tx, "Com_rollback")
			switch {
			case b != 0:
				t.Errorf("transaction %d: the session has sent %d START TRANSACTIONs", i, b)
			case begins >= 0 && (c != commits || r != rollbacks):
				t.Errorf("transaction %d: %d commits and %d rollbacks, want %d and %d", i, c, r, commits, rollbacks)
			}
			begins = b
			if commit {
				commits, rollbacks = c+1, r
			} else {
				commits, rollbacks = c, r+1
			}
			var auto int
			if err := tx.QueryRowContext(ctx, "SELECT @@autocommit").Scan(&auto); err != nil || auto != 0 {
				t.Errorf("transaction %d: autocommit %d (%v)", i, auto, err)
			}
			if _, err := tx.ExecContext(ctx, "UPDATE begin_probe SET v = v + 1 WHERE id = 1"); err != nil {
				return err
			}
			// The row is locked until the transaction ends: a locking
			// read on the other pool is refused.
			if _, err := mysqlstore.OtherPool(s).ExecContext(ctx, "SELECT v FROM begin_probe WHERE id = 1 FOR UPDATE NOWAIT"); err == nil {
				t.Errorf("transaction %d: another session wrote the row it had updated", i)
			}
			if commit {
				return tx.Commit()
			}
			return tx.Rollback()
		}()
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	if v := value(); v != 2 {
		t.Errorf("after two committed and two rolled back increments the value is %d", v)
	}

	// The store's own InTx runs there too: a refused posting leaves
	// nothing behind, an accepted one is kept.
	var userID int64
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		userID, err = tx.InsertUser(ctx, store.NewUser{Phone: "+254700000009", LightningName: "lazy", Language: "en", Status: store.UserActive, Now: time.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertUserAccount(ctx, userID, time.Now()); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed transaction: %v", err)
	}
	err = s.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AccountByUserID(ctx, userID)
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the account of a rolled back transaction: %v", err)
	}
}

// TestTxOnlyConnectionRefusesOutsideTx: a statement on InTx's pool outside
// a transaction would open one that nothing ends, and a transaction with
// other options is not what the pool runs.
func TestTxOnlyConnectionRefusesOutsideTx(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := mysqlstore.Open(ctx, freshDatabase(t), mysqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := mysqlstore.TxPool(s).ExecContext(ctx, "SELECT 1"); !errors.Is(err, mysqlstore.ErrOutsideTx) {
		t.Errorf("exec outside a transaction: %v", err)
	}
	if err := mysqlstore.TxPool(s).QueryRowContext(ctx, "SELECT 1").Scan(new(int)); !errors.Is(err, mysqlstore.ErrOutsideTx) {
		t.Errorf("query outside a transaction: %v", err)
	}
	st, err := mysqlstore.TxPool(s).PrepareContext(ctx, "SELECT ?")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.ExecContext(ctx, 1); !errors.Is(err, mysqlstore.ErrOutsideTx) {
		t.Errorf("prepared statement outside a transaction: %v", err)
	}
	if _, err := mysqlstore.TxPool(s).BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err == nil {
		t.Error("a read-only transaction began on InTx's pool")
	}
	// The other pool is untouched.
	if err := mysqlstore.OtherPool(s).QueryRowContext(ctx, "SELECT 1").Scan(new(int)); err != nil {
		t.Errorf("the other pool: %v", err)
	}
}

// endFails is a driver connection whose every statement fails.
type endFails struct{ driver.Conn }

func (endFails) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nil, errors.New("lost")
}

// TestTxOnlyConnectionFailedEndIsDropped: once a COMMIT or ROLLBACK
// failed, the server may still hold the transaction open, so the
// connection must not serve another (database/sql asks IsValid and
// ResetSession before reusing it).
func TestTxOnlyConnectionFailedEndIsDropped(t *testing.T) {
	ctx := context.Background()
	for _, end := range []string{"commit", "rollback"} {
		c := mysqlstore.TxOnlyConn(endFails{})
		exec := c.(driver.ExecerContext)
		if _, err := exec.ExecContext(ctx, "SELECT 1", nil); !errors.Is(err, mysqlstore.ErrOutsideTx) {
			t.Fatalf("statement before a transaction: %v", err)
		}
		tx, err := c.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exec.ExecContext(ctx, "SELECT 1", nil); err == nil || errors.Is(err, mysqlstore.ErrOutsideTx) {
			t.Fatalf("statement inside the transaction did not reach the driver: %v", err)
		}
		if c.(driver.Validator).IsValid() {
			t.Fatal("a connection inside a transaction reads as reusable")
		}
		if end == "commit" {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err == nil {
			t.Fatalf("%s: no error", end)
		}
		if c.(driver.Validator).IsValid() {
			t.Errorf("%s failed: the connection is still valid", end)
		}
		if err := c.(driver.SessionResetter).ResetSession(ctx); !errors.Is(err, driver.ErrBadConn) {
			t.Errorf("%s failed: reset %v", end, err)
		}
		if _, err := c.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{}); !errors.Is(err, driver.ErrBadConn) {
			t.Errorf("%s failed: begin %v", end, err)
		}
	}
}
