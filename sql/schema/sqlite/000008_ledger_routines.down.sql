-- MySQL and PostgreSQL moved the ledger's hot path into server-side
-- routines in this migration, to save round trips. SQLite runs in the
-- server's process, where a statement costs no round trip: nothing changes
-- here, and the number is kept so every engine has the same migrations.
SELECT 1;
