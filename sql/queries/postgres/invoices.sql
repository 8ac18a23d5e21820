-- name: InsertInvoice :one
INSERT INTO invoices (
    user_id, transaction_id, invoice, payment_hash, amount_msat, status, description,
    add_index, expires_at, created_at, updated_at
) VALUES (
    sqlc.arg(user_id), sqlc.narg(transaction_id), sqlc.arg(invoice), sqlc.arg(payment_hash), sqlc.arg(amount_msat),
    'pending', sqlc.arg(description), sqlc.narg(add_index), sqlc.arg(expires_at), sqlc.arg(now), sqlc.arg(now)
)
RETURNING id;

-- name: GetInvoiceByPaymentHash :one
SELECT * FROM invoices WHERE payment_hash = sqlc.arg(payment_hash);

-- name: MarkInvoicePaid :execrows
-- Marks an invoice paid once. An expired invoice can still be settled by the
-- node (clocks differ), and the money then did arrive, so it counts.
UPDATE invoices
SET status = 'paid', amount_paid_msat = sqlc.arg(amount_paid_msat), paid_at = sqlc.arg(paid_at), updated_at = sqlc.arg(now)
WHERE payment_hash = sqlc.arg(payment_hash) AND status IN ('pending', 'expired');

-- name: ExpireInvoices :execrows
UPDATE invoices SET status = 'expired', updated_at = sqlc.arg(now)
WHERE status = 'pending' AND expires_at < sqlc.arg(now);

-- name: ExpireInvoiceTransactions :execrows
-- The pending transaction rows of invoices that have expired follow them.
UPDATE transactions SET status = 'expired', updated_at = sqlc.arg(now)
WHERE type = 'invoice' AND status = 'pending'
  AND id IN (SELECT transaction_id FROM invoices WHERE status = 'expired' AND transaction_id IS NOT NULL);

-- name: MaxInvoiceAddIndex :one
SELECT CAST(COALESCE(MAX(add_index), 0) AS BIGINT) AS add_index FROM invoices;

-- name: MinUnpaidInvoiceAddIndex :one
-- The oldest invoice the node may still settle for us: pending, or expired
-- after since (an HTLC accepted before expiry can settle late).
SELECT CAST(COALESCE(MIN(add_index), 0) AS BIGINT) AS add_index FROM invoices
WHERE status IN ('pending', 'expired') AND add_index IS NOT NULL AND expires_at > sqlc.arg(since);
