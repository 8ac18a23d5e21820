-- The foreign key needs an index on account_id before the unique one goes.
CREATE INDEX ledger_entries_account_id_fkey ON ledger_entries (account_id);
DROP INDEX ledger_entries_account_id_seq ON ledger_entries;
ALTER TABLE transactions DROP CONSTRAINT transactions_held_check, DROP COLUMN held_msat;
ALTER TABLE ledger_entries
    DROP COLUMN seq,
    DROP COLUMN balance_after_msat,
    DROP COLUMN day_out_msat,
    DROP COLUMN day_out_day,
    DROP COLUMN hash;
ALTER TABLE accounts
    DROP COLUMN head_seq,
    DROP COLUMN head_hash;
