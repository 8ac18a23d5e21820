-- name: InsertNotification :one
INSERT INTO notifications (
    user_id, phone, kind, transaction_id, amount_msat, counterparty, body, status, attempts, next_attempt_at, created_at
) VALUES (
    sqlc.narg(user_id), sqlc.arg(phone), sqlc.arg(kind), sqlc.narg(transaction_id), sqlc.arg(amount_msat),
    sqlc.arg(counterparty), sqlc.arg(body), 'pending', 0, sqlc.arg(now), sqlc.arg(now)
)
RETURNING id;

-- name: ListNotificationsByTransaction :many
SELECT sqlc.embed(notifications), COALESCE(d.status, '') AS delivery_status, COALESCE(d.failure_reason, '') AS delivery_failure,
       COALESCE(d.retries, 0) AS delivery_retries, COALESCE(d.final, FALSE) AS delivery_final, d.reported_at AS delivered_at
FROM notifications LEFT JOIN sms_deliveries d ON d.message_id = notifications.message_id AND d.notification_id = notifications.id
WHERE notifications.transaction_id = sqlc.arg(transaction_id) ORDER BY notifications.id;

-- name: LockDueNotifications :many
-- Due rows no other sender holds: SKIP LOCKED passes over rows another
-- claim is taking right now instead of waiting for them. A row whose send
-- is in flight is not due before its leased_until, on the database's
-- clock, whatever the claiming server's clock says.
SELECT id FROM notifications
WHERE status = 'pending' AND next_attempt_at <= sqlc.arg(now) AND (leased_until IS NULL OR leased_until <= now())
ORDER BY next_attempt_at
LIMIT sqlc.arg(max_rows)
FOR UPDATE SKIP LOCKED;

-- name: ClaimNotifications :execrows
-- Takes a lease on the rows just locked: they are not due again before
-- lease_until, and only the holder of claim_token starts their sends and
-- records their outcome. No attempt is counted until a send starts; the
-- lease of a send that ended unrecorded is over (it was due), and cleared.
UPDATE notifications
SET claim_token = sqlc.arg(claim_token), next_attempt_at = sqlc.arg(lease_until), leased_until = NULL
WHERE status = 'pending' AND next_attempt_at <= sqlc.arg(now) AND (leased_until IS NULL OR leased_until <= now())
  AND id = ANY(sqlc.arg(ids)::BIGINT[]);

-- name: StartNotificationAttempt :execrows
-- Counts an attempt as its send starts, by the claim's holder only and
-- once per claim, and leases the row to the send for lease_us from now on
-- the database's clock: no claim takes it before then.
UPDATE notifications
SET attempts = attempts + 1, leased_until = now() + sqlc.arg(lease_us)::BIGINT * INTERVAL '1 microsecond'
WHERE id = sqlc.arg(id) AND claim_token = sqlc.arg(claim_token) AND status = 'pending' AND leased_until IS NULL;

-- name: ReleaseNotifications :execrows
-- Hands back the rows of a claim whose sends never started: due again at
-- now for any sender, no attempt counted.
UPDATE notifications
SET claim_token = NULL, next_attempt_at = sqlc.arg(now)
WHERE claim_token = sqlc.arg(claim_token) AND status = 'pending' AND leased_until IS NULL AND id = ANY(sqlc.arg(ids)::BIGINT[]);

-- name: ListClaimedNotifications :many
-- (The slice comes last: sqlc numbers SQLite's parameters before it expands one.)
SELECT * FROM notifications WHERE claim_token = sqlc.arg(claim_token) AND status = 'pending' AND id = ANY(sqlc.arg(ids)::BIGINT[]) ORDER BY id;

-- name: GetNotification :one
SELECT sqlc.embed(notifications), COALESCE(d.status, '') AS delivery_status, COALESCE(d.failure_reason, '') AS delivery_failure,
       COALESCE(d.retries, 0) AS delivery_retries, COALESCE(d.final, FALSE) AS delivery_final, d.reported_at AS delivered_at
FROM notifications LEFT JOIN sms_deliveries d ON d.message_id = notifications.message_id AND d.notification_id = notifications.id
WHERE notifications.id = sqlc.arg(id);

-- name: RecordNotificationSent :execrows
-- Records the gateway's acceptance, by the lease's holder only.
UPDATE notifications
SET status = 'sent', message_id = sqlc.arg(message_id), sent_at = sqlc.arg(now), claim_token = NULL, leased_until = NULL,
    last_error = ''
WHERE id = sqlc.arg(id) AND claim_token = sqlc.arg(claim_token) AND status = 'pending';

-- name: RecordNotificationRetry :execrows
-- Records a failed attempt, by the lease's holder only: due again at
-- next_attempt_at, or failed for good when status says so.
UPDATE notifications
SET status = sqlc.arg(status), next_attempt_at = sqlc.arg(next_attempt_at), claim_token = NULL, leased_until = NULL,
    last_error = sqlc.arg(last_error)
WHERE id = sqlc.arg(id) AND claim_token = sqlc.arg(claim_token) AND status = 'pending';

-- name: InsertSMSDelivery :exec
-- Opens the delivery record of a message the gateway took: one per
-- notification (it is sent once), even under a message id seen before.
INSERT INTO sms_deliveries (message_id, notification_id) VALUES (sqlc.arg(message_id), sqlc.arg(notification_id));

-- name: RecordDeliveryReport :execrows
-- Records the gateway's delivery report against the message it names. A
-- final status (delivered, or failed for good) is kept: a late or
-- reordered interim report cannot overwrite it. A report names a message
-- by id alone: under an id the gateway gave more than once it goes to the
-- earliest of those messages still without a final report.
UPDATE sms_deliveries
SET status = sqlc.arg(status), failure_reason = sqlc.arg(failure_reason), retries = sqlc.arg(retries),
    final = sqlc.arg(final), reported_at = sqlc.arg(now)
WHERE sms_deliveries.message_id = sqlc.arg(message_id) AND NOT sms_deliveries.final
  AND sms_deliveries.notification_id = (
    SELECT MIN(o.notification_id) FROM sms_deliveries o WHERE o.message_id = sqlc.arg(message_id) AND NOT o.final);

-- name: GetBalanceAfter :one
-- A user's balance right after a transaction moved it, from the ledger's
-- own running balance (the entry of the user's account in it).
SELECT e.balance_after_msat FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
WHERE e.transaction_id = sqlc.arg(transaction_id) AND a.user_id = sqlc.arg(user_id)
ORDER BY e.seq DESC
LIMIT 1;

-- name: ListOutboxBacklog :many
-- For the metrics: how many texts wait to be sent and the oldest of them
-- (no row when none waits), through the (status, next_attempt_at) index.
SELECT n.created_at, c.pending
FROM notifications n
JOIN (SELECT COUNT(*) AS pending, MIN(id) AS first_id
      FROM notifications WHERE status = 'pending') c ON n.id = c.first_id;
