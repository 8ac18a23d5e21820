-- Back to 000016's apply_balance_delta and post_ledger (the join that
-- reads the accounts back).
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
    UPDATE accounts SET balance_msat = balance_msat + p_delta WHERE id = p_id AND kind = 'system';
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION post_ledger(
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

DROP FUNCTION move_legs(BIGINT, BIGINT[], BIGINT[], BIGINT[], BIGINT, BIGINT, BIGINT, BIGINT);
