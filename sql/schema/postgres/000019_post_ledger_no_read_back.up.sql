-- post_ledger read the whole accounts table for every posting, or planned
-- its INSERT anew each time (issue 15). The entries' INSERT joined the legs
-- (unnest of the array arguments) to accounts, to copy each account's new
-- chain head. PL/pgSQL plans a statement for the values of each call, and
-- after five calls keeps a generic plan if that looks no dearer. A generic
-- plan cannot know there are two or three legs and expects ten, so:
-- - while accounts was small and had no statistics yet (a new wallet's),
--   the generic plan hashed a sequential scan of the table, and kept it.
--   Measured under `bench transfers` with 1,000 funded accounts: one scan of
--   1,005 rows per transfer (pg_stat_user_tables; the plan seen with
--   auto_explain);
-- - with a plan that looks the accounts up by key, the generic plan looks
--   dearer than one for two legs, so every call was planned anew: the
--   planner was a tenth of the server's CPU in a profile of the bench.
--
-- Now nothing is read back. move_legs moves the legs' accounts in the order
-- given, as apply_balance_delta did one at a time, and returns each user
-- account's new chain head (seq, balance, hash) as its UPDATE left it
-- (RETURNING); a system account's leg has none. post_ledger inserts the
-- entries from those arrays: no join, a plan that is the same for any
-- number of legs. apply_balance_delta becomes move_legs for one leg, so the
-- guards and the chain are still written down once (000008 explains them).
-- Both keep their signatures: a server still on the previous release calls
-- them the same way.
CREATE FUNCTION move_legs(
    p_transaction_id BIGINT, p_accounts BIGINT[], p_amounts BIGINT[], p_day_outs BIGINT[], p_day BIGINT,
    p_created_us BIGINT, p_max_balance BIGINT, p_day_limit BIGINT,
    OUT moved BOOLEAN, OUT seqs BIGINT[], OUT balances BIGINT[], OUT hashes TEXT[]
) LANGUAGE plpgsql AS $$
DECLARE
    i INTEGER;
    v_id BIGINT;
    v_delta BIGINT;
    v_day_out BIGINT;
    v_seq BIGINT;
    v_balance BIGINT;
    v_hash TEXT;
BEGIN
    moved := FALSE;
    FOR i IN 1 .. cardinality(p_accounts) LOOP
        v_id := p_accounts[i];
        v_delta := p_amounts[i];
        v_day_out := p_day_outs[i];
        -- A user account, most legs: its guards, and its chain advanced.
        UPDATE accounts
        SET head_hash = encode(sha256(convert_to(
                'v1|' || id || '|' || (head_seq + 1) || '|' || p_transaction_id || '|' || v_delta || '|' ||
                (balance_msat + v_delta) || '|' || v_day_out || '|' || p_day || '|' ||
                p_created_us || '|' || head_hash, 'UTF8')), 'hex'),
            head_seq = head_seq + 1,
            balance_msat = balance_msat + v_delta,
            day_out_msat = CASE
                WHEN v_day_out > 0 AND day_out_day >= p_day THEN day_out_msat + v_day_out
                WHEN v_day_out > 0 THEN v_day_out
                WHEN v_day_out < 0 AND day_out_day = p_day THEN
                    CASE WHEN day_out_msat + v_day_out < 0 THEN 0 ELSE day_out_msat + v_day_out END
                ELSE day_out_msat END,
            day_out_day = CASE WHEN v_day_out > 0 AND p_day > day_out_day THEN p_day ELSE day_out_day END
        WHERE id = v_id AND kind = 'user'
          AND balance_msat + v_delta >= 0
          AND (v_delta < 0 OR balance_msat + v_delta <= p_max_balance)
          AND (v_day_out <= 0
               OR (CASE WHEN day_out_day >= p_day THEN day_out_msat ELSE 0 END) + v_day_out <= p_day_limit)
        RETURNING head_seq, balance_msat, head_hash INTO v_seq, v_balance, v_hash;
        IF NOT FOUND THEN
            -- A system account moves its transaction's bucket (000016), or
            -- its row if it has none; a refused user account matches
            -- neither.
            v_seq := NULL;
            v_balance := NULL;
            v_hash := NULL;
            UPDATE account_buckets SET balance_msat = balance_msat + v_delta
            WHERE account_id = v_id AND bucket = (p_transaction_id % 64)::INTEGER
              AND EXISTS (SELECT 1 FROM accounts WHERE id = v_id AND kind = 'system');
            IF NOT FOUND THEN
                UPDATE accounts SET balance_msat = balance_msat + v_delta WHERE id = v_id AND kind = 'system';
                IF NOT FOUND THEN
                    RETURN;
                END IF;
            END IF;
        END IF;
        seqs[i] := v_seq;
        balances[i] := v_balance;
        hashes[i] := v_hash;
    END LOOP;
    moved := TRUE;
END
$$;

CREATE OR REPLACE FUNCTION apply_balance_delta(
    p_transaction_id BIGINT, p_id BIGINT, p_delta BIGINT, p_day_out BIGINT, p_day BIGINT,
    p_created_us BIGINT, p_max_balance BIGINT, p_day_limit BIGINT
) RETURNS BOOLEAN LANGUAGE sql AS $$
    SELECT moved FROM move_legs(p_transaction_id, ARRAY[p_id], ARRAY[p_delta], ARRAY[p_day_out], p_day,
                                p_created_us, p_max_balance, p_day_limit)
$$;

CREATE OR REPLACE FUNCTION post_ledger(
    p_transaction_id BIGINT, p_accounts BIGINT[], p_amounts BIGINT[], p_day_outs BIGINT[], p_day BIGINT,
    p_created_us BIGINT, p_max_balance BIGINT, p_day_limit BIGINT, p_now TIMESTAMPTZ
) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    m RECORD;
BEGIN
    m := move_legs(p_transaction_id, p_accounts, p_amounts, p_day_outs, p_day, p_created_us, p_max_balance, p_day_limit);
    IF NOT m.moved THEN
        RETURN FALSE;
    END IF;
    INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
    SELECT p_transaction_id, l.id, l.amount, l.seq, l.balance, l.day_out, p_day, l.hash, p_now
    FROM unnest(p_accounts, p_amounts, p_day_outs, m.seqs, m.balances, m.hashes)
         WITH ORDINALITY AS l(id, amount, day_out, seq, balance, hash, o)
    ORDER BY l.o;
    RETURN TRUE;
END
$$;
