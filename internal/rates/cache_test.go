package rates

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func newCache(t *testing.T) (*Cache, *fakeProvider, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	p := &fakeProvider{name: "fake", now: clk.Now}
	p.set(base, nil)
	c := &Cache{Provider: p, TTL: 30 * time.Second, MaxAge: 5 * time.Minute, RetryAfter: 5 * time.Second, Now: clk.Now}
	return c, p, clk
}

func mustRate(t *testing.T, c *Cache, want int64) {
	t.Helper()
	r, err := c.Rate(context.Background())
	if err != nil || r.MilliKESPerBTC != want {
		t.Fatalf("Rate = %+v, %v; want %d", r, err, want)
	}
}

func TestRatesCacheTTL(t *testing.T) {
	t.Parallel()
	c, p, clk := newCache(t)
	mustRate(t, c, base)
	p.set(base+1, nil)
	clk.Add(30*time.Second - time.Nanosecond)
	mustRate(t, c, base) // still young: not asked again
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d calls within TTL, want 1", n)
	}
	clk.Add(time.Nanosecond)
	mustRate(t, c, base+1) // TTL reached: refreshed
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("%d calls after TTL, want 2", n)
	}
}

func TestRatesCacheSingleFlight(t *testing.T) {
	t.Parallel()
	c, p, _ := newCache(t)
	gate := make(chan struct{})
	p.mu.Lock()
	p.gate = gate
	p.mu.Unlock()

	const callers = 50
	var wg sync.WaitGroup
	got := make(chan Rate, callers)
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			r, err := c.Rate(context.Background())
			if err != nil {
				errs <- err
				return
			}
			got <- r
		})
	}
	// Every caller is waiting on the refresh before it may finish.
	eventually(t, "50 callers waiting", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.waiting == callers
	})
	close(gate)
	wg.Wait()
	close(got)
	close(errs)
	for err := range errs {
		t.Errorf("caller: %v", err)
	}
	n := 0
	for r := range got {
		n++
		if r.MilliKESPerBTC != base {
			t.Errorf("caller got %+v", r)
		}
	}
	if n != callers {
		t.Errorf("%d callers got a rate", n)
	}
	if calls := p.calls.Load(); calls != 1 {
		t.Errorf("%d provider calls for %d concurrent callers, want 1", calls, callers)
	}
}

func TestRatesCacheServesLastGoodThenStale(t *testing.T) {
	t.Parallel()
	c, p, clk := newCache(t)
	mustRate(t, c, base)

	down := errors.New("exchange down")
	p.set(base+5, down)
	clk.Add(30 * time.Second)
	mustRate(t, c, base) // refresh failed: last good rate
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	clk.Add(4 * time.Second)
	mustRate(t, c, base) // within RetryAfter: the dead source is not asked
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("%d calls within RetryAfter, want 2", n)
	}
	clk.Add(time.Second)
	mustRate(t, c, base) // asked again, failed again
	if n := p.calls.Load(); n != 3 {
		t.Fatalf("%d calls after RetryAfter, want 3", n)
	}

	// One nanosecond short of MaxAge, then at it.
	clk.Add(5*time.Minute - 35*time.Second - time.Nanosecond)
	mustRate(t, c, base)
	clk.Add(time.Nanosecond)
	r, err := c.Rate(context.Background())
	if !errors.Is(err, ErrStale) || !errors.Is(err, down) || r.MilliKESPerBTC != 0 {
		t.Fatalf("at MaxAge: %+v, %v; want ErrStale wrapping the cause", r, err)
	}
	// Still stale while the source is down, whether asked or not.
	clk.Add(time.Second)
	if _, err := c.Rate(context.Background()); !errors.Is(err, ErrStale) {
		t.Fatalf("stale within RetryAfter: %v", err)
	}

	// The source recovers: the next refresh serves again.
	p.set(base+7, nil)
	clk.Add(5 * time.Second)
	mustRate(t, c, base+7)
}

func TestRatesCacheNoRateYet(t *testing.T) {
	t.Parallel()
	c, p, clk := newCache(t)
	p.set(0, errors.New("never answered"))
	r, err := c.Rate(context.Background())
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "no rate yet") || !strings.Contains(err.Error(), "never answered") {
		t.Fatalf("no rate yet: %+v, %v", r, err)
	}
	// A provider answering a non-positive rate is a failure, not a rate.
	p.set(0, nil)
	clk.Add(5 * time.Second)
	if _, err := c.Rate(context.Background()); !errors.Is(err, ErrStale) || !errors.Is(err, ErrInvalidRate) {
		t.Fatalf("zero rate: %v", err)
	}
}

func TestRatesCacheAgeFromProvider(t *testing.T) {
	t.Parallel()
	c, p, clk := newCache(t)
	// The provider's own rate is already four minutes old.
	p.at = clk.Now().Add(-4 * time.Minute)
	mustRate(t, c, base)
	p.set(0, errors.New("down"))
	clk.Add(59 * time.Second)
	mustRate(t, c, base)
	clk.Add(time.Second)
	if _, err := c.Rate(context.Background()); !errors.Is(err, ErrStale) {
		t.Fatalf("five minutes after the provider's At: %v, want ErrStale", err)
	}
}

func TestRatesCacheMaxAgeBelowTTL(t *testing.T) {
	t.Parallel()
	c, p, clk := newCache(t)
	c.TTL, c.MaxAge = time.Hour, time.Minute
	mustRate(t, c, base)
	p.set(0, errors.New("down"))
	clk.Add(time.Minute)
	if _, err := c.Rate(context.Background()); !errors.Is(err, ErrStale) {
		t.Fatalf("past MaxAge within TTL: %v, want ErrStale", err)
	}
}

func TestRatesCacheCallerGivesUp(t *testing.T) {
	t.Parallel()
	c, p, _ := newCache(t)
	gate := make(chan struct{})
	p.mu.Lock()
	p.gate = gate
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Rate(ctx)
		done <- err
	}()
	eventually(t, "the caller waiting", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.waiting == 1
	})
	cancel()
	if err := <-done; !errors.Is(err, ErrStale) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	// The shared refresh was not cancelled with that caller.
	close(gate)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustRate(t, c, base)
	if n := p.calls.Load(); n > 2 {
		t.Errorf("%d calls", n)
	}
}

func TestRatesCacheRun(t *testing.T) {
	t.Parallel()
	p := fixed("fake", base)
	var mu sync.Mutex
	var refreshes int
	c := &Cache{Provider: p, TTL: 10 * time.Millisecond, OnRefresh: func(r Rate, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil && r.MilliKESPerBTC == base {
			refreshes++
		}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	eventually(t, "three background refreshes", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return refreshes >= 3
	})
	mustRate(t, c, base)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if c.Name() != "cache(fake)" {
		t.Errorf("name %q", c.Name())
	}
}
