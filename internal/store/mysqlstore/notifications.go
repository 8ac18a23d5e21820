package mysqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/gen/mysqldb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) InsertNotification(ctx context.Context, n store.NewNotification) (int64, error) {
	id, err := t.q.InsertNotification(ctx, mysqldb.InsertNotificationParams{
		UserID: sqlvalue.NullInt(n.UserID), Phone: n.Phone, Kind: string(n.Kind), TransactionID: sqlvalue.NullInt(n.TransactionID),
		AmountMsat: n.AmountMsat, Counterparty: n.Counterparty, Body: n.Body, Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert notification: %w", err))
	}
	return id, nil
}

func toNotification(r mysqldb.Notification) store.Notification {
	return store.Notification{
		ID: r.ID, UserID: r.UserID.Int64, Phone: r.Phone, Kind: store.NotificationKind(r.Kind), TransactionID: r.TransactionID.Int64,
		AmountMsat: r.AmountMsat, Counterparty: r.Counterparty, Body: r.Body, Status: store.NotificationStatus(r.Status),
		Attempts: int(r.Attempts), NextAttemptAt: r.NextAttemptAt.UTC(), CreatedAt: r.CreatedAt.UTC(), SentAt: sqlvalue.TimePtr(r.SentAt),
	}
}

func toNotifications(rows []mysqldb.Notification) []store.Notification {
	out := make([]store.Notification, len(rows))
	for i, r := range rows {
		out[i] = toNotification(r)
	}
	return out
}

func (t *tx) DueNotifications(ctx context.Context, now time.Time, limit int) ([]store.Notification, error) {
	rows, err := t.q.ListDueNotifications(ctx, mysqldb.ListDueNotificationsParams{Now: now.UTC(), Limit: sqlvalue.Int32(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("due notifications: %w", err))
	}
	return toNotifications(rows), nil
}

func (t *tx) NotificationsOf(ctx context.Context, transactionID int64) ([]store.Notification, error) {
	rows, err := t.q.ListNotificationsByTransaction(ctx, sqlvalue.NullInt(transactionID))
	if err != nil {
		return nil, interpret(fmt.Errorf("notifications of %d: %w", transactionID, err))
	}
	return toNotifications(rows), nil
}

func (t *tx) MarkNotificationSent(ctx context.Context, id int64, now time.Time) (bool, error) {
	n, err := t.q.MarkNotificationSent(ctx, mysqldb.MarkNotificationSentParams{SentAt: sqlvalue.NullTime(&now), ID: id})
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
	n, err := t.q.RescheduleNotification(ctx, mysqldb.RescheduleNotificationParams{Status: string(status), NextAttemptAt: next.UTC(), ID: id})
	if err != nil {
		return false, interpret(fmt.Errorf("reschedule notification: %w", err))
	}
	return n == 1, nil
}
