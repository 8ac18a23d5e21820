// Package dbserver runs a private PostgreSQL 15 or MariaDB server for a
// test that must stop and start its database: the machine's shared servers
// serve other tests in parallel and are never restarted. Each server lives
// in a temporary folder of its own (data, unix socket, pid file, log),
// listens on a free loopback port, and runs as its engine's system user
// when the test runs as root (PostgreSQL refuses root). Stop ends it
// cleanly or with SIGKILL, Start starts it again on the same port and
// data, and the test's cleanup stops it by PID and removes the folder.
package dbserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/umeme-wallet/umeme/internal/dbadmin"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/fleet"
)

// The binaries, as Debian installs them.
const (
	pgBin          = "/usr/lib/postgresql/15/bin"
	mariadbInstall = "mariadb-install-db"
	mariadbServer  = "mariadbd"
)

// readyWithin bounds a start (crash recovery included) on a loaded machine.
const readyWithin = 2 * time.Minute

// Server is one private database server.
type Server struct {
	// Engine is "postgres" or "mysql" (MariaDB), as dbtest names them.
	Engine string
	// Port is the loopback TCP port, the same across restarts.
	Port int
	// Dir holds the data folder, the socket, the pid file and the log.
	Dir string

	t    testing.TB
	cred *syscall.Credential // nil when the test is not root
	args func() (string, []string)

	mu     sync.Mutex
	proc   *process
	frozen []int // the processes Freeze stopped
}

type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// ForEachEngine runs fn as a parallel subtest per engine ("postgres",
// "mysql"), each with a private server of its own.
func ForEachEngine(t *testing.T, fn func(t *testing.T, s *Server)) {
	t.Helper()
	for _, e := range []struct {
		name  string
		start func(testing.TB) *Server
	}{{"postgres", Postgres}, {"mysql", MariaDB}} {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, e.start(t))
		})
	}
}

