package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbadmin"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// transfers measures random phone-to-phone transfers among funded accounts
// and, in the same run, the database's TPC-B-like baseline with the same
// client count and duration. Each round measures the wallet twice, free and
// with a transfer fee (every fee-bearing transfer also credits the fees
// account); it ends with one "RATIO <engine> <value>" line per engine, the
// fee-bearing median, and one "RATIO-NOFEE <engine> <value>" line. After
// the rounds, each engine's "CEILING-NOFEE" and "CEILING" lines are the
// free and the fee-bearing transfer's own statements sent by the
// database's benchmark client (see ceiling); MariaDB's also
// "CEILING-1RT" (the same in one CALL), "CEILING-FLAT" and
// "CEILING-FLAT-GO" (a flat one-CALL sketch, sent by sysbench and by Go:
// see flatGo). Its "FLOOR-NOFEE" and "FLOOR" lines are the least a
// transfer can write, sent the same way (see floor).
func transfers(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("transfers", flag.ContinueOnError)
	clients, duration := commonFlags(fs)
	feeBps := feeFlag(fs)
	engines := fs.String("engines", "postgres,mysql", "engines to measure")
	accounts := fs.Int("accounts", 1000, "funded accounts")
	scale := fs.Int("scale", 10, "pgbench scale factor of the baseline (100,000 accounts each)")
	rounds := fs.Int("rounds", 1, "alternate baseline and wallet this many times; the median ratio counts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list, err := engineList(*engines)
	if err != nil {
		return err
	}
	ratios := map[string][2]float64{}
	for _, engine := range list {
		if engine == "sqlite" {
			return errors.New("transfers: the baseline needs a database server (postgres or mysql)")
		}
		r, err := transfersOn(ctx, engine, *clients, *duration, *accounts, *scale, *rounds, *feeBps)
		if err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
		ratios[engine] = r
	}
	for _, engine := range list {
		fmt.Printf("RATIO %s %.2f\n", engine, ratios[engine][1])
	}
	for _, engine := range list {
		fmt.Printf("RATIO-NOFEE %s %.2f\n", engine, ratios[engine][0])
	}
	return nil
}

// feeFlag is the transfer fee the benchmarks charge, in basis points.
func feeFlag(fs *flag.FlagSet) *int64 {
	return fs.Int64("fee-bps", 100, "transfer fee in basis points of the fee-bearing runs (100 = 1 %, as Machankura charges)")
}

// transfersOn measures one engine: it funds the wallet's accounts once, then
// alternates the baseline and the wallet, each on a quiet server (the
// baseline's tables dropped, a checkpoint taken), and returns the medians of
// the rounds' ratios, free ([0]) and fee-bearing ([1]). Within a round the
// free and the fee-bearing runs swap places each round, so that neither
// always runs on the other's leftovers.
func transfersOn(ctx context.Context, engine string, clients int, duration time.Duration, accounts, scale, rounds int, feeBps int64) ([2]float64, error) {
	var none [2]float64
	server, err := serverURL(engine)
	if err != nil {
		return none, err
	}
	dbURL, drop, err := dbadmin.Create(ctx, engine, server, dbadmin.RandomName("umeme_bench"))
	if err != nil {
		return none, err
	}
	defer func() {
		if err := drop(context.WithoutCancel(ctx)); err != nil {
			fmt.Println("warning:", err)
		}
	}()
	baseURL, dropBase, err := dbadmin.Create(ctx, engine, server, dbadmin.RandomName("umeme_baseline"))
	if err != nil {
		return none, err
	}
	defer func() {
		if err := dropBase(context.WithoutCancel(ctx)); err != nil {
			fmt.Println("warning:", err)
		}
	}()
	run, err := prepareTransfers(ctx, engine, dbURL, clients, accounts, feeBps)
	if err != nil {
		return none, err
	}
	defer run.close()
	// A short unmeasured run first: funding left work behind (dead row
	// versions, dirty pages) that should not land in round one.
	fmt.Printf("%s warm-up:\n", engine)
	if _, err := run.measure(ctx, run.free, 5*time.Second); err != nil {
		return none, err
	}
	var ratios [2][]float64
	var bases []float64
	for i := range rounds {
		base, err := baseline(ctx, engine, baseURL, clients, duration, scale)
		if err != nil {
			return none, err
		}
		if err := quiesce(ctx, engine, baseURL); err != nil {
			return none, err
		}
		var ours [2]float64
		services, order := [2]*wallet.Service{run.free, run.paid}, []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, k := range order {
			if ours[k], err = run.measure(ctx, services[k], duration); err != nil {
				return none, err
			}
		}
		for k := range ours {
			ratios[k] = append(ratios[k], ours[k]/base)
		}
		fmt.Printf("%s round %d: wallet %.0f transfers/s without fee, %.0f with a %s fee, vs baseline %.0f tps = %.2f without fee, %.2f with\n",
			engine, i+1, ours[0], ours[1], bps(feeBps), base, ours[0]/base, ours[1]/base)
		bases = append(bases, base)
	}
	for k := range ratios {
		slices.Sort(ratios[k])
		none[k] = ratios[k][len(ratios[k])/2]
	}
	// Once each, after the rounds: their transfers grow the wallet's
	// tables, which the rounds should not measure on.
	slices.Sort(bases)
	base := bases[len(bases)/2]
	for _, c := range []struct {
		w     *wallet.Service
		bps   int64
		label string
		line  string
	}{{run.free, 0, "free transfer", "CEILING-NOFEE"}, {run.paid, feeBps, "transfer with a " + bps(feeBps) + " fee", "CEILING"}} {
		top, err := ceiling(ctx, engine, dbURL, clients, duration, accounts, c.w, c.bps, storeTrips)
		if err != nil {
			return none, err
		}
		fmt.Printf("%s: the wallet's %s sent by the database's own client: %.0f transfers/s = %.2f of the rounds' median baseline (%.0f tps)\n",
			engine, c.label, top, top/base, base)
		fmt.Printf("%s %s %.2f\n", c.line, engine, top/base)
	}
	if engine == "mysql" {
		// The store sends MariaDB's transfer in three round trips; this is
		// the fee-bearing one in a single one, so what is left of the gap
		// is the server's work, not the trips.
		top, err := ceiling(ctx, engine, dbURL, clients, duration, accounts, run.paid, feeBps, oneCall)
		if err != nil {
			return none, err
		}
		fmt.Printf("%s: the same in one round trip: %.0f transfers/s = %.2f of the rounds' median baseline (%.0f tps)\n", engine, top, top/base, base)
		fmt.Printf("CEILING-1RT %s %.2f\n", engine, top/base)
		// A design the store does not have (transfer.lua's flat_transfer):
		// the same rows in straight-line statements and one round trip,
		// sent by sysbench and then by a Go client, for the next change to
		// MariaDB's transfer to know what it could reach.
		if top, err = ceiling(ctx, engine, dbURL, clients, duration, accounts, run.paid, feeBps, flatCall); err != nil {
			return none, err
		}
		fmt.Printf("%s: a flat one-CALL design: %.0f transfers/s = %.2f of the rounds' median baseline (%.0f tps)\n", engine, top, top/base, base)
		fmt.Printf("CEILING-FLAT %s %.2f\n", engine, top/base)
		if top, err = flatGo(ctx, dbURL, clients, duration, run.paid, feeBps); err != nil {
			return none, err
		}
		fmt.Printf("%s: the flat one-CALL design sent by Go: %.0f transfers/s = %.2f of the rounds' median baseline (%.0f tps)\n", engine, top, top/base, base)
		fmt.Printf("CEILING-FLAT-GO %s %.2f\n", engine, top/base)
	}
	// The floor: what the least a transfer can write reaches against the
	// same baseline. Below the target, no design with per-leg entries
	// meets it on this server. On MariaDB the better of its two forms.
	for _, c := range []struct {
		bps  int64
		line string
	}{{0, "FLOOR-NOFEE"}, {feeBps, "FLOOR"}} {
		best := 0.0
		for _, oneTrip := range []bool{false, true} {
			if oneTrip && engine != "mysql" {
				continue
			}
			top, err := floor(ctx, engine, baseURL, clients, duration, accounts, c.bps, oneTrip)
			if err != nil {
				return none, err
			}
			best = max(best, top)
		}
		fmt.Printf("%s: the least a transfer can write (fee %s): %.0f transfers/s = %.2f of the rounds' median baseline (%.0f tps)\n",
			engine, bps(c.bps), best, best/base, base)
		fmt.Printf("%s %s %.2f\n", c.line, engine, best/base)
	}
	return none, nil
}

// ceiling runs the wallet's transfer, the statements the store sends for
// one in its round trips (with a fee of feeBps to the fees account when
// above 0), through the database's own benchmark client (pgbench,
// sysbench) on the wallet's database for duration, and returns
// transfers/s: the most any client gets from those statements on this
// server, so the part of the gap to the baseline that no Go code can
// close. The books must still reconcile afterwards. On MariaDB trip says
// how each transfer is sent (transfer.lua's --one_trip): storeTrips, or
// one CALL of the same statements with the COMMIT (oneCall), or one CALL
// of the flat sketch (flatCall).
func ceiling(ctx context.Context, engine, dbURL string, clients int, duration time.Duration, accounts int, w *wallet.Service, feeBps int64, trip int) (float64, error) {
	secs := strconv.Itoa(int(duration.Seconds()))
	day := strconv.FormatInt(w.Day(time.Now()), 10)
	var bench *exec.Cmd
	switch engine {
	case "postgres":
		// The funded accounts, numbered, for the script to draw from, and
		// the fees account, whose leg the script puts first.
		members := exec.CommandContext(ctx, "psql", "-qtA", dbURL, "-c", `CREATE TABLE IF NOT EXISTS ceiling_members AS
			SELECT (row_number() OVER (ORDER BY u.id) - 1)::INT AS n, u.id AS user_id, u.phone, a.id AS account_id
			FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.phone LIKE '+2547%' AND u.status = 'active'`,
			"-c", "CREATE UNIQUE INDEX IF NOT EXISTS ceiling_members_n ON ceiling_members (n)", "-c", "ANALYZE ceiling_members",
			"-c", "SELECT id FROM accounts WHERE code = 'fees' AND id < (SELECT min(account_id) FROM ceiling_members)")
		out, err := members.Output()
		if err != nil {
			return 0, fmt.Errorf("ceiling: %w\n%s", err, out)
		}
		fees := string(bytes.TrimSpace(out))
		if _, err := strconv.ParseInt(fees, 10, 64); err != nil {
			return 0, fmt.Errorf("ceiling: no fees account before the users' (the script puts its leg first): %q", fees)
		}
		bench = exec.CommandContext(ctx, "pgbench", "-n", "-M", "prepared", "-f", "scripts/bench/transfer.pgbench", "-D", "accounts="+strconv.Itoa(accounts), "-D", "day="+day,
			"-D", "fee_bps="+strconv.FormatInt(feeBps, 10), "-D", "fees="+fees, "-c", strconv.Itoa(clients), "-j", "2", "-T", secs, dbURL)
	case "mysql":
		cfg, err := dbadmin.MySQLConfig(dbURL)
		if err != nil {
			return 0, err
		}
		if trip != storeTrips {
			prepare := exec.CommandContext(ctx, "sysbench", sysbenchArgs("scripts/bench/transfer.lua", cfg, "prepare")...)
			if out, err := prepare.CombinedOutput(); err != nil {
				return 0, fmt.Errorf("ceiling: %w\n%s", err, out)
			}
		}
		bench = exec.CommandContext(ctx, "sysbench", sysbenchArgs("scripts/bench/transfer.lua", cfg, "--day="+day,
			"--fee_bps="+strconv.FormatInt(feeBps, 10), "--one_trip="+strconv.Itoa(trip), "--threads="+strconv.Itoa(clients), "--time="+secs, "run")...)
	}
	v, cpu, err := runClient(engine, bench, duration)
	if err != nil {
		return 0, fmt.Errorf("ceiling: %w", err)
	}
	fmt.Printf("%s ceiling (%s, %d clients, %s, fee %s): %.0f transfers/s; %s\n", engine, bench.Args[0], clients, duration, bps(feeBps), v, cpu)
	if err := reconcile(ctx, w); err != nil {
		return 0, fmt.Errorf("ceiling: %w", err)
	}
	return v, nil
}

// How ceiling sends MariaDB's transfer: transfer.lua's --one_trip.
const (
	storeTrips = 0 // as the store sends it
	oneCall    = 1 // the same statements and the COMMIT in one CALL
	flatCall   = 2 // the flat sketch, flat_transfer, in one CALL
)

// bps writes basis points as a percentage.
func bps(v int64) string { return strconv.FormatFloat(float64(v)/100, 'f', -1, 64) + " %" }

// quiesce drops the baseline's tables and lets the server settle, so that
// their cleanup (vacuum, purge, flushing) does not run during the wallet's
// measurement.
func quiesce(ctx context.Context, engine, baseURL string) error {
	var cmd *exec.Cmd
	switch engine {
	case "postgres":
		cmd = exec.CommandContext(ctx, "psql", "-q", baseURL, "-c", "DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history", "-c", "CHECKPOINT")
	case "mysql":
		cfg, err := dbadmin.MySQLConfig(baseURL)
		if err != nil {
			return err
		}
		cmd = exec.CommandContext(ctx, "sysbench", tpcbArgs(cfg, 1, "cleanup")...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("quiesce: %w\n%s", err, out)
	}
	time.Sleep(3 * time.Second)
	return nil
}

// baseline runs pgbench's tpcb-like script (PostgreSQL) or the same
// transaction through sysbench (MariaDB/MySQL) and returns transactions/s.
func baseline(ctx context.Context, engine, dbURL string, clients int, duration time.Duration, scale int) (float64, error) {
	secs := strconv.Itoa(int(duration.Seconds()))
	var init, bench *exec.Cmd
	switch engine {
	case "postgres":
		init = exec.CommandContext(ctx, "pgbench", "-i", "-q", "-s", strconv.Itoa(scale), dbURL)
		bench = exec.CommandContext(ctx, "pgbench", "-b", "tpcb-like", "-c", strconv.Itoa(clients), "-j", "2", "-T", secs, dbURL)
	case "mysql":
		cfg, err := dbadmin.MySQLConfig(dbURL)
		if err != nil {
			return 0, err
		}
		init = exec.CommandContext(ctx, "sysbench", tpcbArgs(cfg, scale, "prepare")...)
		bench = exec.CommandContext(ctx, "sysbench", tpcbArgs(cfg, scale, "--threads="+strconv.Itoa(clients), "--time="+secs, "run")...)
	}
	if out, err := init.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("baseline setup: %w\n%s", err, out)
	}
	v, cpu, err := runClient(engine, bench, duration)
	if err != nil {
		return 0, fmt.Errorf("baseline: %w", err)
	}
	fmt.Printf("%s baseline (%s, %d clients, %s): %.0f tps; %s\n", engine, bench.Args[0], clients, duration, v, cpu)
	return v, nil
}

// The throughput lines of pgbench and sysbench.
var (
	pgbenchTPS  = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	sysbenchTPS = regexp.MustCompile(`transactions:\s+\d+\s+\(([0-9.]+) per sec\.\)`)
)

// runClient runs the database's benchmark client bench for duration and
// returns the transactions/s it reports and the CPU it and the server used.
// A client that printed an error fails, even if it exited 0.
func runClient(engine string, bench *exec.Cmd, duration time.Duration) (float64, cpuShare, error) {
	tps := pgbenchTPS
	if engine == "mysql" {
		tps = sysbenchTPS
	}
	server0, start := serverCPU(engine), time.Now()
	out, err := bench.CombinedOutput()
	if err != nil {
		return 0, cpuShare{}, fmt.Errorf("%w\n%s", err, out)
	}
	if bytes.Contains(out, []byte("FATAL")) || bytes.Contains(out, []byte("ERROR")) {
		return 0, cpuShare{}, fmt.Errorf("the client reported an error:\n%s", out)
	}
	m := tps.FindSubmatch(out)
	if m == nil {
		return 0, cpuShare{}, fmt.Errorf("no throughput in its output:\n%s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	cpu := cpuShare{client: bench.ProcessState.UserTime() + bench.ProcessState.SystemTime(), server: serverCPU(engine) - server0,
		elapsed: time.Since(start), n: int(v * duration.Seconds())}
	return v, cpu, nil
}

// tpcbArgs runs the tpcb.lua script against a MySQL database.
func tpcbArgs(cfg *mysql.Config, scale int, extra ...string) []string {
	return sysbenchArgs("scripts/bench/tpcb.lua", cfg, append([]string{"--scale=" + strconv.Itoa(scale)}, extra...)...)
}

// sysbenchArgs runs a sysbench script against a MySQL database.
func sysbenchArgs(script string, cfg *mysql.Config, extra ...string) []string {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		host, port = cfg.Addr, "3306"
	}
	return append([]string{script, "--db-driver=mysql", "--mysql-host=" + host, "--mysql-port=" + port,
		"--mysql-user=" + cfg.User, "--mysql-password=" + cfg.Passwd, "--mysql-db=" + cfg.DBName}, extra...)
}

// transferRun is a migrated, funded wallet ready to be measured, through
// two services over the same database: free holds the default price of a
// transfer (none), paid charges the fee of -fee-bps.
type transferRun struct {
	engine     string
	clients    int
	db         database.DB
	free, paid *wallet.Service
	members    []benchMember
}

func (r *transferRun) close() { r.db.Close() }

// prepareTransfers opens a fresh database and funds accounts in it.
func prepareTransfers(ctx context.Context, engine, dbURL string, clients, accounts int, feeBps int64) (*transferRun, error) {
	db, err := database.Open(ctx, dbURL, database.Options{MaxConns: clients, Migrate: true})
	if err != nil {
		return nil, err
	}
	cfg := wallet.DefaultConfig()
	// Setup hashes a PIN per account; the benchmark measures the ledger, so
	// the hash is made cheap here (and only here).
	cfg.Argon2 = wallet.Argon2Params{Time: 1, Memory: 1024, Threads: 1}
	cfg.AuthorizationTTL = 24 * time.Hour
	// The hot accounts (bench hot) send and receive what a busy merchant
	// does: no per-user limit may refuse them.
	cfg.DailyLimitMsat = 1 << 60
	cfg.MaxBalanceMsat = 1 << 60
	free, err := wallet.New(ctx, db, cfg)
	var paid *wallet.Service
	if err == nil {
		cfg.TransferFeeBasisPoints = feeBps
		paid, err = wallet.New(ctx, db, cfg)
	}
	if err == nil {
		var members []benchMember
		if members, err = fundAccounts(ctx, free, accounts, clients); err == nil {
			return &transferRun{engine: engine, clients: clients, db: db, free: free, paid: paid, members: members}, nil
		}
	}
	db.Close()
	return nil, err
}

// measure runs the clients sending random small amounts between random
// accounts through w for duration, and checks the books afterwards.
func (r *transferRun) measure(ctx context.Context, w *wallet.Service, duration time.Duration) (float64, error) {
	stopProfile, err := startProfile()
	if err != nil {
		return 0, err
	}
	defer stopProfile()
	client0, server0, start := processCPU(), serverCPU(r.engine), time.Now()
	l := r.drive(ctx, w, r.clients, duration, func(rng *rand.Rand) (benchMember, benchMember) {
		return r.members[rng.IntN(len(r.members))], r.members[rng.IntN(len(r.members))]
	})
	cpu := cpuShare{client: processCPU() - client0, server: serverCPU(r.engine) - server0, elapsed: time.Since(start), n: l.ok}
	rate := l.rate()
	fmt.Printf("%s wallet transfers (%d clients, %s, %d accounts, fee %s): %s; %s\n",
		r.engine, r.clients, duration, len(r.members), bps(w.Config().TransferFeeBasisPoints), l, cpu)
	if err := l.err(); err != nil {
		return 0, err
	}
	if err := reconcile(ctx, w); err != nil {
		return 0, err
	}
	return rate, nil
}

// reconcile fails unless the whole ledger reconciles.
func reconcile(ctx context.Context, w *wallet.Service) error {
	rep, err := w.Reconcile(ctx)
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("reconcile after the benchmark failed: %+v", rep)
	}
	return nil
}

