package rates

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeProvider answers what the test sets, counting calls; with gate set
// it waits for the gate (or its context) before answering.
type fakeProvider struct {
	name  string
	now   func() time.Time
	calls atomic.Int64

	mu      sync.Mutex
	milli   int64
	at      time.Time // if set, the At answered instead of now()
	err     error
	gate    chan struct{}
	entered chan struct{} // if set, gets a value as each call starts
}

func (p *fakeProvider) Name() string { return p.name }

func (p *fakeProvider) set(milli int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.milli, p.err = milli, err
}

func (p *fakeProvider) Rate(ctx context.Context) (Rate, error) {
	p.calls.Add(1)
	p.mu.Lock()
	gate, entered := p.gate, p.entered
	p.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return Rate{}, ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return Rate{}, p.err
	}
	at := p.at
	if at.IsZero() {
		at = now(p.now)
	}
	return Rate{MilliKESPerBTC: p.milli, At: at, Source: p.name}, nil
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
