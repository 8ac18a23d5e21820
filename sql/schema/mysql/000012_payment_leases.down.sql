ALTER TABLE transactions
    DROP COLUMN follow_token,
    DROP COLUMN leased_until;
