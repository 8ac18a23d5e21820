-- The transactional outbox: every event a user should hear about is written
-- here in the same transaction as the money movement, and a sender delivers
-- it (by SMS) afterwards.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER REFERENCES users (id),
    phone           TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    transaction_id  INTEGER REFERENCES transactions (id),
    amount_msat     INTEGER NOT NULL DEFAULT 0,
    counterparty    TEXT    NOT NULL DEFAULT '',
    body            TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NOT NULL,
    created_at      DATETIME NOT NULL,
    sent_at         DATETIME
);

CREATE INDEX notifications_status_next_attempt_at ON notifications (status, next_attempt_at);
