// Package browsertest drives Debian's Chromium, headless, for the tests of the
// web phone: the page tests against a fake of the world's API, and the
// journey test against the real world.
//
// Start finds the browser (`chromium` on PATH, or /usr/bin/chromium). Without
// one the test is skipped, unless REQUIRE_BROWSER=1 (CI sets it): then it
// fails, as a missing database engine or regtest daemon does.
//
// Every tab that Start opens records what the page writes to the console. A
// console error, an uncaught exception or a failed resource load that the
// test did not take with TakeConsoleErrors fails the test when it ends: a page
// that throws is broken even when the assertions pass.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// StartTimeout bounds the start of the browser and the opening of its tab.
const StartTimeout = time.Minute

// ActionTimeout is what Do gives one step of a test: a bound, not a target,
// wide enough for a page that loads while make test -race fills both cores.
const ActionTimeout = 30 * time.Second

// Width and Height are the size of the browser's window: wide enough for two
// phones and the world panel side by side.
const (
	Width  = 1440
	Height = 960
)

// Flags are the switches a closed network needs: no sandbox (root in CI), no
// GPU, and nothing that phones home (first-run, component updates, sync,
// background networking), so nothing waits on an address it cannot reach.
var Flags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
}

// Required reports whether REQUIRE_BROWSER=1: a missing browser then fails
// the test instead of skipping it.
func Required() bool { return os.Getenv("REQUIRE_BROWSER") == "1" }

// FindBrowser returns the path of Debian's Chromium, or an error that says
// where it looked.
func FindBrowser() (string, error) {
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", errors.New("no chromium on PATH nor at /usr/bin/chromium (apt-get install chromium)")
}

// Start runs a headless Chromium for the test and returns the context of one
// open tab in it. The browser is stopped (by its process) and its profile
// removed when the test ends; the console of the tab is watched from the
// start (see TakeConsoleErrors).
func Start(t testing.TB) context.Context {
	t.Helper()
	out := &output{}
	path, err := FindBrowser()
	if err != nil {
		if Required() {
			t.Fatalf("REQUIRE_BROWSER=1 but %v", err)
		}
		t.Skipf("browser tests not run: %v", err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.WindowSize(Width, Height),
		// The browser's own chatter is kept, and shown if the test fails.
		chromedp.CombinedOutput(out),
	}
	for _, f := range Flags {
		opts = append(opts, chromedp.Flag(strings.TrimPrefix(f, "--"), true))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully first, within bounds; cancelling
		// the allocator then kills what is left and waits for it.
		stop, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = chromedp.Cancel(stop)
		cancelTab()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium's output, last lines:\n%s", out.tail(40))
		}
	})

	// The first run starts the browser and binds its life to ctx, which
	// has no deadline; the timeout around it is enforced from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start %s: %v", path, err)
		}
	case <-time.After(StartTimeout):
		cancelTab()
		t.Fatalf("start %s: no tab within %s", path, StartTimeout)
	}

	c := &console{}
	key := chromedp.FromContext(ctx)
	consoles.Store(key, c)
	c.watch(ctx)
	t.Cleanup(func() {
		consoles.Delete(key)
		for _, m := range c.take() {
			t.Errorf("console: %s", m)
		}
	})
	return ctx
}

// Do runs steps in the tab, each bounded by ActionTimeout, and fails the test
// on the first error.
func Do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for i, step := range steps {
		sctx, cancel := context.WithTimeout(ctx, ActionTimeout)
		err := chromedp.Do(sctx, step)
		cancel()
		if err != nil {
			t.Fatalf("browser step %d of %d: %v", i+1, len(steps), err)
		}
	}
}

// Run runs one action that returns a value, bounded by ActionTimeout, and
// fails the test on error.
func Run[T any](t testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, ActionTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// PollEvery is how often a wait asks the page again. The page asks on a
// timer: not at every animation frame, which a headless browser draws only
// when it gets round to it, nor on DOM mutations, since a value typed into
// an input changes no node.
const PollEvery = 20 * time.Millisecond

// WaitJS waits, up to ActionTimeout, until the JavaScript expression is
// truthy in the page. what names the thing in the failure, which also says
// what the page was showing then (see PageState).
func WaitJS(t testing.TB, ctx context.Context, what, expr string) {
	t.Helper()
	if err := Wait(ctx, expr); err != nil {
		t.Fatalf("waiting for %s (%s): %v\npage then: %s", what, expr, err, PageState(ctx))
	}
}

// PageState says, in one line, where the page is: its address, its load
// state, whether its script finished starting (body[data-ready]), and the
// start of its visible text, for a failure read from a CI log.
func PageState(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Evaluate[string](`JSON.stringify({
		url: location.href, readyState: document.readyState,
		ready: document.body ? document.body.dataset.ready : null,
		text: document.body ? document.body.innerText.slice(0, 300) : null})`))
	if err != nil {
		return fmt.Sprintf("(could not ask the page: %v)", err)
	}
	return s
}

// Wait is WaitJS that returns its error, for a test that wants to say more
// when the page never gets there.
func Wait(ctx context.Context, expr string) error {
	return WaitWithin(ctx, expr, ActionTimeout)
}

// WaitWithin is Wait bounded by d instead of ActionTimeout: for what the
// page shows only after the world has moved (a payment over the regtest
// network, a text through the server's outbox, a row the page polls for),
// which may take longer than one step on a loaded machine.
func WaitWithin(ctx context.Context, expr string, d time.Duration) error {
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := chromedp.Run(sctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(PollEvery), chromedp.WithPollingTimeout(d)))
	return err
}

// Screenshot saves a PNG of the whole page at path, creating its folder.
func Screenshot(ctx context.Context, path string) error {
	sctx, cancel := context.WithTimeout(ctx, ActionTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return savePNG(path, png)
}

// ScreenshotViewport saves a PNG of what the window shows, not the whole
// page: a picture of a fixed size, for a document (the README's).
func ScreenshotViewport(ctx context.Context, path string) error {
	sctx, cancel := context.WithTimeout(ctx, ActionTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return savePNG(path, png)
}

// savePNG writes a screenshot at path, creating its folder.
func savePNG(path string, png []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return nil
}

// Shot saves a screenshot named name (".png" added) among the test's
// artefacts and logs where; a failure to take it fails the test.
func Shot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	path := filepath.Join(ArtifactsDir(t), name+".png")
	if err := Screenshot(ctx, path); err != nil {
		t.Fatalf("%v", err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ArtifactsDir is where the test keeps what it leaves behind (screenshots):
// $ARTIFACTS_DIR/<test name> when set, so CI can keep them, else a folder
// of t.TempDir.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	if root := os.Getenv("ARTIFACTS_DIR"); root != "" {
		dir := filepath.Join(root, unsafeName.ReplaceAllString(t.Name(), "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("artefacts: %v", err)
		}
		return dir
	}
	return t.TempDir()
}

// output keeps what the browser prints.
type output struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.buf.Len() < 1<<20 {
		o.buf.Write(p)
	}
	return len(p), nil
}

// tail returns the last n lines worth reading: without the complaints of a
// machine that has no D-Bus, which every headless run here prints.
func (o *output) tail(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var lines []string
	for line := range strings.Lines(o.buf.String()) {
		if !strings.Contains(line, "dbus/") {
			lines = append(lines, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
