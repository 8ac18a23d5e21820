-- name: InsertInboundSMS :execlastid
INSERT INTO inbound_sms (gateway_id, phone, user_id, text, outcome, received_at)
VALUES (sqlc.arg(gateway_id), sqlc.arg(phone), sqlc.narg(user_id), sqlc.arg(text), sqlc.arg(outcome), sqlc.arg(received_at));

-- name: GetInboundSMSByGatewayID :one
SELECT * FROM inbound_sms WHERE gateway_id = sqlc.arg(gateway_id);

-- name: CountInboundSMSSince :one
-- How many texts a number sent since a time, for the flood limit.
SELECT COUNT(*) FROM inbound_sms WHERE phone = sqlc.arg(phone) AND received_at >= sqlc.arg(since);

-- name: SetInboundSMSOutcome :execrows
UPDATE inbound_sms SET outcome = sqlc.arg(outcome) WHERE id = sqlc.arg(id);

-- name: SetInboundSMSReplyKey :execrows
-- Claims a reply that must not repeat; a unique violation means another
-- text already earned it.
UPDATE inbound_sms SET reply_key = sqlc.arg(reply_key) WHERE id = sqlc.arg(id) AND reply_key IS NULL;

-- name: InsertPaymentRequest :execlastid
INSERT INTO payment_requests (
    user_id, inbound_id, invoice, payment_hash, amount_msat, payee, status, expires_at, created_at, updated_at
) VALUES (
    sqlc.arg(user_id), sqlc.arg(inbound_id), sqlc.arg(invoice), sqlc.arg(payment_hash), sqlc.arg(amount_msat),
    sqlc.arg(payee), 'pending', sqlc.arg(expires_at), sqlc.arg(now), sqlc.arg(now)
);

-- name: SupersedePaymentRequests :execrows
-- A newer request replaces the user's pending ones: only the latest text
-- is offered for approval.
UPDATE payment_requests SET status = 'superseded', updated_at = sqlc.arg(now)
WHERE user_id = sqlc.arg(user_id) AND status = 'pending';

-- name: GetOpenPaymentRequest :one
-- The user's pending request that has not expired, if any.
SELECT * FROM payment_requests
WHERE user_id = sqlc.arg(user_id) AND status = 'pending' AND expires_at > sqlc.arg(now)
ORDER BY id DESC
LIMIT 1;

-- name: GetPaymentRequest :one
SELECT * FROM payment_requests WHERE id = sqlc.arg(id);

-- name: SetPaymentRequestStatus :execrows
-- Moves a request on from the status the caller read, and records the
-- payment it became (if any).
UPDATE payment_requests
SET status = sqlc.arg(status), transaction_id = COALESCE(sqlc.narg(transaction_id), transaction_id), updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND status = sqlc.arg(from_status);

-- name: EnsureSMSReplyCount :exec
-- The day's count of a kind of reply, made at zero the first time.
INSERT INTO sms_reply_counts (kind, reply_day, sent) VALUES (sqlc.arg(kind), sqlc.arg(reply_day), 0)
ON DUPLICATE KEY UPDATE sent = sent;

-- name: TakeSMSReplyPlace :execrows
-- Counts one more reply of the day while the count is below the cap: no
-- row changed means the cap is reached.
UPDATE sms_reply_counts SET sent = sent + 1
WHERE kind = sqlc.arg(kind) AND reply_day = sqlc.arg(reply_day) AND sent < sqlc.arg(cap);
