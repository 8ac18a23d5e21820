// Package ratelimit limits how often one key (a phone number) may act: a
// token bucket per key, refilled continuously, kept in memory.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter allows n events per period per key, in bursts of up to n.
type Limiter struct {
	mu      sync.Mutex
	n       float64
	period  time.Duration
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a limiter of n events per period for each key.
func New(n int, period time.Duration) *Limiter {
	return &Limiter{n: float64(n), period: period, buckets: make(map[string]*bucket)}
}

// Allow takes one event for key at now, reporting whether it is allowed.
func (l *Limiter) Allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.n, at: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(l.n, b.tokens+l.n*elapsed.Seconds()/l.period.Seconds())
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets keys whose buckets are full again, once a period.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < l.period {
		return
	}
	for k, b := range l.buckets {
		if now.Sub(b.at) >= l.period {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}
