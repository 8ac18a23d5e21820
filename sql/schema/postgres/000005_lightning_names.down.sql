-- Back to invoices that always have a user: the unpaid address invoices of
-- numbers without an account cannot be kept (a paid one has its user).
DROP INDEX invoices_phone_status;
DELETE FROM invoices WHERE user_id IS NULL;
ALTER TABLE invoices DROP CONSTRAINT invoices_owner_check;
ALTER TABLE invoices DROP COLUMN payer_comment;
ALTER TABLE invoices DROP COLUMN origin;
ALTER TABLE invoices DROP COLUMN phone;
ALTER TABLE invoices ALTER COLUMN user_id SET NOT NULL;

-- Every user's address is the digits of the number again.
UPDATE users SET lightning_name = substr(phone, 2) WHERE lightning_name <> substr(phone, 2);

DROP TABLE lightning_names;
