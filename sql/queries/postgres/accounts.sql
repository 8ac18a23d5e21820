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
SELECT CAST(COALESCE(SUM(balance_msat), 0) AS BIGINT) AS total FROM account_buckets WHERE account_id = sqlc.arg(account_id);

-- name: GetUserAccountByPhone :one
-- The user and its wallet account in one round trip (the transfer path).
SELECT u.id AS user_id, u.status AS user_status, a.id AS account_id, a.balance_msat
FROM users u JOIN accounts a ON a.user_id = u.id
WHERE u.phone = sqlc.arg(phone);

-- name: LockAccounts :many
-- Row locks taken in id order, so two transactions that touch the same
-- accounts always queue instead of deadlocking.
SELECT * FROM accounts WHERE id = ANY(sqlc.arg(ids)::BIGINT[]) ORDER BY id FOR UPDATE;

-- name: ApplyBalanceDelta :one
-- Moves one cached balance under its guards and advances a user account's
-- hash chain: migration 000008's apply_balance_delta, where the guards are
-- written down; FALSE means refused.
SELECT apply_balance_delta(sqlc.arg(transaction_id)::BIGINT, sqlc.arg(id)::BIGINT, sqlc.arg(delta)::BIGINT,
    sqlc.arg(day_out)::BIGINT, sqlc.arg(day)::BIGINT, sqlc.arg(created_us)::BIGINT,
    sqlc.arg(max_balance)::BIGINT, sqlc.arg(day_limit)::BIGINT)::BOOLEAN AS applied;

-- name: InsertLedgerEntry :exec
-- Appends an entry right after ApplyBalanceDelta moved its account: a user
-- account's entry copies the chain head, and the balance after it, from the
-- row this transaction just updated and still holds locked (no new lock, no
-- round trip); a system account's entry carries no chain.
INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
SELECT sqlc.arg(transaction_id)::BIGINT, a.id, sqlc.arg(amount_msat)::BIGINT,
       CASE WHEN a.kind = 'user' THEN a.head_seq END, CASE WHEN a.kind = 'user' THEN a.balance_msat END,
       sqlc.arg(day_out)::BIGINT, sqlc.arg(day)::BIGINT, CASE WHEN a.kind = 'user' THEN a.head_hash END, sqlc.arg(now)::TIMESTAMPTZ
FROM accounts a WHERE a.id = sqlc.arg(account_id)::BIGINT;

-- name: PostLedger :one
-- A posting of any number of legs on distinct accounts in one round trip:
-- migration 000016's post_ledger moves every account (in id order) and
-- appends every entry; FALSE means a leg was refused and the transaction
-- must be rolled back.
SELECT post_ledger(sqlc.arg(transaction_id)::BIGINT, sqlc.arg(accounts)::BIGINT[], sqlc.arg(amounts)::BIGINT[],
    sqlc.arg(day_outs)::BIGINT[], sqlc.arg(day)::BIGINT, sqlc.arg(created_us)::BIGINT, sqlc.arg(max_balance)::BIGINT,
    sqlc.arg(day_limit)::BIGINT, sqlc.arg(now)::TIMESTAMPTZ)::BOOLEAN AS posted;

-- name: ListEntriesByTransaction :many
SELECT * FROM ledger_entries WHERE transaction_id = sqlc.arg(transaction_id) ORDER BY id;

-- name: SumEntriesForAccountAndTransaction :one
SELECT CAST(COALESCE(SUM(amount_msat), 0) AS BIGINT) AS total
FROM ledger_entries WHERE transaction_id = sqlc.arg(transaction_id) AND account_id = sqlc.arg(account_id);

-- name: PostTransfer :one
-- A phone-to-phone transfer through migration 000020's
-- post_transfer_or_abort: post_transfer (000017) inserts both rows, posts
-- the entries under the sending row and queues the recipient's text, and
-- a refused leg is an error (SQLSTATE UM001), so the store can send the
-- COMMIT in the same round trip (a refused transfer is never committed).
-- It returns the sending row's id.
SELECT post_transfer_or_abort(sqlc.arg(sender_id)::BIGINT, sqlc.arg(sender_phone)::TEXT, sqlc.arg(recipient_id)::BIGINT,
    sqlc.arg(recipient_phone)::TEXT, sqlc.arg(amount_msat)::BIGINT, sqlc.arg(fee_msat)::BIGINT, sqlc.arg(description)::TEXT,
    sqlc.arg(send_key)::TEXT, sqlc.arg(receive_key)::TEXT, sqlc.arg(accounts)::BIGINT[], sqlc.arg(amounts)::BIGINT[],
    sqlc.arg(day_outs)::BIGINT[], sqlc.arg(day)::BIGINT, sqlc.arg(created_us)::BIGINT, sqlc.arg(max_balance)::BIGINT,
    sqlc.arg(day_limit)::BIGINT, sqlc.arg(now)::TIMESTAMPTZ, sqlc.arg(note_user_id)::BIGINT, sqlc.arg(note_phone)::TEXT,
    sqlc.arg(note_kind)::TEXT, sqlc.arg(note_amount)::BIGINT, sqlc.arg(note_counterparty)::TEXT,
    sqlc.arg(note_body)::TEXT)::BIGINT AS send_id;
