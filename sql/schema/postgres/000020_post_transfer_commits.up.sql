-- A transfer in one round trip, COMMIT included (issue 15). The store sent
-- BEGIN and post_transfer (000017) in one batch and its COMMIT in a second
-- round trip, because post_transfer answers a refused leg with 0 and the
-- caller must then roll back rather than commit. post_transfer_or_abort
-- answers it with an error instead, SQLSTATE UM001, so the store can queue
-- the COMMIT in the same batch: after an error PostgreSQL skips the rest
-- of the batch, COMMIT included, and the transaction can only be rolled
-- back (the store does, then runs the transfer again one statement at a
-- time, which says which leg was refused and why, as before). A transfer
-- that was not refused commits with the batch.
--
-- post_transfer stays, unchanged, for a server still on the previous
-- release.
CREATE FUNCTION post_transfer_or_abort(
    p_sender_id BIGINT, p_sender_phone TEXT, p_recipient_id BIGINT, p_recipient_phone TEXT,
    p_amount BIGINT, p_fee BIGINT, p_description TEXT, p_send_key TEXT, p_receive_key TEXT,
    p_accounts BIGINT[], p_amounts BIGINT[], p_day_outs BIGINT[], p_day BIGINT, p_created_us BIGINT,
    p_max_balance BIGINT, p_day_limit BIGINT, p_now TIMESTAMPTZ,
    p_note_user_id BIGINT, p_note_phone TEXT, p_note_kind TEXT, p_note_amount BIGINT, p_note_counterparty TEXT, p_note_body TEXT
) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    v_send BIGINT;
BEGIN
    v_send := post_transfer(p_sender_id, p_sender_phone, p_recipient_id, p_recipient_phone, p_amount, p_fee,
        p_description, p_send_key, p_receive_key, p_accounts, p_amounts, p_day_outs, p_day, p_created_us,
        p_max_balance, p_day_limit, p_now, p_note_user_id, p_note_phone, p_note_kind, p_note_amount,
        p_note_counterparty, p_note_body);
    IF v_send = 0 THEN
        RAISE EXCEPTION 'a leg of the transfer was refused' USING ERRCODE = 'UM001';
    END IF;
    RETURN v_send;
END
$$;
