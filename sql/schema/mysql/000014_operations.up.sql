-- The operator's controls (issue 14).
--
-- frozen_at: an operator froze the account at that time (NULL: not frozen).
-- A frozen account receives but sends nothing, on any channel.
-- pin_reset_at: an operator reset the PIN, taking effect at that time (NULL:
-- none pending). From then on the old PIN no longer opens the account and
-- the next dial asks for a new one.
ALTER TABLE users ADD COLUMN frozen_at DATETIME(6) NULL, ADD COLUMN pin_reset_at DATETIME(6) NULL;

-- Whether outgoing Lightning payments and M-Pesa withdrawals are paused, in
-- one row every server reads: auto_paused is the liabilities watchdog's,
-- manual_paused the operator's (server admin pause|resume), which the
-- watchdog never lifts.
CREATE TABLE service_pause (
    id            INT          NOT NULL PRIMARY KEY,
    auto_paused   BOOLEAN      NOT NULL DEFAULT FALSE,
    auto_reason   VARCHAR(255) NOT NULL DEFAULT '',
    manual_paused BOOLEAN      NOT NULL DEFAULT FALSE,
    manual_reason VARCHAR(255) NOT NULL DEFAULT '',
    operator      VARCHAR(64)  NOT NULL DEFAULT '',
    updated_at    DATETIME(6)  NOT NULL,
    CONSTRAINT service_pause_one_row CHECK (id = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
INSERT INTO service_pause (id, updated_at) VALUES (1, UTC_TIMESTAMP(6));

-- Every operator action, append-only and hash-chained: each row's hash
-- covers its content and the previous row's hash, and prev_hash is unique,
-- so two actions racing cannot both follow the same row (the chain cannot
-- fork). server reconcile verifies the chain.
CREATE TABLE admin_audit (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    operator   VARCHAR(64)  NOT NULL,
    action     VARCHAR(32)  CHARACTER SET ascii NOT NULL,
    user_id    BIGINT       NULL,
    reason     VARCHAR(500) NOT NULL,
    detail     VARCHAR(500) NOT NULL DEFAULT '',
    prev_hash  CHAR(64)     CHARACTER SET ascii NOT NULL,
    hash       CHAR(64)     CHARACTER SET ascii NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    CONSTRAINT admin_audit_prev_hash_key UNIQUE (prev_hash),
    CONSTRAINT admin_audit_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    INDEX admin_audit_user_id (user_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
