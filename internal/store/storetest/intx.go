package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testRollback: InTx rolls back when its callback fails or its context is
// cancelled, and returns the callback's error.
func testRollback(t *testing.T, s store.Store) {
	phone := Phone(t)
	boom := errors.New("boom")
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the callback's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base}); err != nil {
			return err
		}
		cancel()
		return ctx.Err()
	})
	if err == nil {
		t.Fatal("a cancelled transaction committed")
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UserByPhone(ctx, phone)
		mustKind(t, err, store.ErrNotFound, "user of a rolled-back transaction")
		return nil
	})
}

// testAutocommit: statements outside a transaction each commit on their
// own, so a failure after a write keeps the write.
func testAutocommit(t *testing.T, s store.Store) {
	phone := Phone(t)
	boom := errors.New("boom")
	err := s.Autocommit(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Autocommit returned %v", err)
	}
	err = s.Autocommit(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		u, err := tx.UserByPhone(ctx, phone)
		if err == nil && u.Phone != phone {
			t.Fatalf("read back %+v", u)
		}
		return err
	})
	if err != nil {
		t.Fatalf("a statement outside a transaction was not kept: %v", err)
	}
}

// testRetryCounted: a transaction whose attempt fails with a retryable
// error is rolled back and run again, Retries counts each rerun and
// Transactions the transaction.
func testRetryCounted(t *testing.T, s store.Store) {
	phone := Phone(t)
	before, beforeTxs := s.Retries(), s.Transactions()
	attempts := 0
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		attempts++
		if _, err := tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base}); err != nil {
			return err
		}
		if attempts < 3 {
			return store.Classify(store.ErrRetryable, errors.New("collided"))
		}
		return nil
	})
	if attempts != 3 {
		t.Fatalf("%d attempts, want 3", attempts)
	}
	if got := s.Retries() - before; got < 2 {
		t.Fatalf("Retries grew by %d, want at least 2", got)
	}
	if got := s.Transactions() - beforeTxs; got < 1 {
		t.Fatalf("Transactions grew by %d, want at least 1", got)
	}
}