// hopDeadline is the server's default USSD hop timeout.
var hopDeadline = config.Default().USSDHopTimeout

// load is what a run of transfers did.
type load struct {
	lat                 latencies
	ok, refused, failed int
	// amountMsat and feeMsat sum the transfers that returned ok.
	amountMsat, feeMsat int64
	firstErr            error
	elapsed             time.Duration
}

// send makes one transfer and counts its outcome: ok, refused (a business
// refusal: not enough money, a limit) or failed (anything else, e.g. a
// deadlock or serialization failure that reached the caller).
//
// Each transfer has the deadline a USSD hop gives it (the server's default
// USSD_HOP_TIMEOUT, 3 s), as in production: the stores may use it (PostgreSQL's
// transfer carries its COMMIT only when a deadline bounds it).
func (l *load) send(ctx context.Context, w *wallet.Service, from, to benchMember, amount int64, key string) {
	ctx, cancel := context.WithTimeout(ctx, hopDeadline)
	defer cancel()
	t0 := time.Now()
	t, err := w.Transfer(ctx, from.auth, to.phone, amount, key)
	l.lat = append(l.lat, time.Since(t0))
	switch {
	case err == nil:
		l.ok++
		l.amountMsat += t.AmountMsat
		l.feeMsat += t.FeeMsat
	case errors.Is(err, wallet.ErrInsufficientBalance), errors.Is(err, wallet.ErrLimitExceeded):
		l.refused++
	default:
		l.failed++
		if l.firstErr == nil {
			l.firstErr = err
		}
	}
}

