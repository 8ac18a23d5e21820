-- Core tables of the wallet on SQLite. Times are stored by the driver as
-- UTC text in one fixed format (see _time_format in the DSN), so they compare
-- correctly as strings; amounts are INTEGER millisatoshi.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    phone               TEXT    NOT NULL UNIQUE,
    lightning_name      TEXT    NOT NULL UNIQUE,
    lightning_pubkey    TEXT,
    pin_hash            TEXT,
    failed_pin_attempts INTEGER NOT NULL DEFAULT 0,
    lockout_count       INTEGER NOT NULL DEFAULT 0,
    locked_until        DATETIME,
    language            TEXT    NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'sw')),
    status              TEXT    NOT NULL DEFAULT 'unregistered' CHECK (status IN ('unregistered', 'active', 'locked')),
    created_at          DATETIME NOT NULL,
    updated_at          DATETIME NOT NULL
);

-- A user's wallet account or a system account (identified by code). Only
-- system accounts may go below zero: they carry the other side of money that
-- enters or leaves the ledger.
CREATE TABLE accounts (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER UNIQUE REFERENCES users (id),
    code         TEXT    UNIQUE,
    kind         TEXT    NOT NULL CHECK (kind IN ('user', 'system')),
    balance_msat INTEGER NOT NULL DEFAULT 0,
    -- What the account sent out on day_out_day (days since 1970-01-01 in
    -- the operator's time zone), for the daily limit; kept by the same
    -- UPDATE that moves the balance, so checking the limit costs nothing.
    day_out_msat INTEGER NOT NULL DEFAULT 0,
    day_out_day  INTEGER NOT NULL DEFAULT 0,
    created_at   DATETIME NOT NULL,
    CHECK (kind = 'system' OR balance_msat >= 0),
    CHECK ((kind = 'user' AND user_id IS NOT NULL AND code IS NULL) OR (kind = 'system' AND user_id IS NULL AND code IS NOT NULL))
);

INSERT INTO accounts (code, kind, balance_msat, created_at) VALUES
    ('lightning', 'system', 0, strftime('%Y-%m-%d %H:%M:%S+00:00', 'now')),
    ('mpesa', 'system', 0, strftime('%Y-%m-%d %H:%M:%S+00:00', 'now')),
    ('fees', 'system', 0, strftime('%Y-%m-%d %H:%M:%S+00:00', 'now')),
    ('adjustments', 'system', 0, strftime('%Y-%m-%d %H:%M:%S+00:00', 'now')),
    ('reserved', 'system', 0, strftime('%Y-%m-%d %H:%M:%S+00:00', 'now'));

-- The user-facing log of every operation. Money itself moves only through
-- ledger_entries; a row here may carry none (a pending invoice, the receiving
-- side of a transfer whose entries hang off the sending row). The unique
-- idempotency key is also the natural key of rail operations ("topup:"
-- receipt, and so on), so the M-Pesa and Lightning ids need no unique
-- index of their own: every index here is paid by every transfer.
CREATE TABLE transactions (
    id                        INTEGER PRIMARY KEY,
    user_id                   INTEGER REFERENCES users (id),
    type                      TEXT    NOT NULL CHECK (type IN ('send', 'receive', 'invoice', 'topup', 'withdraw', 'payment', 'adjustment')),
    direction                 TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    status                    TEXT    NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'expired')),
    amount_msat               INTEGER NOT NULL CHECK (amount_msat >= 0),
    fee_msat                  INTEGER NOT NULL DEFAULT 0 CHECK (fee_msat >= 0),
    invoice                   TEXT,
    payment_hash              TEXT,
    mpesa_receipt             TEXT,
    mpesa_checkout_request_id TEXT,
    mpesa_conversation_id     TEXT,
    counterparty_phone        TEXT,
    description               TEXT    NOT NULL DEFAULT '',
    idempotency_key           TEXT    NOT NULL UNIQUE,
    related_id                INTEGER REFERENCES transactions (id),
    created_at                DATETIME NOT NULL,
    updated_at                DATETIME NOT NULL
);

CREATE INDEX transactions_user_id_id ON transactions (user_id, id);
-- The pending operations to resume at start-up; finished rows, nearly all
-- of them, stay out of this index.
CREATE INDEX transactions_pending_type ON transactions (type) WHERE status = 'pending';

-- Append-only: a correction is a new transaction whose entries reverse old ones.
CREATE TABLE ledger_entries (
    id             INTEGER PRIMARY KEY,
    transaction_id INTEGER NOT NULL REFERENCES transactions (id),
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    amount_msat    INTEGER NOT NULL CHECK (amount_msat <> 0),
    created_at     DATETIME NOT NULL
);

CREATE INDEX ledger_entries_transaction_id ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account_id ON ledger_entries (account_id);

CREATE TABLE invoices (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    transaction_id   INTEGER REFERENCES transactions (id),
    invoice          TEXT    NOT NULL UNIQUE,
    payment_hash     TEXT    NOT NULL UNIQUE,
    amount_msat      INTEGER NOT NULL CHECK (amount_msat > 0),
    amount_paid_msat INTEGER,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'paid', 'expired', 'cancelled')),
    description      TEXT    NOT NULL DEFAULT '',
    add_index        INTEGER,
    expires_at       DATETIME NOT NULL,
    paid_at          DATETIME,
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL
);

CREATE INDEX invoices_status_expires_at ON invoices (status, expires_at);
CREATE INDEX invoices_user_id ON invoices (user_id);

CREATE TABLE ussd_sessions (
    id               INTEGER PRIMARY KEY,
    session_id       TEXT    NOT NULL UNIQUE,
    user_id          INTEGER REFERENCES users (id),
    phone            TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    input_buffer     TEXT    NOT NULL DEFAULT '[]',
    last_input       TEXT,
    last_response    TEXT,
    hops             INTEGER NOT NULL DEFAULT 0,
    end_status       TEXT,
    duration_ms      INTEGER,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    last_activity_at DATETIME NOT NULL,
    created_at       DATETIME NOT NULL,
    ended_at         DATETIME
);

CREATE INDEX ussd_sessions_active_last_activity_at ON ussd_sessions (active, last_activity_at);
