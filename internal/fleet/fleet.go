// Package fleet runs the server binary as real processes for tests: it
// builds `cmd/server` once per test, starts N `server serve` processes on
// one database, each on a loopback port chosen once (so that a simulator's
// callbacks keep reaching a server that was killed and started again),
// waits for their /readyz, kills them with SIGKILL and starts them again
// by PID, and stops every one at cleanup. Its Gateway speaks Africa's
// Talking's USSD callback and sends the hops of one session to the servers
// in turn; its Proxy is a round-robin reverse proxy for the callbacks of
// the other simulators.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build builds the server binary (cmd/server) into dir and returns its
// path. The Go build cache makes a second build of the same sources a
// link only.
func Build(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "server")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/server")
	cmd.Dir = moduleRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the server: %v\n%s", err, out)
	}
	return bin
}

// moduleRoot is the repository's root, found from this file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Command is the binary run with args, its environment this process's
// with env over it: an empty value removes the variable.
func Command(bin string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !has(env, k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	return cmd
}

func has(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// FreeAddr picks a free loopback port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := LoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// LoopbackAddr picks a free loopback port, for a caller without a test.
//
// The port comes from below the kernel's ephemeral range when it can: a
// port of that range (what "127.0.0.1:0" gives) is also the local port of
// any outgoing connection any process opens, so between the pick and a
// daemon's listen one of the many database connections the tests open can
// take it, and the daemon fails to start. Ports below the range are only
// taken by listeners, and each pick is checked by listening on it.
func LoopbackAddr() (string, error) {
	if lo := ephemeralLow(); lo-portFloor >= 1000 {
		for range 50 {
			p := portFloor + rand.IntN(lo-portFloor)
			if !claimPort(p) {
				continue
			}
			addr := fmt.Sprintf("127.0.0.1:%d", p)
			if l, err := net.Listen("tcp", addr); err == nil {
				l.Close()
				return addr, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// portFloor is the lowest port LoopbackAddr picks: above the well-known
// services' ports.
const portFloor = 10000

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // ports this process has handed out
)

// claimPort is false for a port this process has handed out already (its
// daemon may not be listening yet).
func claimPort(p int) bool {
	portsMu.Lock()
	defer portsMu.Unlock()
	if ports[p] {
		return false
	}
	ports[p] = true
	return true
}

// ephemeralLow is the first port of the kernel's ephemeral range (0 when
// it cannot be read), read once per process.
var ephemeralLow = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return lo
})

// Start starts cmd with its output in logf, in a process group of its own,
// and returns a channel closed once it has exited: then logf is closed and
// onExit (if any) has run. On an error logf is closed.
func Start(cmd *exec.Cmd, logf *os.File, onExit func()) (<-chan struct{}, error) {
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // the exit is in ProcessState
		logf.Close()
		if onExit != nil {
			onExit()
		}
		close(exited)
	}()
	return exited, nil
}

// WaitReady polls url until it answers 200, and fails when the process
// exits first (exited closes), ctx ends, or ReadyTimeout passes.
func WaitReady(ctx context.Context, url string, exited <-chan struct{}) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(ReadyTimeout)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", ReadyTimeout)
		}
		select {
		case <-exited:
			return errors.New("stopped while starting")
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReadyTimeout bounds a server's start, up to its /readyz answering 200
// (its database and its Lightning node answer).
const ReadyTimeout = 90 * time.Second

// Fleet is N server processes of one binary on one database.
type Fleet struct {
	t   testing.TB
	bin string
	env map[string]string
	// perServer adds to a server's environment (nil: nothing).
	perServer func(i int, addr string) map[string]string
	servers   []*Server
}

// Server is one `server serve` process, started again on the same address
// after a kill.
type Server struct {
	Index int
	Addr  string // host:port, the same across starts
	URL   string // http://Addr
	Log   string // its stdout and stderr, appended across starts

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited <-chan struct{}
	starts int
	kills  int
}

// New makes a fleet of n servers with their addresses chosen; none is
// started yet, so that env can name them (a callback URL). Each server's
// environment is env with LISTEN_ADDR set to its address; perServer, when
// not nil, adds to it. Every process still running is stopped at cleanup:
// SIGTERM, then SIGKILL after 15 s.
func New(t testing.TB, bin string, n int, env map[string]string, perServer func(i int, addr string) map[string]string) *Fleet {
	t.Helper()
	f := &Fleet{t: t, bin: bin}
	dir := t.TempDir()
	for i := range n {
		addr := FreeAddr(t)
		s := &Server{Index: i, Addr: addr, URL: "http://" + addr, Log: filepath.Join(dir, fmt.Sprintf("server%d.log", i))}
		f.servers = append(f.servers, s)
	}
	f.env, f.perServer = map[string]string{}, perServer
	for k, v := range env {
		f.env[k] = v
	}
	t.Cleanup(f.stopAll)
	return f
}

// Setenv sets one variable of every server's environment from its next
// start on (an empty value removes it).
func (f *Fleet) Setenv(k, v string) { f.env[k] = v }

// Servers are the fleet's servers, in order.
func (f *Fleet) Servers() []*Server { return f.servers }

// URLs are the servers' root URLs, in order.
func (f *Fleet) URLs() []string {
	out := make([]string, len(f.servers))
	for i, s := range f.servers {
		out[i] = s.URL
	}
	return out
}

// StartAll starts the first server and waits until it is ready (it
// migrates the database), then the others together.
func (f *Fleet) StartAll() {
	f.t.Helper()
	if err := f.Start(0); err != nil {
		f.t.Fatal(err)
	}
	errs := make([]error, len(f.servers))
	var wg sync.WaitGroup
	for i := 1; i < len(f.servers); i++ {
		wg.Go(func() { errs[i] = f.Start(i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.t.Fatal(err)
	}
}

// Start starts server i (which must not be running) and waits until its
// /readyz answers 200.
func (f *Fleet) Start(i int) error {
	s := f.servers[i]
	env := map[string]string{}
	for k, v := range f.env {
		env[k] = v
	}
	env["LISTEN_ADDR"] = s.Addr
	if f.perServer != nil {
		for k, v := range f.perServer(i, s.Addr) {
			env[k] = v
		}
	}
	logf, err := os.OpenFile(s.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := Command(f.bin, env, "serve")
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		logf.Close()
		return fmt.Errorf("server %d is already running", i)
	}
	fmt.Fprintf(logf, "--- fleet: start %d at %s\n", s.starts+1, time.Now().UTC().Format(time.RFC3339Nano))
	// onExit takes the lock, so it runs after s.cmd is set below.
	exited, err := Start(cmd, logf, func() {
		s.mu.Lock()
		if s.cmd == cmd {
			s.cmd = nil
		}
		s.mu.Unlock()
	})
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("start server %d: %w", i, err)
	}
	s.cmd, s.exited = cmd, exited
	s.starts++
	s.mu.Unlock()
	return f.waitReady(s, exited)
}

// waitReady waits until the server's /readyz answers 200, or it exits.
func (f *Fleet) waitReady(s *Server, exited <-chan struct{}) error {
	if err := WaitReady(context.Background(), s.URL+"/readyz", exited); err != nil {
		return fmt.Errorf("server %d %w; its log %s:\n%s", s.Index, err, s.Log, Tail(s.Log, 30))
	}
	return nil
}

// Kill sends SIGKILL to server i's process (by its PID) and waits until
// it is gone. A server not running is left alone.
func (f *Fleet) Kill(i int) {
	s := f.servers[i]
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	if cmd != nil {
		s.kills++
	}
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have exited already
	<-exited
}

// Restart kills server i and starts it again on the same address.
func (f *Fleet) Restart(i int) error {
	f.Kill(i)
	return f.Start(i)
}

// Running reports whether server i's process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Starts and Kills count the server's starts and SIGKILLs.
func (s *Server) Starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts
}

// Kills counts the SIGKILLs sent to the server.
func (s *Server) Kills() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kills
}

// stopAll stops every running server: SIGTERM, then SIGKILL after 15 s.
func (f *Fleet) stopAll() {
	var wg sync.WaitGroup
	for _, s := range f.servers {
		s.mu.Lock()
		cmd, exited := s.cmd, s.exited
		s.mu.Unlock()
		if cmd == nil {
			continue
		}
		wg.Go(func() {
			cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck
				<-exited
			}
		})
	}
	wg.Wait()
	if f.t.Failed() {
		for _, s := range f.servers {
			f.t.Logf("server %d's log (%s), last lines:\n%s", s.Index, s.Log, Tail(s.Log, 40))
		}
	}
}

// Run runs the binary once (a command other than serve) with the fleet's
// environment and returns its combined output and exit code.
func (f *Fleet) Run(args ...string) (string, int, error) {
	cmd := Command(f.bin, f.env, args...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode(), nil
	}
	if err != nil {
		return string(out), -1, err
	}
	return string(out), 0, nil
}

// Tail is the last n lines of a file (a server's log, for an error).
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return TailLines(string(b), n)
}

// TailLines is the last n lines of a log held in memory.
func TailLines(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
