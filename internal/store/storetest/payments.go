package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testOnePaymentPerHash: a payment hash has at most one outgoing payment,
// whoever inserts it and whatever becomes of it; the refusal is a conflict
// that says so, distinct from a repeated idempotency key; a failed payment
// keeps the hash (lnd's record of it must be about one row only), and
// incoming rows with the same hash are not concerned.
func testOnePaymentPerHash(t *testing.T, s store.Store) {
	alice, _, _ := NewFundedUser(t, s, 0)
	bob, _, _ := NewFundedUser(t, s, 0)
	hash := Token(t, 32)
	payment := func(userID int64, status store.TransactionStatus) store.NewTransaction {
		n := newTxn(t, userID, store.TypePayment, status, 5_000, base)
		n.Invoice, n.PaymentHash = "lnbcrt50n1"+hash[:20], hash
		return n
	}
	insert := func(n store.NewTransaction) (int64, error) {
		var id int64
		err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			var err error
			id, err = tx.InsertTransaction(ctx, n)
			return err
		})
		return id, err
	}

	// The invoice side of the same hash (our own invoice) is no payment.
	incoming := newTxn(t, bob, store.TypeInvoice, store.StatusPending, 5_000, base)
	incoming.PaymentHash = hash
	if _, err := insert(incoming); err != nil {
		t.Fatalf("invoice row: %v", err)
	}
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.PaymentByHash(ctx, hash)
		return err
	})
	mustKind(t, err, store.ErrNotFound, "payment of a hash nobody paid")

	first := payment(alice, store.StatusPending)
	id, err := insert(first)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		n    store.NewTransaction
	}{
		{"another user's pending payment", payment(bob, store.StatusPending)},
		{"the same user's second payment", payment(alice, store.StatusPending)},
		{"a completed payment", payment(bob, store.StatusCompleted)},
	} {
		_, err := insert(c.n)
		mustKind(t, err, store.ErrConflict, c.name)
		mustKind(t, err, store.ErrPaymentHashTaken, c.name)
	}
	// A repeated key stays a plain conflict: the caller replays it.
	again := payment(alice, store.StatusPending)
	again.PaymentHash, again.IdempotencyKey = Token(t, 32), first.IdempotencyKey
	_, err = insert(again)
	mustKind(t, err, store.ErrConflict, "repeated key")
	if errors.Is(err, store.ErrPaymentHashTaken) {
		t.Fatalf("a repeated key reported as a taken hash: %v", err)
	}
	// Not even a failed payment of the hash may sit beside the owner.
	_, err = insert(payment(bob, store.StatusFailed))
	mustKind(t, err, store.ErrPaymentHashTaken, "a failed payment beside the owner")

	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		owner, err := tx.PaymentByHash(ctx, hash)
		if err != nil {
			return err
		}
		if owner.ID != id || owner.Status != store.StatusPending || owner.PaymentHash != hash {
			t.Fatalf("owner of the hash: %+v, want transaction %d", owner, id)
		}
		// Once the owner fails, it still owns the hash.
		ok, err := tx.FinishTransaction(ctx, store.Finish{ID: id, From: store.StatusPending, To: store.StatusFailed, AmountMsat: 5_000, Now: base})
		if err != nil || !ok {
			t.Fatalf("fail the owner: %v %v", ok, err)
		}
		owner, err = tx.PaymentByHash(ctx, hash)
		if err != nil || owner.ID != id || owner.Status != store.StatusFailed {
			t.Fatalf("owner after its failure: %+v %v", owner, err)
		}
		return nil
	})
	_, err = insert(payment(bob, store.StatusPending))
	mustKind(t, err, store.ErrPaymentHashTaken, "paying a hash again after a failure")
}

// testPaymentLeases: a pending transaction is leased to one holder at a
// time (on the database's clock), renewed and released only by its
// holder, taken over once its lease has run out, and never leased once it
// is finished.
func testPaymentLeases(t *testing.T, s store.Store) {
	alice, _, _ := NewFundedUser(t, s, 0)
	var id int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		id, err = tx.InsertTransaction(ctx, newTxn(t, alice, store.TypePayment, store.StatusPending, 5_000, base))
		return err
	})
	lease := func(token string, d time.Duration) bool {
		var ok bool
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			ok, err = tx.LeaseTransaction(ctx, id, token, d)
			return err
		})
		return ok
	}
	release := func(token string) bool {
		var ok bool
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			ok, err = tx.ReleaseTransaction(ctx, id, token)
			return err
		})
		return ok
	}
	if !lease("tok-a", time.Hour) {
		t.Fatal("a pending transaction nobody holds was not leased")
	}
	if lease("tok-b", time.Hour) {
		t.Fatal("a lease taken while another's runs")
	}
	if !lease("tok-a", time.Hour) {
		t.Fatal("the holder did not renew its lease")
	}
	if release("tok-b") {
		t.Fatal("released by a token that does not hold it")
	}
	if !release("tok-a") || !lease("tok-b", -time.Second) {
		t.Fatal("not taken again after its holder released it")
	}
	// tok-b's lease ended a second ago (its holder died long since).
	if !lease("tok-c", time.Hour) {
		t.Fatal("a lease that ran out was not taken over")
	}
	if release("tok-b") || lease("tok-b", time.Hour) {
		t.Fatal("a holder whose lease was taken over released or renewed it")
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		ok, err := tx.FinishTransaction(ctx, store.Finish{ID: id, From: store.StatusPending, To: store.StatusFailed, AmountMsat: 5_000, Now: base})
		if err == nil && !ok {
			t.Fatal("not finished")
		}
		return err
	})
	if !release("tok-c") || lease("tok-d", time.Hour) {
		t.Fatal("a finished transaction was leased")
	}
}
