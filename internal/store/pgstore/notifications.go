package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/gen/postgresdb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) InsertNotification(ctx context.Context, n store.NewNotification) (int64, error) {
	id, err := t.q.InsertNotification(ctx, postgresdb.InsertNotificationParams{
		UserID: nullInt(n.UserID), Phone: n.Phone, Kind: string(n.Kind), TransactionID: nullInt(n.TransactionID),
		AmountMsat: n.AmountMsat, Counterparty: n.Counterparty, Body: n.Body, Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert notification: %w", err))
	}
	return id, nil
}

func toNotification(r postgresdb.Notification) store.Notification {
	return store.Notification{
		ID: r.ID, UserID: i64(r.UserID), Phone: r.Phone, Kind: store.NotificationKind(r.Kind), TransactionID: i64(r.TransactionID),
		AmountMsat: r.AmountMsat, Counterparty: r.Counterparty, Body: r.Body, Status: store.NotificationStatus(r.Status),
		Attempts: int(r.Attempts), NextAttemptAt: r.NextAttemptAt.UTC(), CreatedAt: r.CreatedAt.UTC(), SentAt: timePtr(r.SentAt),
	}
}

func toNotifications(rows []postgresdb.Notification) []store.Notification {
	out := make([]store.Notification, len(rows))
	for i, r := range rows {
		out[i] = toNotification(r)
	}
	return out
}

func (t *tx) DueNotifications(ctx context.Context, now time.Time, limit int) ([]store.Notification, error) {
	rows, err := t.q.ListDueNotifications(ctx, postgresdb.ListDueNotificationsParams{Now: now.UTC(), MaxRows: sqlvalue.Int32(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("due notifications: %w", err))
	}
	return toNotifications(rows), nil
}

func (t *tx) NotificationsOf(ctx context.Context, transactionID int64) ([]store.Notification, error) {
	rows, err := t.q.ListNotificationsByTransaction(ctx, nullInt(transactionID))
	if err != nil {
		return nil, interpret(fmt.Errorf("notifications of %d: %w", transactionID, err))
	}
	return toNotifications(rows), nil
}

func (t *tx) MarkNotificationSent(ctx context.Context, id int64, now time.Time) (bool, error) {
	n, err := t.q.MarkNotificationSent(ctx, postgresdb.MarkNotificationSentParams{SentAt: nullTime(&now), ID: id})
	if err != nil {
		return false, interpret(fmt.Errorf("mark notification sent: %w", err))
	}
	return n == 1, nil
}

func (t *tx) RescheduleNotification(ctx context.Context, id int64, next time.Time, giveUp bool) (bool, error) {
	status := store.NotificationPending
	if giveUp {
		status = store.NotificationFailed
	}
	n, err := t.q.RescheduleNotification(ctx, postgresdb.RescheduleNotificationParams{Status: string(status), NextAttemptAt: next.UTC(), ID: id})
	if err != nil {
		return false, interpret(fmt.Errorf("reschedule notification: %w", err))
	}
	return n == 1, nil
}
