-- A transfer in four round trips, and no bucket probe for a user account
-- (issue 15). Until now a MariaDB transfer took six: START TRANSACTION, the
-- sender's check (GetUserByIDForShare), InsertTransfer, CALL post_ledger,
-- InsertNotification, COMMIT; and post_ledger tried every leg's bucket
-- first, a locking read of account_buckets that finds nothing for a user
-- account, before moving its row.
--
-- post_entries replaces post_ledger for the store (which no longer calls
-- it; it stays for a server still on the previous release, and goes in a
-- later migration). It is post_ledger (000016, whose comment and 000008's
-- explain the guards, the day counter and the chain) with three changes:
--
-- - The caller says which legs are on system accounts (p_system_x, a hint
--   the store keeps from the accounts table: an account's kind never
--   changes). A system leg moves its transaction's bucket; a user leg moves
--   its row straight away, with no probe. A wrong hint costs speed, never
--   correctness: a system account not hinted (or without that bucket row)
--   moves its row, as before 000016 (its cached balance is row plus
--   buckets either way), and a user account hinted as system finds no
--   bucket and moves its row.
-- - The legs come in ascending account order (the store's PreparePosting
--   order, the order every posting locks rows in, so that concurrent
--   postings cannot deadlock); out of order, nothing moves (a refusal).
-- - For a transfer (the rest of it after InsertTransfer, whose generated id
--   it needs: MariaDB reports no insert id for a CALL), it first checks the
--   sender (p_sender_id; 0: no check) and last queues the recipient's text
--   (p_note_phone; '': none), as InsertNotification does. The check is the
--   wallet's: the sender's row read under a share lock held to the end of
--   the transaction (a freeze waits for the transfer, or the transfer sees
--   it); a frozen account, one whose PIN reset is due at p_now (the rule of
--   store.MaySend), or no such user, moves nothing. (A procedure here does
--   not CALL another: sqlc's parser of this schema cannot read it.)
--
-- One leg (p_account_b = 0): the caller inserts the entry itself (the query
-- InsertLedgerEntry); the count is 1 when moved, 0 when refused. Two or
-- three legs (p_account_c = 0 for two): each moves only if the ones before
-- it did, and the entries are appended, in account order, only if all did,
-- each copying its account's new chain head as InsertLedgerEntry does, and
-- then the text. The count is twice the legs, plus one for a text, when
-- posted (MariaDB's count for a CALL is the sum over the statements it
-- ran of matched rows with CLIENT_FOUND_ROWS; the check is a SET, which
-- counts none), less when the sender or a leg was refused and the posting
-- is unfinished: the caller must roll the transaction back (the store then
-- runs it again one statement at a time, which says which check or leg
-- refused and why).
CREATE PROCEDURE post_entries(
    IN p_transaction_id BIGINT, IN p_sender_id BIGINT,
    IN p_account_a BIGINT, IN p_amount_a BIGINT, IN p_day_out_a BIGINT, IN p_system_a BOOLEAN,
    IN p_account_b BIGINT, IN p_amount_b BIGINT, IN p_day_out_b BIGINT, IN p_system_b BOOLEAN,
    IN p_account_c BIGINT, IN p_amount_c BIGINT, IN p_day_out_c BIGINT, IN p_system_c BOOLEAN,
    IN p_day BIGINT, IN p_created_us BIGINT, IN p_max_balance BIGINT, IN p_day_limit BIGINT, IN p_now DATETIME(6),
    IN p_note_user_id BIGINT, IN p_note_phone VARCHAR(64), IN p_note_kind VARCHAR(64), IN p_note_amount BIGINT,
    IN p_note_counterparty VARCHAR(255), IN p_note_body TEXT)
BEGIN
    DECLARE v_legs INT DEFAULT 1;
    DECLARE v_leg INT DEFAULT 0;
    DECLARE v_moved INT DEFAULT 0;
    DECLARE v_id, v_delta, v_day_out BIGINT;
    DECLARE v_system, v_may_send BOOLEAN;
    IF p_account_b <> 0 THEN
        SET v_legs = 2;
        IF p_account_c <> 0 THEN
            SET v_legs = 3;
        END IF;
    END IF;
    IF (v_legs >= 2 AND p_account_b <= p_account_a) OR (v_legs = 3 AND p_account_c <= p_account_b) THEN
        SET v_legs = 0;
    END IF;
    IF p_sender_id <> 0 THEN
        SET v_may_send = (SELECT frozen_at IS NULL AND (pin_reset_at IS NULL OR pin_reset_at > p_now)
                          FROM users WHERE id = p_sender_id LOCK IN SHARE MODE);
        IF v_may_send IS NOT TRUE THEN
            SET v_legs = 0;
        END IF;
    END IF;
    WHILE v_leg < v_legs AND v_moved = v_leg DO
        IF v_leg = 0 THEN
            SET v_id = p_account_a, v_delta = p_amount_a, v_day_out = p_day_out_a, v_system = p_system_a;
        ELSEIF v_leg = 1 THEN
            SET v_id = p_account_b, v_delta = p_amount_b, v_day_out = p_day_out_b, v_system = p_system_b;
        ELSE
            SET v_id = p_account_c, v_delta = p_amount_c, v_day_out = p_day_out_c, v_system = p_system_c;
        END IF;
        SET v_leg = v_leg + 1;
        IF v_system THEN
            UPDATE account_buckets SET balance_msat = balance_msat + v_delta
            WHERE account_id = v_id AND bucket = p_transaction_id MOD 64;
            SET v_moved = v_moved + ROW_COUNT();
        END IF;
        IF v_moved < v_leg THEN
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
        ORDER BY a.id;
        IF p_note_phone <> '' THEN
            INSERT INTO notifications (
                user_id, phone, kind, transaction_id, amount_msat, counterparty, body, status, attempts, next_attempt_at, created_at
            ) VALUES (
                NULLIF(p_note_user_id, 0), p_note_phone, p_note_kind, p_transaction_id, p_note_amount, p_note_counterparty, p_note_body,
                'pending', 0, p_now, p_now
            );
        END IF;
    END IF;
END;
