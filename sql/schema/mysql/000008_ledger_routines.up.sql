-- The ledger's hot path as a stored procedure, so that a two-legged posting
-- (a transfer, a reservation, a refund) is one round trip instead of three:
-- measured, each round trip of a transfer cost about a seventh of its
-- throughput (`make bench`). sqlc reads these files too, and its MySQL
-- parser knows procedures but neither stored functions nor a CALL inside a
-- procedure, so there is one procedure, and it answers with the count of
-- rows the CALL reports: MariaDB's, the sum over the statements the
-- procedure ran (matched rows, with CLIENT_FOUND_ROWS).
--
-- apply_balance_deltas moves one cached balance, or two on two different
-- accounts and then appends their two entries. It is the one place the
-- balance guards and the hash chain advance are written for MySQL: a move
-- adds delta to the balance and counts day_out towards the account's sends,
-- unless that would take a user account below zero, a credit would take it
-- above max_balance, or the day's sends would pass day_limit (refused: that
-- move changes nothing). A send counts on its day, or on the later day the
-- counter is already on (a transaction that waited past midnight for the
-- row); a give-back (day_out < 0) counts only on the day the counter is on
-- and never takes it below zero. On a user account the same statement
-- advances the hash chain (see store.ChainText for the text hashed): the
-- entry inserted next copies the new head. MySQL assigns left to right and
-- later expressions see earlier assignments, so every column is assigned
-- after the last expression that reads its old value. (SHA2 answers in the
-- connection's character set, converted to the column's.)
--
-- One leg (p_account_b = 0): the caller inserts the entry itself (the
-- query InsertLedgerEntry); the count is 1 when moved, 0 when refused.
-- Two legs: the lower account id moves first, the order every posting locks
-- rows in, so that concurrent postings cannot deadlock; the second moves
-- only if the first did, and the entries are appended, in the order given,
-- only if both did, each copying its account's new chain head as
-- InsertLedgerEntry does. The count is 4 when posted (two moves, two
-- entries), less when a leg was refused and the posting is unfinished:
-- the caller must roll the transaction back (the store then posts again one
-- leg at a time, which says which leg and why).
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
