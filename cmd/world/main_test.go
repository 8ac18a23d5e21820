package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/regtest"
)

// worldRun is one run of the built command.
type worldRun struct {
	cmd    *exec.Cmd
	url    string
	pids   map[string]int
	stderr *lockedBuffer
	took   time.Duration
}

// TestWorldCommand: the built command, run from the repository's root,
// prints one "open" line once everything answers; its API answers; SIGINT
// stops it and every process it started (server, both lnd, btcd). A second
// run on the same folder restarts the kept network instead of making one:
// the user registered in the first run is still there, and the world node
// pays them over the restored channel.
func TestWorldCommand(t *testing.T) {
	if _, err := os.Stat(filepath.Join(regtest.BinDir(), "lnd")); err != nil {
		if os.Getenv("REQUIRE_LIGHTNING") == "1" {
			t.Fatalf("REQUIRE_LIGHTNING=1 but the regtest daemons are missing from %s", regtest.BinDir())
		}
		t.Skipf("regtest daemons not built in %s: the world is not started", regtest.BinDir())
	}
	bin := filepath.Join(t.TempDir(), "world")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := t.TempDir()

	first := startRun(t, bin, state)
	t.Logf("first run (a new network): open after %s", first.took.Round(time.Millisecond))
	var cfg struct {
		ServiceCode   string   `json:"serviceCode"`
		Phones        []string `json:"phones"`
		AddressDomain string   `json:"addressDomain"`
	}
	getJSON(t, first.url+"/api/config", &cfg)
	if cfg.ServiceCode != "*384*1234#" || len(cfg.Phones) != 2 || !strings.HasPrefix(cfg.AddressDomain, "127.0.0.1:") {
		t.Fatalf("config %+v", cfg)
	}
	phone := cfg.Phones[0]
	for _, in := range []string{"", "1", "7391", "7391"} {
		postJSON(t, first.url+"/api/ussd", map[string]string{"phone": phone, "input": in}, nil)
	}
	first.stop(t)

	second := startRun(t, bin, state)
	t.Logf("second run (the kept network): open after %s", second.took.Round(time.Millisecond))
	if strings.Contains(second.stderr.String(), "new Lightning network") {
		t.Fatalf("the second run made a new network:\n%s", second.stderr)
	}
	var ws struct {
		Operator struct {
			Users []struct {
				Phone, Status string
			}
		}
	}
	getJSON(t, second.url+"/api/world", &ws)
	if len(ws.Operator.Users) != 1 || ws.Operator.Users[0].Phone != phone || ws.Operator.Users[0].Status != "active" {
		t.Fatalf("users after the restart: %+v", ws.Operator.Users)
	}
	getJSON(t, second.url+"/api/config", &cfg)
	host := cfg.AddressDomain
	var paid struct{ Status string }
	postJSON(t, second.url+"/api/world/pay", map[string]any{"address": strings.TrimPrefix(phone, "+") + "@" + host, "sats": 1000}, &paid)
	if paid.Status != "SUCCEEDED" {
		t.Fatalf("paying over the restored channel: %+v", paid)
	}
	second.stop(t)
}

// startRun starts the command on state and waits for its "open" line.
func startRun(t *testing.T, bin, state string) *worldRun {
	t.Helper()
	cmd := exec.Command(bin, "-state", state, "-listen", "127.0.0.1:0", "-server-listen", "127.0.0.1:0",
		"-database-url", "sqlite:"+filepath.Join(state, "umeme.db"))
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "REGTEST_BIN="+regtest.BinDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &worldRun{cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stderr = r.stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A failed test still stops the world (SIGINT stops what it started).
		if cmd.ProcessState == nil {
			cmd.Process.Signal(os.Interrupt) //nolint:errcheck
			cmd.Wait()                       //nolint:errcheck
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "open http://127.0.0.1:") {
			t.Fatalf("first line %q, want the open line; stderr:\n%s", line, r.stderr)
		}
		r.url = strings.TrimPrefix(line, "open ")
	case <-time.After(4 * time.Minute):
		t.Fatalf("no open line after 4 minutes; stderr:\n%s", r.stderr)
	}
	r.took = time.Since(began)
	go func() {
		for line := range lines {
			t.Errorf("a second line on stdout: %q", line)
		}
	}()
	b, err := os.ReadFile(filepath.Join(state, "pids.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r.pids); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"world", "server", "btcd", "lnd-world", "lnd-ours"} {
		if pid := r.pids[name]; pid <= 1 || !alive(pid) {
			t.Fatalf("%s: PID %d not running (%v)", name, pid, r.pids)
		}
	}
	if r.pids["world"] != cmd.Process.Pid {
		t.Fatalf("pids.json names %d as the world, it is %d", r.pids["world"], cmd.Process.Pid)
	}
	return r
}

// stop sends SIGINT and checks that the command and everything it
// started are gone.
func (r *worldRun) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the world exited with %v; stderr:\n%s", err, r.stderr)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("the world still runs 90 s after SIGINT")
	}
	for name, pid := range r.pids {
		if alive(pid) {
			t.Errorf("%s (PID %d) still runs after the world stopped", name, pid)
		}
	}
}

// alive reports whether a process exists (a zombie not yet reaped by init
// counts as gone).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func postJSON(t *testing.T, u string, body, v any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(u, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", u, resp.StatusCode, out)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("POST %s: %v", u, err)
		}
	}
}

// lockedBuffer is the child's stderr: written by exec's copying goroutine
// while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
