package wallet_test

import (
	"context"
	"sync"
	"testing"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
)

// serializable opens a fresh PostgreSQL database whose transactions all
// run at SERIALIZABLE (DB_ISOLATION=serializable), and logs at the end how
// many transactions ran and how many attempts were run again.
func serializable(t *testing.T) database.DB {
	t.Helper()
	db := dbtest.OpenWith(t, "postgres", database.Options{Isolation: store.IsolationSerializable})
	t.Cleanup(func() { dbtest.LogRetries(t, db, "SERIALIZABLE") })
	return db
}

// TestSerializableBank is TestBank at SERIALIZABLE: conflicting transfers
// fail with SQLSTATE 40001 and are run again, and money is still neither
// created nor lost. Meanwhile reconcile reads the ledger again and again
// (Snapshot: SERIALIZABLE READ ONLY DEFERRABLE) and finds nothing wrong in
// any snapshot.
func TestSerializableBank(t *testing.T) {
	db := serializable(t)
	w, _ := newWallet(t, db, nil)
	stop := make(chan struct{})
	var snapshots int
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			rep, err := w.Reconcile(context.Background())
			if err != nil {
				t.Errorf("reconcile during the load: %v", err)
				return
			}
			if !rep.OK() {
				t.Errorf("reconcile during the load found violations: %+v", rep)
				return
			}
			snapshots++
		}
	})
	bank(t, db)
	close(stop)
	wg.Wait()
	t.Logf("%d reconciles during the load, all clean", snapshots)
	if snapshots == 0 {
		t.Fatal("no reconcile ran during the load")
	}
	if db.Retries() == 0 {
		// 16 workers on 50 accounts at SERIALIZABLE always collide; none
		// retried would mean the setting did not take.
		t.Fatal("no transaction was retried: is the store at SERIALIZABLE?")
	}
}

// TestSerializableLedgerHashChain is TestLedgerHashChain at SERIALIZABLE:
// transfers with a fee (every one credits the one fee account),
// reservations settled or refunded and adjustments, on six accounts, where
// most transactions collide and are retried; the chains and reconcile are
// still intact.
func TestSerializableLedgerHashChain(t *testing.T) {
	hashChain(t, serializable(t))
}