// add merges another load into l.
func (l *load) add(o load) {
	l.lat = append(l.lat, o.lat...)
	l.ok, l.refused, l.failed = l.ok+o.ok, l.refused+o.refused, l.failed+o.failed
	l.amountMsat, l.feeMsat = l.amountMsat+o.amountMsat, l.feeMsat+o.feeMsat
	if l.firstErr == nil {
		l.firstErr = o.firstErr
	}
}

func (l load) rate() float64 { return float64(l.ok) / l.elapsed.Seconds() }

func (l load) String() string {
	return fmt.Sprintf("%.0f transfers/s, p50 %s, p99 %s, %d ok, %d refused, %d failed",
		l.rate(), ms(l.lat.percentile(50)), ms(l.lat.percentile(99)), l.ok, l.refused, l.failed)
}

// err is the run's failure, if any transfer failed.
func (l load) err() error {
	if l.failed > 0 {
		return fmt.Errorf("%d transfers failed, first: %w", l.failed, l.firstErr)
	}
	return nil
}

// drive runs clients sending small random amounts (1-100 sat) through w for
// duration, each transfer between the accounts pick draws (a draw of one
// account to itself is skipped).
func (r *transferRun) drive(ctx context.Context, w *wallet.Service, clients int, duration time.Duration, pick func(*rand.Rand) (from, to benchMember)) load {
	var mu sync.Mutex
	var total load
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	start := time.Now()
	round := start.UnixNano()
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), uint64(round)))
			var mine load
			for i := 0; time.Now().Before(deadline); i++ {
				from, to := pick(rng)
				if from.auth.UserID() == to.auth.UserID() {
					continue
				}
				mine.send(ctx, w, from, to, (1+rng.Int64N(100))*1000, fmt.Sprintf("bench-%d-%d-%d", round, c, i))
			}
			mu.Lock()
			defer mu.Unlock()
			total.add(mine)
		})
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	return total
}

// benchPIN is the PIN of every account the benchmarks fund.
const benchPIN = "2791"

type benchMember struct {
	phone string
	auth  wallet.Authorization
}

// fundAccounts registers and funds n accounts using workers goroutines.
func fundAccounts(ctx context.Context, w *wallet.Service, n, workers int) ([]benchMember, error) {
	members := make([]benchMember, n)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			for i := k; i < n; i += workers {
				phone := fmt.Sprintf("+2547%08d", 10_000_000+i)
				u, _, err := w.EnsureUser(ctx, phone)
				if err == nil {
					err = w.Register(ctx, u.ID, benchPIN)
				}
				if err == nil {
					_, err = w.Adjust(ctx, phone, 1_000_000*1000, "benchmark funding", "bench-fund-"+phone)
				}
				var auth wallet.Authorization
				if err == nil {
					auth, err = w.VerifyPIN(ctx, u.ID, benchPIN)
				}
				if err != nil {
					errs <- fmt.Errorf("fund %s: %w", phone, err)
					return
				}
				members[i] = benchMember{phone: u.Phone, auth: auth}
			}
		})
	}
	wg.Wait()
	close(errs)
	return members, <-errs
}
