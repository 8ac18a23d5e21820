-- name: InsertTransaction :one
INSERT INTO transactions (
    user_id, type, direction, status, amount_msat, fee_msat, invoice, payment_hash,
    mpesa_receipt, mpesa_checkout_request_id, mpesa_conversation_id, counterparty_phone,
    description, idempotency_key, related_id, held_msat, created_at, updated_at
) VALUES (
    sqlc.narg(user_id), sqlc.arg(type), sqlc.arg(direction), sqlc.arg(status), sqlc.arg(amount_msat),
    sqlc.arg(fee_msat), sqlc.narg(invoice), sqlc.narg(payment_hash), sqlc.narg(mpesa_receipt),
    sqlc.narg(mpesa_checkout_request_id), sqlc.narg(mpesa_conversation_id), sqlc.narg(counterparty_phone),
    sqlc.arg(description), sqlc.arg(idempotency_key), sqlc.narg(related_id), sqlc.arg(held_msat), sqlc.arg(now), sqlc.arg(now)
)
RETURNING id;

-- name: InsertTransfer :many
-- Both rows of a phone-to-phone transfer in one round trip: the sender's
-- "send" and the recipient's "receive", whose key is the send key + "/receive".
-- Both ids come back; the caller picks the sending row by its type.
INSERT INTO transactions (
    user_id, type, direction, status, amount_msat, fee_msat, counterparty_phone,
    description, idempotency_key, created_at, updated_at
) VALUES (
    sqlc.arg(sender_id), 'send', 'out', 'completed', sqlc.arg(amount_msat), sqlc.arg(fee_msat), sqlc.arg(recipient_phone),
    sqlc.arg(description), sqlc.arg(send_key), sqlc.arg(now), sqlc.arg(now)
), (
    sqlc.arg(recipient_id), 'receive', 'in', 'completed', sqlc.arg(amount_msat), 0, sqlc.arg(sender_phone),
    sqlc.arg(description), sqlc.arg(receive_key), sqlc.arg(now), sqlc.arg(now)
)
RETURNING id, type;

-- name: GetTransactionByID :one
SELECT * FROM transactions WHERE id = sqlc.arg(id);

-- name: GetTransactionByIdempotencyKey :one
SELECT * FROM transactions WHERE idempotency_key = sqlc.arg(idempotency_key);

-- name: FinishTransaction :execrows
-- Moves a transaction out of one status into another (normally pending into
-- a final one) and records its final amount and fee; 0 rows means it was not
-- in from_status.
UPDATE transactions
SET status = sqlc.arg(to_status), amount_msat = sqlc.arg(amount_msat), fee_msat = sqlc.arg(fee_msat), updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND status = sqlc.arg(from_status);

-- name: ListUserTransactions :many
-- The latest transactions of a user, newest first, older than before_id.
SELECT * FROM transactions
WHERE user_id = sqlc.arg(user_id) AND id < sqlc.arg(before_id)
ORDER BY id DESC
LIMIT sqlc.arg(max_rows);

-- name: ListPendingTransactions :many
SELECT * FROM transactions WHERE status = 'pending' AND type = sqlc.arg(type) ORDER BY id;

-- name: GetPaymentByHash :one
-- The outgoing payment that owns a payment hash, in whatever status: a hash
-- has at most one (migration 000006), by the unique index that also serves
-- this.
SELECT * FROM transactions
WHERE payment_hash = sqlc.arg(payment_hash) AND type = 'payment';

-- name: ListPendingBacklog :many
-- For the metrics: the pending transactions of each type, how many and the
-- oldest (the first pending id of a type is its oldest), read through the
-- index of pending rows; no finished row is scanned.
SELECT t.type, t.created_at, c.pending
FROM transactions t
JOIN (SELECT type, COUNT(*) AS pending, MIN(id) AS first_id
      FROM transactions WHERE status = 'pending' GROUP BY type) c ON t.id = c.first_id
ORDER BY t.type;

-- name: LeaseTransaction :execrows
-- Leases a pending transaction to the holder of follow_token for lease_us
-- from now on the database's clock (migration 000012): 0 rows when it is no
-- longer pending or another holds a lease that has not run out. The holder
-- renews its lease with the same token.
UPDATE transactions
SET follow_token = sqlc.arg(follow_token), leased_until = now() + sqlc.arg(lease_us)::BIGINT * INTERVAL '1 microsecond'
WHERE id = sqlc.arg(id) AND status = 'pending' AND (leased_until IS NULL OR leased_until <= now() OR follow_token = sqlc.arg(follow_token));

-- name: ReleaseTransaction :execrows
-- Ends the holder's lease of a transaction; 0 rows when it holds none.
UPDATE transactions SET follow_token = NULL, leased_until = NULL
WHERE id = sqlc.arg(id) AND follow_token = sqlc.arg(follow_token);
