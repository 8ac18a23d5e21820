ALTER TABLE transactions
    DROP INDEX transactions_one_payment_per_hash,
    DROP COLUMN payment_hash_claim;
