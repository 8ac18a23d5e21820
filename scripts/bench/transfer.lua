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
   one_trip = {"send the transfer, its COMMIT included, as one CALL of ceiling_transfer (made by prepare)", 0},
}

-- With --one_trip=1 a transfer is one round trip: the same two rows, the
-- same post_legs and the COMMIT, sent as one CALL of a procedure that
-- prepare makes in the wallet's database (it is dropped with it). What
-- sysbench reaches so is the most any client can get from these
-- statements with no round trip but one: the server's own work.
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
