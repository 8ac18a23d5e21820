// Command world brings up the whole world on one machine, for a person to
// try Umeme in a browser (`make run`): it builds what it needs (the pinned
// lnd and btcd, once; the server), starts the regtest Lightning network
// (kept in .cache/world, so that the next run starts in seconds), the
// simulators of Africa's Talking (USSD gateway, SMS) and Daraja with the
// web phone on one loopback port, and the server as a child process on
// the embedded SQLite database in development mode, wired to all of
// them. It prints one line, the URL to open, once everything answers, and
// on Ctrl-C (or SIGTERM) stops what it started, by PID: the server, both
// lnd, btcd.
//
// Run it from the repository's root. Its logs are in .cache/world/.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/world"
)

// options are the command's flags.
type options struct {
	listen, serverListen string
	state, databaseURL   string
	phones               string
	kesPerBTC            string
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:8000", "address of the web phone and the simulators (another free port if taken)")
	flag.StringVar(&o.serverListen, "server-listen", "127.0.0.1:8001", "address of the server (another free port if taken)")
	flag.StringVar(&o.state, "state", filepath.Join(".cache", "world"), "folder of the regtest network, the logs and the certificate")
	flag.StringVar(&o.databaseURL, "database-url", "sqlite:data/umeme.db", "the server's database")
	flag.StringVar(&o.phones, "phones", "+254700000001,+254700000002", "the phones on the page, comma-separated")
	flag.StringVar(&o.kesPerBTC, "kes-per-btc", "13000000", "the fixed price of a bitcoin in shillings")
	flag.Parse()

	r := &runner{log: io.Discard}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "stopping…")
		r.stop()
		os.Exit(0)
	}()
	if err := run(r, o); err != nil {
		r.Fatalf("%v", err)
	}
}

// daraja is the simulated Daraja account; its credentials guard nothing.
var daraja = darajasim.Config{ConsumerKey: "world-key", ConsumerSecret: "world-secret", ShortCode: "174379",
	PassKey: "world-passkey", B2CShortCode: "600000", InitiatorName: "worldapi", InitiatorPassword: "world-initiator"}

