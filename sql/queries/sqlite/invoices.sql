-- name: InsertInvoice :one
-- user_id is NULL for an address invoice of a number without an account
-- yet: its user is created when it is paid.
INSERT INTO invoices (
    user_id, transaction_id, invoice, payment_hash, amount_msat, status, description,
    add_index, expires_at, phone, origin, payer_comment, address_name, created_at, updated_at
) VALUES (
    sqlc.narg(user_id), sqlc.narg(transaction_id), sqlc.arg(invoice), sqlc.arg(payment_hash), sqlc.arg(amount_msat),
    'pending', sqlc.arg(description), sqlc.narg(add_index), sqlc.arg(expires_at), sqlc.narg(phone), sqlc.arg(origin),
    sqlc.arg(payer_comment), sqlc.arg(address_name), sqlc.arg(now), sqlc.arg(now)
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
-- The pending transaction rows of invoices that have expired follow them:
-- from the few pending rows to their invoice (migration 000013's index),
-- never through the expired invoices, which only grow.
UPDATE transactions SET status = 'expired', updated_at = sqlc.arg(now)
WHERE type = 'invoice' AND status = 'pending'
  AND EXISTS (SELECT 1 FROM invoices i WHERE i.transaction_id = transactions.id AND i.status = 'expired');

-- name: MaxInvoiceAddIndex :one
SELECT CAST(COALESCE(MAX(add_index), 0) AS INTEGER) AS add_index FROM invoices;

-- name: MinUnpaidInvoiceAddIndex :one
-- The oldest invoice the node may still settle for us: pending, or expired
-- after since (an HTLC accepted before expiry can settle late).
SELECT CAST(COALESCE(MIN(add_index), 0) AS INTEGER) AS add_index FROM invoices
WHERE status IN ('pending', 'expired') AND add_index IS NOT NULL AND expires_at > sqlc.arg(since);

-- name: ListUnpaidAddressInvoices :many
-- The payment hashes of the address invoices asked for under one name of a
-- number that can still be paid, newest first: the cap on them expires the
-- oldest. Kept per name, so that the digits and each chosen name have caps
-- of their own.
SELECT payment_hash FROM invoices
WHERE phone = sqlc.arg(phone) AND address_name = sqlc.arg(address_name) AND status = 'pending' AND origin = 'address'
  AND expires_at > sqlc.arg(now)
ORDER BY id DESC;

-- name: ExpireInvoice :execrows
UPDATE invoices SET status = 'expired', updated_at = sqlc.arg(now)
WHERE payment_hash = sqlc.arg(payment_hash) AND status = 'pending';

-- name: SetInvoiceReceipt :execrows
-- Records whom a paid address invoice credited and its transaction row,
-- both made when it was paid.
UPDATE invoices SET user_id = sqlc.arg(user_id), transaction_id = sqlc.arg(transaction_id), updated_at = sqlc.arg(now)
WHERE payment_hash = sqlc.arg(payment_hash);

-- name: DeleteStaleAddressInvoices :execrows
-- Address invoices that expired unpaid before the given time record no
-- money and nobody asked for them: they go, so that floods leave nothing.
-- One that a payment of ours still holds funds for (paid inside the ledger,
-- the node's answer not in yet) stays: settling it needs the row.
DELETE FROM invoices
WHERE status = 'expired' AND origin = 'address' AND transaction_id IS NULL AND expires_at < sqlc.arg(before)
  AND payment_hash NOT IN (
      SELECT t.payment_hash FROM transactions t
      WHERE t.type = 'payment' AND t.status = 'pending' AND t.payment_hash IS NOT NULL);
