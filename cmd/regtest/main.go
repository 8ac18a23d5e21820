// Command regtest starts the local Lightning network the tests use (btcd,
// our lnd and a "world" lnd with a channel between them), prints how to
// point the server at it, and stops everything on Ctrl-C.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/umeme-wallet/umeme/internal/regtest"
)

// runner is a regtest.T for a command: failures print and exit.
type runner struct {
	cleanups []func()
	failed   bool
}

func (r *runner) Helper() {}

func (r *runner) Fatalf(format string, args ...any) {
	r.failed = true
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	r.stop()
	os.Exit(1)
}

func (r *runner) Skipf(format string, args ...any) { r.Fatalf(format, args...) }

func (r *runner) Logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func (r *runner) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *runner) Failed() bool { return r.failed }

func (r *runner) stop() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

func main() {
	r := &runner{}
	start := time.Now()
	n := regtest.Start(r)
	fmt.Printf("regtest network up in %s: %s\n\n", time.Since(start).Round(time.Millisecond), n)
	fmt.Printf("Run the server against our node with:\n  LND_ADDRESS=%s LND_TLS_CERT_PATH=%s LND_MACAROON_PATH=%s LND_NETWORK=regtest make serve\n\n",
		n.Ours.RPC, n.Ours.TLSCertPath(), n.Ours.MacaroonPath())
	fmt.Printf("Drive the world node with:\n  %s/lncli --lnddir=%s --network=regtest --rpcserver=%s\n\nCtrl-C stops the network.\n",
		regtest.BinDir(), n.World.Dir, n.World.RPC)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	fmt.Println("stopping")
	r.stop()
}
