DROP INDEX transactions_one_payment_per_hash;
CREATE UNIQUE INDEX transactions_one_payment_per_hash ON transactions (payment_hash)
WHERE type = 'payment' AND status IN ('pending', 'completed');
