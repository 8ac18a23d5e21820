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
}

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
   con:query(string.format([[INSERT INTO transactions (user_id, type, direction, status, amount_msat, fee_msat,
      counterparty_phone, description, idempotency_key, created_at, updated_at)
      VALUES (%s, 'send', 'out', 'completed', %d, %d, '%s', '', '%s', %s, %s),
             (%s, 'receive', 'in', 'completed', %d, 0, '%s', '', '%s/receive', %s, %s)]],
      s.user, amount, fee, r.phone, key, now, now, r.user, amount, s.phone, key, now, now))
   local a, b, c = legs[1], legs[2], legs[3]
   con:query(string.format([[CALL post_legs(LAST_INSERT_ID(), %s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d,
      %d, %d, 1152921504606846976, 1152921504606846976, %s, %s, '%s', 'received', %d, '%s', '')]],
      s.user, a[1], a[2], a[3], a[4], b[1], b[2], b[3], b[4], c[1], c[2], c[3], c[4],
      sysbench.opt.day, t * 1000000, now, r.user, r.phone, amount, s.phone))
   con:query("COMMIT")
end
