ALTER TABLE transactions DROP COLUMN leased_until;
ALTER TABLE transactions DROP COLUMN follow_token;
