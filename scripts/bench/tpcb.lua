-- pgbench's built-in "tpcb-like" transaction for sysbench on MySQL/MariaDB,
-- so the wallet's transfer benchmark has the database's own baseline:
-- update an account, read it back, update a teller and a branch, insert a
-- history row, all in one transaction. Tables and scale follow pgbench
-- (100,000 accounts, 10 tellers and 1 branch per unit of --scale).

sysbench.cmdline.options = {
   scale = {"pgbench scale factor", 10},
}

local function scale() return sysbench.opt.scale end

function prepare()
   local con = sysbench.sql.driver():connect()
   con:query("DROP TABLE IF EXISTS pgbench_history, pgbench_accounts, pgbench_tellers, pgbench_branches")
   con:query([[CREATE TABLE pgbench_branches (bid INT NOT NULL PRIMARY KEY, bbalance INT, filler CHAR(88)) ENGINE=InnoDB]])
   con:query([[CREATE TABLE pgbench_tellers (tid INT NOT NULL PRIMARY KEY, bid INT, tbalance INT, filler CHAR(84)) ENGINE=InnoDB]])
   con:query([[CREATE TABLE pgbench_accounts (aid INT NOT NULL PRIMARY KEY, bid INT, abalance INT, filler CHAR(84)) ENGINE=InnoDB]])
   con:query([[CREATE TABLE pgbench_history (tid INT, bid INT, aid INT, delta INT, mtime TIMESTAMP, filler CHAR(22)) ENGINE=InnoDB]])
   for b = 1, scale() do
      con:query(string.format("INSERT INTO pgbench_branches VALUES (%d, 0, '')", b))
   end
   for t = 1, 10 * scale() do
      con:query(string.format("INSERT INTO pgbench_tellers VALUES (%d, %d, 0, '')", t, math.floor((t - 1) / 10) + 1))
   end
   local batch = 1000
   local n = 100000 * scale()
   for first = 1, n, batch do
      local rows = {}
      for a = first, math.min(first + batch - 1, n) do
         rows[#rows + 1] = string.format("(%d,%d,0,'')", a, math.floor((a - 1) / 100000) + 1)
      end
      con:query("INSERT INTO pgbench_accounts VALUES " .. table.concat(rows, ","))
   end
end

function cleanup()
   local con = sysbench.sql.driver():connect()
   con:query("DROP TABLE IF EXISTS pgbench_history, pgbench_accounts, pgbench_tellers, pgbench_branches")
end

function thread_init()
   drv = sysbench.sql.driver()
   con = drv:connect()
end

function thread_done()
   con:disconnect()
end

function event()
   local aid = sysbench.rand.uniform(1, 100000 * scale())
   local bid = sysbench.rand.uniform(1, scale())
   local tid = sysbench.rand.uniform(1, 10 * scale())
   local delta = sysbench.rand.uniform(0, 10000) - 5000
   con:query("BEGIN")
   con:query(string.format("UPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid = %d", delta, aid))
   con:query(string.format("SELECT abalance FROM pgbench_accounts WHERE aid = %d", aid))
   con:query(string.format("UPDATE pgbench_tellers SET tbalance = tbalance + %d WHERE tid = %d", delta, tid))
   con:query(string.format("UPDATE pgbench_branches SET bbalance = bbalance + %d WHERE bid = %d", delta, bid))
   con:query(string.format("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (%d, %d, %d, %d, CURRENT_TIMESTAMP)", tid, bid, aid, delta))
   con:query("COMMIT")
end
