// Command bench measures the wallet under load on this machine.
//
//	bench transfers   phone-to-phone transfers against PostgreSQL and MariaDB,
//	                  with each database's own TPC-B-like baseline in the same run,
//	                  free and with a transfer fee
//	bench hot         one merchant paid by every client, one account spending
//	                  to every client, and an account with 100,000 entries
//	                  beside a fresh one, on every engine
//	bench ussd        the USSD endpoint over HTTP on every engine
//	bench mpesa       an M-Pesa success callback to its committed credit
//	bench sms         the SMS outbox's throughput, and a committed transfer
//	                  to its receipt at the (simulated) gateway
//	bench growth      seeds 10 thousand then 10 million transactions and
//	                  measures the USSD history hop at both sizes
//	bench footprint   the server binary's size, and its resident memory
//	                  (as its own process) idle and under the USSD load
//
// It needs TEST_POSTGRES_URL and TEST_MYSQL_URL (as the tests do) and the
// tools scripts/bench/install-tools.sh installs (pgbench, sysbench).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
)

func main() {
	// The in-process benches run the server as serve does, with its runtime
	// settings (app.MadviseFree); this does not return when it starts the
	// program again.
	if err := app.ExecWithRuntimeSettings(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: running without GODEBUG=%s: %v\n", app.MadviseFree, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: bench transfers|hot|ussd|mpesa|sms|growth|footprint [flags]")
	}
	switch args[0] {
	case "transfers":
		return transfers(ctx, args[1:])
	case "hot":
		return hotBench(ctx, args[1:])
	case "ussd":
		return ussdBench(ctx, args[1:])
	case "mpesa":
		return mpesaBench(ctx, args[1:])
	case "sms":
		return smsBench(ctx, args[1:])
	case "growth":
		return growthBench(ctx, args[1:])
	case "footprint":
		return footprintBench(ctx, args[1:])
	}
	return fmt.Errorf("unknown benchmark %q", args[0])
}

// serverURL returns the server URL of an engine from the environment.
func serverURL(engine string) (string, error) {
	env := map[string]string{"postgres": "TEST_POSTGRES_URL", "mysql": "TEST_MYSQL_URL"}[engine]
	if env == "" {
		return "", fmt.Errorf("no server for engine %q", engine)
	}
	u := os.Getenv(env)
	if u == "" {
		return "", fmt.Errorf("%s is not set", env)
	}
	return u, nil
}

func engineList(s string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if !slices.Contains([]string{"postgres", "mysql", "sqlite"}, e) {
			return nil, fmt.Errorf("unknown engine %q", e)
		}
		out = append(out, e)
	}
	return out, nil
}

// latencies collects the duration of every operation of a run.
type latencies []time.Duration

func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

var cpuProfile string

func commonFlags(fs *flag.FlagSet) (clients *int, duration *time.Duration) {
	clients = fs.Int("clients", 8, "concurrent clients")
	duration = fs.Duration("duration", 20*time.Second, "how long each measurement runs")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the measured phase to this file")
	return
}

// startProfile starts the CPU profile asked for with -cpuprofile, if any.
func startProfile() (func(), error) {
	if cpuProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(cpuProfile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
