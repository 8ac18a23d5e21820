-- PostgreSQL and MariaDB check a transfer's sender inside their transfer
-- routines in this migration. Here the store checks it in Go
-- (store.PostTransfer): nothing changes, and the number is kept so every
-- engine has the same migrations.
SELECT 1;
