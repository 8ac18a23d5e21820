-- post_legs is post_entries (000018) appending each leg's entry right
-- after moving its account (issue 15). post_entries moved every leg and
-- then appended the entries with one INSERT ... SELECT that read the
-- accounts back (rows matched by an OR of their ids, ordered): a join the
-- server optimised on every call. A profile of `bench transfers` put that
-- statement at a seventh of the server's CPU for a transfer, more than
-- either UPDATE.
--
-- Here the UPDATE of a user account leaves the new chain head in session
-- variables as it writes it (seq, balance after, hash; NULL for a system
-- account's row), and a one-row INSERT ... VALUES copies them: what
-- InsertLedgerEntry copies on the statement path, from the same UPDATE. A
-- system account's bucket leg gets an entry without a chain, as before.
-- Everything else is post_entries, with its arguments and its count: one
-- leg appends no entry (the caller does); two or three append one per leg,
-- in account order, and the count is twice the legs (plus one for the
-- text) when posted and less when refused. An entry appended before a
-- later leg is refused is undone with the rest: the caller rolls the
-- transaction back on a short count, as before. (MySQL 8 warns that an
-- assignment to a variable inside an expression is deprecated; it still
-- works there, and MariaDB has no such plan.)
--
-- A new name, as for 000018: post_entries stays, unchanged, for a server
-- still on the previous release (MariaDB cannot replace a procedure in one
-- step that sqlc reads, and a CALL between a DROP and a CREATE would fail).
CREATE PROCEDURE post_legs(
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
            IF ROW_COUNT() = 1 THEN
                SET v_moved = v_moved + 1;
                IF v_legs >= 2 THEN
                    INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
                    VALUES (p_transaction_id, v_id, v_delta, NULL, NULL, v_day_out, p_day, NULL, p_now);
                END IF;
            END IF;
        END IF;
        IF v_moved < v_leg THEN
            UPDATE accounts
            SET head_hash = CASE WHEN kind = 'user' THEN (@umeme_hash := CONVERT(SHA2(CONCAT(
                    'v1|', id, '|', head_seq + 1, '|', p_transaction_id, '|', v_delta, '|',
                    balance_msat + v_delta, '|', v_day_out, '|', p_day, '|',
                    p_created_us, '|', head_hash), 256) USING ascii))
                    WHEN (@umeme_hash := NULL) IS NULL THEN head_hash END,
                head_seq = CASE WHEN kind = 'user' THEN (@umeme_seq := head_seq + 1)
                    WHEN (@umeme_seq := NULL) IS NULL THEN head_seq END,
                balance_msat = CASE WHEN kind = 'user' THEN (@umeme_balance := balance_msat + v_delta)
                    WHEN (@umeme_balance := NULL) IS NULL THEN balance_msat + v_delta END,
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
            IF ROW_COUNT() = 1 THEN
                SET v_moved = v_moved + 1;
                IF v_legs >= 2 THEN
                    INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
                    VALUES (p_transaction_id, v_id, v_delta, @umeme_seq, @umeme_balance, v_day_out, p_day, @umeme_hash, p_now);
                END IF;
            END IF;
        END IF;
    END WHILE;
    IF v_legs >= 2 AND v_moved = v_legs THEN
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
