package rates

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults of Cache.
const (
	DefaultTTL            = 30 * time.Second
	DefaultMaxAge         = 5 * time.Minute
	DefaultRetryAfter     = 5 * time.Second
	DefaultRefreshTimeout = 10 * time.Second
)

// Cache keeps the last good rate of a provider so most callers never wait
// on one, and refuses to hand out one too old to quote from.
//
// A rate younger than TTL is served as it is. An older one is refreshed
// first; concurrent callers share that one refresh. If the refresh fails,
// the last good rate is served until it is MaxAge old, and after that every
// call fails with ErrStale until a refresh succeeds: no quote is ever made
// from a stale or missing rate. After a failure, no new refresh starts for
// RetryAfter, so a dead source does not make every caller wait on it.
//
// A rate's age counts from when its refresh began, or from the provider's
// At if that is earlier. Run refreshes in the background so callers find a
// young rate. The zero Cache with a Provider is ready to use; it must not
// be copied after first use.
type Cache struct {
	Provider Provider
	// TTL (RATES_TTL) is how long a rate is served without asking again;
	// zero means DefaultTTL.
	TTL time.Duration
	// MaxAge (RATES_MAX_AGE) is the oldest a rate may be and still be
	// served when refreshes fail; zero means DefaultMaxAge.
	MaxAge time.Duration
	// RetryAfter is the pause after a failed refresh before callers start
	// another; zero means DefaultRetryAfter (at most TTL).
	RetryAfter time.Duration
	// RefreshTimeout bounds one refresh, which no single caller's context
	// cancels since others may share it; zero means DefaultRefreshTimeout.
	RefreshTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnRefresh, if set, is told each refresh's outcome, for logging; it
	// runs outside the cache's lock.
	OnRefresh func(Rate, error)

	mu       sync.Mutex
	last     Rate
	lastAt   time.Time // age base of last
	have     bool
	failedAt time.Time
	lastErr  error
	flight   *flight
	waiting  int // callers waiting on a flight, for tests
}

type flight struct {
	done chan struct{}
	err  error
}

func (c *Cache) durations() (ttl, maxAge, retry, timeout time.Duration) {
	ttl, maxAge, retry, timeout = c.TTL, c.MaxAge, c.RetryAfter, c.RefreshTimeout
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	// A rate past MaxAge is never served, even within TTL.
	ttl = min(ttl, maxAge)
	if retry <= 0 {
		retry = min(DefaultRetryAfter, ttl)
	}
	if timeout <= 0 {
		timeout = DefaultRefreshTimeout
	}
	return ttl, maxAge, retry, timeout
}

// Name is the provider's name.
func (c *Cache) Name() string { return "cache(" + c.Provider.Name() + ")" }

// Rate returns a rate no older than MaxAge (one younger than TTL when the
// provider answers), or an error wrapping ErrStale.
func (c *Cache) Rate(ctx context.Context) (Rate, error) {
	ttl, _, retry, _ := c.durations()
	c.mu.Lock()
	t := now(c.Now)
	if c.have && t.Sub(c.lastAt) < ttl {
		r := c.last
		c.mu.Unlock()
		return r, nil
	}
	if c.flight == nil && !c.failedAt.IsZero() && t.Sub(c.failedAt) < retry {
		r, err := c.serveLocked(t, nil)
		c.mu.Unlock()
		return r, err
	}
	f := c.startLocked(ctx)
	c.waiting++
	c.mu.Unlock()

	var waitErr error
	select {
	case <-f.done:
	case <-ctx.Done():
		waitErr = ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waiting--
	return c.serveLocked(now(c.Now), waitErr)
}

// Age is how old the last good rate is (false while there is none), for
// the metrics: past MaxAge no quote is made.
func (c *Cache) Age() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.have {
		return 0, false
	}
	return now(c.Now).Sub(c.lastAt), true
}

// serveLocked returns the last good rate if it is younger than MaxAge at t.
func (c *Cache) serveLocked(t time.Time, cause error) (Rate, error) {
	_, maxAge, _, _ := c.durations()
	if c.have && t.Sub(c.lastAt) < maxAge {
		return c.last, nil
	}
	if cause == nil {
		cause = c.lastErr
	}
	if !c.have {
		return Rate{}, fmt.Errorf("%w: no rate yet from %s: %w", ErrStale, c.Provider.Name(), cause)
	}
	return Rate{}, fmt.Errorf("%w: last rate from %s is %s old: %w", ErrStale, c.Provider.Name(), t.Sub(c.lastAt).Round(time.Second), cause)
}

// startLocked returns the refresh in flight, starting one if there is none.
func (c *Cache) startLocked(ctx context.Context) *flight {
	if c.flight != nil {
		return c.flight
	}
	_, _, _, timeout := c.durations()
	f := &flight{done: make(chan struct{})}
	c.flight = f
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		start := now(c.Now)
		r, err := c.Provider.Rate(ctx)
		if err == nil && r.MilliKESPerBTC <= 0 {
			err = fmt.Errorf("%w: %d milli-KES/BTC", ErrInvalidRate, r.MilliKESPerBTC)
		}
		if c.OnRefresh != nil {
			c.OnRefresh(r, err)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.failedAt, c.lastErr = now(c.Now), err
		} else {
			base := start
			if !r.At.IsZero() && r.At.Before(base) {
				base = r.At
			}
			if !c.have || !base.Before(c.lastAt) {
				c.last, c.lastAt, c.have = r, base, true
			}
			c.failedAt, c.lastErr = time.Time{}, nil
		}
		f.err = err
		c.flight = nil
		close(f.done)
	}()
	return f
}

// Refresh asks the provider now, or joins the refresh in flight, and
// returns its error. Call it at start-up to learn a rate before the first
// caller does.
func (c *Cache) Refresh(ctx context.Context) error {
	c.mu.Lock()
	f := c.startLocked(ctx)
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run refreshes the rate at once and then every TTL/2 until ctx ends, so
// that while the provider answers, callers never find the rate past TTL
// and never wait. A failed refresh is retried at the next tick; callers
// meanwhile get the last good rate until MaxAge. It returns ctx's error.
func (c *Cache) Run(ctx context.Context) error {
	ttl, _, _, _ := c.durations()
	every := max(ttl/2, time.Millisecond)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		_ = c.Refresh(ctx) // a failure is kept for callers and OnRefresh
		timer.Reset(every)
	}
}
