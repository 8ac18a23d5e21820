-- The operator's controls (issue 14).
--
-- frozen_at: an operator froze the account at that time (NULL: not frozen).
-- A frozen account receives but sends nothing, on any channel.
-- pin_reset_at: an operator reset the PIN, taking effect at that time (NULL:
-- none pending). From then on the old PIN no longer opens the account and
-- the next dial asks for a new one.
ALTER TABLE users ADD COLUMN frozen_at DATETIME;
ALTER TABLE users ADD COLUMN pin_reset_at DATETIME;

-- Whether outgoing Lightning payments and M-Pesa withdrawals are paused, in
-- one row every server reads: auto_paused is the liabilities watchdog's,
-- manual_paused the operator's (server admin pause|resume), which the
-- watchdog never lifts.
CREATE TABLE service_pause (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    auto_paused   BOOLEAN NOT NULL DEFAULT FALSE,
    auto_reason   TEXT    NOT NULL DEFAULT '',
    manual_paused BOOLEAN NOT NULL DEFAULT FALSE,
    manual_reason TEXT    NOT NULL DEFAULT '',
    operator      TEXT    NOT NULL DEFAULT '',
    updated_at    DATETIME NOT NULL
);
INSERT INTO service_pause (id, updated_at) VALUES (1, strftime('%Y-%m-%d %H:%M:%S+00:00', 'now'));

-- Every operator action, append-only and hash-chained: each row's hash
-- covers its content and the previous row's hash, and prev_hash is unique,
-- so two actions racing cannot both follow the same row (the chain cannot
-- fork). server reconcile verifies the chain.
CREATE TABLE admin_audit (
    id         INTEGER PRIMARY KEY,
    operator   TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    user_id    INTEGER REFERENCES users (id),
    reason     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    prev_hash  TEXT    NOT NULL UNIQUE,
    hash       TEXT    NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE INDEX admin_audit_user_id ON admin_audit (user_id, id);
