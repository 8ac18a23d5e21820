package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/dbadmin"
)

// floorBuckets and floorFunds follow scripts/bench/floor.lua: the fee
// accounts (ids 1..floorBuckets) and each user account's opening balance.
const (
	floorBuckets = 64
	floorFunds   = 1_000_000_000_000_000
)

// floor runs the least a transfer can write and still be one of the
// brief's ledger (scripts/bench/floor.pgsql, floor.pgbench, floor.lua: a
// transfer row with a unique idempotency key, an entry and a balance per
// leg, an overdraft constraint; no chain, no second row, no text, no
// secondary index) through the database's own benchmark client, in the
// baseline's database, and returns transfers/s: an upper bound of any
// transfer with per-leg entries on this server. oneTrip (MariaDB only)
// sends each as one CALL instead of four round trips. The floor's books
// must balance afterwards, or its figure does not count.
func floor(ctx context.Context, engine, dbURL string, clients int, duration time.Duration, accounts int, feeBps int64, oneTrip bool) (float64, error) {
	secs := strconv.Itoa(int(duration.Seconds()))
	var setup, bench *exec.Cmd
	var faults func() (int64, error)
	switch engine {
	case "postgres":
		setup = exec.CommandContext(ctx, "psql", "-q", "-v", "ON_ERROR_STOP=1", "-v", "accounts="+strconv.Itoa(accounts),
			"-v", "buckets="+strconv.Itoa(floorBuckets), "-v", "funds="+strconv.Itoa(floorFunds), "-f", "scripts/bench/floor.pgsql", dbURL)
		bench = exec.CommandContext(ctx, "pgbench", "-n", "-M", "prepared", "-f", "scripts/bench/floor.pgbench", "-D", "accounts="+strconv.Itoa(accounts),
			"-D", "buckets="+strconv.Itoa(floorBuckets), "-D", "fee_bps="+strconv.FormatInt(feeBps, 10), "-c", strconv.Itoa(clients), "-j", "2", "-T", secs, dbURL)
		faults = func() (int64, error) {
			out, err := exec.CommandContext(ctx, "psql", "-qtA", "-v", "ON_ERROR_STOP=1", dbURL, "-c", floorFaults).CombinedOutput()
			if err != nil {
				return 0, fmt.Errorf("%w\n%s", err, out)
			}
			return strconv.ParseInt(string(bytes.TrimSpace(out)), 10, 64)
		}
	case "mysql":
		cfg, err := dbadmin.MySQLConfig(dbURL)
		if err != nil {
			return 0, err
		}
		args := func(extra ...string) []string {
			return sysbenchArgs("scripts/bench/floor.lua", cfg, append([]string{"--accounts=" + strconv.Itoa(accounts),
				"--fee_bps=" + strconv.FormatInt(feeBps, 10)}, extra...)...)
		}
		one := "--one_trip=0"
		if oneTrip {
			one = "--one_trip=1"
		}
		setup = exec.CommandContext(ctx, "sysbench", args("prepare")...)
		bench = exec.CommandContext(ctx, "sysbench", args(one, "--threads="+strconv.Itoa(clients), "--time="+secs, "run")...)
		faults = func() (int64, error) {
			db, err := sql.Open("mysql", cfg.FormatDSN())
			if err != nil {
				return 0, err
			}
			defer db.Close()
			var n int64
			return n, db.QueryRowContext(ctx, floorFaults).Scan(&n)
		}
	default:
		return 0, fmt.Errorf("floor: no floor for %s", engine)
	}
	if out, err := setup.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("floor setup: %w\n%s", err, out)
	}
	v, cpu, err := runClient(engine, bench, duration)
	if err != nil {
		return 0, fmt.Errorf("floor: %w", err)
	}
	how := ""
	if engine == "mysql" {
		how = map[bool]string{false: ", four round trips", true: ", one CALL"}[oneTrip]
	}
	fmt.Printf("%s floor (%s, %d clients, %s, fee %s%s): %.0f transfers/s; %s\n", engine, bench.Args[0], clients, duration, bps(feeBps), how, v, cpu)
	n, err := faults()
	if err != nil {
		return 0, fmt.Errorf("floor: checking its books: %w", err)
	}
	if n != 0 {
		return 0, fmt.Errorf("floor: its books do not balance: %d faults", n)
	}
	return v, nil
}

// floorFaults counts what is wrong with the floor's books after a run: an
// account whose balance is not its opening balance plus its entries, a
// transfer whose entries do not sum to zero or which has no entries, an
// entry of no transfer. The same SQL on both engines.
var floorFaults = strings.NewReplacer("BUCKETS", strconv.Itoa(floorBuckets), "FUNDS", strconv.Itoa(floorFunds)).Replace(`
SELECT
  (SELECT COUNT(*) FROM floor_accounts a
     LEFT JOIN (SELECT account_id, SUM(amount_msat) AS s FROM floor_entries GROUP BY account_id) e ON e.account_id = a.id
     WHERE a.balance_msat <> CASE WHEN a.id <= BUCKETS THEN 0 ELSE FUNDS END + COALESCE(e.s, 0))
+ (SELECT COUNT(*) FROM floor_transfers t
     LEFT JOIN (SELECT transfer_id, SUM(amount_msat) AS s, COUNT(*) AS n FROM floor_entries GROUP BY transfer_id) e ON e.transfer_id = t.id
     WHERE e.n IS NULL OR e.s <> 0 OR e.n <> CASE WHEN t.fee_msat > 0 THEN 3 ELSE 2 END)
+ (SELECT COUNT(*) FROM floor_entries e LEFT JOIN floor_transfers t ON t.id = e.transfer_id WHERE t.id IS NULL)`)
