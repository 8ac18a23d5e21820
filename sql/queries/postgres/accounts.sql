-- name: InsertUserAccount :one
INSERT INTO accounts (user_id, kind, balance_msat, created_at)
VALUES (sqlc.arg(user_id), 'user', 0, sqlc.arg(now))
RETURNING id;

-- name: GetAccountByID :one
SELECT * FROM accounts WHERE id = sqlc.arg(id);

-- name: GetAccountByUserID :one
SELECT * FROM accounts WHERE user_id = sqlc.arg(user_id);

-- name: GetSystemAccount :one
SELECT * FROM accounts WHERE code = sqlc.arg(code);

-- name: GetUserAccountByPhone :one
-- The user and its wallet account in one round trip (the transfer path).
SELECT u.id AS user_id, u.status AS user_status, a.id AS account_id, a.balance_msat
FROM users u JOIN accounts a ON a.user_id = u.id
WHERE u.phone = sqlc.arg(phone);

-- name: LockAccounts :many
-- Row locks taken in id order, so two transactions that touch the same
-- accounts always queue instead of deadlocking.
SELECT * FROM accounts WHERE id = ANY(sqlc.arg(ids)::BIGINT[]) ORDER BY id FOR UPDATE;

-- name: ApplyBalanceDelta :execrows
-- Moves a cached balance by delta and counts day_out towards the account's
-- sends of that day, unless that would take a user account below zero, a
-- credit would take it above max_balance, or the day's sends would pass
-- day_limit; 0 rows means refused. (Assignments read the old values: the day
-- is set last, which also holds for MySQL's left-to-right SET.)
UPDATE accounts
SET balance_msat = balance_msat + sqlc.arg(delta)::BIGINT,
    day_out_msat = CASE
        WHEN day_out_day = sqlc.arg(day)::BIGINT THEN day_out_msat + sqlc.arg(day_out)::BIGINT
        WHEN sqlc.arg(day_out)::BIGINT > 0 THEN sqlc.arg(day_out)::BIGINT
        ELSE 0 END,
    day_out_day = CASE WHEN sqlc.arg(day_out)::BIGINT > 0 THEN sqlc.arg(day)::BIGINT ELSE day_out_day END
WHERE id = sqlc.arg(id)
  AND (kind = 'system'
       OR (balance_msat + sqlc.arg(delta)::BIGINT >= 0
           AND (sqlc.arg(delta)::BIGINT < 0 OR balance_msat + sqlc.arg(delta)::BIGINT <= sqlc.arg(max_balance)::BIGINT)
           AND (sqlc.arg(day_out)::BIGINT <= 0
                OR (CASE WHEN day_out_day = sqlc.arg(day)::BIGINT THEN day_out_msat ELSE 0 END) + sqlc.arg(day_out)::BIGINT <= sqlc.arg(day_limit)::BIGINT)));

-- name: InsertLedgerEntry :exec
INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, created_at)
VALUES (sqlc.arg(transaction_id), sqlc.arg(account_id), sqlc.arg(amount_msat), sqlc.arg(now));

-- name: InsertLedgerEntryPair :exec
-- The common two-legged posting in one round trip.
INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, created_at)
VALUES (sqlc.arg(transaction_id), sqlc.arg(account_a), sqlc.arg(amount_a), sqlc.arg(now)),
       (sqlc.arg(transaction_id), sqlc.arg(account_b), sqlc.arg(amount_b), sqlc.arg(now));

-- name: ListEntriesByTransaction :many
SELECT * FROM ledger_entries WHERE transaction_id = sqlc.arg(transaction_id) ORDER BY id;

-- name: SumEntriesForAccountAndTransaction :one
SELECT CAST(COALESCE(SUM(amount_msat), 0) AS BIGINT) AS total
FROM ledger_entries WHERE transaction_id = sqlc.arg(transaction_id) AND account_id = sqlc.arg(account_id);
