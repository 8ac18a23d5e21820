// Package regtest runs a local bitcoin regtest network for tests: one btcd
// and two lnd nodes, "ours" (the wallet's) and "world" (everyone else), with
// a funded channel from world to ours and part of it pushed to our side, so
// payments go both ways. Daemons listen on loopback ports only, live in a
// temporary folder and are stopped by PID (lnd before btcd) at cleanup.
//
// The binaries come from scripts/regtest/build.sh (REGTEST_BIN or
// .cache/regtest/bin). Without them the tests skip, unless
// REQUIRE_LIGHTNING=1: then they fail.
package regtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/umeme-wallet/umeme/internal/fleet"
)

// T is what the network needs of its caller: a test (T) or the
// regtest command.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// Network is a running regtest network.
type Network struct {
	Dir   string
	bin   string
	btcd  *proc
	rpc   string // btcd RPC address
	World *LND
	Ours  *LND
	t     T
	// miningAddr is the world's address btcd mines to; keep leaves Dir
	// in place at the end (StartIn).
	miningAddr string
	keep       bool
	// saveBlocks is set once a kept network is whole: its chain is saved
	// at the end (chain.go).
	saveBlocks bool

	mu      sync.Mutex
	running []*proc // every daemon started, stopped or not
	stopped bool
	// rpcClient speaks to btcd's JSON-RPC (chain.go).
	rpcClient *http.Client
}

// LND is one lnd node of the network.
type LND struct {
	Name string
	Dir  string
	RPC  string // gRPC address
	P2P  string
	REST string
	net  *Network
	proc *proc
}

// proc is a running daemon.
type proc struct {
	cmd    *exec.Cmd
	log    string // its stdout and stderr
	exited chan struct{}
	lnd    bool
}

// TLSCertPath and MacaroonPath locate what a client needs to connect.
func (l *LND) TLSCertPath() string { return filepath.Join(l.Dir, "tls.cert") }

// MacaroonPath is the node's admin macaroon.
func (l *LND) MacaroonPath() string {
	return filepath.Join(l.Dir, "data", "chain", "bitcoin", "regtest", "admin.macaroon")
}

