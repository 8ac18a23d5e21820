package main

import (
	"net"
	"slices"

	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbadmin"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// transfers measures random phone-to-phone transfers among funded accounts
// and, in the same run, the database's TPC-B-like baseline with the same
// client count and duration; it ends with one "RATIO <engine> <value>" line
// per engine.
func transfers(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("transfers", flag.ContinueOnError)
	clients, duration := commonFlags(fs)
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
	ratios := map[string]float64{}
	for _, engine := range list {
		if engine == "sqlite" {
			return errors.New("transfers: the baseline needs a database server (postgres or mysql)")
		}
		r, err := transfersOn(ctx, engine, *clients, *duration, *accounts, *scale, *rounds)
		if err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
		ratios[engine] = r
	}
	for _, engine := range list {
		fmt.Printf("RATIO %s %.2f\n", engine, ratios[engine])
	}
	return nil
}

// transfersOn measures one engine: it funds the wallet's accounts once, then
// alternates the baseline and the wallet, each on a quiet server (the
// baseline's tables dropped, a checkpoint taken), and returns the median of
// the rounds' ratios.
func transfersOn(ctx context.Context, engine string, clients int, duration time.Duration, accounts, scale, rounds int) (float64, error) {
	server, err := serverURL(engine)
	if err != nil {
		return 0, err
	}
	dbURL, drop, err := dbadmin.Create(ctx, engine, server, dbadmin.RandomName("umeme_bench"))
	if err != nil {
		return 0, err
	}
	defer func() {
		if err := drop(context.WithoutCancel(ctx)); err != nil {
			fmt.Println("warning:", err)
		}
	}()
	baseURL, dropBase, err := dbadmin.Create(ctx, engine, server, dbadmin.RandomName("umeme_baseline"))
	if err != nil {
		return 0, err
	}
	defer func() {
		if err := dropBase(context.WithoutCancel(ctx)); err != nil {
			fmt.Println("warning:", err)
		}
	}()
	run, err := prepareTransfers(ctx, engine, dbURL, clients, accounts)
	if err != nil {
		return 0, err
	}
	defer run.close()
	// A short unmeasured run first: funding left work behind (dead row
	// versions, dirty pages) that should not land in round one.
	fmt.Printf("%s warm-up:\n", engine)
	if _, err := run.measure(ctx, 5*time.Second); err != nil {
		return 0, err
	}
	var ratios []float64
	for i := range rounds {
		base, err := baseline(ctx, engine, baseURL, clients, duration, scale)
		if err != nil {
			return 0, err
		}
		if err := quiesce(ctx, engine, baseURL); err != nil {
			return 0, err
		}
		ours, err := run.measure(ctx, duration)
		if err != nil {
			return 0, err
		}
		ratios = append(ratios, ours/base)
		fmt.Printf("%s round %d: wallet %.0f transfers/s vs baseline %.0f tps = %.2f\n", engine, i+1, ours, base, ours/base)
	}
	slices.Sort(ratios)
	return ratios[len(ratios)/2], nil
}

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
		cmd = exec.CommandContext(ctx, "sysbench", sysbenchArgs(cfg, 1, "cleanup")...)
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
	var tps *regexp.Regexp
	switch engine {
	case "postgres":
		init = exec.CommandContext(ctx, "pgbench", "-i", "-q", "-s", strconv.Itoa(scale), dbURL)
		bench = exec.CommandContext(ctx, "pgbench", "-b", "tpcb-like", "-c", strconv.Itoa(clients), "-j", "2", "-T", secs, dbURL)
		tps = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	case "mysql":
		cfg, err := dbadmin.MySQLConfig(dbURL)
		if err != nil {
			return 0, err
		}
		init = exec.CommandContext(ctx, "sysbench", sysbenchArgs(cfg, scale, "prepare")...)
		bench = exec.CommandContext(ctx, "sysbench", sysbenchArgs(cfg, scale, "--threads="+strconv.Itoa(clients), "--time="+secs, "run")...)
		tps = regexp.MustCompile(`transactions:\s+\d+\s+\(([0-9.]+) per sec\.\)`)
	}
	if out, err := init.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("baseline setup: %w\n%s", err, out)
	}
	out, err := bench.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("baseline: %w\n%s", err, out)
	}
	m := tps.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("baseline: no throughput in its output:\n%s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	fmt.Printf("%s baseline (%s, %d clients, %s): %.0f tps\n", engine, bench.Args[0], clients, duration, v)
	return v, nil
}

