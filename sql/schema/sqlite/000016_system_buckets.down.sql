-- The buckets are folded into their accounts' rows first, so every cached
-- balance keeps its value.
UPDATE accounts SET balance_msat = balance_msat +
    (SELECT COALESCE(SUM(b.balance_msat), 0) FROM account_buckets b WHERE b.account_id = accounts.id);

DROP TABLE account_buckets;
