-- name: InsertUserAccount :execlastid
INSERT INTO accounts (user_id, kind, balance_msat, created_at)
VALUES (sqlc.arg(user_id), 'user', 0, sqlc.arg(now));

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
SELECT * FROM accounts WHERE id IN (sqlc.slice(ids)) ORDER BY id FOR UPDATE;

-- name: ApplyBalanceDelta :execrows
-- Moves a cached balance by delta and counts day_out towards the account's
-- sends, unless that would take a user account below zero, a credit would
-- take it above max_balance, or the day's sends would pass day_limit; 0 rows
-- means refused. A send counts on its day, or on the later day the counter
-- is already on (a transaction that waited past midnight for the row); a
-- give-back (day_out < 0) counts only on the day the counter is on and never
-- takes it below zero. On a user account the same statement advances the
-- hash chain (see store.ChainText for the text hashed): the entry inserted
-- next copies the new head. MySQL assigns left to right and later
-- expressions see earlier assignments, so every column is assigned after
-- the last expression that reads its old value. (The CASTs only tell sqlc
-- the type of parameters used nowhere but inside CONCAT; SHA2 answers in
-- the connection's character set, converted to the column's.)
UPDATE accounts
SET head_hash = CASE WHEN kind = 'user' THEN CONVERT(SHA2(CONCAT(
        'v1|', id, '|', head_seq + 1, '|', CAST(sqlc.arg(transaction_id) AS SIGNED), '|', sqlc.arg(delta), '|',
        balance_msat + sqlc.arg(delta), '|', sqlc.arg(day_out), '|', sqlc.arg(day), '|',
        CAST(sqlc.arg(created_us) AS SIGNED), '|', head_hash), 256) USING ascii) ELSE head_hash END,
    head_seq = CASE WHEN kind = 'user' THEN head_seq + 1 ELSE head_seq END,
    balance_msat = balance_msat + sqlc.arg(delta),
    day_out_msat = CASE
        WHEN sqlc.arg(day_out) > 0 AND day_out_day >= sqlc.arg(day) THEN day_out_msat + sqlc.arg(day_out)
        WHEN sqlc.arg(day_out) > 0 THEN sqlc.arg(day_out)
        WHEN sqlc.arg(day_out) < 0 AND day_out_day = sqlc.arg(day) THEN
            CASE WHEN day_out_msat + sqlc.arg(day_out) < 0 THEN 0 ELSE day_out_msat + sqlc.arg(day_out) END
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
-- row this transaction just updated and still holds locked (no new lock, no
-- round trip; under READ COMMITTED the read locks nothing); a system
-- account's entry carries no chain.
INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
SELECT sqlc.arg(transaction_id) AS transaction_id, a.id, sqlc.arg(amount_msat) AS amount_msat,
       CASE WHEN a.kind = 'user' THEN a.head_seq END AS seq, CASE WHEN a.kind = 'user' THEN a.balance_msat END AS balance_after_msat,
       sqlc.arg(day_out) AS day_out_msat, sqlc.arg(day) AS day_out_day, CASE WHEN a.kind = 'user' THEN a.head_hash END AS hash,
       sqlc.arg(now) AS created_at
FROM accounts a WHERE a.id = sqlc.arg(account_id);

-- name: InsertLedgerEntryPair :exec
-- The common two-legged posting in one round trip, after both accounts (two
-- different ones) were moved; each entry as in InsertLedgerEntry. One VALUES
-- row per entry with primary-key subqueries, not INSERT ... SELECT ... UNION
-- ALL: MariaDB materialises a UNION in a temporary table, which cost the
-- transfer path a fifth of its throughput.
INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
VALUES (sqlc.arg(transaction_id), sqlc.arg(account_a), sqlc.arg(amount_a),
        (SELECT CASE WHEN a.kind = 'user' THEN a.head_seq END FROM accounts a WHERE a.id = sqlc.arg(account_a)),
        (SELECT CASE WHEN a.kind = 'user' THEN a.balance_msat END FROM accounts a WHERE a.id = sqlc.arg(account_a)),
        sqlc.arg(day_out_a), sqlc.arg(day),
        (SELECT CASE WHEN a.kind = 'user' THEN a.head_hash END FROM accounts a WHERE a.id = sqlc.arg(account_a)),
        sqlc.arg(now)),
       (sqlc.arg(transaction_id), sqlc.arg(account_b), sqlc.arg(amount_b),
        (SELECT CASE WHEN b.kind = 'user' THEN b.head_seq END FROM accounts b WHERE b.id = sqlc.arg(account_b)),
        (SELECT CASE WHEN b.kind = 'user' THEN b.balance_msat END FROM accounts b WHERE b.id = sqlc.arg(account_b)),
        sqlc.arg(day_out_b), sqlc.arg(day),
        (SELECT CASE WHEN b.kind = 'user' THEN b.head_hash END FROM accounts b WHERE b.id = sqlc.arg(account_b)),
        sqlc.arg(now));

-- name: ListEntriesByTransaction :many
SELECT * FROM ledger_entries WHERE transaction_id = sqlc.arg(transaction_id) ORDER BY id;

-- name: SumEntriesForAccountAndTransaction :one
SELECT CAST(COALESCE(SUM(amount_msat), 0) AS SIGNED) AS total
FROM ledger_entries WHERE transaction_id = sqlc.arg(transaction_id) AND account_id = sqlc.arg(account_id);
