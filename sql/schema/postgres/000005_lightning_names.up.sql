-- Lightning Addresses without enumeration or floods (issue 8, points 6 and
-- 10).
--
-- lightning_names holds the names users chose for their address (Settings ->
-- Lightning Address). A name is never given to anyone else once taken: a
-- name the user moved away from keeps paying that user, so an address
-- someone saved can never start paying a stranger. users.lightning_name is
-- the name the user shows now (the digits of the number until one is chosen).
CREATE TABLE lightning_names (
    name       TEXT        PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX lightning_names_user_id ON lightning_names (user_id);

-- Invoices issued to anonymous payers of an address (origin 'address') are
-- recorded by the number they pay (phone), with no user row and no
-- transaction row until they are paid: a flood of callbacks, for any valid
-- number, creates no user and nothing in anyone's Transactions screen, and
-- the rows of the unpaid ones are deleted a while after they expire.
-- payer_comment is the payer's LUD-12 comment.
ALTER TABLE invoices ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE invoices ADD COLUMN phone TEXT;
ALTER TABLE invoices ADD COLUMN origin TEXT NOT NULL DEFAULT 'user' CHECK (origin IN ('user', 'address'));
ALTER TABLE invoices ADD COLUMN payer_comment TEXT NOT NULL DEFAULT '';
ALTER TABLE invoices ADD CONSTRAINT invoices_owner_check CHECK (user_id IS NOT NULL OR phone IS NOT NULL);

CREATE INDEX invoices_phone_status ON invoices (phone, status);
