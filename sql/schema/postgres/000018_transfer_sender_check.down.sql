-- Back to 000017's post_transfer, without the sender's check.
CREATE OR REPLACE FUNCTION post_transfer(
    p_sender_id BIGINT, p_sender_phone TEXT, p_recipient_id BIGINT, p_recipient_phone TEXT,
    p_amount BIGINT, p_fee BIGINT, p_description TEXT, p_send_key TEXT, p_receive_key TEXT,
    p_accounts BIGINT[], p_amounts BIGINT[], p_day_outs BIGINT[], p_day BIGINT, p_created_us BIGINT,
    p_max_balance BIGINT, p_day_limit BIGINT, p_now TIMESTAMPTZ,
    p_note_user_id BIGINT, p_note_phone TEXT, p_note_kind TEXT, p_note_amount BIGINT, p_note_counterparty TEXT, p_note_body TEXT
) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    v_send BIGINT;
BEGIN
    WITH rows AS (
        INSERT INTO transactions (
            user_id, type, direction, status, amount_msat, fee_msat, counterparty_phone,
            description, idempotency_key, created_at, updated_at
        ) VALUES (
            NULLIF(p_sender_id, 0), 'send', 'out', 'completed', p_amount, p_fee, NULLIF(p_recipient_phone, ''),
            p_description, p_send_key, p_now, p_now
        ), (
            NULLIF(p_recipient_id, 0), 'receive', 'in', 'completed', p_amount, 0, NULLIF(p_sender_phone, ''),
            p_description, p_receive_key, p_now, p_now
        )
        RETURNING id, type
    )
    SELECT id INTO v_send FROM rows WHERE type = 'send';
    IF NOT post_ledger(v_send, p_accounts, p_amounts, p_day_outs, p_day, p_created_us, p_max_balance, p_day_limit, p_now) THEN
        RETURN 0;
    END IF;
    INSERT INTO notifications (
        user_id, phone, kind, transaction_id, amount_msat, counterparty, body, status, attempts, next_attempt_at, created_at
    ) VALUES (
        NULLIF(p_note_user_id, 0), p_note_phone, p_note_kind, v_send, p_note_amount, p_note_counterparty, p_note_body, 'pending', 0, p_now, p_now
    );
    RETURN v_send;
END
$$;
