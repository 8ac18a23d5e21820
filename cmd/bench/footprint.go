package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/fleet"
)

// footprintBench builds the server binary, reports its size, and on a
// fresh database of each engine runs `server serve` as its own process, as
// production starts it, and reads its resident memory from /proc: idle
// after start, then sampled while 32 gateway sessions drive the USSD
// endpoint with the journey mix of the ussd benchmark.
func footprintBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("footprint", flag.ContinueOnError)
	// No -cpuprofile: this process is only the gateway; the server is another.
	clients := fs.Int("clients", 32, "concurrent USSD sessions")
	duration := fs.Duration("duration", 20*time.Second, "how long the load runs")
	engines := fs.String("engines", "sqlite,postgres,mysql", "engines to measure")
	users := fs.Int("users", 500, "registered, funded users")
	idle := fs.Duration("idle", 10*time.Second, "how long the server sits idle after /readyz before its idle RSS is read")
	every := fs.Duration("sample", 200*time.Millisecond, "how often RSS is read under load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list, err := engineList(*engines)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "umeme-footprint")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "server")
	// As make build and the deployment guide build it: static, pure Go.
	// With cgo the binary maps libc and the dynamic loader besides, about
	// 3 MB more RSS at idle on SQLite (measured twice each way).
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/server")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the server (run from the repository's root): %v\n%s", err, out)
	}
	st, err := os.Stat(bin)
	if err != nil {
		return err
	}
	fmt.Printf("footprint: server binary %.1f MB (CGO_ENABLED=0 go build ./cmd/server)\n", float64(st.Size())/1e6)
	for _, engine := range list {
		if err := footprintOn(ctx, engine, bin, dir, *clients, *duration, *idle, *every, *users); err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
	}
	return nil
}

func footprintOn(ctx context.Context, engine, bin, dir string, clients int, duration, idle, every time.Duration, users int) error {
	dbURL, drop, err := benchDatabase(ctx, engine)
	if err != nil {
		return err
	}
	defer drop()
	addr, err := fleet.LoopbackAddr()
	if err != nil {
		return err
	}
	const token = "bench-gateway-token"
	// The production settings (APP_ENV unset is production), with the
	// per-phone limits off as benchServer has them: simulated sessions
	// type far faster than people.
	env := map[string]string{
		"APP_ENV": "", "DATABASE_URL": dbURL, "LISTEN_ADDR": addr, "USSD_CALLBACK_TOKEN": token,
		"PIN_PEPPER": "bench-pepper-not-a-secret", "USSD_HOPS_PER_MINUTE": "0", "USSD_PINS_PER_MINUTE": "0",
		"METRICS_ADDR": "", "LND_ADDRESS": "", "MPESA_BASE_URL": "", "AT_API_KEY": "", "LOG_FORMAT": "",
	}
	phones, err := seed(ctx, env, users)
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, engine+".log")
	// The file-backed part of the RSS depends on the state of the binary's
	// pages in the page cache, not only on the program: as the linker leaves
	// them (still dirty, in large folios) the server idles about 2 MB higher
	// than when they come from disk, and after something has read the file
	// whole (a cat, a backup) about 13 MB higher. The figure reported is the
	// cold start's, the binary's pages evicted first, as after a deploy or a
	// reboot, which repeats; the one as built, what this bench reported
	// before, is shown beside it.
	srv, err := startServe(ctx, bin, env, logPath+".built", "http://"+addr)
	if err != nil {
		return err
	}
	builtMem, err := idleRSS(ctx, srv, idle)
	if err := errors.Join(err, srv.stop()); err != nil {
		return err
	}
	if err := evictFromPageCache(bin); err != nil {
		return fmt.Errorf("evict the binary from the page cache: %w", err)
	}
	srv, err = startServe(ctx, bin, env, logPath, "http://"+addr)
	if err != nil {
		return err
	}
	defer srv.stop()
	idleMem, err := idleRSS(ctx, srv, idle)
	if err != nil {
		return err
	}

	// Sampled by one goroutine; read after it is done.
	var peak rss
	var sum int64
	var n int
	stopSampling, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				if m, err := readRSS(srv.pid()); err == nil {
					peak.maxOf(m)
					sum += m.total
					n++
				}
			}
		}
	}()
	res := driveUSSD(ctx, "http://"+addr+"/ussd?token="+url.QueryEscape(token), phones, clients, duration)
	close(stopSampling)
	<-sampled
	if n == 0 {
		return errors.New("no RSS sample under load")
	}
	fmt.Printf("footprint %s: idle RSS %s after %s from a cold start (%s with the binary as built); under load RSS peak %s, mean %.1f MB (%d samples every %s); %s\n",
		engine, idleMem, idle, builtMem, peak, float64(sum)/float64(n)/1e6, n, every, res)
	if err := res.err(); err != nil {
		return err
	}
	if err := srv.stop(); err != nil {
		return err
	}
	// The books after the load, checked by the binary's own command.
	if out, err := fleet.Command(bin, env, "reconcile").CombinedOutput(); err != nil {
		return fmt.Errorf("server reconcile after the benchmark: %v\n%s", err, out)
	}
	return nil
}

