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
    transaction_id             BIGINT       NOT NULL PRIMARY KEY,
    kind                       VARCHAR(8)   CHARACTER SET ascii NOT NULL,
    phone                      VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    amount_kes                 BIGINT       NOT NULL,
    rate_millikes_per_btc      BIGINT       NOT NULL,
    spread_bps                 INT          NOT NULL,
    checkout_request_id        VARCHAR(128) CHARACTER SET ascii NULL,
    originator_conversation_id VARCHAR(128) CHARACTER SET ascii NULL,
    conversation_id            VARCHAR(128) CHARACTER SET ascii NULL,
    receipt                    VARCHAR(64)  CHARACTER SET ascii NULL,
    result_code                VARCHAR(32)  CHARACTER SET ascii NOT NULL DEFAULT '',
    result_desc                VARCHAR(255) NOT NULL DEFAULT '',
    checks                     INT          NOT NULL DEFAULT 0,
    next_check_at              DATETIME(6)  NULL,
    created_at                 DATETIME(6)  NOT NULL,
    updated_at                 DATETIME(6)  NOT NULL,
    CONSTRAINT mpesa_requests_transaction_id_fkey FOREIGN KEY (transaction_id) REFERENCES transactions (id),
    CONSTRAINT mpesa_requests_kind_check CHECK (kind IN ('topup', 'withdraw')),
    CONSTRAINT mpesa_requests_amount_kes_check CHECK (amount_kes > 0),
    CONSTRAINT mpesa_requests_rate_check CHECK (rate_millikes_per_btc > 0),
    CONSTRAINT mpesa_requests_spread_check CHECK (spread_bps >= 0),
    CONSTRAINT mpesa_requests_checkout_request_id_key UNIQUE (checkout_request_id),
    CONSTRAINT mpesa_requests_originator_conversation_id_key UNIQUE (originator_conversation_id),
    CONSTRAINT mpesa_requests_conversation_id_key UNIQUE (conversation_id),
    CONSTRAINT mpesa_requests_receipt_key UNIQUE (receipt),
    INDEX mpesa_requests_next_check_at (next_check_at),
    INDEX mpesa_requests_phone (phone)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
