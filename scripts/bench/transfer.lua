-- The wallet's phone-to-phone transfer as MariaDB's own benchmark client
-- sends it: the statements the store sends for one (InsertTransfer,
-- which begins the transaction on a session with autocommit off, post_legs
-- with the sender's check, the legs and the text; migration 000019;
-- COMMIT), between two random funded
-- accounts of `bench transfers`, driven by sysbench instead of the Go
-- wallet. What sysbench reaches here is the most any client can get from
-- these statements on this server. With --fee_bps above 0 each transfer
-- also pays the fee (rounded up as the wallet rounds it) to the fees
-- account, whose id is below every user account's: its leg comes first in
-- account order, hinted as a system account, as the store sends it.

sysbench.cmdline.options = {
   day = {"the guard's day", 0},
   fee_bps = {"the transfer fee in basis points (0: free)", 0},
   one_trip = {"1: send the transfer, its COMMIT included, as one CALL of ceiling_transfer; 2: as one CALL of flat_transfer (both made by prepare)", 0},
}

-- With --one_trip=1 a transfer is one round trip: the same two rows, the
-- same post_legs and the COMMIT, sent as one CALL of a procedure that
-- prepare makes in the wallet's database (it is dropped with it). What
-- sysbench reaches so is the most any client can get from these
-- statements with no round trip but one: the server's own work.
--
-- With --one_trip=2 it is one CALL of flat_transfer, which is not the
-- store's: a sketch of a design the store does not have, measured so that
-- the next change to MariaDB's transfer knows what it could reach. It
-- writes the same rows as ceiling_transfer (both transactions rows, the
-- fee's bucket and its entry, both users' rows with their chain heads and
-- guards, an entry each with its chain hash, the text) and checks the
-- sender the same way, but as straight-line statements: one UPDATE moves
-- both users' rows in account order and leaves each new chain head in its
-- own session variables, and one INSERT ... VALUES appends every entry
-- (written as an INSERT ... SELECT of the same rows it ran at 1,600
-- transfers/s against 2,800 here, likely because innodb_autoinc_lock_mode
-- 1 holds the table's AUTO-INC lock for the whole of such a statement; not
-- checked further). post_legs
-- takes any two or three legs in a loop of single-row statements, and
-- MariaDB's stored-program interpreter costs per statement. It posts only
-- this transfer's shape (a fees account below both users'), refuses by
-- rolling back (the books stay whole; the run counts it as done), and
-- needs its COMMIT inside: one round trip is what it is for.
function prepare()
   local con = sysbench.sql.driver():connect()
   con:query("DROP PROCEDURE IF EXISTS ceiling_transfer")
   con:query([[CREATE PROCEDURE ceiling_transfer(
      IN p_sender BIGINT, IN p_amount BIGINT, IN p_fee BIGINT, IN p_recv_phone VARCHAR(64), IN p_key VARCHAR(255),
      IN p_now DATETIME(6), IN p_recv BIGINT, IN p_send_phone VARCHAR(64),
      IN p_account_a BIGINT, IN p_amount_a BIGINT, IN p_day_out_a BIGINT, IN p_system_a BOOLEAN,
      IN p_account_b BIGINT, IN p_amount_b BIGINT, IN p_day_out_b BIGINT, IN p_system_b BOOLEAN,
      IN p_account_c BIGINT, IN p_amount_c BIGINT, IN p_day_out_c BIGINT, IN p_system_c BOOLEAN,
      IN p_day BIGINT, IN p_created_us BIGINT)
   BEGIN
      INSERT INTO transactions (user_id, type, direction, status, amount_msat, fee_msat,
         counterparty_phone, description, idempotency_key, created_at, updated_at)
      VALUES (p_sender, 'send', 'out', 'completed', p_amount, p_fee, p_recv_phone, '', p_key, p_now, p_now),
             (p_recv, 'receive', 'in', 'completed', p_amount, 0, p_send_phone, '', CONCAT(p_key, '/receive'), p_now, p_now);
      CALL post_legs(LAST_INSERT_ID(), p_sender, p_account_a, p_amount_a, p_day_out_a, p_system_a,
         p_account_b, p_amount_b, p_day_out_b, p_system_b, p_account_c, p_amount_c, p_day_out_c, p_system_c,
         p_day, p_created_us, 1152921504606846976, 1152921504606846976, p_now, p_recv, p_recv_phone, 'received', p_amount, p_send_phone, '');
      COMMIT;
   END]])
   con:query("DROP PROCEDURE IF EXISTS flat_transfer")
   con:query([[CREATE PROCEDURE flat_transfer(
      IN p_sender BIGINT, IN p_amount BIGINT, IN p_fee BIGINT, IN p_recv_phone VARCHAR(64), IN p_key VARCHAR(191),
      IN p_now DATETIME(6), IN p_recv BIGINT, IN p_send_phone VARCHAR(64),
      IN p_fees BIGINT, IN p_s BIGINT, IN p_r BIGINT, IN p_day BIGINT, IN p_created_us BIGINT)
   BEGIN
      DECLARE t BIGINT;
      INSERT INTO transactions (user_id, type, direction, status, amount_msat, fee_msat,
         counterparty_phone, description, idempotency_key, created_at, updated_at)
      VALUES (p_sender, 'send', 'out', 'completed', p_amount, p_fee, p_recv_phone, '', p_key, p_now, p_now),
             (p_recv, 'receive', 'in', 'completed', p_amount, 0, p_send_phone, '', CONCAT(p_key, '/receive'), p_now, p_now);
      SET t = LAST_INSERT_ID();
      IF (SELECT frozen_at IS NULL AND (pin_reset_at IS NULL OR pin_reset_at > p_now)
          FROM users WHERE id = p_sender LOCK IN SHARE MODE) IS NOT TRUE THEN
         ROLLBACK;
      ELSE
         IF p_fee > 0 THEN
            UPDATE account_buckets SET balance_msat = balance_msat + p_fee WHERE account_id = p_fees AND bucket = t MOD 64;
         END IF;
         UPDATE accounts SET
            head_hash = CASE WHEN id = p_s THEN (@umeme_hs := CONVERT(SHA2(CONCAT('v1|', id, '|', head_seq + 1, '|', t, '|',
                  -(p_amount + p_fee), '|', balance_msat - (p_amount + p_fee), '|', p_amount, '|', p_day, '|',
                  p_created_us, '|', head_hash), 256) USING ascii))
               ELSE (@umeme_hr := CONVERT(SHA2(CONCAT('v1|', id, '|', head_seq + 1, '|', t, '|',
                  p_amount, '|', balance_msat + p_amount, '|', 0, '|', p_day, '|',
                  p_created_us, '|', head_hash), 256) USING ascii)) END,
            head_seq = CASE WHEN id = p_s THEN (@umeme_ss := head_seq + 1) ELSE (@umeme_sr := head_seq + 1) END,
            balance_msat = CASE WHEN id = p_s THEN (@umeme_bs := balance_msat - (p_amount + p_fee))
               ELSE (@umeme_br := balance_msat + p_amount) END,
            day_out_msat = CASE WHEN id <> p_s THEN day_out_msat
               WHEN day_out_day >= p_day THEN day_out_msat + p_amount ELSE p_amount END,
            day_out_day = CASE WHEN id = p_s AND p_day > day_out_day THEN p_day ELSE day_out_day END
         WHERE id IN (p_s, p_r) AND kind = 'user'
           AND (id <> p_s OR (CASE WHEN day_out_day >= p_day THEN day_out_msat ELSE 0 END) + p_amount <= 1152921504606846976)
           AND (id <> p_r OR balance_msat + p_amount <= 1152921504606846976);
         IF ROW_COUNT() <> 2 OR (p_fee > 0 AND p_fees >= LEAST(p_s, p_r)) THEN
            ROLLBACK;
         ELSE
            IF p_fee > 0 THEN
               INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
               VALUES (t, p_fees, p_fee, NULL, NULL, 0, p_day, NULL, p_now),
                      (t, p_s, -(p_amount + p_fee), @umeme_ss, @umeme_bs, p_amount, p_day, @umeme_hs, p_now),
                      (t, p_r, p_amount, @umeme_sr, @umeme_br, 0, p_day, @umeme_hr, p_now);
            ELSE
               INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
               VALUES (t, p_s, -p_amount, @umeme_ss, @umeme_bs, p_amount, p_day, @umeme_hs, p_now),
                      (t, p_r, p_amount, @umeme_sr, @umeme_br, 0, p_day, @umeme_hr, p_now);
            END IF;
            INSERT INTO notifications (user_id, phone, kind, transaction_id, amount_msat, counterparty, body, status, attempts, next_attempt_at, created_at)
            VALUES (p_recv, p_recv_phone, 'received', t, p_amount, p_send_phone, '', 'pending', 0, p_now, p_now);
            COMMIT;
         END IF;
      END IF;
   END]])
   con:disconnect()
