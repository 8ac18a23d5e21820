-- The ledger's tamper evidence and what reconcile needs to check every
-- transaction against its row (see internal/store/chain.go and rules.go).
--
-- Each entry on a user account carries its place in the account's chain
-- (seq), the balance after it, what it counted towards the daily limit and
-- on which day, and a hash over all of that and the account's previous
-- entry's hash. The account row keeps the head of its chain, advanced by the
-- same guarded UPDATE that moves the balance: the chain costs no statement
-- and no lock the posting did not already take. System accounts have no
-- chain (their entries keep NULLs), so their hot rows gain nothing.
ALTER TABLE accounts
    ADD COLUMN head_seq  BIGINT      NOT NULL DEFAULT 0,
    ADD COLUMN head_hash VARCHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '';

ALTER TABLE ledger_entries
    ADD COLUMN seq                BIGINT      NULL,
    ADD COLUMN balance_after_msat BIGINT      NULL,
    ADD COLUMN day_out_msat       BIGINT      NOT NULL DEFAULT 0,
    ADD COLUMN day_out_day        BIGINT      NOT NULL DEFAULT 0,
    ADD COLUMN hash               VARCHAR(64) CHARACTER SET ascii NULL;

-- What a payment or withdrawal took from its user when it was reserved
-- (amount + service fee + fee allowance): the allowance is known only then.
ALTER TABLE transactions
    ADD COLUMN held_msat BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT transactions_held_check CHECK (held_msat >= 0);

-- The rest fills the new columns for the rows already there, as if they had
-- been posted with them.
UPDATE transactions t
JOIN (SELECT e.transaction_id, SUM(e.amount_msat) AS held
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
      WHERE a.code = 'reserved' AND e.amount_msat > 0
      GROUP BY e.transaction_id) h ON h.transaction_id = t.id
SET t.held_msat = h.held
WHERE t.type IN ('payment', 'withdraw');

-- The day of each entry on a user account, in East Africa Time (UTC+3, the
-- wallet's DayZone); the debit of a send, payment or withdrawal counted its
-- amount; the refund of a failed one gave it back when made the same day.
UPDATE ledger_entries e JOIN accounts a ON a.id = e.account_id AND a.kind = 'user'
SET e.day_out_day = FLOOR((TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', e.created_at) + 10800) / 86400);

UPDATE ledger_entries e
JOIN transactions t ON t.id = e.transaction_id
JOIN accounts a ON a.id = e.account_id AND a.user_id = t.user_id
SET e.day_out_msat = t.amount_msat
WHERE t.type IN ('send', 'payment', 'withdraw') AND e.amount_msat < 0;

UPDATE ledger_entries e
JOIN transactions t ON t.id = e.transaction_id
JOIN accounts a ON a.id = e.account_id AND a.user_id = t.user_id
JOIN ledger_entries d ON d.transaction_id = t.id AND d.account_id = e.account_id AND d.day_out_msat > 0 AND d.day_out_day = e.day_out_day
SET e.day_out_msat = -t.amount_msat
WHERE t.type IN ('payment', 'withdraw') AND t.status = 'failed' AND e.amount_msat > 0;

UPDATE ledger_entries e
JOIN (SELECT e.id,
             ROW_NUMBER() OVER (PARTITION BY e.account_id ORDER BY e.id) AS seq,
             SUM(e.amount_msat) OVER (PARTITION BY e.account_id ORDER BY e.id) AS balance
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id AND a.kind = 'user') w ON w.id = e.id
SET e.seq = w.seq, e.balance_after_msat = w.balance;

-- A chain has one entry per place. The index also serves the foreign key
-- and every lookup by account, so the server drops the one it made for the
-- foreign key by itself.
CREATE UNIQUE INDEX ledger_entries_account_id_seq ON ledger_entries (account_id, seq);

-- Walk every chain from its first entry: the hash, and the day counter as
-- the guarded UPDATE keeps it (a send counts on its day, or on the later day
-- the counter is already on; a give-back counts only on the counter's day
-- and never takes it below zero). A chain is as deep as an account's
-- entries are many: lift the servers' recursion limit (MariaDB and MySQL
-- name it differently) for this session.
SET @lift := IF(VERSION() LIKE '%MariaDB%', 'SET SESSION max_recursive_iterations = 4294967295',
    'SET SESSION cte_max_recursion_depth = 4294967295');
PREPARE lift FROM @lift;
EXECUTE lift;
DEALLOCATE PREPARE lift;

CREATE TEMPORARY TABLE chain_backfill AS
WITH RECURSIVE c (id, account_id, seq, hash, day, msat) AS (
    SELECT e.id, e.account_id, e.seq,
           SHA2(CONCAT('v1|', e.account_id, '|', e.seq, '|', e.transaction_id, '|', e.amount_msat, '|',
               e.balance_after_msat, '|', e.day_out_msat, '|', e.day_out_day, '|',
               TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', e.created_at), '|'), 256),
           CASE WHEN e.day_out_msat > 0 THEN e.day_out_day ELSE 0 END,
           CASE WHEN e.day_out_msat > 0 THEN e.day_out_msat ELSE 0 END
    FROM ledger_entries e WHERE e.seq = 1
    UNION ALL
    SELECT e.id, e.account_id, e.seq,
           SHA2(CONCAT('v1|', e.account_id, '|', e.seq, '|', e.transaction_id, '|', e.amount_msat, '|',
               e.balance_after_msat, '|', e.day_out_msat, '|', e.day_out_day, '|',
               TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', e.created_at), '|', c.hash), 256),
           CASE WHEN e.day_out_msat > 0 AND e.day_out_day > c.day THEN e.day_out_day ELSE c.day END,
           CASE
               WHEN e.day_out_msat > 0 AND c.day >= e.day_out_day THEN c.msat + e.day_out_msat
               WHEN e.day_out_msat > 0 THEN e.day_out_msat
               WHEN e.day_out_msat < 0 AND c.day = e.day_out_day THEN
                   CASE WHEN c.msat + e.day_out_msat < 0 THEN 0 ELSE c.msat + e.day_out_msat END
               ELSE c.msat END
    FROM c JOIN ledger_entries e ON e.account_id = c.account_id AND e.seq = c.seq + 1
)
SELECT id, account_id, seq, hash, day, msat FROM c;
CREATE INDEX chain_backfill_account_id_seq ON chain_backfill (account_id, seq);
-- A temporary table can be opened only once per statement in MySQL: the
-- last place of each chain goes into a table of its own.
CREATE TEMPORARY TABLE chain_heads AS SELECT account_id, MAX(seq) AS seq FROM chain_backfill GROUP BY account_id;

UPDATE ledger_entries e JOIN chain_backfill c ON c.id = e.id SET e.hash = c.hash;

-- Each account's head is its last entry; its counter is recounted under
-- the rule above.
UPDATE accounts a
JOIN chain_heads m ON m.account_id = a.id
JOIN chain_backfill c ON c.account_id = m.account_id AND c.seq = m.seq
SET a.head_seq = c.seq, a.head_hash = c.hash, a.day_out_day = c.day, a.day_out_msat = c.msat;

DROP TEMPORARY TABLE chain_heads;
DROP TEMPORARY TABLE chain_backfill;
