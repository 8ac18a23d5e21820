-- SMS through Africa's Talking (issue 11).
--
-- The outbox is claimed with a lease: a sender moves a due row's
-- next_attempt_at to the end of its lease and stamps it with its claim
-- token, so no other sender sees it as due until the lease runs out. Only
-- the holder of the token starts a send and records the outcome; a sender
-- that dies between sending and recording leaves the row to be sent again
-- once, when the lease expires. message_id is the gateway's id of the sent
-- message.
--
-- leased_until is the lease of a send in flight, set when the send starts
-- and taken from the database's clock (the servers' clocks may disagree:
-- next_attempt_at is a time of the claiming server's clock, and a server
-- whose clock runs ahead would see a claim's lease as over while its send
-- is still in flight). No claim takes a row before it has passed.
ALTER TABLE notifications
    ADD COLUMN claim_token VARCHAR(64)  CHARACTER SET ascii NULL,
    ADD COLUMN message_id  VARCHAR(128) CHARACTER SET ascii NULL,
    ADD COLUMN last_error  VARCHAR(255) NOT NULL DEFAULT '',
    ADD COLUMN leased_until DATETIME(6) NULL;

-- What the gateway reported of each message it took, found by its id. A
-- table of its own, written when a message is sent, so that the outbox
-- insert on every transfer pays for no index on message ids. One record
-- per message: a gateway that gives one id to two messages gets two
-- records, so that neither message shows the other's report.
CREATE TABLE sms_deliveries (
    message_id      VARCHAR(128) CHARACTER SET ascii NOT NULL,
    notification_id BIGINT       NOT NULL,
    status          VARCHAR(32)  CHARACTER SET ascii NOT NULL DEFAULT '',
    failure_reason  VARCHAR(64)  CHARACTER SET ascii NOT NULL DEFAULT '',
    retries         INT          NOT NULL DEFAULT 0,
    final           BOOLEAN      NOT NULL DEFAULT FALSE,
    reported_at     DATETIME(6)  NULL,
    PRIMARY KEY (message_id, notification_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Every text that reached the service's number, once: the gateway's id is
-- unique, so a repeated callback finds its row and does nothing. A
-- reply_key is set when a text earns a reply that must not repeat ("register
-- first" once a day per number); its uniqueness is the once.
CREATE TABLE inbound_sms (
    id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    gateway_id  VARCHAR(128)  CHARACTER SET ascii NOT NULL,
    phone       VARCHAR(16)   CHARACTER SET ascii NOT NULL,
    user_id     BIGINT        NULL,
    text        VARCHAR(1024) NOT NULL,
    outcome     VARCHAR(32)   CHARACTER SET ascii NOT NULL DEFAULT '',
    reply_key   VARCHAR(64)   CHARACTER SET ascii NULL,
    received_at DATETIME(6)   NOT NULL,
    CONSTRAINT inbound_sms_gateway_id_key UNIQUE (gateway_id),
    CONSTRAINT inbound_sms_reply_key_key UNIQUE (reply_key),
    CONSTRAINT inbound_sms_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    INDEX inbound_sms_phone_received_at (phone, received_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- An invoice a user texted in, waiting for approval in their next USSD
-- session. Nothing is paid until they approve it with their PIN; the
-- payment's transaction is recorded here when they do.
CREATE TABLE payment_requests (
    id             BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id        BIGINT        NOT NULL,
    inbound_id     BIGINT        NOT NULL,
    invoice        VARCHAR(2048) CHARACTER SET ascii NOT NULL,
    payment_hash   CHAR(64)      CHARACTER SET ascii NOT NULL,
    amount_msat    BIGINT        NOT NULL,
    payee          VARCHAR(128)  NOT NULL DEFAULT '',
    status         VARCHAR(16)   CHARACTER SET ascii NOT NULL DEFAULT 'pending',
    transaction_id BIGINT        NULL,
    expires_at     DATETIME(6)   NOT NULL,
    created_at     DATETIME(6)   NOT NULL,
    updated_at     DATETIME(6)   NOT NULL,
    CONSTRAINT payment_requests_inbound_id_key UNIQUE (inbound_id),
    CONSTRAINT payment_requests_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT payment_requests_inbound_id_fkey FOREIGN KEY (inbound_id) REFERENCES inbound_sms (id),
    CONSTRAINT payment_requests_transaction_id_fkey FOREIGN KEY (transaction_id) REFERENCES transactions (id),
    CONSTRAINT payment_requests_amount_msat_check CHECK (amount_msat > 0),
    CONSTRAINT payment_requests_status_check CHECK (status IN ('pending', 'approved', 'rejected', 'superseded')),
    INDEX payment_requests_user_id_status (user_id, status)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
