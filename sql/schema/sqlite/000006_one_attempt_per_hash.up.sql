-- One attempt per payment hash, ever: a failed payment no longer frees its
-- hash. lnd keeps one payment record per hash and lets a failed one be
-- started again, so if a second attempt of ours could follow a refunded
-- first one, a track of the hash could answer the first attempt's FAILED
-- for the second, and the second would be refunded while lnd sends it. With
-- a single payment row per hash, whatever lnd says of the hash is about
-- that row. A payer whose payment failed asks the payee for a new invoice.
--
-- The index fails to build on a database where a hash was paid again after
-- a failure: an operator must look at those payments first.
DROP INDEX transactions_one_payment_per_hash;
CREATE UNIQUE INDEX transactions_one_payment_per_hash ON transactions (payment_hash)
WHERE type = 'payment';
