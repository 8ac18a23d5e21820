ALTER TABLE transactions
    DROP INDEX transactions_one_payment_per_hash,
    DROP COLUMN payment_hash_claim;
ALTER TABLE transactions
    ADD COLUMN payment_hash_claim CHAR(64) CHARACTER SET ascii
        AS (CASE WHEN type = 'payment' AND status IN ('pending', 'completed') THEN RTRIM(payment_hash) END) STORED,
    ADD CONSTRAINT transactions_one_payment_per_hash UNIQUE (payment_hash_claim);
