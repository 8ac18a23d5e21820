-- Back to invoices that always have a user: the unpaid address invoices of
-- numbers without an account cannot be kept (a paid one has its user).
DELETE FROM invoices WHERE user_id IS NULL;

CREATE TABLE invoices_old (
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

INSERT INTO invoices_old (
    id, user_id, transaction_id, invoice, payment_hash, amount_msat, amount_paid_msat, status, description,
    add_index, expires_at, paid_at, created_at, updated_at
)
SELECT id, user_id, transaction_id, invoice, payment_hash, amount_msat, amount_paid_msat, status, description,
    add_index, expires_at, paid_at, created_at, updated_at
FROM invoices;

DROP TABLE invoices;

ALTER TABLE invoices_old RENAME TO invoices;

CREATE INDEX invoices_status_expires_at ON invoices (status, expires_at);
CREATE INDEX invoices_user_id ON invoices (user_id);

-- Every user's address is the digits of the number again.
UPDATE users SET lightning_name = substr(phone, 2) WHERE lightning_name <> substr(phone, 2);

DROP TABLE lightning_names;
