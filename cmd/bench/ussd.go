package main

import (
	"context"
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

	phones := make([]string, users)
	for i := range phones {
		phones[i] = fmt.Sprintf("+2547%08d", 20_000_000+i)
		u, _, err := a.Wallet.EnsureUser(ctx, phones[i])
		if err == nil {
			err = a.Wallet.Register(ctx, u.ID, "2791")
		}
		if err == nil {
			_, err = a.Wallet.Adjust(ctx, phones[i], 1_000_000_000, "bench funding", "bench-"+phones[i])
		}
		if err != nil {
			return err
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}

	stopProfile, err := startProfile()
	if err != nil {
		return err
	}
	defer stopProfile()
	var mu sync.Mutex
	var lat latencies
	var hops, sessions, bad int
	var firstBad string
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
				for _, in := range journey(rng, phones) {
					if in != "" {
						inputs = append(inputs, in)
					}
					t0 := time.Now()
					body, err := growth.USSDHop(ctx, client, base, session, phone, strings.Join(inputs, "*"))
					mine = append(mine, time.Since(t0))
					h++
					if err != nil || !(strings.HasPrefix(body, "CON ") || strings.HasPrefix(body, "END ")) || strings.Contains(body, "Sorry") {
						b++
						if fb == "" {
							fb = fmt.Sprintf("%v %q", err, body)
						}
						break
					}
				}
				s++
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, mine...)
			hops, sessions, bad = hops+h, sessions+s, bad+b
			if firstBad == "" {
				firstBad = fb
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("ussd %s: %d sessions, %d hops in %s with %d concurrent sessions: %.0f hops/s, p50 %s, p99 %s, %d failed\n",
		engine, sessions, hops, elapsed.Round(time.Millisecond), clients, float64(hops)/elapsed.Seconds(),
		ms(lat.percentile(50)), ms(lat.percentile(99)), bad)
	if bad > 0 {
		return fmt.Errorf("%d hops failed, first: %s", bad, firstBad)
	}
	rep, err := a.Wallet.Reconcile(ctx)
	if err != nil || !rep.OK() {
		return fmt.Errorf("reconcile after the benchmark: %+v %v", rep, err)
	}
	return nil
}

// journey is the inputs of one session ("" is the dial): 30% check the
// balance, 20% read the history and page on, 30% send, 20% browse.
func journey(rng *rand.Rand, phones []string) []string {
	switch p := rng.IntN(10); {
	case p < 3:
		return []string{"", "3", "2791"}
	case p < 5:
		return []string{"", "4", "2791", "9"}
	case p < 8:
		to := phones[rng.IntN(len(phones))]
		return []string{"", "1", to, fmt.Sprint(1 + rng.IntN(500)), "1", "2791"}
	default:
		return []string{"", "5", "0", "6"}
	}
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