// Database creates a database with a fresh name on the server and returns
// its URL (it goes with the server's folder at the end).
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, _, err := dbadmin.Create(ctx, s.Engine, s.URL(), dbadmin.RandomName("umeme_private"))
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// Postgres initialises and starts a private PostgreSQL 15, stopped and
// removed when the test ends. A machine without it fails the test when
// REQUIRE_ENGINES lists postgres, and skips it, saying so, otherwise.
func Postgres(t testing.TB) *Server {
	t.Helper()
	s := newServer(t, "postgres", filepath.Join(pgBin, "postgres"), "postgres")
	data := filepath.Join(s.Dir, "data")
	s.run(filepath.Join(pgBin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	s.args = func() (string, []string) {
		return filepath.Join(pgBin, "postgres"), []string{"-D", data, "-p", strconv.Itoa(s.Port), "-k", s.Dir,
			"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=100", "-c", "shared_buffers=16MB",
			// Only the process dies in these tests, never the machine: what
			// was written reaches the disk through the page cache anyway.
			"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "log_min_messages=warning"}
	}
	s.mustStart()
	return s
}

// MariaDB initialises and starts a private MariaDB whose root user has no
// password on 127.0.0.1, stopped and removed when the test ends. A machine
// without it fails the test when REQUIRE_ENGINES lists mysql, and skips it,
// saying so, otherwise.
func MariaDB(t testing.TB) *Server {
	t.Helper()
	install, err := exec.LookPath(mariadbInstall)
	if err != nil {
		missing(t, "mysql", mariadbInstall)
	}
	server, err := exec.LookPath(mariadbServer)
	if err != nil {
		missing(t, "mysql", mariadbServer)
	}
	s := newServer(t, "mysql", server, "mysql")
	data := filepath.Join(s.Dir, "data")
	// A temporary folder of its own too: two servers bootstrapping at once
	// in /tmp collide on their temporary tables' names.
	common := []string{"--datadir=" + data, "--tmpdir=" + s.Dir, "--user=" + s.osUser(), "--skip-name-resolve"}
	s.run(install, append([]string{"--no-defaults", "--auth-root-authentication-method=normal", "--skip-test-db"}, common...)...)
	s.args = func() (string, []string) {
		return server, append([]string{"--no-defaults"}, append(common,
			"--port="+strconv.Itoa(s.Port), "--bind-address=127.0.0.1",
			"--socket="+filepath.Join(s.Dir, "mysqld.sock"), "--pid-file="+filepath.Join(s.Dir, "mysqld.pid"),
			"--log-error="+filepath.Join(s.Dir, "error.log"), "--skip-log-bin", "--max-connections=200",
			"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
			// Written to the OS at every commit, flushed once a second:
			// nothing committed is lost when only the process dies.
			"--innodb-flush-log-at-trx-commit=2")...)
	}
	s.mustStart()
	return s
}

func missing(t testing.TB, engine, what string) {
	t.Helper()
	if dbtest.Required(engine) {
		t.Fatalf("dbserver: %s is required by REQUIRE_ENGINES but %s is not installed", engine, what)
	}
	t.Skipf("dbserver: %s is not installed: no private %s server", what, engine)
}

// newServer makes the folder, owned by the engine's user, and picks a port.
func newServer(t testing.TB, engine, binary, osUser string) *Server {
	t.Helper()
	if _, err := os.Stat(binary); err != nil {
		missing(t, engine, binary)
	}
	dir, err := os.MkdirTemp("", "umeme-"+engine+"-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Engine: engine, Dir: dir, t: t, Port: freePort(t)}
	t.Cleanup(s.cleanup)
	if os.Geteuid() == 0 {
		u, err := user.Lookup(osUser)
		if err != nil {
			t.Fatalf("dbserver: %s runs as the %s user: %v", engine, osUser, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// osUser is the user the server runs as.
func (s *Server) osUser() string {
	if s.cred == nil {
		u, err := user.Current()
		if err != nil {
			s.t.Fatal(err)
		}
		return u.Username
	}
	u, err := user.LookupId(strconv.Itoa(int(s.cred.Uid)))
	if err != nil {
		s.t.Fatal(err)
	}
	return u.Username
}

// freePort is the port of fleet.FreeAddr, the one way tests pick a free
// loopback address.
func freePort(t testing.TB) int {
	t.Helper()
	ap, err := netip.ParseAddrPort(fleet.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return int(ap.Port())
}

// sysProcAttr runs a command as the engine's user, in a process group of
// its own, killed if the test process dies first (PostgreSQL's backends
// then end as they do when their postmaster dies).
func (s *Server) sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: s.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// run runs a set-up command to its end.
func (s *Server) run(name string, args ...string) {
	s.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = s.sysProcAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("dbserver: %s: %v\n%s", filepath.Base(name), err, out)
	}
}

// URL is the server's URL as TEST_POSTGRES_URL / TEST_MYSQL_URL name one,
// for dbadmin.Create.
func (s *Server) URL() string {
	if s.Engine == "postgres" {
		return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
	}
	return fmt.Sprintf("mysql://root@127.0.0.1:%d/", s.Port)
}

func (s *Server) mustStart() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyWithin)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		s.t.Fatal(err)
	}
}

// Start starts the server on its port and data and returns once it
// accepts connections and answers a query.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.proc != nil {
		s.mu.Unlock()
		return errors.New("dbserver: already running")
	}
	name, args := s.args()
	logFile, err := os.OpenFile(filepath.Join(s.Dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = s.sysProcAttr()
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		logFile.Close()
		return fmt.Errorf("dbserver: start %s: %w", s.Engine, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait() //nolint:errcheck // the exit is what Stop waits for
		logFile.Close()
		close(p.exited)
	}()
	s.proc = p
	s.mu.Unlock()

	for {
		err := s.ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("dbserver: %s exited while starting (%v):\n%s", s.Engine, cmd.ProcessState, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("dbserver: %s not ready: %v (last: %v):\n%s", s.Engine, ctx.Err(), err, s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ping opens one connection and runs one query.
func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if s.Engine == "postgres" {
		conn, err := pgx.Connect(ctx, s.URL())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "SELECT 1")
		return err
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User = "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), "root"
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	_, err = db.ExecContext(ctx, "SELECT 1")
	return err
}

// Stop ends the server and waits for it to exit: cleanly (PostgreSQL's
// fast shutdown, SIGINT, which does not wait for clients to leave as
// SIGTERM's smart one would; SIGTERM for MariaDB), or, with kill, by
// SIGKILL to its whole process group, as a crash or an OOM kill would.
func (s *Server) Stop(kill bool) error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return errors.New("dbserver: not running")
	}
	pid := p.cmd.Process.Pid
	all := members(pid)
	defer waitGone(all)
	switch {
	case kill:
		// Every process of the server at once, as a crash or an OOM kill
		// of its container would.
		for _, member := range all {
			syscall.Kill(member, syscall.SIGKILL) //nolint:errcheck // it may be gone
		}
	case s.Engine == "postgres":
		p.cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck
	default:
		p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	}
	select {
	case <-p.exited:
	case <-time.After(readyWithin):
		for _, member := range members(pid) {
			syscall.Kill(member, syscall.SIGKILL) //nolint:errcheck
		}
		<-p.exited
		return fmt.Errorf("dbserver: %s did not stop within %s; killed", s.Engine, readyWithin)
	}
	return nil
}

// Freeze stops the server's processes (SIGSTOP to its group) without
// closing anything: connections stay open and new ones are still accepted
// by the kernel, but nothing answers, as when the database's host hangs or
// the network drops its packets. Thaw resumes it.
func (s *Server) Freeze() error { return s.signalAll(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() error { return s.signalAll(syscall.SIGCONT) }

func (s *Server) signalAll(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return errors.New("dbserver: not running")
	}
	var err error
	signal := func(pid int) {
		// A process may have ended since it was listed.
		if kerr := syscall.Kill(pid, sig); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			err = errors.Join(err, kerr)
		}
	}
	if sig == syscall.SIGCONT {
		for _, pid := range s.frozen {
			signal(pid)
		}
		s.frozen = nil
		return err
	}
	// The postmaster first, so that it forks no more; then its children,
	// again until a listing finds none not yet stopped (one may have been
	// forking while the previous listing was made).
	stopped := map[int]bool{}
	for {
		added := false
		for _, pid := range members(s.proc.cmd.Process.Pid) {
			if !stopped[pid] {
				stopped[pid], added = true, true
				s.frozen = append(s.frozen, pid)
				signal(pid)
			}
		}
		if !added {
			break
		}
	}
	// A stop signal takes effect a little after kill returns: wait until
	// every thread is stopped, so that nothing answers once Freeze has.
	for deadline := time.Now().Add(10 * time.Second); !allStopped(s.frozen) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return err
}

// allStopped reports whether every thread of the processes is stopped
// (or gone).
func allStopped(pids []int) bool {
	for _, pid := range pids {
		tasks, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
		for _, task := range tasks {
			stat := procStat(filepath.Join("/proc", strconv.Itoa(pid), "task", task.Name(), "stat"))
			if len(stat) > 0 && stat[0] != "T" && stat[0] != "t" && stat[0] != "Z" {
				return false
			}
		}
	}
	return true
}

// waitGone waits (10 s at most) until none of pids runs: a new server must
// not find the old one's processes still holding its shared memory.
func waitGone(pids []int) {
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for time.Now().Before(deadline) {
			stat := procStat(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
			if len(stat) == 0 || stat[0] == "Z" {
				break // gone; a zombie holds nothing
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// members are the server's process and its descendants, by PID: each of
// PostgreSQL's backends makes itself a session (and process group) leader,
// so a signal to the postmaster's group does not reach them.
func members(root int) []int {
	parents := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if fields := procStat(filepath.Join("/proc", e.Name(), "stat")); len(fields) > 1 {
			if ppid, err := strconv.Atoi(fields[1]); err == nil {
				parents[pid] = ppid
			}
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		for pid, ppid := range parents {
			if ppid == out[i] {
				out = append(out, pid)
			}
		}
	}
	return out
}

// Running reports whether the server process is up (not whether it is ready).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

func (s *Server) cleanup() {
	if s.Running() {
		s.Thaw() //nolint:errcheck // a frozen server would not stop
		if err := s.Stop(false); err != nil {
			s.t.Logf("dbserver: %v", err)
		}
	}
	if s.t.Failed() {
		s.t.Logf("dbserver: %s folder kept in %s:\n%s", s.Engine, s.Dir, s.logTail())
		return
	}
	os.RemoveAll(s.Dir)
}

// logTail is the end of the server's log, for errors.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, name := range []string{"server.log", "error.log"} {
		data, err := os.ReadFile(filepath.Join(s.Dir, name))
		if err != nil {
			continue
		}
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s", name, data)
	}
	return b.String()
}

// procStat returns the fields of a /proc stat file after the command's
// name (state, ppid, …), or nothing when the process is gone. The name,
// in parentheses, may hold spaces and parentheses itself.
func procStat(path string) []string {
	stat, err := os.ReadFile(path)
	i := strings.LastIndexByte(string(stat), ')')
	if err != nil || i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}
