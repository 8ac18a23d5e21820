package browsertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consoles maps each tab that Start opened to what its console showed.
var consoles sync.Map // *chromedp.Context → *console

// console collects the errors a tab reports: console.error calls, uncaught
// exceptions and unhandled rejections, and the browser log's errors (a
// resource that failed to load, a blocked request).
type console struct {
	mu      sync.Mutex
	errs    []string
	changed chan struct{} // closed and replaced when errs grows
}

func (c *console) watch(ctx context.Context) {
	c.changed = make(chan struct{})
	// Console subscribes before it returns: nothing the page does from
	// here on is missed, even before the goroutine ranges.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && !m.IsException() {
				continue
			}
			text := m.String()
			if m.URL != "" {
				text += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			c.mu.Lock()
			c.errs = append(c.errs, text)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}()
}

func (c *console) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	errs := c.errs
	c.errs = nil
	return errs
}

func lookup(t testing.TB, ctx context.Context) *console {
	t.Helper()
	v, ok := consoles.Load(chromedp.FromContext(ctx))
	if !ok {
		t.Fatalf("browsertest: the context is not one that Start returned")
	}
	return v.(*console)
}

// TakeConsoleErrors returns the console errors the tab has shown so far and
// forgets them, so that a test expecting an error does not fail for it at
// the end.
func TakeConsoleErrors(t testing.TB, ctx context.Context) []string {
	t.Helper()
	return lookup(t, ctx).take()
}

// WaitConsoleErrors waits, up to ActionTimeout, until the tab has shown at
// least n console errors, then takes them as TakeConsoleErrors does.
func WaitConsoleErrors(t testing.TB, ctx context.Context, n int) []string {
	t.Helper()
	c := lookup(t, ctx)
	deadline := time.After(ActionTimeout)
	for {
		c.mu.Lock()
		got, changed := len(c.errs), c.changed
		c.mu.Unlock()
		if got >= n {
			return c.take()
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("console: %d errors after %s, want %d: %q", got, ActionTimeout, n, c.take())
		}
	}
}