// seed migrates the database and registers and funds the users through the
// wallet the server opens, configured from the same environment (the PIN
// pepper must match), and closes it again before the server starts.
func seed(ctx context.Context, env map[string]string, users int) ([]string, error) {
	cfg, err := config.FromEnv(func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	})
	if err != nil {
		return nil, err
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	phones, err := fundUsers(ctx, a.Wallet, users)
	return phones, errors.Join(err, a.Close(ctx))
}

// idleRSS waits idle and reads the server's RSS.
func idleRSS(ctx context.Context, srv *served, idle time.Duration) (rss, error) {
	select {
	case <-time.After(idle):
	case <-ctx.Done():
		return rss{}, ctx.Err()
	case <-srv.exited:
		return rss{}, fmt.Errorf("the server stopped while idle; its log:\n%s", fleet.Tail(srv.log, 30))
	}
	return readRSS(srv.pid())
}

// served is one `server serve` process.
type served struct {
	cmd    *exec.Cmd
	log    string
	exited <-chan struct{}
}

func (s *served) pid() int { return s.cmd.Process.Pid }

// startServe starts the binary's serve command with env over this
// process's environment and waits until its /readyz answers 200.
func startServe(ctx context.Context, bin string, env map[string]string, logPath, base string) (*served, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := fleet.Command(bin, env, "serve")
	exited, err := fleet.Start(cmd, logf, nil)
	if err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	s := &served{cmd: cmd, log: logPath, exited: exited}
	if err := fleet.WaitReady(ctx, base+"/readyz", exited); err != nil {
		s.stop() //nolint:errcheck // the error says why
		return nil, fmt.Errorf("server %w; its log:\n%s", err, fleet.Tail(logPath, 30))
	}
	return s, nil
}

// stop sends SIGTERM to the server's PID and waits for it to exit (SIGKILL
// after 15 s). A clean exit is nil; stopping it again is a no-op.
func (s *served) stop() error {
	select {
	case <-s.exited:
	default:
		s.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited already
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill() //nolint:errcheck
			<-s.exited
			return fmt.Errorf("the server did not stop within 15 s of SIGTERM; its log %s", s.log)
		}
	}
	if !s.cmd.ProcessState.Success() {
		return fmt.Errorf("the server exited with %s; its log:\n%s", s.cmd.ProcessState, fleet.Tail(s.log, 30))
	}
	return nil
}

// rss is a process's resident memory as /proc/PID/status gives it, in
// bytes: all of it (VmRSS), its private memory (RssAnon: the Go heap,
// stacks, SQLite's caches) and the pages of files it maps (RssFile: mostly
// the binary's code and read-only data, shared with the page cache).
type rss struct{ total, anon, file int64 }

func (m rss) String() string {
	return fmt.Sprintf("%.1f MB (anon %.1f, file %.1f)", float64(m.total)/1e6, float64(m.anon)/1e6, float64(m.file)/1e6)
}

// maxOf keeps the sample with the largest total.
func (m *rss) maxOf(o rss) {
	if o.total > m.total {
		*m = o
	}
}

func readRSS(pid int) (rss, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return rss{}, err
	}
	defer f.Close()
	var m rss
	fields := map[string]*int64{"VmRSS:": &m.total, "RssAnon:": &m.anon, "RssFile:": &m.file}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[2] == "kB" && fields[f[0]] != nil {
			dst := fields[f[0]]
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return rss{}, err
			}
			*dst = kb * 1024
		}
	}
	if m.total == 0 {
		return rss{}, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, sc.Err()
}
