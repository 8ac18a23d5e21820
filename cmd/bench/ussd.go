package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbadmin"
	"github.com/umeme-wallet/umeme/internal/store/growth"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// ussdBench drives the real server's POST /ussd over HTTP with concurrent
// simulated sessions running a mix of journeys, and prints hops/s and the
// latency of a hop.
func ussdBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ussd", flag.ContinueOnError)
	clients, duration := commonFlags(fs)
	*clients = 32
	engines := fs.String("engines", "postgres,mysql,sqlite", "engines to measure")
	users := fs.Int("users", 500, "registered, funded users")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list, err := engineList(*engines)
	if err != nil {
		return err
	}
	for _, engine := range list {
		if err := ussdOn(ctx, engine, *clients, *duration, *users); err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
	}
	return nil
}

func ussdOn(ctx context.Context, engine string, clients int, duration time.Duration, users int) error {
	a, base, stop, err := benchServer(ctx, engine, false)
	if err != nil {
		return err
	}
	defer stop()
	phones, err := fundUsers(ctx, a.Wallet, users)
	if err != nil {
		return err
	}
	stopProfile, err := startProfile()
	if err != nil {
		return err
	}
	defer stopProfile()
	cpu0 := processCPU()
	res := driveUSSD(ctx, base, phones, clients, duration)
	cpu := processCPU() - cpu0
	fmt.Printf("ussd %s: %s; CPU of this process (server and clients) %s per hop, %.2f cores\n", engine, res,
		ms(cpu/time.Duration(max(res.hops, 1))), cpu.Seconds()/res.elapsed.Seconds())
	if err := res.err(); err != nil {
		return err
	}
	rep, err := a.Wallet.Reconcile(ctx)
	if err != nil || !rep.OK() {
		return fmt.Errorf("reconcile after the benchmark: %+v %v", rep, err)
	}
	return nil
}

// fundUsers registers and funds n users as fundAccounts does, and returns
// their numbers.
func fundUsers(ctx context.Context, w *wallet.Service, n int) ([]string, error) {
	members, err := fundAccounts(ctx, w, n, 4)
	if err != nil {
		return nil, err
	}
	phones := make([]string, n)
	for i, m := range members {
		phones[i] = m.phone
	}
	return phones, nil
}

// ussdRun is what driveUSSD measured.
type ussdRun struct {
	clients                int
	sessions, hops, failed int
	firstFailure           string
	elapsed                time.Duration
	lat                    latencies
}

func (r ussdRun) String() string {
	return fmt.Sprintf("%d sessions, %d hops in %s with %d concurrent sessions: %.0f hops/s, p50 %s, p99 %s, %d failed",
		r.sessions, r.hops, r.elapsed.Round(time.Millisecond), r.clients, float64(r.hops)/r.elapsed.Seconds(),
		ms(r.lat.percentile(50)), ms(r.lat.percentile(99)), r.failed)
}

// err says whether any hop failed.
func (r ussdRun) err() error {
	if r.failed > 0 {
		return fmt.Errorf("%d hops failed, first: %s", r.failed, r.firstFailure)
	}
	return nil
}

// driveUSSD runs clients concurrent gateway sessions of the journey mix
// against the USSD endpoint base (with its token) for duration, each
// session as a random one of phones. A hop fails on a transport error, an
// apology, an END before the journey's last hop, or a last screen that is
// not the one its journey is for (journey); its session ends there.
func driveUSSD(ctx context.Context, base string, phones []string, clients int, duration time.Duration) ussdRun {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	run := ussdRun{clients: clients}
	var mu sync.Mutex
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))
			var mine latencies
			var h, s, b int
			var fb string
			for n := 0; time.Now().Before(deadline); n++ {
				phone := phones[rng.IntN(len(phones))]
				session := fmt.Sprintf("bench-%d-%d", c, n)
				var inputs []string
				keys, done := journey(rng, phones, phone)
				var body string
				var err error
				for i, in := range keys {
					if in != "" {
						inputs = append(inputs, in)
					}
					t0 := time.Now()
					body, err = growth.USSDHop(ctx, client, base, session, phone, strings.Join(inputs, "*"))
					mine = append(mine, time.Since(t0))
					h++
					// Every hop but the last answers CON; the last is the
					// screen the journey is for.
					last := i == len(keys)-1
					switch {
					case err != nil:
					case strings.Contains(body, "Sorry") || (!last && !strings.HasPrefix(body, "CON ")):
						err = errors.New("unexpected screen")
					case last && !done(body):
						err = errors.New("not the journey's last screen")
					}
					if err != nil {
						break
					}
				}
				if err != nil {
					b++
					if fb == "" {
						fb = fmt.Sprintf("%v %q", err, body)
					}
				}
				s++
			}
			mu.Lock()
			defer mu.Unlock()
			run.lat = append(run.lat, mine...)
			run.hops, run.sessions, run.failed = run.hops+h, run.sessions+s, run.failed+b
			if run.firstFailure == "" {
				run.firstFailure = fb
			}
		})
	}
	wg.Wait()
	run.elapsed = time.Since(start)
	return run
}

