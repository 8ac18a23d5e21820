-- The transactional outbox: every event a user should hear about is written
-- here in the same transaction as the money movement, and a sender delivers
-- it (by SMS) afterwards. Its ids are references for the sender, not
-- constraints: a foreign key would lock the user's and the transaction's
-- rows on every insert of the hottest path for no integrity the ledger
-- needs (the phone number to deliver to is copied here).
CREATE TABLE notifications (
    id              BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id         BIGINT        NULL,
    phone           VARCHAR(16)   CHARACTER SET ascii NOT NULL,
    kind            VARCHAR(32)   CHARACTER SET ascii NOT NULL,
    transaction_id  BIGINT        NULL,
    amount_msat     BIGINT        NOT NULL DEFAULT 0,
    counterparty    VARCHAR(64)   NOT NULL DEFAULT '',
    body            VARCHAR(2048) NOT NULL DEFAULT '',
    status          VARCHAR(16)   CHARACTER SET ascii NOT NULL DEFAULT 'pending',
    attempts        INT           NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6)   NOT NULL,
    created_at      DATETIME(6)   NOT NULL,
    sent_at         DATETIME(6)   NULL,
    CONSTRAINT notifications_status_check CHECK (status IN ('pending', 'sent', 'failed')),
    INDEX notifications_status_next_attempt_at (status, next_attempt_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
