-- Core tables of the wallet on MySQL/MariaDB (InnoDB). Times are DATETIME(6)
-- in UTC (the connection's time_zone is '+00:00'); amounts are BIGINT
-- millisatoshi. Columns that are indexed and may be long are ASCII so their
-- keys stay within InnoDB's 3072-byte limit.

CREATE TABLE users (
    id                  BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    phone               VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    lightning_name      VARCHAR(64)  CHARACTER SET ascii NOT NULL,
    lightning_pubkey    VARCHAR(66)  CHARACTER SET ascii NULL,
    pin_hash            VARCHAR(255) CHARACTER SET ascii NULL,
    failed_pin_attempts INT          NOT NULL DEFAULT 0,
    lockout_count       INT          NOT NULL DEFAULT 0,
    locked_until        DATETIME(6)  NULL,
    language            VARCHAR(2)   CHARACTER SET ascii NOT NULL DEFAULT 'en',
    status              VARCHAR(16)  CHARACTER SET ascii NOT NULL DEFAULT 'unregistered',
    created_at          DATETIME(6)  NOT NULL,
    updated_at          DATETIME(6)  NOT NULL,
    CONSTRAINT users_phone_key UNIQUE (phone),
    CONSTRAINT users_lightning_name_key UNIQUE (lightning_name),
    CONSTRAINT users_language_check CHECK (language IN ('en', 'sw')),
    CONSTRAINT users_status_check CHECK (status IN ('unregistered', 'active', 'locked'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- A user's wallet account or a system account (identified by code). Only
-- system accounts may go below zero: they carry the other side of money that
-- enters or leaves the ledger.
CREATE TABLE accounts (
    id           BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id      BIGINT      NULL,
    code         VARCHAR(32) CHARACTER SET ascii NULL,
    kind         VARCHAR(8)  CHARACTER SET ascii NOT NULL,
    balance_msat BIGINT      NOT NULL DEFAULT 0,
    -- What the account sent out on day_out_day (days since 1970-01-01 in
    -- the operator's time zone), for the daily limit; kept by the same
    -- UPDATE that moves the balance, so checking the limit costs nothing.
    day_out_msat BIGINT      NOT NULL DEFAULT 0,
    day_out_day  BIGINT      NOT NULL DEFAULT 0,
    created_at   DATETIME(6) NOT NULL,
    CONSTRAINT accounts_user_id_key UNIQUE (user_id),
    CONSTRAINT accounts_code_key UNIQUE (code),
    CONSTRAINT accounts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT accounts_kind_check CHECK (kind IN ('user', 'system')),
    CONSTRAINT accounts_balance_check CHECK (kind = 'system' OR balance_msat >= 0),
    CONSTRAINT accounts_owner_check CHECK ((kind = 'user' AND user_id IS NOT NULL AND code IS NULL) OR (kind = 'system' AND user_id IS NULL AND code IS NOT NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

INSERT INTO accounts (code, kind, balance_msat, created_at) VALUES
    ('lightning', 'system', 0, UTC_TIMESTAMP(6)),
    ('mpesa', 'system', 0, UTC_TIMESTAMP(6)),
    ('fees', 'system', 0, UTC_TIMESTAMP(6)),
    ('adjustments', 'system', 0, UTC_TIMESTAMP(6)),
    ('reserved', 'system', 0, UTC_TIMESTAMP(6));

-- The user-facing log of every operation. Money itself moves only through
-- ledger_entries; a row here may carry none (a pending invoice, the receiving
-- side of a transfer whose entries hang off the sending row). The unique
-- idempotency key is also the natural key of rail operations ("topup:"
-- receipt, and so on), so the M-Pesa and Lightning ids need no unique
-- index of their own: every index here is paid by every transfer.
CREATE TABLE transactions (
    id                        BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id                   BIGINT        NULL,
    type                      VARCHAR(16)   CHARACTER SET ascii NOT NULL,
    direction                 VARCHAR(3)    CHARACTER SET ascii NOT NULL,
    status                    VARCHAR(16)   CHARACTER SET ascii NOT NULL,
    amount_msat               BIGINT        NOT NULL,
    fee_msat                  BIGINT        NOT NULL DEFAULT 0,
    invoice                   VARCHAR(2048) CHARACTER SET ascii NULL,
    payment_hash              CHAR(64)      CHARACTER SET ascii NULL,
    mpesa_receipt             VARCHAR(64)   CHARACTER SET ascii NULL,
    mpesa_checkout_request_id VARCHAR(128)  CHARACTER SET ascii NULL,
    mpesa_conversation_id     VARCHAR(128)  CHARACTER SET ascii NULL,
    counterparty_phone        VARCHAR(16)   CHARACTER SET ascii NULL,
    description               VARCHAR(640)  NOT NULL DEFAULT '',
    idempotency_key           VARCHAR(191)  CHARACTER SET ascii NOT NULL,
    related_id                BIGINT        NULL,
    created_at                DATETIME(6)   NOT NULL,
    updated_at                DATETIME(6)   NOT NULL,
    CONSTRAINT transactions_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT transactions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT transactions_related_id_fkey FOREIGN KEY (related_id) REFERENCES transactions (id),
    CONSTRAINT transactions_type_check CHECK (type IN ('send', 'receive', 'invoice', 'topup', 'withdraw', 'payment', 'adjustment')),
    CONSTRAINT transactions_direction_check CHECK (direction IN ('in', 'out')),
    CONSTRAINT transactions_status_check CHECK (status IN ('pending', 'completed', 'failed', 'expired')),
    CONSTRAINT transactions_amount_check CHECK (amount_msat >= 0),
    CONSTRAINT transactions_fee_check CHECK (fee_msat >= 0),
    INDEX transactions_user_id_id (user_id, id),
    -- The pending operations to resume at start-up. (MySQL has no partial
    -- indexes, so this one covers every row.)
    INDEX transactions_status_type (status, type)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Append-only: a correction is a new transaction whose entries reverse old ones.
CREATE TABLE ledger_entries (
    id             BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    transaction_id BIGINT      NOT NULL,
    account_id     BIGINT      NOT NULL,
    amount_msat    BIGINT      NOT NULL,
    created_at     DATETIME(6) NOT NULL,
    CONSTRAINT ledger_entries_transaction_id_fkey FOREIGN KEY (transaction_id) REFERENCES transactions (id),
    CONSTRAINT ledger_entries_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT ledger_entries_amount_check CHECK (amount_msat <> 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE invoices (
    id               BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id          BIGINT        NOT NULL,
    transaction_id   BIGINT        NULL,
    invoice          VARCHAR(2048) CHARACTER SET ascii NOT NULL,
    payment_hash     CHAR(64)      CHARACTER SET ascii NOT NULL,
    amount_msat      BIGINT        NOT NULL,
    amount_paid_msat BIGINT        NULL,
    status           VARCHAR(16)   CHARACTER SET ascii NOT NULL,
    description      VARCHAR(640)  NOT NULL DEFAULT '',
    add_index        BIGINT        NULL,
    expires_at       DATETIME(6)   NOT NULL,
    paid_at          DATETIME(6)   NULL,
    created_at       DATETIME(6)   NOT NULL,
    updated_at       DATETIME(6)   NOT NULL,
    CONSTRAINT invoices_invoice_key UNIQUE (invoice),
    CONSTRAINT invoices_payment_hash_key UNIQUE (payment_hash),
    CONSTRAINT invoices_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT invoices_transaction_id_fkey FOREIGN KEY (transaction_id) REFERENCES transactions (id),
    CONSTRAINT invoices_amount_check CHECK (amount_msat > 0),
    CONSTRAINT invoices_status_check CHECK (status IN ('pending', 'paid', 'expired', 'cancelled')),
    INDEX invoices_status_expires_at (status, expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE ussd_sessions (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    session_id       VARCHAR(128) CHARACTER SET ascii NOT NULL,
    user_id          BIGINT       NULL,
    phone            VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    state            VARCHAR(64)  CHARACTER SET ascii NOT NULL,
    input_buffer     TEXT         NOT NULL,
    last_input       TEXT         NULL,
    last_response    TEXT         NULL,
    hops             INT          NOT NULL DEFAULT 0,
    end_status       VARCHAR(16)  CHARACTER SET ascii NULL,
    duration_ms      BIGINT       NULL,
    active           BOOLEAN      NOT NULL DEFAULT TRUE,
    last_activity_at DATETIME(6)  NOT NULL,
    created_at       DATETIME(6)  NOT NULL,
    ended_at         DATETIME(6)  NULL,
    CONSTRAINT ussd_sessions_session_id_key UNIQUE (session_id),
    CONSTRAINT ussd_sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    INDEX ussd_sessions_active_last_activity_at (active, last_activity_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