// journey is the inputs of one session of phone ("" is the dial), and a
// test of the screen it ends on: 30% check the balance, 20% read the
// history and page on, 30% send to another number, 20% browse (Settings,
// back, Exit). A session that ends anywhere else counts as failed.
func journey(rng *rand.Rand, phones []string, phone string) ([]string, func(string) bool) {
	switch p := rng.IntN(10); {
	case p < 3:
		return []string{"", "3", benchPIN}, prefix("END Balance: ")
	case p < 5:
		return []string{"", "4", benchPIN, "9"}, func(body string) bool {
			return strings.HasPrefix(body, "CON ") && strings.HasSuffix(body, "\n0. Back") && !strings.Contains(body, "PIN") && !strings.Contains(body, "Invalid")
		}
	case p < 8:
		to := phones[rng.IntN(len(phones))]
		for to == phone && len(phones) > 1 {
			to = phones[rng.IntN(len(phones))]
		}
		return []string{"", "1", to, fmt.Sprint(1 + rng.IntN(500)), "1", benchPIN}, prefix("END Sent ")
	default:
		return []string{"", "5", "0", "6"}, prefix("END Thank you for using Umeme.")
	}
}

func prefix(p string) func(string) bool {
	return func(body string) bool { return strings.HasPrefix(body, p) }
}

// benchServer starts the server on a fresh database of an engine, as
// production runs it (the gateway authenticates with its token), and
// returns it with the URL of its USSD endpoint and a function that stops it
// and drops the database (unless keep).
func benchServer(ctx context.Context, engine string, keep bool) (*app.App, string, func(), error) {
	dbURL, drop, err := benchDatabase(ctx, engine)
	if err != nil {
		return nil, "", nil, err
	}
	if keep {
		fmt.Printf("%s: database %s kept\n", engine, dbURL)
		drop = func() {}
	}
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.DBMaxConns = 16
	// Simulated sessions type far faster than people: the per-phone limits
	// would refuse them, so they are off here (and only here).
	cfg.HopsPerMinute, cfg.PINsPerMinute = 0, 0
	cfg.USSDCallbackToken = "bench-gateway-token"
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		if err = a.Start(); err != nil {
			a.DB.Close()
		}
	}
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	stop := func() {
		a.Close(context.WithoutCancel(ctx))
		drop()
	}
	return a, "http://" + a.Addr() + "/ussd?token=" + url.QueryEscape(cfg.USSDCallbackToken), stop, nil
}

// benchDatabase makes a fresh database on an engine (a temporary SQLite
// file, or a new database on the engine's server) and a function that
// removes it.
func benchDatabase(ctx context.Context, engine string) (string, func(), error) {
	if engine == "sqlite" {
		dir, err := os.MkdirTemp("", "umeme-bench")
		if err != nil {
			return "", nil, err
		}
		return "sqlite:" + filepath.Join(dir, "umeme.db"), func() { os.RemoveAll(dir) }, nil
	}
	server, err := serverURL(engine)
	if err != nil {
		return "", nil, err
	}
	dbURL, drop, err := dbadmin.Create(ctx, engine, server, dbadmin.RandomName("umeme_bench"))
	if err != nil {
		return "", nil, err
	}
	return dbURL, func() { drop(context.WithoutCancel(ctx)) }, nil //nolint:errcheck // best effort
}
