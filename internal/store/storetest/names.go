package storetest

import (
	"context"
	"testing"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testLightningNames: a chosen name belongs to one user for good, a user
// may have several, and the name the user shows is kept on the user.
func testLightningNames(t *testing.T, s store.Store) {
	alice, _, _ := NewFundedUser(t, s, 0)
	bob, _, _ := NewFundedUser(t, s, 0)
	name := "n" + Token(t, 6)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.InsertLightningName(ctx, alice, name, base); err != nil {
			return err
		}
		if err := tx.InsertLightningName(ctx, alice, name+"b", base); err != nil {
			return err
		}
		return tx.SetUserLightningName(ctx, alice, name, base)
	})
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		return tx.InsertLightningName(ctx, bob, name, base)
	})
	mustKind(t, err, store.ErrConflict, "a taken name")
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if owner, err := tx.LightningNameOwner(ctx, name); err != nil || owner != alice {
			t.Fatalf("LightningNameOwner: %d %v", owner, err)
		}
		_, err := tx.LightningNameOwner(ctx, "nobody"+Token(t, 4))
		mustKind(t, err, store.ErrNotFound, "an unchosen name")
		if n, err := tx.CountLightningNames(ctx, alice); err != nil || n != 2 {
			t.Fatalf("CountLightningNames: %d %v", n, err)
		}
		if n, err := tx.CountLightningNames(ctx, bob); err != nil || n != 0 {
			t.Fatalf("CountLightningNames of bob: %d %v", n, err)
		}
		if u, err := tx.UserByID(ctx, alice); err != nil || u.LightningName != name {
			t.Fatalf("the name shown: %+v %v", u, err)
		}
		mustKind(t, tx.SetUserLightningName(ctx, 1<<40, name, base), store.ErrNotFound, "naming a missing user")
		return nil
	})
}
