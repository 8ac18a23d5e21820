package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/umeme-wallet/umeme/internal/store"
)

// errRollback ends a transaction the check wants rolled back.
var errRollback = errors.New("roll back")

// testReplyPlaces: a day's replies of a kind are counted up to the limit
// and no further, each kind and day on its own; a rolled back place is
// not taken; places raced for from many transactions at once are given
// out no more than the limit allows.
func testReplyPlaces(t *testing.T, s store.Store) {
	kind, other := "test-"+Token(t, 6), "test-"+Token(t, 6)
	const day, next = "2031-05-06", "2031-05-07"
	take := func(kind, day string, limit int) bool {
		t.Helper()
		var ok bool
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			ok, err = tx.TakeReplyPlace(ctx, kind, day, limit)
			return err
		})
		return ok
	}
	for i := range 2 {
		if !take(kind, day, 2) {
			t.Fatalf("place %d of 2 refused", i+1)
		}
	}
	if take(kind, day, 2) {
		t.Fatal("a third place of 2 was taken")
	}
	if !take(kind, day, 3) {
		t.Fatal("a raised limit gave no place")
	}
	if !take(kind, next, 1) || !take(other, day, 1) {
		t.Fatal("another day's or another kind's places were counted with this one's")
	}
	if take(kind, "2031-05-08", 0) {
		t.Fatal("a limit of 0 gave a place")
	}
	// A place taken in a transaction that rolls back is not counted.
	rolled := "test-" + Token(t, 6)
	_ = s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		if ok, err := tx.TakeReplyPlace(ctx, rolled, day, 1); err != nil || !ok {
			t.Errorf("a first place refused: %v %v", ok, err)
		}
		return errRollback
	})
	if !take(rolled, day, 1) {
		t.Fatal("a place of a rolled back transaction stayed taken")
	}

	// Racing for 3 places from 8 transactions: 3 have them.
	raced := "test-" + Token(t, 6)
	var wg sync.WaitGroup
	var taken atomic.Int64
	for range 8 {
		wg.Go(func() {
			var ok bool
			err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
				var err error
				ok, err = tx.TakeReplyPlace(ctx, raced, day, 3)
				return err
			})
			switch {
			case err != nil:
				t.Errorf("race: %v", err)
			case ok:
				taken.Add(1)
			}
		})
	}
	wg.Wait()
	if n := taken.Load(); n != 3 {
		t.Fatalf("%d places of 3 were taken by 8 racing transactions", n)
	}
}
