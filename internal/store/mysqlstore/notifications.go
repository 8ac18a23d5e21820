package mysqlstore

import (
	"context"
	"database/sql"
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
		ClaimToken: r.ClaimToken.String, MessageID: r.MessageID.String, LastError: r.LastError,
		LeasedUntil: sqlvalue.TimePtr(r.LeasedUntil),
	}
}

// withDelivery adds a message's delivery report to its notification.
func withDelivery(r mysqldb.Notification, status, failure string, retries int32, final bool, at sql.NullTime) store.Notification {
	n := toNotification(r)
	n.DeliveryStatus, n.DeliveryFailure, n.DeliveryRetries, n.DeliveryFinal, n.DeliveredAt = status, failure, int(retries), final, sqlvalue.TimePtr(at)
	return n
}

func toNotifications(rows []mysqldb.Notification) []store.Notification {
	out := make([]store.Notification, len(rows))
	for i, r := range rows {
		out[i] = toNotification(r)
	}
	return out
}

func (t *tx) NotificationsOf(ctx context.Context, transactionID int64) ([]store.Notification, error) {
	rows, err := t.q.ListNotificationsByTransaction(ctx, sqlvalue.NullInt(transactionID))
	if err != nil {
		return nil, interpret(fmt.Errorf("notifications of %d: %w", transactionID, err))
	}
	out := make([]store.Notification, len(rows))
	for i, r := range rows {
		out[i] = withDelivery(r.Notification, r.DeliveryStatus, r.DeliveryFailure, r.DeliveryRetries, r.DeliveryFinal, r.DeliveredAt)
	}
	return out, nil
}

func (t *tx) Notification(ctx context.Context, id int64) (store.Notification, error) {
	r, err := t.q.GetNotification(ctx, id)
	if err != nil {
		return store.Notification{}, interpret(fmt.Errorf("notification %d: %w", id, err))
	}
	return withDelivery(r.Notification, r.DeliveryStatus, r.DeliveryFailure, r.DeliveryRetries, r.DeliveryFinal, r.DeliveredAt), nil
}

func (t *tx) ClaimNotifications(ctx context.Context, now, leaseUntil time.Time, token string, limit int) ([]store.Notification, error) {
	ids, err := t.q.LockDueNotifications(ctx, mysqldb.LockDueNotificationsParams{Now: now.UTC(), Limit: sqlvalue.Int32(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("lock due notifications: %w", err))
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if _, err := t.q.ClaimNotifications(ctx, mysqldb.ClaimNotificationsParams{
		ClaimToken: sqlvalue.NullString(token), LeaseUntil: leaseUntil.UTC(), Ids: ids, Now: now.UTC(),
	}); err != nil {
		return nil, interpret(fmt.Errorf("claim notifications: %w", err))
	}
	rows, err := t.q.ListClaimedNotifications(ctx, mysqldb.ListClaimedNotificationsParams{Ids: ids, ClaimToken: sqlvalue.NullString(token)})
	if err != nil {
		return nil, interpret(fmt.Errorf("claimed notifications: %w", err))
	}
	return toNotifications(rows), nil
}

func (t *tx) StartNotificationAttempt(ctx context.Context, id int64, token string, lease time.Duration) (bool, error) {
	n, err := t.q.StartNotificationAttempt(ctx, mysqldb.StartNotificationAttemptParams{
		LeaseUs: lease.Microseconds(), ID: id, ClaimToken: sqlvalue.NullString(token),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("start notification attempt: %w", err))
	}
	return n == 1, nil
}

func (t *tx) ReleaseNotifications(ctx context.Context, token string, ids []int64, now time.Time) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := t.q.ReleaseNotifications(ctx, mysqldb.ReleaseNotificationsParams{Now: now.UTC(), ClaimToken: sqlvalue.NullString(token), Ids: ids})
	if err != nil {
		return 0, interpret(fmt.Errorf("release notifications: %w", err))
	}
	return n, nil
}

func (t *tx) RecordNotificationSent(ctx context.Context, id int64, token, messageID string, now time.Time) (bool, error) {
	n, err := t.q.RecordNotificationSent(ctx, mysqldb.RecordNotificationSentParams{
		MessageID: sqlvalue.NullString(messageID), Now: sqlvalue.NullTime(&now), ID: id, ClaimToken: sqlvalue.NullString(token),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("record notification sent: %w", err))
	}
	if n != 1 || messageID == "" {
		return n == 1, nil
	}
	if err := t.q.InsertSMSDelivery(ctx, mysqldb.InsertSMSDeliveryParams{MessageID: messageID, NotificationID: id}); err != nil {
		return false, interpret(fmt.Errorf("record notification sent: %w", err))
	}
	return true, nil
}

func (t *tx) RecordNotificationRetry(ctx context.Context, id int64, token string, next time.Time, lastError string, giveUp bool) (bool, error) {
	status := store.NotificationPending
	if giveUp {
		status = store.NotificationFailed
	}
	n, err := t.q.RecordNotificationRetry(ctx, mysqldb.RecordNotificationRetryParams{
		Status: string(status), NextAttemptAt: next.UTC(), LastError: store.Clip(lastError, 255), ID: id, ClaimToken: sqlvalue.NullString(token),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("record notification retry: %w", err))
	}
	return n == 1, nil
}

func (t *tx) RecordDeliveryReport(ctx context.Context, r store.DeliveryReport) (bool, error) {
	n, err := t.q.RecordDeliveryReport(ctx, mysqldb.RecordDeliveryReportParams{
		Status: r.Status, FailureReason: r.FailureReason, Retries: sqlvalue.Int32(r.RetryCount), Final: r.Final,
		Now: sqlvalue.NullTime(&r.Now), MessageID: r.MessageID,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("record delivery report: %w", err))
	}
	return n > 0, nil
}

func (t *tx) BalanceAfter(ctx context.Context, transactionID, userID int64) (int64, error) {
	b, err := t.q.GetBalanceAfter(ctx, mysqldb.GetBalanceAfterParams{TransactionID: transactionID, UserID: sqlvalue.NullInt(userID)})
	if err == nil && !b.Valid {
		err = sql.ErrNoRows
	}
	if err != nil {
		return 0, interpret(fmt.Errorf("balance after %d: %w", transactionID, err))
	}
	return b.Int64, nil
}

func (t *tx) OutboxBacklog(ctx context.Context) (store.Backlog, error) {
	rows, err := t.q.ListOutboxBacklog(ctx)
	if err != nil || len(rows) == 0 {
		return store.Backlog{}, interpret(err)
	}
	return store.Backlog{Count: rows[0].Pending, Oldest: rows[0].CreatedAt.UTC()}, nil
}
