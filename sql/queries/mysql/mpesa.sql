-- name: InsertMpesaRequest :exec
INSERT INTO mpesa_requests (
    transaction_id, kind, phone, amount_kes, rate_millikes_per_btc, spread_bps, originator_conversation_id,
    next_check_at, created_at, updated_at
) VALUES (
    sqlc.arg(transaction_id), sqlc.arg(kind), sqlc.arg(phone), sqlc.arg(amount_kes), sqlc.arg(rate_millikes_per_btc),
    sqlc.arg(spread_bps), sqlc.narg(originator_conversation_id), sqlc.arg(next_check_at), sqlc.arg(now), sqlc.arg(now)
);

-- name: GetMpesaRequest :one
SELECT * FROM mpesa_requests WHERE transaction_id = sqlc.arg(transaction_id);

-- name: GetMpesaRequestByCheckout :one
SELECT * FROM mpesa_requests WHERE checkout_request_id = sqlc.arg(checkout_request_id);

-- name: GetMpesaRequestByOriginator :one
SELECT * FROM mpesa_requests WHERE originator_conversation_id = sqlc.arg(originator_conversation_id);

-- name: SetMpesaCheckout :execrows
-- Records Daraja's CheckoutRequestID of an STK push, once.
UPDATE mpesa_requests SET checkout_request_id = sqlc.arg(checkout_request_id), updated_at = sqlc.arg(now)
WHERE transaction_id = sqlc.arg(transaction_id) AND checkout_request_id IS NULL;

-- name: SetMpesaConversation :execrows
-- Records Daraja's ConversationID of a B2C payment, once.
UPDATE mpesa_requests SET conversation_id = sqlc.arg(conversation_id), updated_at = sqlc.arg(now)
WHERE transaction_id = sqlc.arg(transaction_id) AND conversation_id IS NULL;

-- name: RecordMpesaResult :execrows
-- Records a final result: the receipt (if any; a request keeps the first it
-- got, and 0 rows means another receipt is already there), the code and
-- description, and nothing more to ask.
UPDATE mpesa_requests
SET receipt = COALESCE(sqlc.narg(receipt), receipt), result_code = sqlc.arg(result_code), result_desc = sqlc.arg(result_desc),
    next_check_at = NULL, updated_at = sqlc.arg(now)
WHERE transaction_id = sqlc.arg(transaction_id)
  AND (sqlc.narg(receipt) IS NULL OR receipt IS NULL OR receipt = sqlc.narg(receipt));

-- name: ScheduleMpesaCheck :execrows
-- Sets when the reconciler asks Daraja next about a request still open, and
-- counts the check just made; 0 rows means it is closed.
UPDATE mpesa_requests SET next_check_at = sqlc.arg(next_check_at), checks = checks + 1, updated_at = sqlc.arg(now)
WHERE transaction_id = sqlc.arg(transaction_id) AND next_check_at IS NOT NULL;

-- name: ListDueMpesaRequests :many
-- Open requests whose next check is due at now, the longest waiting first.
SELECT * FROM mpesa_requests
WHERE next_check_at IS NOT NULL AND next_check_at <= sqlc.arg(now)
ORDER BY next_check_at, transaction_id
LIMIT ?;

-- name: GetUnacknowledgedTopup :one
-- The open top-up of a number and amount whose push Daraja never
-- acknowledged (no CheckoutRequestID): Daraja keeps one prompt per number
-- at a time, so a callback for that number and amount is its.
SELECT * FROM mpesa_requests
WHERE kind = 'topup' AND phone = sqlc.arg(phone) AND amount_kes = sqlc.arg(amount_kes)
  AND checkout_request_id IS NULL AND next_check_at IS NOT NULL
ORDER BY transaction_id DESC
LIMIT 1;

-- name: MarkMpesaSent :execrows
-- Records that the request to Daraja is about to leave, committed before
-- the call, with the token of the call that marks it (sent_by); 0 rows
-- means it was marked already or closed meanwhile (an unsent request the
-- reconciler finished), and then it must not be sent.
UPDATE mpesa_requests SET sent_at = sqlc.arg(sent_at), sent_by = sqlc.arg(sent_by), updated_at = sqlc.arg(now)
WHERE transaction_id = sqlc.arg(transaction_id) AND sent_at IS NULL AND next_check_at IS NOT NULL;

-- name: CloseUnsentMpesaRequest :execrows
-- Closes an open request that was never marked sent, so that it can no
-- longer be sent: 0 rows means it was sent (or closed) meanwhile. It takes
-- the row's lock, against a MarkMpesaSent racing it.
UPDATE mpesa_requests SET next_check_at = NULL, updated_at = sqlc.arg(now)
WHERE transaction_id = sqlc.arg(transaction_id) AND sent_at IS NULL AND next_check_at IS NOT NULL;

-- name: NoteMpesaResult :execrows
-- Records an answer that does not finish an open request (a top-up left to
-- the operator, a withdrawal M-Pesa does not find) and when to look next;
-- 0 rows means it is closed.
UPDATE mpesa_requests SET result_code = sqlc.arg(result_code), result_desc = sqlc.arg(result_desc),
    next_check_at = sqlc.arg(next_check_at), updated_at = sqlc.arg(now)
WHERE transaction_id = sqlc.arg(transaction_id) AND next_check_at IS NOT NULL;

-- name: ClaimMpesaCheck :execrows
-- Takes a due check of an open request for one reconciler: moves its next
-- check to next_check_at and counts it, only while it is still due at due_at (now);
-- 0 rows means another reconciler took it, or it is closed.
UPDATE mpesa_requests SET next_check_at = sqlc.arg(next_check_at), checks = checks + 1, updated_at = sqlc.arg(now)
WHERE transaction_id = sqlc.arg(transaction_id) AND next_check_at IS NOT NULL AND next_check_at <= sqlc.arg(due_at);