end

function thread_init()
   drv = sysbench.sql.driver()
   con = drv:connect()
   con:query("SET autocommit = 0")
   members = {}
   local rs = con:query([[SELECT u.id, u.phone, a.id FROM users u JOIN accounts a ON a.user_id = u.id
      WHERE u.phone LIKE '+2547%' AND u.status = 'active' ORDER BY u.id]])
   for i = 1, rs.nrows do
      local row = rs:fetch_row()
      members[i] = {user = row[1], phone = row[2], account = tonumber(row[3])}
   end
   seq = 0
   fees = tonumber(con:query("SELECT id FROM accounts WHERE code = 'fees'"):fetch_row()[1])
   for i = 1, #members do
      if members[i].account <= fees then
         error("the fees account must come before every user account")
      end
   end
end

function thread_done()
   con:disconnect()
end

function event()
   local n = #members
   local a = sysbench.rand.uniform(1, n)
   local b = (a + sysbench.rand.uniform(1, n - 1) - 1) % n + 1
   local s, r = members[a], members[b]
   local amount = sysbench.rand.uniform(1, 100) * 1000
   seq = seq + 1
   local key = string.format("ceiling-%d-%d-%d", sysbench.tid, os.time(), seq)
   -- One time for the rows, the entries and the chain, as the store has.
   local t = os.time()
   local now = "'" .. os.date("!%Y-%m-%d %H:%M:%S", t) .. ".000000'"
   local fee = 0
   if sysbench.opt.fee_bps > 0 then
      fee = math.floor((amount * sysbench.opt.fee_bps + 9999) / 10000)
   end
   -- The legs in account order: the fees account's (when there is a fee),
   -- then the lower of the two users', then the higher; the sender pays
   -- the amount and the fee, the amount counts against its day.
   local legs = {}
   if fee > 0 then
      legs[1] = {fees, fee, 0, 1}
   end
   local send, recv = {s.account, -(amount + fee), amount, 0}, {r.account, amount, 0, 0}
   if r.account < s.account then
      send, recv = recv, send
   end
   legs[#legs + 1], legs[#legs + 2] = send, recv
   for i = #legs + 1, 3 do
      legs[i] = {0, 0, 0, 0}
   end
   local a, b, c = legs[1], legs[2], legs[3]
   if sysbench.opt.one_trip == 2 then
      con:query(string.format("CALL flat_transfer(%s, %d, %d, '%s', '%s', %s, %s, '%s', %d, %d, %d, %d, %d)",
         s.user, amount, fee, r.phone, key, now, r.user, s.phone, fees, s.account, r.account, sysbench.opt.day, t * 1000000))
      return
   end
   if sysbench.opt.one_trip ~= 0 then
      con:query(string.format([[CALL ceiling_transfer(%s, %d, %d, '%s', '%s', %s, %s, '%s',
         %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d)]],
         s.user, amount, fee, r.phone, key, now, r.user, s.phone,
         a[1], a[2], a[3], a[4], b[1], b[2], b[3], b[4], c[1], c[2], c[3], c[4], sysbench.opt.day, t * 1000000))
      return
   end
   con:query(string.format([[INSERT INTO transactions (user_id, type, direction, status, amount_msat, fee_msat,
      counterparty_phone, description, idempotency_key, created_at, updated_at)
      VALUES (%s, 'send', 'out', 'completed', %d, %d, '%s', '', '%s', %s, %s),
             (%s, 'receive', 'in', 'completed', %d, 0, '%s', '', '%s/receive', %s, %s)]],
      s.user, amount, fee, r.phone, key, now, now, r.user, amount, s.phone, key, now, now))
   con:query(string.format([[CALL post_legs(LAST_INSERT_ID(), %s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d,
      %d, %d, 1152921504606846976, 1152921504606846976, %s, %s, '%s', 'received', %d, '%s', '')]],
      s.user, a[1], a[2], a[3], a[4], b[1], b[2], b[3], b[4], c[1], c[2], c[3], c[4],
      sysbench.opt.day, t * 1000000, now, r.user, r.phone, amount, s.phone))
   con:query("COMMIT")
end
