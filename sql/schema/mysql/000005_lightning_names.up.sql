-- Lightning Addresses without enumeration or floods (issue 8, points 6 and
-- 10).
--
-- lightning_names holds the names users chose for their address (Settings ->
-- Lightning Address). A name is never given to anyone else once taken: a
-- name the user moved away from keeps paying that user, so an address
-- someone saved can never start paying a stranger. users.lightning_name is
-- the name the user shows now (the digits of the number until one is chosen).
CREATE TABLE lightning_names (
    name       VARCHAR(20) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    user_id    BIGINT      NOT NULL,
    created_at DATETIME(6) NOT NULL,
    CONSTRAINT lightning_names_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Invoices issued to anonymous payers of an address (origin 'address') are
-- recorded by the number they pay (phone), with no user row and no
-- transaction row until they are paid: a flood of callbacks, for any valid
-- number, creates no user and nothing in anyone's Transactions screen, and
-- the rows of the unpaid ones are deleted a while after they expire.
-- payer_comment is the payer's LUD-12 comment (utf8mb4: payers write emoji).
ALTER TABLE invoices
    MODIFY user_id BIGINT NULL,
    ADD COLUMN phone VARCHAR(16) CHARACTER SET ascii NULL,
    ADD COLUMN origin VARCHAR(8) CHARACTER SET ascii NOT NULL DEFAULT 'user',
    ADD COLUMN payer_comment VARCHAR(255) NOT NULL DEFAULT '',
    ADD CONSTRAINT invoices_origin_check CHECK (origin IN ('user', 'address')),
    ADD CONSTRAINT invoices_owner_check CHECK (user_id IS NOT NULL OR phone IS NOT NULL),
    ADD INDEX invoices_phone_status (phone, status);
