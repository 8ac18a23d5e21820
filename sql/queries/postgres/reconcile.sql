-- name: ListUnbalancedTransactions :many
-- Transactions whose ledger entries do not sum to zero.
SELECT transaction_id, CAST(SUM(amount_msat) AS BIGINT) AS total
FROM ledger_entries GROUP BY transaction_id HAVING SUM(amount_msat) <> 0 ORDER BY transaction_id;

-- name: ListBalanceDrift :many
-- Accounts whose cached balance differs from the sum of their entries.
SELECT a.id, a.balance_msat, CAST(COALESCE(SUM(e.amount_msat), 0) AS BIGINT) AS ledger_msat
FROM accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id
GROUP BY a.id, a.balance_msat
HAVING a.balance_msat <> COALESCE(SUM(e.amount_msat), 0)
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
SELECT CAST(COALESCE(SUM(balance_msat), 0) AS BIGINT) AS total FROM accounts;
