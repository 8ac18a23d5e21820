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
-- (SQLite has one writer: a claim's statements run in a write transaction,
-- which no other claim can interleave.)
ALTER TABLE notifications ADD COLUMN claim_token TEXT;
ALTER TABLE notifications ADD COLUMN message_id TEXT;
ALTER TABLE notifications ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN leased_until DATETIME;

-- What the gateway reported of each message it took, found by its id. A
-- table of its own, written when a message is sent, so that the outbox
-- insert on every transfer pays for no index on message ids. One record
-- per message: a gateway that gives one id to two messages gets two
-- records, so that neither message shows the other's report.
CREATE TABLE sms_deliveries (
    message_id      TEXT    NOT NULL,
    notification_id INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT '',
    failure_reason  TEXT    NOT NULL DEFAULT '',
    retries         INTEGER NOT NULL DEFAULT 0,
    final           BOOLEAN NOT NULL DEFAULT FALSE,
    reported_at     DATETIME,
    PRIMARY KEY (message_id, notification_id)
);

-- Every text that reached the service's number, once: the gateway's id is
-- unique, so a repeated callback finds its row and does nothing. A
-- reply_key is set when a text earns a reply that must not repeat ("register
-- first" once a day per number); its uniqueness is the once.
CREATE TABLE inbound_sms (
    id          INTEGER PRIMARY KEY,
    gateway_id  TEXT     NOT NULL UNIQUE,
    phone       TEXT     NOT NULL,
    user_id     INTEGER REFERENCES users (id),
    text        TEXT     NOT NULL,
    outcome     TEXT     NOT NULL DEFAULT '',
    reply_key   TEXT UNIQUE,
    received_at DATETIME NOT NULL
);

CREATE INDEX inbound_sms_phone_received_at ON inbound_sms (phone, received_at);

-- An invoice a user texted in, waiting for approval in their next USSD
-- session. Nothing is paid until they approve it with their PIN; the
-- payment's transaction is recorded here when they do.
CREATE TABLE payment_requests (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER  NOT NULL REFERENCES users (id),
    inbound_id     INTEGER  NOT NULL UNIQUE REFERENCES inbound_sms (id),
    invoice        TEXT     NOT NULL,
    payment_hash   TEXT     NOT NULL,
    amount_msat    INTEGER  NOT NULL CHECK (amount_msat > 0),
    payee          TEXT     NOT NULL DEFAULT '',
    status         TEXT     NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'superseded')),
    transaction_id INTEGER REFERENCES transactions (id),
    expires_at     DATETIME NOT NULL,
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL
);

CREATE INDEX payment_requests_user_id_status ON payment_requests (user_id, status);
