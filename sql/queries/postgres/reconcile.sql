-- name: ListUnbalancedTransactions :many
-- Transactions whose ledger entries do not sum to zero.
SELECT transaction_id, CAST(SUM(amount_msat) AS BIGINT) AS total
FROM ledger_entries GROUP BY transaction_id HAVING SUM(amount_msat) <> 0 ORDER BY transaction_id;

-- name: ListBalanceDrift :many
-- Accounts whose cached balance (a system account's row and buckets) differs
-- from the sum of their entries.
SELECT a.id, CAST(a.balance_msat + COALESCE(b.total, 0) AS BIGINT) AS balance_msat,
       CAST(COALESCE(SUM(e.amount_msat), 0) AS BIGINT) AS ledger_msat
FROM accounts a
LEFT JOIN (SELECT account_id, SUM(balance_msat) AS total FROM account_buckets GROUP BY account_id) b ON b.account_id = a.id
LEFT JOIN ledger_entries e ON e.account_id = a.id
GROUP BY a.id, a.balance_msat, b.total
HAVING a.balance_msat + COALESCE(b.total, 0) <> COALESCE(SUM(e.amount_msat), 0)
ORDER BY a.id;

-- name: ListNegativeUserAccounts :many
SELECT id, balance_msat FROM accounts WHERE kind = 'user' AND balance_msat < 0 ORDER BY id;

-- name: ListReservationMismatches :many
-- Money held on an account (the reserved account) per transaction: a pending
-- transaction must hold a positive amount, a finished one must hold nothing.
SELECT e.transaction_id, t.status, CAST(SUM(e.amount_msat) AS BIGINT) AS held_msat
FROM ledger_entries e JOIN transactions t ON t.id = e.transaction_id
WHERE e.account_id = sqlc.arg(account_id)
GROUP BY e.transaction_id, t.status
HAVING (t.status = 'pending' AND SUM(e.amount_msat) <= 0) OR (t.status <> 'pending' AND SUM(e.amount_msat) <> 0)
ORDER BY e.transaction_id;

-- name: SumAllBalances :one
-- Every cached balance, the system accounts' buckets included.
SELECT CAST((SELECT COALESCE(SUM(balance_msat), 0) FROM accounts) + (SELECT COALESCE(SUM(balance_msat), 0) FROM account_buckets) AS BIGINT) AS total;

-- name: ListChainAccounts :many
-- User accounts with their chain heads and daily counters, a page at a time.
SELECT id, balance_msat, day_out_msat, day_out_day, head_seq, head_hash
FROM accounts WHERE kind = 'user' AND id > sqlc.arg(after_id)
ORDER BY id LIMIT sqlc.arg(max_rows);

-- name: ListChainEntries :many
-- Entries that have a chain place, in (account, place) order, after a given
-- place: a range scan of the unique (account_id, seq) index.
SELECT id, transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at
FROM ledger_entries
WHERE seq IS NOT NULL
  AND (account_id > sqlc.arg(after_account) OR (account_id = sqlc.arg(after_account) AND seq > sqlc.arg(after_seq)))
ORDER BY account_id, seq LIMIT sqlc.arg(max_rows);

-- name: ListUnchainedEntries :many
-- Entries on user accounts outside any chain: every posting gives them a
-- place, a balance after and a hash.
SELECT e.id, e.transaction_id, e.account_id, e.amount_msat
FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
WHERE a.kind = 'user' AND (e.seq IS NULL OR e.balance_after_msat IS NULL OR e.hash IS NULL)
ORDER BY e.id LIMIT sqlc.arg(max_rows);

-- name: MaxTransactionID :one
SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS max_id FROM transactions;

-- name: ListTransactionShapes :many
-- Transactions of an id range with the accounts their roles name (the
-- user's, and the counterparty phone's user's) and their entries, one row
-- per entry (one with no entry for a transaction without any).
SELECT t.id, t.type, t.direction, t.status, t.amount_msat, t.fee_msat, t.held_msat,
       CAST(COALESCE(t.payment_hash, '') AS TEXT) AS payment_hash,
       CAST(COALESCE(ua.id, 0) AS BIGINT) AS user_account,
       CAST(COALESCE(ca.id, 0) AS BIGINT) AS counterparty_account,
       CAST(COALESCE(e.id, 0) AS BIGINT) AS entry_id,
       CAST(COALESCE(e.account_id, 0) AS BIGINT) AS entry_account,
       CAST(COALESCE(e.amount_msat, 0) AS BIGINT) AS entry_amount,
       CAST(COALESCE(e.day_out_msat, 0) AS BIGINT) AS entry_day_out,
       CAST(COALESCE(e.day_out_day, 0) AS BIGINT) AS entry_day
FROM transactions t
LEFT JOIN accounts ua ON ua.user_id = t.user_id
LEFT JOIN users cu ON cu.phone = t.counterparty_phone
LEFT JOIN accounts ca ON ca.user_id = cu.id
LEFT JOIN ledger_entries e ON e.transaction_id = t.id
WHERE t.id > sqlc.arg(after_id) AND t.id <= sqlc.arg(upto_id)
ORDER BY t.id, e.id;

-- name: ListLightningMovements :many
-- Invoice and payment transactions with a payment hash, a page at a time,
-- each with the sum of its entries on the Lightning account.
SELECT t.id, t.type, t.status, CAST(COALESCE(t.payment_hash, '') AS TEXT) AS payment_hash, t.amount_msat, t.fee_msat,
       CAST(COALESCE(SUM(e.amount_msat), 0) AS BIGINT) AS lightning_msat
FROM transactions t
LEFT JOIN ledger_entries e ON e.transaction_id = t.id AND e.account_id = sqlc.arg(lightning_account)
WHERE t.type IN ('invoice', 'payment') AND t.payment_hash IS NOT NULL AND t.id > sqlc.arg(after_id)
GROUP BY t.id, t.type, t.status, t.payment_hash, t.amount_msat, t.fee_msat
ORDER BY t.id LIMIT sqlc.arg(max_rows);
