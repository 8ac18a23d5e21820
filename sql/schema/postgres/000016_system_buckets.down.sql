-- Back to 000008's routines: the buckets are folded into their accounts'
-- rows first, so every cached balance keeps its value.
UPDATE accounts a SET balance_msat = a.balance_msat + b.total
FROM (SELECT account_id, SUM(balance_msat) AS total FROM account_buckets GROUP BY account_id) b
WHERE b.account_id = a.id;

DROP FUNCTION post_ledger(BIGINT, BIGINT[], BIGINT[], BIGINT[], BIGINT, BIGINT, BIGINT, BIGINT, TIMESTAMPTZ);

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
      AND (kind = 'system'
           OR (balance_msat + p_delta >= 0
               AND (p_delta < 0 OR balance_msat + p_delta <= p_max_balance)
               AND (p_day_out <= 0
                    OR (CASE WHEN day_out_day >= p_day THEN day_out_msat ELSE 0 END) + p_day_out <= p_day_limit)));
    RETURN FOUND;
END
$$;

-- post_ledger_pair posts a two-legged entry on two different accounts: it
-- moves both (the lower account id first, the order every posting locks
-- rows in, so that concurrent postings cannot deadlock) and appends both
-- entries in the order given, each copying its account's new chain head as
-- InsertLedgerEntry does. FALSE means a leg was refused and the posting is
-- unfinished: the caller must roll the transaction back (the store then
-- posts again one statement at a time, which says which leg and why).
CREATE FUNCTION post_ledger_pair(
    p_transaction_id BIGINT, p_account_a BIGINT, p_amount_a BIGINT, p_day_out_a BIGINT,
    p_account_b BIGINT, p_amount_b BIGINT, p_day_out_b BIGINT, p_day BIGINT,
    p_created_us BIGINT, p_max_balance BIGINT, p_day_limit BIGINT, p_now TIMESTAMPTZ
) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
    IF p_account_a < p_account_b THEN
        IF NOT apply_balance_delta(p_transaction_id, p_account_a, p_amount_a, p_day_out_a, p_day, p_created_us, p_max_balance, p_day_limit)
           OR NOT apply_balance_delta(p_transaction_id, p_account_b, p_amount_b, p_day_out_b, p_day, p_created_us, p_max_balance, p_day_limit) THEN
            RETURN FALSE;
        END IF;
    ELSE
        IF NOT apply_balance_delta(p_transaction_id, p_account_b, p_amount_b, p_day_out_b, p_day, p_created_us, p_max_balance, p_day_limit)
           OR NOT apply_balance_delta(p_transaction_id, p_account_a, p_amount_a, p_day_out_a, p_day, p_created_us, p_max_balance, p_day_limit) THEN
            RETURN FALSE;
        END IF;
    END IF;
    INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
    SELECT p_transaction_id, a.id, CASE WHEN a.id = p_account_a THEN p_amount_a ELSE p_amount_b END,
           CASE WHEN a.kind = 'user' THEN a.head_seq END, CASE WHEN a.kind = 'user' THEN a.balance_msat END,
           CASE WHEN a.id = p_account_a THEN p_day_out_a ELSE p_day_out_b END, p_day,
           CASE WHEN a.kind = 'user' THEN a.head_hash END, p_now
    FROM accounts a WHERE a.id IN (p_account_a, p_account_b)
    ORDER BY a.id = p_account_b;
    RETURN TRUE;
END
$$;

DROP TABLE account_buckets;
