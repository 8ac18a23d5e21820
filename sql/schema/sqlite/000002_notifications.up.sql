-- The transactional outbox: every event a user should hear about is written
-- here in the same transaction as the money movement, and a sender delivers
-- it (by SMS) afterwards. Its ids are references for the sender, not
-- constraints: a foreign key would lock the user's and the transaction's
-- rows on every insert of the hottest path for no integrity the ledger
-- needs (the phone number to deliver to is copied here).
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER,
    phone           TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    transaction_id  INTEGER,
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
