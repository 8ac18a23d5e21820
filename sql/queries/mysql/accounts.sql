-- name: InsertUserAccount :execlastid
INSERT INTO accounts (user_id, kind, balance_msat, created_at)
VALUES (sqlc.arg(user_id), 'user', 0, sqlc.arg(now));

-- name: GetAccountByID :one
SELECT * FROM accounts WHERE id = sqlc.arg(id);

-- name: GetAccountByUserID :one
SELECT * FROM accounts WHERE user_id = sqlc.arg(user_id);

-- name: GetSystemAccount :one
SELECT * FROM accounts WHERE code = sqlc.arg(code);

-- name: SumAccountBuckets :one
-- What a system account's buckets add to its row's balance_msat (migration
-- 000016): its cached balance is the two together.
SELECT CAST(COALESCE(SUM(balance_msat), 0) AS SIGNED) AS total FROM account_buckets WHERE account_id = sqlc.arg(account_id);

-- name: GetUserAccountByPhone :one
-- The user and its wallet account in one round trip (the transfer path).
SELECT u.id AS user_id, u.status AS user_status, a.id AS account_id, a.balance_msat
FROM users u JOIN accounts a ON a.user_id = u.id
WHERE u.phone = sqlc.arg(phone);

-- name: LockAccounts :many
-- Row locks taken in id order, so two transactions that touch the same
-- accounts always queue instead of deadlocking.
SELECT * FROM accounts WHERE id IN (sqlc.slice(ids)) ORDER BY id FOR UPDATE;

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

-- name: ApplyBalanceDelta :execrows
-- Moves one cached balance under its guards and advances a user account's
-- hash chain (a system account, hinted by is_system: one of its buckets):
-- migration 000019's post_legs with one leg, where the guards are
-- written down; 0 rows means refused. (The CASTs tell sqlc the types.)
CALL post_legs(CAST(sqlc.arg(transaction_id) AS SIGNED), 0,
    CAST(sqlc.arg(id) AS SIGNED), CAST(sqlc.arg(delta) AS SIGNED), CAST(sqlc.arg(day_out) AS SIGNED), CAST(sqlc.arg(is_system) AS SIGNED),
    0, 0, 0, 0, 0, 0, 0, 0,
    CAST(sqlc.arg(day) AS SIGNED), CAST(sqlc.arg(created_us) AS SIGNED),
    CAST(sqlc.arg(max_balance) AS SIGNED), CAST(sqlc.arg(day_limit) AS SIGNED), NULL, 0, '', '', 0, '', '');

-- name: PostLedger :execrows
-- A posting of two or three legs on distinct accounts, in ascending account
-- order, in one round trip: migration 000019's post_legs moves every
-- account and appends every entry: twice the legs in rows; fewer means a
-- leg was refused and the transaction must be rolled back. account_c = 0
-- for two; system_x hints a system account.
CALL post_legs(CAST(sqlc.arg(transaction_id) AS SIGNED), 0,
    CAST(sqlc.arg(account_a) AS SIGNED), CAST(sqlc.arg(amount_a) AS SIGNED), CAST(sqlc.arg(day_out_a) AS SIGNED), CAST(sqlc.arg(system_a) AS SIGNED),
    CAST(sqlc.arg(account_b) AS SIGNED), CAST(sqlc.arg(amount_b) AS SIGNED), CAST(sqlc.arg(day_out_b) AS SIGNED), CAST(sqlc.arg(system_b) AS SIGNED),
    CAST(sqlc.arg(account_c) AS SIGNED), CAST(sqlc.arg(amount_c) AS SIGNED), CAST(sqlc.arg(day_out_c) AS SIGNED), CAST(sqlc.arg(system_c) AS SIGNED),
    CAST(sqlc.arg(day) AS SIGNED), CAST(sqlc.arg(created_us) AS SIGNED),
    CAST(sqlc.arg(max_balance) AS SIGNED), CAST(sqlc.arg(day_limit) AS SIGNED), CAST(sqlc.arg(now) AS DATETIME(6)),
    0, '', '', 0, '', '');

-- name: PostTransfer :execrows
-- The rest of a transfer after InsertTransfer, in one round trip: migration
-- 000019's post_legs checks the sender under a share lock, posts the
-- legs as PostLedger does and queues the recipient's text: twice the legs
-- plus one in rows; fewer means the sender or a leg was refused.
CALL post_legs(CAST(sqlc.arg(transaction_id) AS SIGNED), CAST(sqlc.arg(sender_id) AS SIGNED),
    CAST(sqlc.arg(account_a) AS SIGNED), CAST(sqlc.arg(amount_a) AS SIGNED), CAST(sqlc.arg(day_out_a) AS SIGNED), CAST(sqlc.arg(system_a) AS SIGNED),
    CAST(sqlc.arg(account_b) AS SIGNED), CAST(sqlc.arg(amount_b) AS SIGNED), CAST(sqlc.arg(day_out_b) AS SIGNED), CAST(sqlc.arg(system_b) AS SIGNED),
    CAST(sqlc.arg(account_c) AS SIGNED), CAST(sqlc.arg(amount_c) AS SIGNED), CAST(sqlc.arg(day_out_c) AS SIGNED), CAST(sqlc.arg(system_c) AS SIGNED),
    CAST(sqlc.arg(day) AS SIGNED), CAST(sqlc.arg(created_us) AS SIGNED),
    CAST(sqlc.arg(max_balance) AS SIGNED), CAST(sqlc.arg(day_limit) AS SIGNED), CAST(sqlc.arg(now) AS DATETIME(6)),
    CAST(sqlc.arg(note_user_id) AS SIGNED), CAST(sqlc.arg(note_phone) AS CHAR), CAST(sqlc.arg(note_kind) AS CHAR),
    CAST(sqlc.arg(note_amount) AS SIGNED), CAST(sqlc.arg(note_counterparty) AS CHAR), CAST(sqlc.arg(note_body) AS CHAR));

-- name: ListSystemAccountIDs :many
-- The system accounts, whose kind never changes: the store hints them to
-- post_legs.
SELECT id FROM accounts WHERE kind = 'system' ORDER BY id;

-- name: ListEntriesByTransaction :many
SELECT * FROM ledger_entries WHERE transaction_id = sqlc.arg(transaction_id) ORDER BY id;

-- name: SumEntriesForAccountAndTransaction :one
SELECT CAST(COALESCE(SUM(amount_msat), 0) AS SIGNED) AS total
FROM ledger_entries WHERE transaction_id = sqlc.arg(transaction_id) AND account_id = sqlc.arg(account_id);