// run starts everything, prints the URL and waits for the server to stop
// (which only a failure does: Ctrl-C ends the process from main).
func run(r *runner, o options) error {
	start := time.Now()
	for _, f := range []string{"scripts/regtest/build.sh", "cmd/server"} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("run me from the repository's root (make run): %w", err)
		}
	}
	state, err := filepath.Abs(o.state)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(state, 0o750); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(state, "world.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	r.log = logf
	log := slog.New(slog.NewTextHandler(logf, nil))
	bin := os.Getenv("REGTEST_BIN")
	if bin == "" {
		bin = filepath.Join(".cache", "regtest", "bin")
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	os.Setenv("REGTEST_BIN", bin) // the one folder build.sh fills and regtest reads

	server, err := filepath.Abs(filepath.Join(".cache", "bin", "server"))
	if err != nil {
		return err
	}
	stopLeftoverServer(filepath.Join(state, "pids.json"), server, log)
	ctx, cancel := context.WithCancel(context.Background())
	r.Cleanup(cancel) // stops a build in progress
	if err := buildDaemons(ctx); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", server, "./cmd/server").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/server: %w\n%s", err, out)
	}

	netStart := time.Now()
	n, fresh := regtest.StartIn(r, filepath.Join(state, "regtest"))
	log.Info("regtest network up", "took", time.Since(netStart).Round(time.Millisecond), "new", fresh, "network", n.String())
	if fresh {
		if err := setAside(o.databaseURL, log); err != nil {
			return err
		}
	}

	simLn, err := listen(o.listen)
	if err != nil {
		return err
	}
	serverAddr, err := freeAddr(o.serverListen)
	if err != nil {
		simLn.Close()
		return err
	}
	serverURL := "http://" + serverAddr
	simURL := "http://" + simLn.Addr().String()
	s := secrets{ussd: token(), sms: token(), mpesa: token(), atKey: token()}
	w, err := world.New(world.Config{
		ServerURL: serverURL, USSDToken: s.ussd, SMSToken: s.sms, Phones: splitPhones(o.phones), Network: "regtest",
		ATUsername: "umeme", ATAPIKey: s.atKey, Daraja: daraja, DatabaseURL: o.databaseURL, Log: log,
		Node: &world.Node{LNCLI: filepath.Join(bin, "lncli"), Dir: n.World.Dir, RPC: n.World.RPC, Network: "regtest"},
	})
	if err != nil {
		simLn.Close()
		return err
	}
	certPath := filepath.Join(state, "daraja.pem")
	if err := os.WriteFile(certPath, w.Daraja().CertPEM(), 0o640); err != nil {
		simLn.Close()
		return err
	}
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(simLn) //nolint:errcheck // ends with Close
	r.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck
		w.Close()
	})

	env := map[string]string{
		"APP_ENV": "development", "DATABASE_URL": o.databaseURL, "LISTEN_ADDR": serverAddr, "PUBLIC_DOMAIN": serverAddr,
		"USSD_CALLBACK_TOKEN": s.ussd, "USSD_SERVICE_CODE": "*384*1234#", "KES_PER_BTC": o.kesPerBTC,
		"LND_ADDRESS": n.Ours.RPC, "LND_TLS_CERT_PATH": n.Ours.TLSCertPath(), "LND_MACAROON_PATH": n.Ours.MacaroonPath(), "LND_NETWORK": "regtest",
		"MPESA_BASE_URL": simURL + "/daraja", "MPESA_CONSUMER_KEY": daraja.ConsumerKey, "MPESA_CONSUMER_SECRET": daraja.ConsumerSecret,
		"MPESA_SHORTCODE": daraja.ShortCode, "MPESA_PASSKEY": daraja.PassKey, "MPESA_B2C_SHORTCODE": daraja.B2CShortCode,
		"MPESA_INITIATOR_NAME": daraja.InitiatorName, "MPESA_INITIATOR_PASSWORD": daraja.InitiatorPassword,
		"MPESA_CERT_PATH": certPath, "MPESA_CALLBACK_URL": serverURL, "MPESA_CALLBACK_TOKEN": s.mpesa,
		"AT_SMS_URL": simURL, "AT_USERNAME": "umeme", "AT_API_KEY": s.atKey, "SMS_CALLBACK_TOKEN": s.sms,
		// What the environment says of these would not match the world.
		"RATES_SOURCES": "", "USSD_ALLOWED_IPS": "", "MPESA_ALLOWED_IPS": "", "TRUSTED_PROXIES": "",
	}
	child, err := startServer(r, server, env, filepath.Join(state, "server.log"))
	if err != nil {
		return err
	}
	if err := waitReady(ctx, child.exited, serverURL+"/readyz", simURL+"/api/config"); err != nil {
		return fmt.Errorf("%w (the server's log: %s)", err, filepath.Join(state, "server.log"))
	}
	pids := map[string]int{"world": os.Getpid(), "server": child.cmd.Process.Pid}
	for name, pid := range n.PIDs() {
		if name != "btcd" {
			name = "lnd-" + name
		}
		pids[name] = pid
	}
	pidsPath := filepath.Join(state, "pids.json")
	if err := writeJSON(pidsPath, pids); err != nil {
		return err
	}
	r.Cleanup(func() { os.Remove(pidsPath) })
	if r.Stopping() {
		select {} // Ctrl-C came first: main's stop ends the process
	}
	log.Info("ready", "took", time.Since(start).Round(time.Millisecond), "url", simURL, "server", serverURL)
	fmt.Println("open " + simURL)

	<-child.exited
	if r.Stopping() {
		select {}
	}
	return fmt.Errorf("the server stopped (%v); its log: %s", child.cmd.ProcessState, filepath.Join(state, "server.log"))
}

// secrets are this run's tokens and keys: fresh each time, known only to
// the server and the simulators.
type secrets struct{ ussd, sms, mpesa, atKey string }

func token() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return hex.EncodeToString(b)
}

// buildDaemons runs scripts/regtest/build.sh, which returns at once when
// the daemons are built; while it builds (minutes, once) a line says so
// every 15 s.
func buildDaemons(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "scripts/regtest/build.sh")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	began := time.Now()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("scripts/regtest/build.sh: %w", err)
			}
			return nil
		case <-tick.C:
			fmt.Fprintf(os.Stderr, "  still building lnd and btcd (%s)…\n", time.Since(began).Round(time.Second))
		}
	}
}

// setAside moves a SQLite database out of the way of a new network: its
// invoices and payments are another node's, and the server would follow
// the new node's invoices from the old one's index.
func setAside(databaseURL string, log *slog.Logger) error {
	engine, err := database.Engine(databaseURL)
	if err != nil || engine != "sqlite" {
		return err
	}
	path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "//")
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	aside := fmt.Sprintf("%s.before-world-%s", path, time.Now().Format("20060102-150405"))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(path+suffix, aside+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "a new Lightning network: the old database is now %s\n", aside)
	log.Info("database set aside for a new network", "path", aside)
	return nil
}

// listen listens on addr, or on another free loopback port if it is taken.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// freeAddr is addr if nothing listens there, else a free loopback port.
func freeAddr(addr string) (string, error) {
	ln, err := listen(addr)
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func splitPhones(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// waitReady waits until every URL answers 200 (the server's /readyz: its
// database and lnd answer), or the server exits.
func waitReady(ctx context.Context, exited <-chan struct{}, urls ...string) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for _, u := range urls {
		for {
			resp, err := hc.Get(u)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not ready after 90 s", u)
			}
			select {
			case <-exited:
				return errors.New("the server stopped while starting")
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// writeJSON writes v to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o640)
}
