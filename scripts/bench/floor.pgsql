-- The floor of a transfer on PostgreSQL (bench transfers' FLOOR line): the
-- least a phone-to-phone transfer can write and still be a transfer of the
-- brief's ledger. One row for the transfer, whose idempotency key is
-- unique (a retried request must find it); one ledger entry per leg; each
-- leg's account balance moved in the same transaction, and a constraint
-- that aborts an overdraft. The fee goes to one of 64 fee accounts drawn
-- at random (as the wallet's 64 buckets keep it off one hot row).
--
-- Everything else the wallet does is left out, so that no design that
-- keeps these rows can do less: no hash chain, no second row for the
-- recipient, no text to send, no day limit or sender check, no foreign
-- keys and no secondary index (an account's history could not even be
-- listed). What a client reaches with this is an upper bound of any
-- transfer with per-leg entries on this server.
--
-- psql variables: accounts (funded user accounts, ids buckets+1 ..
-- buckets+accounts), buckets (fee accounts, ids 1 .. buckets), funds (each
-- user account's opening balance).
DROP TABLE IF EXISTS floor_entries, floor_transfers, floor_accounts;
CREATE TABLE floor_accounts (
    id           BIGINT PRIMARY KEY,
    balance_msat BIGINT NOT NULL CHECK (balance_msat >= 0)
);
CREATE TABLE floor_transfers (
    id              BIGSERIAL   PRIMARY KEY,
    idempotency_key TEXT        NOT NULL UNIQUE,
    sender          BIGINT      NOT NULL,
    recipient       BIGINT      NOT NULL,
    amount_msat     BIGINT      NOT NULL,
    fee_msat        BIGINT      NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE TABLE floor_entries (
    id          BIGSERIAL PRIMARY KEY,
    transfer_id BIGINT    NOT NULL,
    account_id  BIGINT    NOT NULL,
    amount_msat BIGINT    NOT NULL
);
INSERT INTO floor_accounts (id, balance_msat)
SELECT g, CASE WHEN g <= :buckets THEN 0 ELSE :funds END FROM generate_series(1, :buckets + :accounts) g;
VACUUM ANALYZE floor_accounts;
