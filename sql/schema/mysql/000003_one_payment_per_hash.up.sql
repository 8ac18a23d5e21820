-- One invoice, paid once: a payment hash has at most one outgoing payment
-- that is pending or completed. The database enforces it, so two users (or
-- two processes) racing to pay one invoice cannot both hold funds for it:
-- the second insert is refused before anything is held. A failed payment
-- frees the hash, so paying it again after a definite failure is allowed.
-- Incoming rows (invoices) carry the same hash and are not concerned.
--
-- MariaDB and MySQL have no partial indexes: payment_hash_claim is the hash
-- while the row is a pending or completed payment and NULL otherwise, and a
-- unique index (which admits any number of NULLs) holds the rule. It is
-- STORED so that the index reads a plain column. RTRIM is there because
-- MariaDB refuses a CHAR column inside such an expression (its value would
-- depend on the PAD_CHAR_TO_FULL_LENGTH mode); a hash fills all 64
-- characters, so it trims nothing. The index also serves the
-- look-up of the payment that owns a hash. It fails to build on a database
-- that already holds two such payments: an operator must settle those by
-- hand first.
ALTER TABLE transactions
    ADD COLUMN payment_hash_claim CHAR(64) CHARACTER SET ascii
        AS (CASE WHEN type = 'payment' AND status IN ('pending', 'completed') THEN RTRIM(payment_hash) END) STORED,
    ADD CONSTRAINT transactions_one_payment_per_hash UNIQUE (payment_hash_claim);
