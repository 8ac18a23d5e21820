-- PostgreSQL's post_ledger stops reading accounts back in this migration.
-- Nothing changes here; the number is kept so every engine has the same
-- migrations.
SELECT 1;
