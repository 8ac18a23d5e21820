DROP INDEX ledger_entries_account_id_seq;
CREATE INDEX ledger_entries_account_id ON ledger_entries (account_id);
ALTER TABLE transactions DROP COLUMN held_msat;
ALTER TABLE ledger_entries
    DROP COLUMN seq,
    DROP COLUMN balance_after_msat,
    DROP COLUMN day_out_msat,
    DROP COLUMN day_out_day,
    DROP COLUMN hash;
ALTER TABLE accounts
    DROP COLUMN head_seq,
    DROP COLUMN head_hash;
