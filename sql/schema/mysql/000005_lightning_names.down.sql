-- Back to invoices that always have a user: the unpaid address invoices of
-- numbers without an account cannot be kept (a paid one has its user).
DELETE FROM invoices WHERE user_id IS NULL;
ALTER TABLE invoices
    DROP INDEX invoices_phone_status,
    DROP CONSTRAINT invoices_owner_check,
    DROP CONSTRAINT invoices_origin_check,
    DROP COLUMN payer_comment,
    DROP COLUMN origin,
    DROP COLUMN phone,
    MODIFY user_id BIGINT NOT NULL;

-- Every user's address is the digits of the number again.
UPDATE users SET lightning_name = SUBSTRING(phone, 2) WHERE lightning_name <> SUBSTRING(phone, 2);

DROP TABLE lightning_names;
