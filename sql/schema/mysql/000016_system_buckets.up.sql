-- System accounts off the hot path (issue 15). Every fee-bearing transfer
-- used to update the one `fees` row, every payment and withdrawal the one
-- `reserved` row, every top-up the one `mpesa` row: each such posting held
-- that row locked until it committed, so they all queued behind it
-- (measured: a 1 % transfer fee took `make bench` on MariaDB from 0.55 to
-- 0.24 of the TPC-B baseline).
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
    account_id   BIGINT NOT NULL,
    bucket       INT    NOT NULL,
    balance_msat BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, bucket),
    CONSTRAINT account_buckets_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT account_buckets_bucket_check CHECK (bucket >= 0 AND bucket < 64)
) ENGINE = InnoDB;

INSERT INTO account_buckets (account_id, bucket, balance_msat)
SELECT a.id, x.n * 8 + y.n, 0
FROM accounts a
CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
            UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) x
CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
            UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) y
WHERE a.kind = 'system';

-- post_ledger replaces 000008's apply_balance_deltas (dropped below; sqlc
-- cannot read a DROP PROCEDURE, so the new one takes a new name). It is the
-- one place the balance guards and the hash chain advance are written for
-- MySQL, as apply_balance_deltas was (its comment explains the guards, the
-- day counter, the chain and the order of MySQL's SET), with two changes:
--
-- - A system account moves its transaction's bucket instead of its row:
--   one probe of the small bucket table for a user account, which has none.
-- - It takes up to three legs, so that a fee-bearing transfer (sender,
--   recipient, fees) or a settled payment (reserved, rail, fees) is one
--   round trip too.
--
-- One leg (p_account_b = 0): the caller inserts the entry itself (the
-- query InsertLedgerEntry); the count is 1 when moved, 0 when refused.
-- Two or three legs, on distinct accounts (p_account_c = 0 for two): the
-- accounts move in ascending id order, the order every posting locks rows
-- in, so that concurrent postings cannot deadlock; each moves only if the
-- ones before it did, and the entries are appended, in the order given,
-- only if all did, each copying its account's new chain head as
-- InsertLedgerEntry does. The count is twice the legs when posted (each
-- leg moved and inserted: MariaDB's count for a CALL is the sum over the
-- statements it ran, matched rows with CLIENT_FOUND_ROWS), less when a leg
-- was refused and the posting is unfinished: the caller must roll the
-- transaction back (the store then posts again one leg at a time, which
-- says which leg and why).
CREATE PROCEDURE post_ledger(
    IN p_transaction_id BIGINT, IN p_account_a BIGINT, IN p_amount_a BIGINT, IN p_day_out_a BIGINT,
    IN p_account_b BIGINT, IN p_amount_b BIGINT, IN p_day_out_b BIGINT,
    IN p_account_c BIGINT, IN p_amount_c BIGINT, IN p_day_out_c BIGINT, IN p_day BIGINT,
    IN p_created_us BIGINT, IN p_max_balance BIGINT, IN p_day_limit BIGINT, IN p_now DATETIME(6))
BEGIN
    DECLARE v_legs INT DEFAULT 1;
    DECLARE v_leg INT DEFAULT 0;
    DECLARE v_moved INT DEFAULT 0;
    DECLARE v_pick INT;
    DECLARE v_done_a, v_done_b, v_done_c BOOLEAN DEFAULT FALSE;
    DECLARE v_id BIGINT;
    DECLARE v_delta BIGINT;
    DECLARE v_day_out BIGINT;
    IF p_account_b <> 0 THEN
        SET v_legs = 2;
        IF p_account_c <> 0 THEN
            SET v_legs = 3;
        END IF;
    END IF;
    WHILE v_leg < v_legs AND v_moved = v_leg DO
        -- The lowest account id not moved yet.
        SET v_pick = 0, v_id = NULL;
        IF NOT v_done_a THEN
            SET v_pick = 1, v_id = p_account_a, v_delta = p_amount_a, v_day_out = p_day_out_a;
        END IF;
        IF v_legs >= 2 AND NOT v_done_b AND (v_id IS NULL OR p_account_b < v_id) THEN
            SET v_pick = 2, v_id = p_account_b, v_delta = p_amount_b, v_day_out = p_day_out_b;
        END IF;
        IF v_legs = 3 AND NOT v_done_c AND (v_id IS NULL OR p_account_c < v_id) THEN
            SET v_pick = 3, v_id = p_account_c, v_delta = p_amount_c, v_day_out = p_day_out_c;
        END IF;
        IF v_pick = 1 THEN
            SET v_done_a = TRUE;
        ELSEIF v_pick = 2 THEN
            SET v_done_b = TRUE;
        ELSE
            SET v_done_c = TRUE;
        END IF;
        SET v_leg = v_leg + 1;
        UPDATE account_buckets SET balance_msat = balance_msat + v_delta
        WHERE account_id = v_id AND bucket = p_transaction_id MOD 64;
        IF ROW_COUNT() = 1 THEN
            SET v_moved = v_moved + 1;
        ELSE
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
        END IF;
    END WHILE;
    IF v_legs >= 2 AND v_moved = v_legs THEN
        INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
        SELECT p_transaction_id, a.id,
               CASE a.id WHEN p_account_a THEN p_amount_a WHEN p_account_b THEN p_amount_b ELSE p_amount_c END,
               CASE WHEN a.kind = 'user' THEN a.head_seq END, CASE WHEN a.kind = 'user' THEN a.balance_msat END,
               CASE a.id WHEN p_account_a THEN p_day_out_a WHEN p_account_b THEN p_day_out_b ELSE p_day_out_c END, p_day,
               CASE WHEN a.kind = 'user' THEN a.head_hash END, p_now
        FROM accounts a
        WHERE a.id = p_account_a OR a.id = p_account_b OR (v_legs = 3 AND a.id = p_account_c)
        ORDER BY CASE a.id WHEN p_account_a THEN 0 WHEN p_account_b THEN 1 ELSE 2 END;
    END IF;
END;

DROP PROCEDURE apply_balance_deltas;
