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
    ADD COLUMN head_seq  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN head_hash TEXT   NOT NULL DEFAULT '';

ALTER TABLE ledger_entries
    ADD COLUMN seq                BIGINT,
    ADD COLUMN balance_after_msat BIGINT,
    ADD COLUMN day_out_msat       BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN day_out_day        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN hash               TEXT;

-- What a payment or withdrawal took from its user when it was reserved
-- (amount + service fee + fee allowance): the allowance is known only then.
ALTER TABLE transactions ADD COLUMN held_msat BIGINT NOT NULL DEFAULT 0 CHECK (held_msat >= 0);

-- The rest fills the new columns for the rows already there, as if they had
-- been posted with them.
UPDATE transactions t SET held_msat = h.held
FROM (SELECT e.transaction_id, SUM(e.amount_msat) AS held
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
      WHERE a.code = 'reserved' AND e.amount_msat > 0
      GROUP BY e.transaction_id) h
WHERE h.transaction_id = t.id AND t.type IN ('payment', 'withdraw');

-- The day of each entry on a user account, in East Africa Time (UTC+3, the
-- wallet's DayZone); the debit of a send, payment or withdrawal counted its
-- amount; the refund of a failed one gave it back when made the same day.
UPDATE ledger_entries e SET day_out_day = FLOOR((EXTRACT(EPOCH FROM e.created_at) + 10800) / 86400)::BIGINT
FROM accounts a WHERE a.id = e.account_id AND a.kind = 'user';

UPDATE ledger_entries e SET day_out_msat = t.amount_msat
FROM transactions t, accounts a
WHERE t.id = e.transaction_id AND a.id = e.account_id AND a.user_id = t.user_id
  AND t.type IN ('send', 'payment', 'withdraw') AND e.amount_msat < 0;

UPDATE ledger_entries e SET day_out_msat = -t.amount_msat
FROM transactions t, accounts a, ledger_entries d
WHERE t.id = e.transaction_id AND a.id = e.account_id AND a.user_id = t.user_id
  AND t.type IN ('payment', 'withdraw') AND t.status = 'failed' AND e.amount_msat > 0
  AND d.transaction_id = t.id AND d.account_id = e.account_id AND d.day_out_msat > 0 AND d.day_out_day = e.day_out_day;

UPDATE ledger_entries e SET seq = w.seq, balance_after_msat = w.balance
FROM (SELECT e.id,
             ROW_NUMBER() OVER (PARTITION BY e.account_id ORDER BY e.id) AS seq,
             SUM(e.amount_msat) OVER (PARTITION BY e.account_id ORDER BY e.id) AS balance
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id AND a.kind = 'user') w
WHERE w.id = e.id;

-- A chain has one entry per place; the index also serves every lookup by
-- account the old one did.
DROP INDEX ledger_entries_account_id;
CREATE UNIQUE INDEX ledger_entries_account_id_seq ON ledger_entries (account_id, seq);

-- Walk every chain from its first entry: the hash, and the day counter as
-- the guarded UPDATE keeps it (a send counts on its day, or on the later day
-- the counter is already on; a give-back counts only on the counter's day
-- and never takes it below zero).
CREATE TEMPORARY TABLE chain_backfill AS
WITH RECURSIVE c (id, account_id, seq, hash, day, msat) AS (
    SELECT e.id, e.account_id, e.seq,
           encode(sha256(convert_to('v1|' || e.account_id || '|' || e.seq || '|' || e.transaction_id || '|' || e.amount_msat || '|' ||
               e.balance_after_msat || '|' || e.day_out_msat || '|' || e.day_out_day || '|' ||
               (EXTRACT(EPOCH FROM e.created_at) * 1000000)::BIGINT || '|', 'UTF8')), 'hex'),
           CASE WHEN e.day_out_msat > 0 THEN e.day_out_day ELSE 0 END,
           CASE WHEN e.day_out_msat > 0 THEN e.day_out_msat ELSE 0 END
    FROM ledger_entries e WHERE e.seq = 1
    UNION ALL
    SELECT e.id, e.account_id, e.seq,
           encode(sha256(convert_to('v1|' || e.account_id || '|' || e.seq || '|' || e.transaction_id || '|' || e.amount_msat || '|' ||
               e.balance_after_msat || '|' || e.day_out_msat || '|' || e.day_out_day || '|' ||
               (EXTRACT(EPOCH FROM e.created_at) * 1000000)::BIGINT || '|' || c.hash, 'UTF8')), 'hex'),
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

UPDATE ledger_entries e SET hash = c.hash FROM chain_backfill c WHERE c.id = e.id;

-- Each account's head is its last entry; its counter is recounted under
-- the rule above.
UPDATE accounts a SET head_seq = c.seq, head_hash = c.hash, day_out_day = c.day, day_out_msat = c.msat
FROM chain_backfill c
JOIN (SELECT account_id, MAX(seq) AS seq FROM chain_backfill GROUP BY account_id) m ON m.account_id = c.account_id AND m.seq = c.seq
WHERE c.account_id = a.id;

DROP TABLE chain_backfill;