// sysbenchArgs runs the tpcb.lua script against a MySQL database.
func sysbenchArgs(cfg *mysql.Config, scale int, extra ...string) []string {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		host, port = cfg.Addr, "3306"
	}
	return append([]string{"scripts/bench/tpcb.lua", "--db-driver=mysql", "--mysql-host=" + host, "--mysql-port=" + port,
		"--mysql-user=" + cfg.User, "--mysql-password=" + cfg.Passwd, "--mysql-db=" + cfg.DBName, "--scale=" + strconv.Itoa(scale)}, extra...)
}

// transferRun is a migrated, funded wallet ready to be measured.
type transferRun struct {
	engine  string
	clients int
	db      database.DB
	w       *wallet.Service
	members []benchMember
}

func (r *transferRun) close() { r.db.Close() }

// prepareTransfers opens a fresh database and funds accounts in it.
func prepareTransfers(ctx context.Context, engine, dbURL string, clients, accounts int) (*transferRun, error) {
	db, err := database.Open(ctx, dbURL, database.Options{MaxConns: clients, Migrate: true})
	if err != nil {
		return nil, err
	}
	cfg := wallet.DefaultConfig()
	// Setup hashes a PIN per account; the benchmark measures the ledger, so
	// the hash is made cheap here (and only here).
	cfg.Argon2 = wallet.Argon2Params{Time: 1, Memory: 1024, Threads: 1}
	cfg.AuthorizationTTL = 24 * time.Hour
	cfg.DailyLimitMsat = 1 << 60
	w, err := wallet.New(ctx, db, cfg)
	if err == nil {
		var members []benchMember
		if members, err = fundAccounts(ctx, w, accounts, clients); err == nil {
			return &transferRun{engine: engine, clients: clients, db: db, w: w, members: members}, nil
		}
	}
	db.Close()
	return nil, err
}

// measure runs the clients sending random small amounts between random
// accounts for duration, and checks the books afterwards.
func (r *transferRun) measure(ctx context.Context, duration time.Duration) (float64, error) {
	stopProfile, err := startProfile()
	if err != nil {
		return 0, err
	}
	defer stopProfile()
	var mu sync.Mutex
	var lat latencies
	var ok, refused, failed int
	var firstErr error
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	start := time.Now()
	round := start.UnixNano()
	for c := range r.clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), uint64(round)))
			var mine latencies
			var o, rf, f int
			var e error
			for i := 0; time.Now().Before(deadline); i++ {
				from, to := r.members[rng.IntN(len(r.members))], r.members[rng.IntN(len(r.members))]
				if from.auth.UserID() == to.auth.UserID() {
					continue
				}
				t0 := time.Now()
				_, err := r.w.Transfer(ctx, from.auth, to.phone, (1+rng.Int64N(100))*1000, fmt.Sprintf("bench-%d-%d-%d", round, c, i))
				mine = append(mine, time.Since(t0))
				switch {
				case err == nil:
					o++
				case errors.Is(err, wallet.ErrInsufficientBalance):
					rf++
				default:
					f++
					if e == nil {
						e = err
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, mine...)
			ok, refused, failed = ok+o, refused+rf, failed+f
			if firstErr == nil {
				firstErr = e
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	rate := float64(ok) / elapsed.Seconds()
	fmt.Printf("%s wallet transfers (%d clients, %s, %d accounts): %.0f transfers/s, p50 %s, p99 %s, %d ok, %d refused, %d failed\n",
		r.engine, r.clients, duration, len(r.members), rate, ms(lat.percentile(50)), ms(lat.percentile(99)), ok, refused, failed)
	if failed > 0 {
		return 0, fmt.Errorf("%d transfers failed, first: %w", failed, firstErr)
	}
	rep, err := r.w.Reconcile(ctx)
	if err != nil {
		return 0, err
	}
	if !rep.OK() {
		return 0, fmt.Errorf("reconcile after the benchmark failed: %+v", rep)
	}
	return rate, nil
}

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
					err = w.Register(ctx, u.ID, "2791")
				}
				if err == nil {
					_, err = w.Adjust(ctx, phone, 1_000_000*1000, "benchmark funding", "bench-fund-"+phone)
				}
				var auth wallet.Authorization
				if err == nil {
					auth, err = w.VerifyPIN(ctx, u.ID, "2791")
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
