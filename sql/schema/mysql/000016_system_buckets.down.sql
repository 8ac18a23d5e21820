-- Back to 000008's procedure: the buckets are folded into their accounts'
-- rows first, so every cached balance keeps its value.
UPDATE accounts a
JOIN (SELECT account_id, SUM(balance_msat) AS total FROM account_buckets GROUP BY account_id) b ON b.account_id = a.id
SET a.balance_msat = a.balance_msat + b.total;

DROP PROCEDURE post_ledger;

CREATE PROCEDURE apply_balance_deltas(
    IN p_transaction_id BIGINT, IN p_account_a BIGINT, IN p_amount_a BIGINT, IN p_day_out_a BIGINT,
    IN p_account_b BIGINT, IN p_amount_b BIGINT, IN p_day_out_b BIGINT, IN p_day BIGINT,
    IN p_created_us BIGINT, IN p_max_balance BIGINT, IN p_day_limit BIGINT, IN p_now DATETIME(6))
BEGIN
    DECLARE v_legs INT DEFAULT 1;
    DECLARE v_leg INT DEFAULT 0;
    DECLARE v_moved INT DEFAULT 0;
    DECLARE v_id BIGINT;
    DECLARE v_delta BIGINT;
    DECLARE v_day_out BIGINT;
    IF p_account_b <> 0 THEN
        SET v_legs = 2;
    END IF;
    WHILE v_leg < v_legs AND v_moved = v_leg DO
        IF v_legs = 1 OR (v_leg = 0) = (p_account_a < p_account_b) THEN
            SET v_id = p_account_a, v_delta = p_amount_a, v_day_out = p_day_out_a;
        ELSE
            SET v_id = p_account_b, v_delta = p_amount_b, v_day_out = p_day_out_b;
        END IF;
        SET v_leg = v_leg + 1;
        UPDATE accounts
        SET head_hash = CASE WHEN kind = 'user' THEN CONVERT(SHA2(CONCAT(
                'v1|', id, '|', head_seq + 1, '|', p_transaction_id, '|', v_delta, '|',
                balance_msat + v_delta, '|', v_day_out, '|', p_day, '|',
                p_created_us, '|', head_hash), 256) USING ascii) ELSE head_hash END,
            head_seq = CASE WHEN kind = 'user' THEN head_seq + 1 ELSE head_seq END,
            balance_msat = balance_msat + v_delta,
            day_out_msat = CASE
                WHEN v_day_out > 0 AND day_out_day >= p_day THEN day_out_msat + v_day_out
                WHEN v_day_out > 0 THEN v_day_out
                WHEN v_day_out < 0 AND day_out_day = p_day THEN
                    CASE WHEN day_out_msat + v_day_out < 0 THEN 0 ELSE day_out_msat + v_day_out END
                ELSE day_out_msat END,
            day_out_day = CASE WHEN v_day_out > 0 AND p_day > day_out_day THEN p_day ELSE day_out_day END
        WHERE id = v_id
          AND (kind = 'system'
               OR (balance_msat + v_delta >= 0
                   AND (v_delta < 0 OR balance_msat + v_delta <= p_max_balance)
                   AND (v_day_out <= 0
                        OR (CASE WHEN day_out_day >= p_day THEN day_out_msat ELSE 0 END) + v_day_out <= p_day_limit)));
        SET v_moved = v_moved + ROW_COUNT();
    END WHILE;
    IF v_legs = 2 AND v_moved = 2 THEN
        INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
        SELECT p_transaction_id, a.id, CASE WHEN a.id = p_account_a THEN p_amount_a ELSE p_amount_b END,
               CASE WHEN a.kind = 'user' THEN a.head_seq END, CASE WHEN a.kind = 'user' THEN a.balance_msat END,
               CASE WHEN a.id = p_account_a THEN p_day_out_a ELSE p_day_out_b END, p_day,
               CASE WHEN a.kind = 'user' THEN a.head_hash END, p_now
        FROM accounts a WHERE a.id IN (p_account_a, p_account_b)
        ORDER BY a.id = p_account_b;
    END IF;
END;

DROP TABLE account_buckets;
