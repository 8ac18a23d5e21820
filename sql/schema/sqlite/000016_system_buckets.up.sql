-- System accounts off the hot path (issue 15): on PostgreSQL and MySQL a
-- system account's cached balance is its row's balance_msat plus the sum of
-- its 64 buckets here, and a posting on it moves one bucket (chosen by its
-- transaction id) instead of the one hot row. SQLite has a single writer, so
-- there is no row to queue behind: its postings keep moving the account row
-- and its buckets stay at zero, but it reads a system balance the same way
-- (row + buckets), so the three engines answer alike.
CREATE TABLE account_buckets (
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    bucket       INTEGER NOT NULL CHECK (bucket >= 0 AND bucket < 64),
    balance_msat INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, bucket)
) WITHOUT ROWID;

INSERT INTO account_buckets (account_id, bucket, balance_msat)
SELECT a.id, x.n * 8 + y.n, 0
FROM accounts a
CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
            UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) x
CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
            UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) y
WHERE a.kind = 'system';
