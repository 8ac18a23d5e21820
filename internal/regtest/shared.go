package regtest

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// One network for a whole test package: starting one takes seconds, and
// each test still owns its database, users and invoices. The network
// starts with the first test that asks for it (Shared) and stops when
// every test has run (RunShared, from the package's TestMain). The tests
// that use it do not run in parallel.
var shared struct {
	once sync.Once
	net  *Network
	t    currentT
}

// Shared returns the package's shared network, starting it on first use.
// Its failures (a command of lncli that fails, say) fail the calling test.
func Shared(t *testing.T) *Network {
	t.Helper()
	shared.t.use(t)
	t.Cleanup(func() { shared.t.done(t) })
	shared.once.Do(func() {
		started := time.Now()
		shared.net = Start(&shared.t)
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

// AtSharedEnd runs f when the package's tests have all run, with the
// shared network's teardown.
func AtSharedEnd(f func()) { shared.t.Cleanup(f) }

// RunShared runs a package's tests and then stops its shared network: a
// TestMain is os.Exit(regtest.RunShared(m)).
func RunShared(m *testing.M) int {
	code := m.Run()
	shared.t.stop()
	return code
}

// currentT is a T that passes failures to the test using the
// network and keeps the network's teardown for the end of the run.
//
// Parallel tests may share the network, so a failure goes to the test
// whose goroutine calls: Fatalf must stop the goroutine of the test it
// fails (testing panics the whole package binary otherwise, "test
// executed panic(nil) or runtime.Goexit"). A test's goroutine is known
// from its call to Shared.
type currentT struct {
	mu       sync.Mutex
	cur      *testing.T
	byG      map[uint64]*testing.T
	cleanups []func()
	failed   bool
	skip     string
}

func (c *currentT) use(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur = t
	if c.byG == nil {
		c.byG = map[uint64]*testing.T{}
	}
	c.byG[goid()] = t
}

func (c *currentT) done(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed = c.failed || t.Failed()
	if c.cur == t {
		c.cur = nil
	}
	for g, u := range c.byG {
		if u == t {
			delete(c.byG, g)
		}
	}
}

// test is the test running on the calling goroutine, or else (a
// goroutine a test started) the test that used the network last.
func (c *currentT) test() *testing.T {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.byG[goid()]; ok {
		return t
	}
	if c.cur == nil {
		panic("regtest network used outside a test")
	}
	return c.cur
}

// goid is the calling goroutine's number, from its stack's first line
// ("goroutine 18 [running]:").
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		panic("regtest: cannot read the goroutine's number: " + err.Error())
	}
	return id
}

func (c *currentT) skipped() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.skip
}

// Helper implements T.
func (c *currentT) Helper() {}

// Fatalf implements T.
func (c *currentT) Fatalf(format string, args ...any) {
	t := c.test()
	t.Helper()
	t.Fatalf(format, args...)
}

// Skipf implements T.
func (c *currentT) Skipf(format string, args ...any) {
	c.mu.Lock()
	c.skip = fmt.Sprintf(format, args...)
	c.mu.Unlock()
	t := c.test()
	t.Helper()
	t.Skipf(format, args...)
}

// Logf implements T.
func (c *currentT) Logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		c.cur.Logf(format, args...)
		return
	}
	fmt.Printf(format+"\n", args...)
}

// Cleanup implements T: the teardown waits for the end of the run.
func (c *currentT) Cleanup(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cleanups = append(c.cleanups, f)
}

// Failed implements T: whether any test that used the network
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
