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

-- name: SumAccountBuckets :one
-- What a system account's buckets add to its row's balance_msat (migration
-- 000016): its cached balance is the two together.
SELECT CAST(COALESCE(SUM(balance_msat), 0) AS INTEGER) AS total FROM account_buckets WHERE account_id = sqlc.arg(account_id);

-- name: GetUserAccountByPhone :one
-- The user and its wallet account in one round trip (the transfer path).
SELECT u.id AS user_id, u.status AS user_status, a.id AS account_id, a.balance_msat
FROM users u JOIN accounts a ON a.user_id = u.id
WHERE u.phone = sqlc.arg(phone);

-- name: LockAccounts :many
-- SQLite has no row locks: a write transaction (BEGIN IMMEDIATE) already
-- holds the database's single write lock, so this is a plain read in id order.
SELECT * FROM accounts WHERE id IN (sqlc.slice(ids)) ORDER BY id;

-- name: ApplyBalanceDelta :execrows
-- Moves a cached balance by delta and counts day_out towards the account's
-- sends, unless that would take a user account below zero, a credit would
-- take it above max_balance, or the day's sends would pass day_limit; 0 rows
-- means refused. A send counts on its day, or on the later day the counter
-- is already on (a transaction that waited past midnight for the row); a
-- give-back (day_out < 0) counts only on the day the counter is on and never
-- takes it below zero. On a user account the same statement advances the
-- hash chain (see store.ChainText for the text hashed; sha256_hex is the Go
-- function the adapter registers): the entry inserted next copies the new
-- head. The SET list reads only old values in its expressions, in the
-- order MySQL's left-to-right SET also needs. (The CASTs only tell sqlc
-- the type of parameters used nowhere but inside the concatenation.)
UPDATE accounts
SET head_hash = CASE WHEN kind = 'user' THEN sha256_hex(
        'v1|' || id || '|' || (head_seq + 1) || '|' || CAST(sqlc.arg(transaction_id) AS INTEGER) || '|' || sqlc.arg(delta) || '|' ||
        (balance_msat + sqlc.arg(delta)) || '|' || sqlc.arg(day_out) || '|' || sqlc.arg(day) || '|' ||
        CAST(sqlc.arg(created_us) AS INTEGER) || '|' || head_hash) ELSE head_hash END,
    head_seq = CASE WHEN kind = 'user' THEN head_seq + 1 ELSE head_seq END,
    balance_msat = balance_msat + sqlc.arg(delta),
    day_out_msat = CASE
        WHEN sqlc.arg(day_out) > 0 AND day_out_day >= sqlc.arg(day) THEN day_out_msat + sqlc.arg(day_out)
        WHEN sqlc.arg(day_out) > 0 THEN sqlc.arg(day_out)
        WHEN sqlc.arg(day_out) < 0 AND day_out_day = sqlc.arg(day) THEN MAX(day_out_msat + sqlc.arg(day_out), 0)
        ELSE day_out_msat END,
    day_out_day = CASE WHEN sqlc.arg(day_out) > 0 AND sqlc.arg(day) > day_out_day THEN sqlc.arg(day) ELSE day_out_day END
WHERE id = sqlc.arg(id)
  AND (kind = 'system'
       OR (balance_msat + sqlc.arg(delta) >= 0
           AND (sqlc.arg(delta) < 0 OR balance_msat + sqlc.arg(delta) <= sqlc.arg(max_balance))
           AND (sqlc.arg(day_out) <= 0
                OR (CASE WHEN day_out_day >= sqlc.arg(day) THEN day_out_msat ELSE 0 END) + sqlc.arg(day_out) <= sqlc.arg(day_limit))));

-- name: InsertLedgerEntry :exec
-- Appends an entry right after ApplyBalanceDelta moved its account: a user
-- account's entry copies the chain head, and the balance after it, from the
-- row this transaction just updated (no round trip); a system account's
-- entry carries no chain.
INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
SELECT sqlc.arg(transaction_id) AS transaction_id, a.id, sqlc.arg(amount_msat) AS amount_msat,
       CASE WHEN a.kind = 'user' THEN a.head_seq END AS seq, CASE WHEN a.kind = 'user' THEN a.balance_msat END AS balance_after_msat,
       sqlc.arg(day_out) AS day_out_msat, sqlc.arg(day) AS day_out_day, CASE WHEN a.kind = 'user' THEN a.head_hash END AS hash,
       sqlc.arg(now) AS created_at
FROM accounts a WHERE a.id = sqlc.arg(account_id);

-- name: ListEntriesByTransaction :many
SELECT * FROM ledger_entries WHERE transaction_id = sqlc.arg(transaction_id) ORDER BY id;

-- name: SumEntriesForAccountAndTransaction :one
SELECT CAST(COALESCE(SUM(amount_msat), 0) AS INTEGER) AS total
FROM ledger_entries WHERE transaction_id = sqlc.arg(transaction_id) AND account_id = sqlc.arg(account_id);
