-- name: InsertNotification :one
INSERT INTO notifications (
    user_id, phone, kind, transaction_id, amount_msat, counterparty, body, status, attempts, next_attempt_at, created_at
) VALUES (
    sqlc.narg(user_id), sqlc.arg(phone), sqlc.arg(kind), sqlc.narg(transaction_id), sqlc.arg(amount_msat),
    sqlc.arg(counterparty), sqlc.arg(body), 'pending', 0, sqlc.arg(now), sqlc.arg(now)
)
RETURNING id;

-- name: ListDueNotifications :many
-- Pending notifications whose next attempt is due, oldest first.
SELECT * FROM notifications
WHERE status = 'pending' AND next_attempt_at <= sqlc.arg(now)
ORDER BY id
LIMIT sqlc.arg(max_rows);

-- name: ListNotificationsByTransaction :many
SELECT * FROM notifications WHERE transaction_id = sqlc.arg(transaction_id) ORDER BY id;

-- name: MarkNotificationSent :execrows
UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_at = sqlc.arg(sent_at)
WHERE id = sqlc.arg(id) AND status = 'pending';

-- name: RescheduleNotification :execrows
-- Records a failed delivery: try again at next_attempt_at, or give up
-- (status failed) when the caller says so.
UPDATE notifications SET status = sqlc.arg(status), attempts = attempts + 1, next_attempt_at = sqlc.arg(next_attempt_at)
WHERE id = sqlc.arg(id) AND status = 'pending';
