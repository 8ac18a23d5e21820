package mysqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
)

// TestAttack22NoImplicitCommitInCall: CALL post_legs inside a lazy
// transaction does not end it (no statement inside commits implicitly): a
// row written before the CALL is undone by the ROLLBACK after it, and the
// session is still in its transaction after the CALL.
func TestAttack22NoImplicitCommitInCall(t *testing.T) {
	a := a22Open(t, 1)
	ctx := context.Background()
	if _, err := a.admin.Exec("CREATE TABLE probe (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{
		// Three legs on missing accounts, a sender check on a missing user, a text.
		"CALL post_legs(1, 99, 1,5,0,0, 2,-5,0,0, 3,0,0,1, 1,1,100,100,NOW(6), 0,'+254700000001','k',5,'c','b')",
		// One leg, no check.
		"CALL post_legs(1, 0, 1,5,0,0, 0,0,0,0, 0,0,0,0, 1,1,100,100,NOW(6), 0,'','',0,'','')",
	} {
		tx, err := mysqlstore.TxPool(a.s).BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO probe VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(call); err != nil {
			t.Fatalf("%s: %v", call, err)
		}
		var in int
		if err := tx.QueryRow("SELECT @@in_transaction").Scan(&in); err != nil || in != 1 {
			t.Errorf("after the CALL the session is not in a transaction: %d %v", in, err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := a.admin.QueryRow("SELECT COUNT(*) FROM probe").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s committed what came before it: %d %v", call, n, err)
		}
	}
}

// TestAttack22NoMetadataLocksWhenIdle: with autocommit off, a metadata
// lock a session takes lasts until the transaction ends. InTx's idle
// connections must hold none: after InTx prepared its queries (on InTx's
// pool, outside a transaction), after a statement refused outside a
// transaction, after a failed and a committed InTx, DDL-grade locks on the
// tables are granted at once.
func TestAttack22NoMetadataLocksWhenIdle(t *testing.T) {
	a := a22Open(t, 2)
	ctx := context.Background()
	tables := []string{"users", "accounts", "ledger_entries", "transactions", "notifications", "account_buckets"}
	if err := a.s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UserByPhone(ctx, "+254799999999")
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	a.noMetadataLocks(t, tables...)
	// The probe sees a lock when there is one: a transaction that read.
	open, err := mysqlstore.TxPool(a.s).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := open.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(new(int)); err != nil {
		t.Fatal(err)
	}
	if err := a.lockTables("users"); err == nil {
		t.Error("the probe took users while a transaction had read it")
	}
	if err := open.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := mysqlstore.TxPool(a.s).PrepareContext(ctx, "SELECT COUNT(*) FROM users JOIN accounts ON accounts.user_id = users.id")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.QueryRowContext(ctx).Scan(new(int)); !errors.Is(err, mysqlstore.ErrOutsideTx) {
		t.Errorf("outside a transaction: %v", err)
	}
	a.noMetadataLocks(t, tables...)
	boom := errors.New("boom")
	if err := a.s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertUser(ctx, a22NewUser("m", 1)); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	a.noMetadataLocks(t, tables...)
	// A failed first statement (a taken phone number) and then nil.
	if err := a.s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertUser(ctx, a22NewUser("m", 2))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, _ = tx.InsertUser(ctx, a22NewUser("m", 2))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	a.noMetadataLocks(t, tables...)
	if ids := a.openTrx(t); len(ids) != 0 {
		t.Errorf("transactions left open: %v", ids)
	}
}
