// Command darajasim runs the Daraja simulator (internal/mpesa/darajasim)
// for manual use: it serves Daraja's endpoints on -listen, its control API
// under /sim/, writes its certificate to -cert, and prints what a client
// needs to reach it. The credentials are test values, printed on purpose:
// they guard nothing real.
//
//	darajasim -listen 127.0.0.1:8089 -stk manual
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "darajasim:", err)
		os.Exit(1)
	}
}

var deliveries = map[string]darajasim.Delivery{
	"once": darajasim.DeliverOnce, "twice": darajasim.DeliverTwice, "late": darajasim.DeliverLate,
	"none": darajasim.DeliverNone, "manual": darajasim.DeliverManual, "queue-timeout": darajasim.DeliverQueueTimeout,
}

// parseOutcome reads "CODE" or "CODE/DELIVERY" (e.g. "0", "1032/late"),
// or "manual" alone.
func parseOutcome(s string) (int, darajasim.Delivery, error) {
	if s == "manual" {
		return 0, darajasim.DeliverManual, nil
	}
	code, del, _ := strings.Cut(s, "/")
	n, err := strconv.Atoi(code)
	if err != nil {
		return 0, 0, fmt.Errorf("outcome %q: want CODE or CODE/DELIVERY", s)
	}
	d := darajasim.DeliverOnce
	if del != "" {
		var ok bool
		if d, ok = deliveries[del]; !ok {
			return 0, 0, fmt.Errorf("outcome %q: unknown delivery %q", s, del)
		}
	}
	return n, d, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("darajasim", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8089", "address to serve on")
	certPath := fs.String("cert", filepath.Join(os.TempDir(), "darajasim-cert.pem"), "where to write the certificate")
	var cfg darajasim.Config
	fs.StringVar(&cfg.ConsumerKey, "consumer-key", "sim-key", "consumer key")
	fs.StringVar(&cfg.ConsumerSecret, "consumer-secret", "sim-secret", "consumer secret")
	fs.StringVar(&cfg.ShortCode, "shortcode", "174379", "STK shortcode")
	fs.StringVar(&cfg.PassKey, "passkey", "sim-passkey", "STK passkey")
	fs.StringVar(&cfg.B2CShortCode, "b2c-shortcode", "600000", "B2C shortcode")
	fs.StringVar(&cfg.InitiatorName, "initiator", "simapi", "B2C initiator name")
	fs.StringVar(&cfg.InitiatorPassword, "initiator-password", "sim-initiator", "B2C initiator password")
	fs.DurationVar(&cfg.TokenLifetime, "token-lifetime", time.Hour, "lifetime of issued tokens")
	fs.DurationVar(&cfg.LateDelay, "late-delay", 5*time.Second, "delay of late callbacks and of decisions after a queue time-out")
	stk := fs.String("stk", "0", "default STK outcome: CODE[/once|twice|late|none|manual] or manual")
	b2c := fs.String("b2c", "0", "default B2C outcome: CODE[/once|twice|late|none|queue-timeout]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sim, err := darajasim.New(cfg)
	if err != nil {
		return err
	}
	defer sim.Close()
	code, del, err := parseOutcome(*stk)
	if err != nil {
		return err
	}
	sim.SetSTKDefault(darajasim.STKOutcome{ResultCode: code, Delivery: del})
	if code, del, err = parseOutcome(*b2c); err != nil {
		return err
	}
	sim.SetB2CDefault(darajasim.B2COutcome{ResultCode: code, Delivery: del})
	if err := os.WriteFile(*certPath, sim.CertPEM(), 0o644); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/sim/", http.StripPrefix("/sim", sim.Control()))
	mux.Handle("/", sim)
	srv := &http.Server{Handler: logRequests(mux), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "darajasim on http://%s (control API under /sim/)\n", ln.Addr())
	fmt.Fprintf(out, "  certificate:   %s\n", *certPath)
	fmt.Fprintf(out, "  consumer:      %s / %s\n", cfg.ConsumerKey, cfg.ConsumerSecret)
	fmt.Fprintf(out, "  STK:           shortcode %s, passkey %s\n", cfg.ShortCode, cfg.PassKey)
	fmt.Fprintf(out, "  B2C:           shortcode %s, initiator %s / %s\n", cfg.B2CShortCode, cfg.InitiatorName, cfg.InitiatorPassword)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// logRequests logs method and path; never bodies (they hold
// credentials and phone numbers).
func logRequests(h http.Handler) http.Handler {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "took", time.Since(start))
	})
}
