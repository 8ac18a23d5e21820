-- The wallet's free phone-to-phone transfer as MariaDB's own benchmark
-- client sends it: the statements the store sends for one (InsertTransfer,
-- which begins the transaction on a session with autocommit off, post_legs
-- with the sender's check, the legs and the text; migration 000019;
-- COMMIT), between two random funded
-- accounts of `bench transfers`, driven by sysbench instead of the Go
-- wallet. What sysbench reaches here is the most any client can get from
-- these statements on this server.

sysbench.cmdline.options = {
   day = {"the guard's day", 0},
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
   local lo, hi, lo_amount, hi_amount, lo_out, hi_out = s.account, r.account, -amount, amount, amount, 0
   if r.account < s.account then
      lo, hi, lo_amount, hi_amount, lo_out, hi_out = r.account, s.account, amount, -amount, 0, amount
   end
   con:query(string.format([[INSERT INTO transactions (user_id, type, direction, status, amount_msat, fee_msat,
      counterparty_phone, description, idempotency_key, created_at, updated_at)
      VALUES (%s, 'send', 'out', 'completed', %d, 0, '%s', '', '%s', %s, %s),
             (%s, 'receive', 'in', 'completed', %d, 0, '%s', '', '%s/receive', %s, %s)]],
      s.user, amount, r.phone, key, now, now, r.user, amount, s.phone, key, now, now))
   con:query(string.format([[CALL post_legs(LAST_INSERT_ID(), %s, %d, %d, %d, 0, %d, %d, %d, 0, 0, 0, 0, 0,
      %d, %d, 1152921504606846976, 1152921504606846976, %s, %s, '%s', 'received', %d, '%s', '')]],
      s.user, lo, lo_amount, lo_out, hi, hi_amount, hi_out, sysbench.opt.day, t * 1000000, now,
      r.user, r.phone, amount, s.phone))
   con:query("COMMIT")
end
