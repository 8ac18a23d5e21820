-- PostgreSQL's transfer sends its COMMIT with it from this migration on.
-- Nothing changes here; the number is kept so every engine has the same
-- migrations.
SELECT 1;
