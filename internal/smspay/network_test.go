package smspay_test

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/regtest"
)

// The package's Lightning tests share one regtest network, as
// internal/lightning's do: starting one takes seconds, and each test still
// owns its database, users and invoices. The network starts with the first
// test that asks for it and stops when every test has run. The tests that
// use it do not run in parallel.
var shared struct {
	once sync.Once
	net  *regtest.Network
	t    currentT
}

// network returns the shared regtest network, starting it on first use.
// Its failures (a command of lncli that fails, say) fail the calling test.
func network(t *testing.T) *regtest.Network {
	t.Helper()
	shared.t.use(t)
	t.Cleanup(func() { shared.t.done(t) })
	shared.once.Do(func() {
		started := time.Now()
		shared.net = regtest.Start(&shared.t)
		t.Logf("regtest network up in %s", time.Since(started).Round(time.Millisecond))
	})
	if shared.net == nil {
		if reason := shared.t.skipped(); reason != "" {
			t.Skip(reason)
		}
		t.Fatal("the regtest network failed to start in an earlier test")
	}
	return shared.net
}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.t.stop()
	os.Exit(code)
}

// currentT is a regtest.T that passes failures to the test using the
// network now and keeps the network's teardown for the end of the run.
type currentT struct {
	mu       sync.Mutex
	cur      *testing.T
	cleanups []func()
	failed   bool
	skip     string
}

func (c *currentT) use(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur = t
}

func (c *currentT) done(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed = c.failed || t.Failed()
	if c.cur == t {
		c.cur = nil
	}
}

func (c *currentT) test() *testing.T {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		panic("regtest network used outside a test")
	}
	return c.cur
}

func (c *currentT) skipped() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.skip
}

// Helper implements regtest.T.
func (c *currentT) Helper() {}

// Fatalf implements regtest.T.
func (c *currentT) Fatalf(format string, args ...any) {
	t := c.test()
	t.Helper()
	t.Fatalf(format, args...)
}

// Skipf implements regtest.T.
func (c *currentT) Skipf(format string, args ...any) {
	c.mu.Lock()
	c.skip = fmt.Sprintf(format, args...)
	c.mu.Unlock()
	t := c.test()
	t.Helper()
	t.Skipf(format, args...)
}

// Logf implements regtest.T.
func (c *currentT) Logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		c.cur.Logf(format, args...)
		return
	}
	fmt.Printf(format+"\n", args...)
}

// Cleanup implements regtest.T: the teardown waits for the end of the run.
func (c *currentT) Cleanup(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cleanups = append(c.cleanups, f)
}

// Failed implements regtest.T: whether any test that used the network
// failed (its logs are then kept).
func (c *currentT) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

func (c *currentT) stop() {
	c.mu.Lock()
	fs := c.cleanups
	c.cleanups = nil
	c.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
