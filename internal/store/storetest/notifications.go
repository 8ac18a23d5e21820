package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testNotifications: a notification reads back as written, is marked sent
// once, is due again after a reschedule, and leaves the due list when sent
// or given up.
func testNotifications(t *testing.T, s store.Store) {
	userID, _, phone := NewFundedUser(t, s, 0)
	var txID int64
	var ids [3]int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		if txID, err = tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeReceive, store.StatusCompleted, 5000, base)); err != nil {
			return err
		}
		for i := range ids {
			ids[i], err = tx.InsertNotification(ctx, store.NewNotification{UserID: userID, Phone: phone, Kind: store.NotifyReceived,
				TransactionID: txID, AmountMsat: 5000, Counterparty: "+254700000002", Body: "lnbcrt1", Now: base})
			if err != nil {
				return err
			}
		}
		return nil
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.NotificationsOf(ctx, txID)
		if err != nil || len(got) != 3 {
			t.Fatalf("NotificationsOf: %+v %v", got, err)
		}
		n := got[0]
		if n.ID != ids[0] || n.UserID != userID || n.Phone != phone || n.Kind != store.NotifyReceived || n.AmountMsat != 5000 ||
			n.Counterparty != "+254700000002" || n.Body != "lnbcrt1" || n.Status != store.NotificationPending || n.SentAt != nil ||
			!n.NextAttemptAt.Equal(base) {
			t.Fatalf("notification read back wrong: %+v", n)
		}
		if ok, err := tx.MarkNotificationSent(ctx, ids[0], base.Add(time.Second)); err != nil || !ok {
			t.Fatalf("MarkNotificationSent: %v %v", ok, err)
		}
		if ok, err := tx.MarkNotificationSent(ctx, ids[0], base.Add(time.Second)); err != nil || ok {
			t.Fatalf("second MarkNotificationSent must not apply: %v %v", ok, err)
		}
		if ok, err := tx.RescheduleNotification(ctx, ids[1], base.Add(time.Hour), false); err != nil || !ok {
			t.Fatalf("RescheduleNotification: %v %v", ok, err)
		}
		if ok, err := tx.RescheduleNotification(ctx, ids[2], base, true); err != nil || !ok {
			t.Fatalf("RescheduleNotification(give up): %v %v", ok, err)
		}
		due, err := tx.DueNotifications(ctx, base.Add(time.Minute), 1000)
		if err != nil {
			return err
		}
		for _, d := range due {
			if d.ID == ids[0] || d.ID == ids[1] || d.ID == ids[2] {
				t.Fatalf("notification %d listed as due: %+v", d.ID, d)
			}
		}
		due, err = tx.DueNotifications(ctx, base.Add(2*time.Hour), 1000)
		if err != nil {
			return err
		}
		found := false
		for _, d := range due {
			found = found || (d.ID == ids[1] && d.Attempts == 1)
		}
		if !found {
			t.Fatalf("rescheduled notification not due after its time: %+v", due)
		}
		got, _ = tx.NotificationsOf(ctx, txID)
		if got[0].Status != store.NotificationSent || got[0].SentAt == nil || got[2].Status != store.NotificationFailed {
			t.Fatalf("statuses after delivery: %+v", got)
		}
		return nil
	})
}
