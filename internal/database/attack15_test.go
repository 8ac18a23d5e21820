package database_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// TestAttack15PostTransferOutsideTx: Tx.PostTransfer (issue 15) outside
// InTx ran its statements one by one in Autocommit: the transfer's two
// "completed" rows (and its idempotency key) committed on their own, then
// the posting was refused with ErrPostOutsideTx, so a completed transfer
// stood in the books with no money moved, and a repeat of its key would be
// answered with it. It must refuse before writing anything, as PostEntries
// does.
func TestAttack15PostTransferOutsideTx(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		userA, accA, phoneA := storetest.NewFundedUser(t, db, 10_000)
		userB, accB, phoneB := storetest.NewFundedUser(t, db, 0)
		key := storetest.Token(t, 16)
		now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
		err := db.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.PostTransfer(ctx, store.NewTransfer{SenderID: userA, SenderPhone: phoneA, RecipientID: userB, RecipientPhone: phoneB,
				AmountMsat: 4_000, IdempotencyKey: key, Now: now},
				[]store.Entry{{AccountID: accA, AmountMsat: -4_000, DayOutMsat: 4_000}, {AccountID: accB, AmountMsat: 4_000}},
				store.NoLimits, store.NewNotification{UserID: userB, Phone: phoneB, Kind: store.NotifyReceived, AmountMsat: 4_000, Counterparty: phoneA, Now: now})
			return err
		})
		if !errors.Is(err, store.ErrPostOutsideTx) {
			t.Fatalf("PostTransfer in Autocommit: %v, want ErrPostOutsideTx", err)
		}
		err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			sent, err := tx.TransactionByIdempotencyKey(ctx, key)
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a refused transfer left its row behind: %+v %v", sent, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
