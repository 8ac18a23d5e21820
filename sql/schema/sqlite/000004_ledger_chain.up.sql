-- The ledger's tamper evidence and what reconcile needs to check every
-- transaction against its row (see internal/store/chain.go and rules.go).
--
-- Each entry on a user account carries its place in the account's chain
-- (seq), the balance after it, what it counted towards the daily limit and
-- on which day, and a hash over all of that and the account's previous
-- entry's hash. The account row keeps the head of its chain, advanced by the
-- same guarded UPDATE that moves the balance: the chain costs no statement
-- and no lock the posting did not already take. System accounts have no
-- chain (their entries keep NULLs).
--
-- sha256_hex and unix_micros are Go functions the SQLite adapter registers
-- on every connection (SQLite has no SHA-256 of its own, and its date
-- functions stop at milliseconds).
ALTER TABLE accounts ADD COLUMN head_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN head_hash TEXT NOT NULL DEFAULT '';

ALTER TABLE ledger_entries ADD COLUMN seq INTEGER;
ALTER TABLE ledger_entries ADD COLUMN balance_after_msat INTEGER;
ALTER TABLE ledger_entries ADD COLUMN day_out_msat INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_entries ADD COLUMN day_out_day INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_entries ADD COLUMN hash TEXT;

-- What a payment or withdrawal took from its user when it was reserved
-- (amount + service fee + fee allowance): the allowance is known only then.
ALTER TABLE transactions ADD COLUMN held_msat INTEGER NOT NULL DEFAULT 0;

-- The rest fills the new columns for the rows already there, as if they had
-- been posted with them. (sqlc reads this file too, and its SQLite grammar
-- knows no UPDATE ... FROM: rows are joined by correlated subqueries, on
-- indexed temporary tables where they would otherwise repeat a scan.)
UPDATE transactions SET held_msat = COALESCE((
    SELECT SUM(e.amount_msat) FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
    WHERE e.transaction_id = transactions.id AND a.code = 'reserved' AND e.amount_msat > 0), 0)
WHERE type IN ('payment', 'withdraw');

