package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testTransactions: a transaction reads back as written, lists among the
// pending ones of its type, and finishes once from the status it is in.
func testTransactions(t *testing.T, s store.Store) {
	userID, _, _ := NewFundedUser(t, s, 0)
	n := newTxn(t, userID, store.TypePayment, store.StatusPending, 21_000, base)
	n.Invoice, n.PaymentHash, n.CounterpartyPhone = "lnbcrt1"+Token(t, 20), Token(t, 32), "+254700000001"
	var id int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		id, err = tx.InsertTransaction(ctx, n)
		return err
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.TransactionByIdempotencyKey(ctx, n.IdempotencyKey)
		if err != nil {
			return err
		}
		if got.ID != id || got.UserID != userID || got.Type != store.TypePayment || got.Direction != store.DirectionOut ||
			got.Status != store.StatusPending || got.AmountMsat != 21_000 || got.Invoice != n.Invoice || got.PaymentHash != n.PaymentHash ||
			got.CounterpartyPhone != n.CounterpartyPhone || got.Description != "test" || got.MpesaReceipt != "" || !got.CreatedAt.Equal(base) {
			t.Fatalf("transaction read back wrong: %+v", got)
		}
		pending, err := tx.PendingTransactions(ctx, store.TypePayment)
		if err != nil {
			return err
		}
		found := false
		for _, p := range pending {
			found = found || p.ID == id
		}
		if !found {
			t.Fatalf("pending payment %d not listed", id)
		}
		ok, err := tx.FinishTransaction(ctx, store.Finish{ID: id, From: store.StatusPending, To: store.StatusCompleted, AmountMsat: 20_000, FeeMsat: 150, Now: base.Add(time.Second)})
		if err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		ok, err = tx.FinishTransaction(ctx, store.Finish{ID: id, From: store.StatusPending, To: store.StatusFailed, AmountMsat: 0, FeeMsat: 0, Now: base.Add(time.Second)})
		if err != nil || ok {
			t.Fatalf("second finish from pending must not apply: %v %v", ok, err)
		}
		got, _ = tx.TransactionByID(ctx, id)
		if got.Status != store.StatusCompleted || got.FeeMsat != 150 || got.AmountMsat != 20_000 {
			t.Fatalf("after finish: %+v", got)
		}
		_, err = tx.TransactionByID(ctx, -5)
		mustKind(t, err, store.ErrNotFound, "unknown transaction")
		_, err = tx.TransactionByIdempotencyKey(ctx, "missing-"+Token(t, 8))
		mustKind(t, err, store.ErrNotFound, "unknown key")
		return nil
	})
}

// testTransactionConstraints: an idempotency key is used once, and a
// transfer inserts its sending and receiving rows together.
func testTransactionConstraints(t *testing.T, s store.Store) {
	userID, _, _ := NewFundedUser(t, s, 0)
	first := newTxn(t, userID, store.TypeTopup, store.StatusCompleted, 1000, base)
	first.MpesaReceipt, first.MpesaCheckoutRequestID, first.MpesaConversationID = "R"+Token(t, 5), "ws_CO_"+Token(t, 8), "AG_"+Token(t, 8)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertTransaction(ctx, first)
		return err
	})
	sameKey := newTxn(t, userID, store.TypeTopup, store.StatusCompleted, 1000, base)
	sameKey.IdempotencyKey = first.IdempotencyKey
	// Both rows of a transfer go in at once; the receiving row's key is
	// derived from the sending one, so a repeat of either conflicts.
	other, _, otherPhone := NewFundedUser(t, s, 0)
	transfer := store.NewTransfer{SenderID: userID, SenderPhone: "+254700000009", RecipientID: other, RecipientPhone: otherPhone,
		AmountMsat: 7_000, FeeMsat: 10, Description: "lunch", IdempotencyKey: Token(t, 16), Now: base}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		id, err := tx.InsertTransfer(ctx, transfer)
		if err != nil {
			return err
		}
		sent, err := tx.TransactionByID(ctx, id)
		if err != nil {
			return err
		}
		if sent.Type != store.TypeSend || sent.UserID != userID || sent.Direction != store.DirectionOut || sent.AmountMsat != 7_000 ||
			sent.FeeMsat != 10 || sent.CounterpartyPhone != otherPhone || sent.IdempotencyKey != transfer.IdempotencyKey || sent.Status != store.StatusCompleted {
			t.Fatalf("sending row: %+v", sent)
		}
		recv, err := tx.TransactionByIdempotencyKey(ctx, transfer.ReceiveKey())
		if err != nil {
			return err
		}
		if recv.Type != store.TypeReceive || recv.UserID != other || recv.Direction != store.DirectionIn || recv.AmountMsat != 7_000 ||
			recv.FeeMsat != 0 || recv.CounterpartyPhone != "+254700000009" || recv.Description != "lunch" {
			t.Fatalf("receiving row: %+v", recv)
		}
		return nil
	})
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertTransaction(ctx, sameKey)
		return err
	})
	mustKind(t, err, store.ErrConflict, "duplicate idempotency key")
	err = s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertTransfer(ctx, transfer)
		return err
	})
	mustKind(t, err, store.ErrConflict, "repeated transfer")
}

// testHistory: a user's history pages newest first, by id, and holds only
// the user's own rows.
func testHistory(t *testing.T, s store.Store) {
	userID, _, _ := NewFundedUser(t, s, 0)
	other, _, _ := NewFundedUser(t, s, 0)
	var ids []int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range 7 {
			id, err := tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeSend, store.StatusCompleted, int64(1000*(i+1)), base.Add(time.Duration(i)*time.Minute)))
			if err != nil {
				return err
			}
			ids = append(ids, id)
			if _, err := tx.InsertTransaction(ctx, newTxn(t, other, store.TypeSend, store.StatusCompleted, 1, base)); err != nil {
				return err
			}
		}
		// Failed and expired rows count for history but not for the limit.
		if _, err := tx.InsertTransaction(ctx, newTxn(t, userID, store.TypePayment, store.StatusFailed, 50_000, base.Add(time.Hour))); err != nil {
			return err
		}
		_, err := tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeReceive, store.StatusCompleted, 70_000, base.Add(time.Hour)))
		return err
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		page, err := tx.LatestTransactions(ctx, userID, 0, 3)
		if err != nil {
			return err
		}
		if len(page) != 3 || page[0].Type != store.TypeReceive || page[1].Type != store.TypePayment || page[2].ID != ids[6] {
			t.Fatalf("first page: %+v", page)
		}
		next, err := tx.LatestTransactions(ctx, userID, page[2].ID, 3)
		if err != nil {
			return err
		}
		if len(next) != 3 || next[0].ID != ids[5] || next[1].ID != ids[4] || next[2].ID != ids[3] {
			t.Fatalf("second page: %+v", next)
		}
		last, err := tx.LatestTransactions(ctx, userID, ids[1], 10)
		if err != nil || len(last) != 1 || last[0].ID != ids[0] {
			t.Fatalf("last page: %+v %v", last, err)
		}
		return nil
	})
}
