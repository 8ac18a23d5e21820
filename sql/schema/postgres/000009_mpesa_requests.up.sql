-- M-Pesa top-ups and withdrawals (issue 10). One row per request to Daraja,
-- beside its transaction: what was asked (whole shillings, the quoted rate
-- and spread, the number), the ids that tie its callbacks to it (Daraja's
-- CheckoutRequestID for an STK push, our OriginatorConversationID and
-- Daraja's ConversationID for a B2C payment), the receipt, which M-Pesa gives
-- once, the last result, and when the reconciler asks Daraja next (NULL:
-- nothing left to ask). Each of those ids is unique, so a callback can match
-- one request at most and a receipt can finish one. A table of its own so
-- that transfers, which never touch M-Pesa, pay for none of its indexes.
CREATE TABLE mpesa_requests (
    transaction_id             BIGINT      PRIMARY KEY REFERENCES transactions (id),
    kind                       TEXT        NOT NULL CHECK (kind IN ('topup', 'withdraw')),
    phone                      TEXT        NOT NULL,
    amount_kes                 BIGINT      NOT NULL CHECK (amount_kes > 0),
    rate_millikes_per_btc      BIGINT      NOT NULL CHECK (rate_millikes_per_btc > 0),
    spread_bps                 INTEGER     NOT NULL CHECK (spread_bps >= 0),
    checkout_request_id        TEXT        UNIQUE,
    originator_conversation_id TEXT        UNIQUE,
    conversation_id            TEXT        UNIQUE,
    receipt                    TEXT        UNIQUE,
    result_code                TEXT        NOT NULL DEFAULT '',
    result_desc                TEXT        NOT NULL DEFAULT '',
    checks                     INTEGER     NOT NULL DEFAULT 0,
    next_check_at              TIMESTAMPTZ,
    created_at                 TIMESTAMPTZ NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL
);

CREATE INDEX mpesa_requests_next_check_at ON mpesa_requests (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX mpesa_requests_phone ON mpesa_requests (phone);
