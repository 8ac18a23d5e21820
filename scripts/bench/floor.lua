-- The floor of a transfer on MariaDB/MySQL (bench transfers' FLOOR line):
-- the least a phone-to-phone transfer can write and still be a transfer
-- of the brief's ledger. One row for the transfer, whose idempotency key
-- is unique (a retried request must find it); one ledger entry per leg;
-- each leg's account balance moved in the same transaction, and a
-- constraint that aborts an overdraft. The fee goes to one of 64 fee
-- accounts drawn at random (as the wallet's 64 buckets keep it off one hot
-- row).
--
-- Everything else the wallet does is left out, so that no design that
-- keeps these rows can do less: no hash chain, no second row for the
-- recipient, no text to send, no day limit or sender check, no foreign
-- keys and no secondary index. What sysbench reaches with this is an
-- upper bound of any transfer with per-leg entries on this server.
--
-- --one_trip=0 sends a transfer as the statements a client would (the
-- transfer row, one UPDATE of every leg in account order, the entries,
-- COMMIT, on a session with autocommit off: four round trips);
-- --one_trip=1 sends it as one CALL of floor_transfer, COMMIT included.

sysbench.cmdline.options = {
   accounts = {"funded user accounts", 1000},
   fee_bps = {"the transfer fee in basis points (0: free)", 0},
   one_trip = {"send each transfer as one CALL of floor_transfer", 0},
}

local buckets = 64
local funds = "1000000000000000"

function prepare()
   local con = sysbench.sql.driver():connect()
   con:query("DROP PROCEDURE IF EXISTS floor_transfer")
   con:query("DROP TABLE IF EXISTS floor_entries, floor_transfers, floor_accounts")
   con:query([[CREATE TABLE floor_accounts (
      id BIGINT NOT NULL PRIMARY KEY,
      balance_msat BIGINT NOT NULL,
      CONSTRAINT floor_no_overdraft CHECK (balance_msat >= 0)) ENGINE=InnoDB]])
   con:query([[CREATE TABLE floor_transfers (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      idempotency_key VARCHAR(255) NOT NULL UNIQUE,
      sender BIGINT NOT NULL, recipient BIGINT NOT NULL,
      amount_msat BIGINT NOT NULL, fee_msat BIGINT NOT NULL,
      created_at DATETIME(6) NOT NULL) ENGINE=InnoDB]])
   con:query([[CREATE TABLE floor_entries (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      transfer_id BIGINT NOT NULL, account_id BIGINT NOT NULL,
      amount_msat BIGINT NOT NULL) ENGINE=InnoDB]])
   local rows = {}
   for id = 1, buckets + sysbench.opt.accounts do
      rows[#rows + 1] = string.format("(%d,%s)", id, id <= buckets and "0" or funds)
   end
   con:query("INSERT INTO floor_accounts VALUES " .. table.concat(rows, ","))
   -- The legs: the fee account's (none when the fee is 0), then the two
   -- users' in account order; one UPDATE locks them in that order.
   con:query([[CREATE PROCEDURE floor_transfer(IN p_key VARCHAR(255), IN p_s BIGINT, IN p_r BIGINT,
         IN p_bucket BIGINT, IN p_amount BIGINT, IN p_fee BIGINT)
      BEGIN
         DECLARE t BIGINT;
         INSERT INTO floor_transfers (idempotency_key, sender, recipient, amount_msat, fee_msat, created_at)
         VALUES (p_key, p_s, p_r, p_amount, p_fee, NOW(6));
         SET t = LAST_INSERT_ID();
         IF p_fee > 0 THEN
            UPDATE floor_accounts SET balance_msat = balance_msat + CASE id WHEN p_s THEN -(p_amount + p_fee)
               WHEN p_r THEN p_amount ELSE p_fee END WHERE id IN (p_bucket, p_s, p_r);
            INSERT INTO floor_entries (transfer_id, account_id, amount_msat)
            VALUES (t, p_bucket, p_fee), (t, p_s, -(p_amount + p_fee)), (t, p_r, p_amount);
         ELSE
            UPDATE floor_accounts SET balance_msat = balance_msat + CASE id WHEN p_s THEN -p_amount
               ELSE p_amount END WHERE id IN (p_s, p_r);
            INSERT INTO floor_entries (transfer_id, account_id, amount_msat)
            VALUES (t, p_s, -p_amount), (t, p_r, p_amount);
         END IF;
         COMMIT;
      END]])
   con:disconnect()
end

function cleanup()
   local con = sysbench.sql.driver():connect()
   con:query("DROP PROCEDURE IF EXISTS floor_transfer")
   con:query("DROP TABLE IF EXISTS floor_entries, floor_transfers, floor_accounts")
end

function thread_init()
   drv = sysbench.sql.driver()
   con = drv:connect()
   con:query("SET autocommit = 0")
   seq = 0
end

function thread_done()
   con:disconnect()
end

function event()
   local n = sysbench.opt.accounts
   local s = sysbench.rand.uniform(1, n)
   local r = (s + sysbench.rand.uniform(1, n - 1) - 1) % n + 1
   s, r = s + buckets, r + buckets
   local amount = sysbench.rand.uniform(1, 100) * 1000
   local fee = math.floor((amount * sysbench.opt.fee_bps + 9999) / 10000)
   local bucket = sysbench.rand.uniform(1, buckets)
   seq = seq + 1
   local key = string.format("floor-%d-%d-%d", sysbench.tid, os.time(), seq)
   if sysbench.opt.one_trip == 1 then
      con:query(string.format("CALL floor_transfer('%s', %d, %d, %d, %d, %d)", key, s, r, bucket, amount, fee))
      return
   end
   con:query(string.format([[INSERT INTO floor_transfers (idempotency_key, sender, recipient, amount_msat, fee_msat, created_at)
      VALUES ('%s', %d, %d, %d, %d, NOW(6))]], key, s, r, amount, fee))
   if fee > 0 then
      con:query(string.format([[UPDATE floor_accounts SET balance_msat = balance_msat + CASE id WHEN %d THEN %d
         WHEN %d THEN %d ELSE %d END WHERE id IN (%d, %d, %d)]], s, -(amount + fee), r, amount, fee, bucket, s, r))
      con:query(string.format([[INSERT INTO floor_entries (transfer_id, account_id, amount_msat)
         VALUES (LAST_INSERT_ID(), %d, %d), (LAST_INSERT_ID(), %d, %d), (LAST_INSERT_ID(), %d, %d)]],
         bucket, fee, s, -(amount + fee), r, amount))
   else
      con:query(string.format([[UPDATE floor_accounts SET balance_msat = balance_msat + CASE id WHEN %d THEN %d
         ELSE %d END WHERE id IN (%d, %d)]], s, -amount, amount, s, r))
      con:query(string.format([[INSERT INTO floor_entries (transfer_id, account_id, amount_msat)
         VALUES (LAST_INSERT_ID(), %d, %d), (LAST_INSERT_ID(), %d, %d)]], s, -amount, r, amount))
   end
   con:query("COMMIT")
end
