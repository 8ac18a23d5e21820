package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testBacklog: PendingBacklog counts the pending transactions of each type
// (the metrics' gauges) as PendingTransactions lists them, with the
// creation of the first listed as the oldest; a finished one leaves the
// count. OutboxBacklog counts a queued text until it is sent. It reads whole
// tables, so it runs alone.
func testBacklog(t *testing.T, s store.Store) {
	userID, _, phone := NewFundedUser(t, s, 0)
	backlog := func() (map[store.TransactionType]store.Backlog, store.Backlog) {
		t.Helper()
		byType := map[store.TransactionType]store.Backlog{}
		var outbox store.Backlog
		if err := s.Autocommit(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			list, err := tx.PendingBacklog(ctx)
			if err != nil {
				return err
			}
			for _, b := range list {
				if _, dup := byType[b.Type]; dup || b.Count <= 0 || b.Oldest.IsZero() {
					t.Fatalf("pending backlog %+v in %+v", b, list)
				}
				byType[b.Type] = b
			}
			outbox, err = tx.OutboxBacklog(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return byType, outbox
	}
	before, outboxBefore := backlog()

	var ids []int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		ids = ids[:0]
		for i := range 2 {
			id, err := tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeWithdraw, store.StatusPending, 5_000, base.Add(time.Duration(i)*time.Minute)))
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		_, err := tx.InsertNotification(ctx, store.NewNotification{UserID: userID, Phone: phone, Kind: store.NotifyPINChanged, Now: base})
		return err
	})
	after, outboxAfter := backlog()
	if got := after[store.TypeWithdraw].Count - before[store.TypeWithdraw].Count; got != 2 {
		t.Fatalf("pending withdrawals grew by %d, want 2 (before %+v, after %+v)", got, before, after)
	}
	if outboxAfter.Count != outboxBefore.Count+1 || outboxAfter.Oldest.IsZero() || outboxAfter.Oldest.After(base) {
		t.Fatalf("outbox backlog %+v after queuing one at %s (before %+v)", outboxAfter, base, outboxBefore)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for typ, b := range after {
			list, err := tx.PendingTransactions(ctx, typ)
			if err != nil {
				return err
			}
			if int64(len(list)) != b.Count || !list[0].CreatedAt.Equal(b.Oldest) {
				t.Fatalf("backlog of %s: %+v, but %d pending, the first created %s", typ, b, len(list), list[0].CreatedAt)
			}
		}
		ok, err := tx.FinishTransaction(ctx, store.Finish{ID: ids[0], From: store.StatusPending, To: store.StatusFailed, AmountMsat: 5_000, Now: base})
		if err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		return nil
	})
	if final, _ := backlog(); final[store.TypeWithdraw].Count != after[store.TypeWithdraw].Count-1 {
		t.Fatalf("pending withdrawals %+v after one failed, were %+v", final[store.TypeWithdraw], after[store.TypeWithdraw])
	}
	// Reconcile, after, wants every pending transaction to hold funds.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.FinishTransaction(ctx, store.Finish{ID: ids[1], From: store.StatusPending, To: store.StatusFailed, AmountMsat: 5_000, Now: base})
		return err
	})
}
