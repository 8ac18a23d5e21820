-- System accounts off the hot path (issue 15). Every fee-bearing transfer
-- used to update the one `fees` row, every payment and withdrawal the one
-- `reserved` row, every top-up the one `mpesa` row: each such posting held
-- that row locked until it committed, so they all queued behind it
-- (measured: a 1 % transfer fee took `make bench` from 2,445 to 744
-- transfers/s on PostgreSQL).
--
-- A system account's cached balance is now its row's balance_msat plus the
-- sum of its 64 buckets here. A posting on a system account moves one
-- bucket, chosen by its transaction id, instead of the account row, so
-- concurrent postings (consecutive transaction ids) take different rows.
-- The entries still go on the system account itself: reconcile, the
-- transaction rules and the reports see one account, and its cached
-- balance (row + buckets) must still equal the sum of its entries.
-- A system account has no guard and no chain, so nothing in a bucket needs
-- the account row. User accounts have no buckets.
CREATE TABLE account_buckets (
    account_id   BIGINT  NOT NULL REFERENCES accounts (id),
    bucket       INTEGER NOT NULL CHECK (bucket >= 0 AND bucket < 64),
    balance_msat BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, bucket)
);

INSERT INTO account_buckets (account_id, bucket, balance_msat)
SELECT a.id, x.n * 8 + y.n, 0
FROM accounts a
CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
            UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) x
CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
            UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) y
WHERE a.kind = 'system';

-- apply_balance_delta as in 000008 (the guards and the chain are written
-- down there), but a system account moves its transaction's bucket. A user
-- account, most legs, is tried first and costs one statement as before; a
-- system account's leg matches nothing there and moves its bucket.
CREATE OR REPLACE FUNCTION apply_balance_delta(
    p_transaction_id BIGINT, p_id BIGINT, p_delta BIGINT, p_day_out BIGINT, p_day BIGINT,
    p_created_us BIGINT, p_max_balance BIGINT, p_day_limit BIGINT
) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts
    SET head_hash = CASE WHEN kind = 'user' THEN encode(sha256(convert_to(
            'v1|' || id || '|' || (head_seq + 1) || '|' || p_transaction_id || '|' || p_delta || '|' ||
            (balance_msat + p_delta) || '|' || p_day_out || '|' || p_day || '|' ||
            p_created_us || '|' || head_hash, 'UTF8')), 'hex') ELSE head_hash END,
        head_seq = CASE WHEN kind = 'user' THEN head_seq + 1 ELSE head_seq END,
        balance_msat = balance_msat + p_delta,
        day_out_msat = CASE
            WHEN p_day_out > 0 AND day_out_day >= p_day THEN day_out_msat + p_day_out
            WHEN p_day_out > 0 THEN p_day_out
            WHEN p_day_out < 0 AND day_out_day = p_day THEN
                CASE WHEN day_out_msat + p_day_out < 0 THEN 0 ELSE day_out_msat + p_day_out END
            ELSE day_out_msat END,
        day_out_day = CASE WHEN p_day_out > 0 AND p_day > day_out_day THEN p_day ELSE day_out_day END
    WHERE id = p_id
      AND (kind = 'user'
           AND (balance_msat + p_delta >= 0
               AND (p_delta < 0 OR balance_msat + p_delta <= p_max_balance)
               AND (p_day_out <= 0
                    OR (CASE WHEN day_out_day >= p_day THEN day_out_msat ELSE 0 END) + p_day_out <= p_day_limit)));
    IF FOUND THEN
        RETURN TRUE;
    END IF;
    UPDATE account_buckets SET balance_msat = balance_msat + p_delta
    WHERE account_id = p_id AND bucket = (p_transaction_id % 64)::INTEGER
      AND EXISTS (SELECT 1 FROM accounts WHERE id = p_id AND kind = 'system');
    IF FOUND THEN
        RETURN TRUE;
    END IF;
    -- A system account without buckets (or a transaction id that names
    -- none) moves its row; a refused user account matches nothing here.
    UPDATE accounts SET balance_msat = balance_msat + p_delta WHERE id = p_id AND kind = 'system';
    RETURN FOUND;
END
$$;

-- post_ledger posts a posting of any number of legs on distinct accounts
-- in one round trip (post_ledger_pair did two). The caller gives the legs
-- in ascending account id order (store.PreparePosting's), the order every
-- posting locks rows in, so that concurrent postings cannot deadlock: it
-- moves every account in that order, then appends the entries in it, as
-- the one-statement-at-a-time path does, each copying its account's new
-- chain head as InsertLedgerEntry does. (Sorting here instead cost a
-- query and a cursor per posting.) FALSE means a leg was refused and the posting is
-- unfinished: the caller must roll the transaction back (the store then
-- posts again one statement at a time, which says which leg and why).
CREATE FUNCTION post_ledger(
    p_transaction_id BIGINT, p_accounts BIGINT[], p_amounts BIGINT[], p_day_outs BIGINT[], p_day BIGINT,
    p_created_us BIGINT, p_max_balance BIGINT, p_day_limit BIGINT, p_now TIMESTAMPTZ
) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    i INTEGER;
BEGIN
    FOR i IN 1 .. cardinality(p_accounts) LOOP
        IF NOT apply_balance_delta(p_transaction_id, p_accounts[i], p_amounts[i], p_day_outs[i], p_day,
                                   p_created_us, p_max_balance, p_day_limit) THEN
            RETURN FALSE;
        END IF;
    END LOOP;
    INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
    SELECT p_transaction_id, a.id, l.amount,
           CASE WHEN a.kind = 'user' THEN a.head_seq END, CASE WHEN a.kind = 'user' THEN a.balance_msat END,
           l.day_out, p_day, CASE WHEN a.kind = 'user' THEN a.head_hash END, p_now
    FROM unnest(p_accounts, p_amounts, p_day_outs) WITH ORDINALITY AS l(id, amount, day_out, o)
    JOIN accounts a ON a.id = l.id
    ORDER BY l.o;
    RETURN TRUE;
END
$$;

-- post_ledger does what post_ledger_pair did, and more.
DROP FUNCTION post_ledger_pair(BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, TIMESTAMPTZ);
