-- Lightning Addresses without enumeration or floods (issue 8, points 6 and
-- 10).
--
-- lightning_names holds the names users chose for their address (Settings ->
-- Lightning Address). A name is never given to anyone else once taken: a
-- name the user moved away from keeps paying that user, so an address
-- someone saved can never start paying a stranger. users.lightning_name is
-- the name the user shows now (the digits of the number until one is chosen).
CREATE TABLE lightning_names (
    name       TEXT     PRIMARY KEY,
    user_id    INTEGER  NOT NULL REFERENCES users (id),
    created_at DATETIME NOT NULL
);

CREATE INDEX lightning_names_user_id ON lightning_names (user_id);

-- Invoices issued to anonymous payers of an address (origin 'address') are
-- recorded by the number they pay (phone), with no user row and no
-- transaction row until they are paid: a flood of callbacks, for any valid
-- number, creates no user and nothing in anyone's Transactions screen, and
-- the rows of the unpaid ones are deleted a while after they expire.
-- payer_comment is the payer's LUD-12 comment. SQLite cannot drop a NOT NULL
-- constraint, so the table is rebuilt (nothing refers to invoices).
CREATE TABLE invoices_new (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER REFERENCES users (id),
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
    updated_at       DATETIME NOT NULL,
    phone            TEXT,
    origin           TEXT    NOT NULL DEFAULT 'user' CHECK (origin IN ('user', 'address')),
    payer_comment    TEXT    NOT NULL DEFAULT '',
    CHECK (user_id IS NOT NULL OR phone IS NOT NULL)
);

INSERT INTO invoices_new (
    id, user_id, transaction_id, invoice, payment_hash, amount_msat, amount_paid_msat, status, description,
    add_index, expires_at, paid_at, created_at, updated_at
)
SELECT id, user_id, transaction_id, invoice, payment_hash, amount_msat, amount_paid_msat, status, description,
    add_index, expires_at, paid_at, created_at, updated_at
FROM invoices;

DROP TABLE invoices;

ALTER TABLE invoices_new RENAME TO invoices;

CREATE INDEX invoices_status_expires_at ON invoices (status, expires_at);
CREATE INDEX invoices_user_id ON invoices (user_id);
CREATE INDEX invoices_phone_status ON invoices (phone, status);
