-- name: SetUserFrozen :execrows
UPDATE users SET frozen_at = sqlc.narg(frozen_at), updated_at = sqlc.arg(now) WHERE id = sqlc.arg(id);

-- name: SetUserPINReset :execrows
UPDATE users SET pin_reset_at = sqlc.narg(pin_reset_at), updated_at = sqlc.arg(now) WHERE id = sqlc.arg(id);

-- name: ListFlaggedUsers :many
-- Users an operator froze or whose PIN reset is pending, for reconcile.
SELECT * FROM users WHERE frozen_at IS NOT NULL OR pin_reset_at IS NOT NULL ORDER BY id;

-- name: GetServicePause :one
SELECT * FROM service_pause WHERE id = 1;

-- name: SetAutoPause :execrows
-- Changes the watchdog's flag only when it differs, so that of several
-- servers exactly one sees the change (and logs it).
UPDATE service_pause SET auto_paused = sqlc.arg(paused), auto_reason = sqlc.arg(reason), updated_at = sqlc.arg(now)
WHERE id = 1 AND auto_paused <> sqlc.arg(paused);

-- name: SetManualPause :execrows
UPDATE service_pause
SET manual_paused = sqlc.arg(paused), manual_reason = sqlc.arg(reason), operator = sqlc.arg(operator), updated_at = sqlc.arg(now)
WHERE id = 1 AND manual_paused <> sqlc.arg(paused);

-- name: InsertAudit :one
INSERT INTO admin_audit (operator, action, user_id, reason, detail, prev_hash, hash, created_at)
VALUES (sqlc.arg(operator), sqlc.arg(action), sqlc.narg(user_id), sqlc.arg(reason), sqlc.arg(detail), sqlc.arg(prev_hash),
        sqlc.arg(hash), sqlc.arg(created_at))
RETURNING id;

-- name: LastAudit :one
SELECT * FROM admin_audit ORDER BY id DESC LIMIT 1;

-- name: ListAudit :many
SELECT * FROM admin_audit WHERE id > sqlc.arg(after_id) ORDER BY id LIMIT sqlc.arg(row_limit);

-- name: ListUserAudit :many
SELECT * FROM admin_audit WHERE user_id = sqlc.arg(user_id) ORDER BY id DESC LIMIT sqlc.arg(row_limit);

-- name: UserLiabilities :one
-- What the users are owed: every user account, and the holds of pending
-- operations (the reserved account), which go back to them on a failure.
SELECT CAST((SELECT COALESCE(SUM(balance_msat), 0) FROM accounts WHERE kind = 'user' OR code = 'reserved')
    + (SELECT COALESCE(SUM(b.balance_msat), 0) FROM account_buckets b JOIN accounts a ON a.id = b.account_id WHERE a.code = 'reserved')
    AS INTEGER) AS total;

-- name: ListOpenSessions :many
SELECT * FROM ussd_sessions WHERE phone = sqlc.arg(phone) AND active = TRUE ORDER BY last_activity_at DESC LIMIT 20;