-- The day of each entry on a user account, in East Africa Time (UTC+3, the
-- wallet's DayZone); the debit of a send, payment or withdrawal counted its
-- amount; the refund of a failed one gave it back when made the same day.
UPDATE ledger_entries SET day_out_day = (unix_micros(created_at) / 1000000 + 10800) / 86400
WHERE account_id IN (SELECT id FROM accounts WHERE kind = 'user');

UPDATE ledger_entries SET day_out_msat = (SELECT t.amount_msat FROM transactions t WHERE t.id = ledger_entries.transaction_id)
WHERE amount_msat < 0 AND EXISTS (
    SELECT 1 FROM transactions t JOIN accounts a ON a.user_id = t.user_id
    WHERE t.id = ledger_entries.transaction_id AND a.id = ledger_entries.account_id AND t.type IN ('send', 'payment', 'withdraw'));

UPDATE ledger_entries SET day_out_msat = -(SELECT t.amount_msat FROM transactions t WHERE t.id = ledger_entries.transaction_id)
WHERE amount_msat > 0 AND EXISTS (
    SELECT 1 FROM transactions t JOIN accounts a ON a.user_id = t.user_id
    JOIN ledger_entries d ON d.transaction_id = t.id AND d.account_id = a.id
    WHERE t.id = ledger_entries.transaction_id AND a.id = ledger_entries.account_id
      AND t.type IN ('payment', 'withdraw') AND t.status = 'failed'
      AND d.day_out_msat > 0 AND d.day_out_day = ledger_entries.day_out_day);

CREATE TEMP TABLE chain_places AS
SELECT e.id,
       ROW_NUMBER() OVER (PARTITION BY e.account_id ORDER BY e.id) AS seq,
       SUM(e.amount_msat) OVER (PARTITION BY e.account_id ORDER BY e.id) AS balance
FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
WHERE a.kind = 'user';
CREATE UNIQUE INDEX chain_places_id ON chain_places (id);
UPDATE ledger_entries SET
    seq = (SELECT p.seq FROM chain_places p WHERE p.id = ledger_entries.id),
    balance_after_msat = (SELECT p.balance FROM chain_places p WHERE p.id = ledger_entries.id)
WHERE id IN (SELECT id FROM chain_places);
DROP TABLE chain_places;

-- A chain has one entry per place; the index also serves every lookup by
-- account the old one did.
DROP INDEX ledger_entries_account_id;
CREATE UNIQUE INDEX ledger_entries_account_id_seq ON ledger_entries (account_id, seq);

-- Walk every chain from its first entry: the hash, and the day counter as
-- the guarded UPDATE keeps it (a send counts on its day, or on the later day
-- the counter is already on; a give-back counts only on the counter's day
-- and never takes it below zero).
CREATE TEMP TABLE chain_backfill AS
WITH RECURSIVE c (id, account_id, seq, hash, day, msat) AS (
    SELECT e.id, e.account_id, e.seq,
           sha256_hex('v1|' || e.account_id || '|' || e.seq || '|' || e.transaction_id || '|' || e.amount_msat || '|' ||
               e.balance_after_msat || '|' || e.day_out_msat || '|' || e.day_out_day || '|' ||
               unix_micros(e.created_at) || '|'),
           CASE WHEN e.day_out_msat > 0 THEN e.day_out_day ELSE 0 END,
           CASE WHEN e.day_out_msat > 0 THEN e.day_out_msat ELSE 0 END
    FROM ledger_entries e WHERE e.seq = 1
    UNION ALL
    SELECT e.id, e.account_id, e.seq,
           sha256_hex('v1|' || e.account_id || '|' || e.seq || '|' || e.transaction_id || '|' || e.amount_msat || '|' ||
               e.balance_after_msat || '|' || e.day_out_msat || '|' || e.day_out_day || '|' ||
               unix_micros(e.created_at) || '|' || c.hash),
           CASE WHEN e.day_out_msat > 0 AND e.day_out_day > c.day THEN e.day_out_day ELSE c.day END,
           CASE
               WHEN e.day_out_msat > 0 AND c.day >= e.day_out_day THEN c.msat + e.day_out_msat
               WHEN e.day_out_msat > 0 THEN e.day_out_msat
               WHEN e.day_out_msat < 0 AND c.day = e.day_out_day THEN MAX(c.msat + e.day_out_msat, 0)
               ELSE c.msat END
    FROM c JOIN ledger_entries e ON e.account_id = c.account_id AND e.seq = c.seq + 1
)
SELECT id, account_id, seq, hash, day, msat FROM c;
CREATE UNIQUE INDEX chain_backfill_id ON chain_backfill (id);
CREATE UNIQUE INDEX chain_backfill_account_id_seq ON chain_backfill (account_id, seq);

UPDATE ledger_entries SET hash = (SELECT c.hash FROM chain_backfill c WHERE c.id = ledger_entries.id)
WHERE id IN (SELECT id FROM chain_backfill);

-- Each account's head is its last entry; its counter is recounted under
-- the rule above.
CREATE TEMP TABLE chain_heads AS
SELECT c.account_id, c.seq, c.hash, c.day, c.msat
FROM chain_backfill c
JOIN (SELECT account_id, MAX(seq) AS seq FROM chain_backfill GROUP BY account_id) m ON m.account_id = c.account_id AND m.seq = c.seq;
CREATE UNIQUE INDEX chain_heads_account_id ON chain_heads (account_id);
UPDATE accounts SET
    head_seq = (SELECT h.seq FROM chain_heads h WHERE h.account_id = accounts.id),
    head_hash = (SELECT h.hash FROM chain_heads h WHERE h.account_id = accounts.id),
    day_out_day = (SELECT h.day FROM chain_heads h WHERE h.account_id = accounts.id),
    day_out_msat = (SELECT h.msat FROM chain_heads h WHERE h.account_id = accounts.id)
WHERE id IN (SELECT account_id FROM chain_heads);

DROP TABLE chain_heads;
DROP TABLE chain_backfill;