// BinDir is where the daemons are.
func BinDir() string {
	if d := os.Getenv("REGTEST_BIN"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", ".cache", "regtest", "bin")
}

// Start brings a network up (about 15 s) and registers its teardown.
func Start(t T) *Network {
	t.Helper()
	bin := binDir(t)
	dir, err := os.MkdirTemp("", "umeme-regtest-")
	if err != nil {
		t.Fatalf("regtest: %v", err)
	}
	n := &Network{Dir: dir, bin: bin, rpc: freeAddr(t), t: t}
	t.Cleanup(n.stop)
	n.create()
	return n
}

// binDir is where the daemons are, or why the network cannot start: a skip,
// or a failure under REQUIRE_LIGHTNING=1.
func binDir(t T) string {
	t.Helper()
	bin := BinDir()
	if _, err := os.Stat(filepath.Join(bin, "lnd")); err != nil {
		if os.Getenv("REQUIRE_LIGHTNING") == "1" {
			t.Fatalf("REQUIRE_LIGHTNING=1 but the regtest daemons are missing from %s (run scripts/regtest/build.sh)", bin)
		}
		t.Skipf("regtest daemons not built in %s (scripts/regtest/build.sh): the Lightning tests are not run", bin)
	}
	return bin
}

// create builds a new network in n.Dir: the daemons, a chain past segwit's
// activation, and the funded channel.
func (n *Network) create() {
	t := n.t
	t.Helper()
	// btcd needs a mining address at start and has no generatetoaddress:
	// start it with a burn address, let world make an address, then
	// restart btcd paying world. The nodes are stopped across btcd's
	// restart: a node still starting when its chain backend went away
	// once lost a call in the reconnection ("Received unexpected reply:
	// null") and waited for the chain's sync for good (CI, under load).
	n.startBTCD("mfWxJ45yp2SFn7UciZyNpvDKrzbhyfKrY8")
	n.World = n.startLND("world")
	n.Ours = n.startLND("ours")
	var addr struct{ Address string }
	n.World.CLIJSON(&addr, "newaddress", "p2wkh")
	n.miningAddr = addr.Address
	n.World.Stop()
	n.Ours.Stop()
	n.stopBTCD()
	n.startBTCD(addr.Address)
	n.World.start()
	n.Ours.start()
	// btcd's regtest activates segwit only at block 432; channels opened
	// before it stay pending forever.
	n.Mine(500)
	n.World.waitSynced(500)
	n.Ours.waitSynced(500)

	var info struct {
		IdentityPubkey string `json:"identity_pubkey"`
	}
	n.Ours.CLIJSON(&info, "getinfo")
	// getinfo answers before lnd's server has fully started: retry.
	n.waitFor("world connected to ours", func() bool {
		out, err := n.World.cli("connect", info.IdentityPubkey+"@"+n.Ours.P2P)
		return err == nil || bytes.Contains(out, []byte("already connected"))
	})
	n.waitFor("channel opening", func() bool {
		_, err := n.World.cli("openchannel", "--node_key", info.IdentityPubkey, "--local_amt", "10000000", "--push_amt", "4000000")
		return err == nil
	})
	n.Mine(6)
	n.waitActive(n.World)
	n.waitActive(n.Ours)
}

// freeAddr picks a free loopback port.
func freeAddr(t T) string {
	t.Helper()
	addr, err := fleet.LoopbackAddr()
	if err != nil {
		t.Fatalf("regtest: %v", err)
	}
	return addr
}

func (n *Network) startBTCD(miningAddr string) {
	n.t.Helper()
	d := filepath.Join(n.Dir, "btcd")
	cmd := exec.Command(filepath.Join(n.bin, "btcd"), "--regtest", "--datadir="+filepath.Join(d, "data"), "--logdir="+filepath.Join(d, "log"),
		"--configfile="+filepath.Join(d, "btcd.conf"), "--rpccert="+filepath.Join(d, "rpc.cert"), "--rpckey="+filepath.Join(d, "rpc.key"),
		"--rpcuser=umeme", "--rpcpass=umeme", "--rpclisten="+n.rpc, "--listen="+freeAddr(n.t), "--txindex", "--miningaddr="+miningAddr)
	n.btcd = n.spawn(cmd, filepath.Join(n.Dir, "btcd.out"))
	if !n.waitUp("btcd", n.btcd, func() bool { _, err := n.btcctl("getblockcount"); return err == nil }) {
		n.t.Fatalf("regtest: btcd exited while starting; the end of its log:\n%s", fleet.Tail(n.btcd.log, 40))
	}
}

func (n *Network) stopBTCD() {
	n.btcd.stop()
	n.btcd = nil
}

func (n *Network) btcctl(args ...string) ([]byte, error) {
	d := filepath.Join(n.Dir, "btcd")
	base := []string{"--regtest", "--configfile=" + filepath.Join(d, "btcctl.conf"), "--rpccert=" + filepath.Join(d, "rpc.cert"),
		"--rpcuser=umeme", "--rpcpass=umeme", "--rpcserver=" + n.rpc}
	return exec.Command(filepath.Join(n.bin, "btcctl"), append(base, args...)...).CombinedOutput()
}

// Mine generates blocks.
func (n *Network) Mine(blocks int) {
	n.t.Helper()
	if out, err := n.btcctl("generate", strconv.Itoa(blocks)); err != nil {
		n.t.Fatalf("mine %d: %v\n%s", blocks, err, out)
	}
}

// startLND starts a new node on ports of its own. A node that exits while
// starting (a port another process took between the pick and lnd's listen)
// is started again on other ports, twice at most.
func (n *Network) startLND(name string) *LND {
	n.t.Helper()
	for attempt := 1; ; attempt++ {
		l := &LND{Name: name, Dir: filepath.Join(n.Dir, name), RPC: freeAddr(n.t), P2P: freeAddr(n.t), REST: freeAddr(n.t), net: n}
		if l.tryStart() {
			return l
		}
		tail := fleet.Tail(l.proc.log, 40)
		if attempt == 3 {
			n.t.Fatalf("regtest: lnd %s exited while starting, %d times; the end of its last log:\n%s", name, attempt, tail)
		}
		n.t.Logf("regtest: lnd %s exited while starting; again on other ports. The end of its log:\n%s", name, tail)
	}
}

// start starts the node on its ports and waits until it answers.
func (l *LND) start() {
	l.net.t.Helper()
	if !l.tryStart() {
		l.net.t.Fatalf("regtest: lnd %s exited while starting; the end of its log:\n%s", l.Name, fleet.Tail(l.proc.log, 40))
	}
}

// tryStart starts the node and waits until it answers: false if it exited
// first.
func (l *LND) tryStart() bool {
	n := l.net
	n.t.Helper()
	d := filepath.Join(n.Dir, "btcd")
	cmd := exec.Command(filepath.Join(n.bin, "lnd"), "--lnddir="+l.Dir, "--noseedbackup", "--bitcoin.regtest", "--bitcoin.node=btcd",
		"--btcd.rpchost="+n.rpc, "--btcd.rpcuser=umeme", "--btcd.rpcpass=umeme", "--btcd.rpccert="+filepath.Join(d, "rpc.cert"),
		"--rpclisten="+l.RPC, "--listen="+l.P2P, "--restlisten="+l.REST, "--debuglevel=info", "--trickledelay=50",
		"--bitcoin.defaultchanconfs=1")
	l.proc = n.spawn(cmd, filepath.Join(n.Dir, l.Name+".out"))
	return n.waitUp(l.Name, l.proc, func() bool { _, err := l.cli("getinfo"); return err == nil })
}

// Stop stops the node (it can Start again).
func (l *LND) Stop() {
	l.proc.stop()
	l.proc = nil
}

// Kill stops the node with SIGKILL, as a crash would.
func (l *LND) Kill() {
	l.proc.cmd.Process.Kill() //nolint:errcheck
	<-l.proc.exited
	l.proc = nil
}

// Restart stops and starts the node, waiting until it answers again.
func (l *LND) Restart() {
	l.Stop()
	l.start()
}

func (l *LND) cli(args ...string) ([]byte, error) {
	base := []string{"--lnddir=" + l.Dir, "--network=regtest", "--rpcserver=" + l.RPC}
	return exec.Command(filepath.Join(l.net.bin, "lncli"), append(base, args...)...).CombinedOutput()
}

// CLI runs lncli against the node and fails the test on error.
func (l *LND) CLI(args ...string) []byte {
	l.net.t.Helper()
	out, err := l.cli(args...)
	if err != nil {
		l.net.t.Fatalf("lncli %s %s: %v\n%s", l.Name, strings.Join(args, " "), err, out)
	}
	return out
}

// TryCLI runs lncli and returns its error instead of failing the test.
func (l *LND) TryCLI(args ...string) ([]byte, error) { return l.cli(args...) }

// CLIJSON runs lncli and decodes its JSON answer into v.
func (l *LND) CLIJSON(v any, args ...string) {
	l.net.t.Helper()
	out := l.CLI(args...)
	if err := json.Unmarshal(bytes.TrimSpace(out), v); err != nil {
		l.net.t.Fatalf("lncli %s %s: %v\n%s", l.Name, strings.Join(args, " "), err, out)
	}
}

func (l *LND) waitSynced(height int) {
	l.net.waitFor(l.Name+" synced", func() bool {
		var info struct {
			Synced bool   `json:"synced_to_chain"`
			Height uint32 `json:"block_height"`
		}
		out, err := l.cli("getinfo")
		return err == nil && json.Unmarshal(out, &info) == nil && info.Synced && int(info.Height) >= height
	})
}

func (n *Network) waitActive(l *LND) {
	n.waitFor(l.Name+" channel active", func() bool {
		out, err := l.cli("listchannels", "--active_only")
		return err == nil && bytes.Contains(out, []byte(`"active": true`))
	})
	// An active channel is routable a moment later: wait for a route.
	if l == n.World {
		n.WaitRoutable()
	}
}

// WaitRoutable waits until each node has a route to the other for a small
// payment: a channel that is active may not carry one yet (right after
// the network starts or a node restarts).
func (n *Network) WaitRoutable() {
	n.t.Helper()
	pubkey := func(l *LND) string {
		var info struct {
			IdentityPubkey string `json:"identity_pubkey"`
		}
		l.CLIJSON(&info, "getinfo")
		return info.IdentityPubkey
	}
	ours, world := pubkey(n.Ours), pubkey(n.World)
	n.waitFor("routes between ours and world", func() bool {
		_, err1 := n.World.cli("queryroutes", "--dest", ours, "--amt", "1000")
		_, err2 := n.Ours.cli("queryroutes", "--dest", world, "--amt", "1000")
		return err1 == nil && err2 == nil
	})
}

// readyWithin bounds each wait for a daemon to be ready.
const readyWithin = 2 * time.Minute

// waitFor waits until ok, and fails the test after readyWithin with the
// end of every daemon's log (the folder is gone with the machine in CI).
func (n *Network) waitFor(what string, ok func() bool) {
	n.t.Helper()
	n.waitUp(what, nil, ok) // with no daemon to watch, it returns once ok
}

// waitUp waits until ok, or until the daemon p (when not nil) exits: then
// it is false.
func (n *Network) waitUp(what string, p *proc, ok func() bool) bool {
	n.t.Helper()
	// Generous: under CI's load (race-built test binaries compiling and
	// running beside the daemons) a fresh lnd once took over 60 s to sync.
	deadline := time.Now().Add(readyWithin)
	var exited <-chan struct{}
	if p != nil {
		exited = p.exited
	}
	for !ok() {
		if time.Now().After(deadline) {
			n.t.Fatalf("regtest: %s not ready after %s (logs in %s)%s", what, readyWithin, n.Dir, n.logTails())
		}
		select {
		case <-exited:
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
	return true
}

// logTails is the end of each daemon's log, for a failure.
func (n *Network) logTails() string {
	n.mu.Lock()
	procs := append([]*proc(nil), n.running...)
	n.mu.Unlock()
	var b strings.Builder
	for _, p := range procs {
		state := "running"
		select {
		case <-p.exited:
			state = "exited: " + p.cmd.ProcessState.String()
		default:
		}
		fmt.Fprintf(&b, "\n--- %s (%s), the end of its log:\n%s", filepath.Base(p.log), state, fleet.Tail(p.log, 25))
	}
	return b.String()
}

func (n *Network) spawn(cmd *exec.Cmd, logPath string) *proc {
	n.t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		n.t.Fatalf("regtest: %v", err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start %s: %v", cmd.Path, err)
	}
	p := &proc{cmd: cmd, log: logPath, exited: make(chan struct{}), lnd: filepath.Base(cmd.Path) == "lnd"}
	go func() {
		cmd.Wait() //nolint:errcheck
		f.Close()
		close(p.exited)
	}()
	if n.keep {
		n.recordPID(cmd.Process.Pid)
	}
	n.mu.Lock()
	stopped := n.stopped
	if !stopped {
		n.running = append(n.running, p)
	}
	n.mu.Unlock()
	if stopped {
		// The network was stopped (a command's Ctrl-C) while this daemon
		// was starting: it must not outlive the network.
		p.stop()
		n.t.Fatalf("regtest: stopped while starting %s", filepath.Base(cmd.Path))
	}
	return p
}

// stop ends a daemon by PID: SIGTERM, then SIGKILL after 15 s.
func (p *proc) stop() {
	if p == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill() //nolint:errcheck
		<-p.exited
	}
}

// stop stops every daemon the network started, even one still starting
// (a command may stop the network from another goroutine), lnd first:
// it must not lose its chain backend mid-shutdown.
func (n *Network) stop() {
	n.mu.Lock()
	n.stopped = true
	procs := n.running
	n.mu.Unlock()
	var lnds sync.WaitGroup
	for _, p := range procs {
		if p.lnd {
			lnds.Go(p.stop)
		}
	}
	lnds.Wait()
	if n.keep && n.saveBlocks {
		if err := n.saveChain(); err != nil {
			n.t.Logf("regtest: the chain is not saved, the next run makes a new network: %v", err)
		}
	}
	for _, p := range procs {
		if !p.lnd {
			p.stop()
		}
	}
	if n.keep {
		os.Remove(filepath.Join(n.Dir, pidsFile))
		return
	}
	if n.t.Failed() {
		n.t.Logf("regtest logs kept in %s", n.Dir)
		return
	}
	os.RemoveAll(n.Dir)
}

// String describes the network for logs.
func (n *Network) String() string {
	return fmt.Sprintf("regtest in %s (btcd %s, world %s, ours %s)", n.Dir, n.rpc, n.World.RPC, n.Ours.RPC)
}
