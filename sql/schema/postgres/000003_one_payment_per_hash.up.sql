-- One invoice, paid once: a payment hash has at most one outgoing payment
-- that is pending or completed. The database enforces it, so two users (or
-- two processes) racing to pay one invoice cannot both hold funds for it:
-- the second insert is refused before anything is held. A failed payment
-- frees the hash, so paying it again after a definite failure is allowed.
-- Incoming rows (invoices) carry the same hash and are not concerned.
--
-- The index also serves the look-up of the payment that owns a hash. It
-- fails to build on a database that already holds two such payments: an
-- operator must settle those by hand first.
CREATE UNIQUE INDEX transactions_one_payment_per_hash ON transactions (payment_hash)
WHERE type = 'payment' AND status IN ('pending', 'completed');
