package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// MaxTxAttempts bounds how often InTx runs a transaction that keeps failing
// with a retryable error.
const MaxTxAttempts = 10

// Retry runs attempt until it returns nil or an error that is not
// ErrRetryable, at most MaxTxAttempts times, sleeping a jittered, growing
// pause between attempts so that the transactions that collided do not
// collide again in lockstep.
func Retry(ctx context.Context, attempt func() error) error {
	return retry(ctx, nil, attempt)
}

// Retrier runs transactions as Retry and RetryTx do and counts the
// attempts it ran again; a store embeds one, so that its Retries reports
// how often transactions collided (deadlocks, serialization failures,
// Galera certification failures) since it was opened.
type Retrier struct {
	retries atomic.Int64
}

// Retries reports how many attempts were run again after a retryable
// failure.
func (r *Retrier) Retries() int64 { return r.retries.Load() }

// Retry is the package's Retry, counted.
func (r *Retrier) Retry(ctx context.Context, attempt func() error) error {
	return retry(ctx, &r.retries, attempt)
}

// RetryTx is the package's RetryTx, counted.
func (r *Retrier) RetryTx(ctx context.Context, attempt func(pairs bool) error) error {
	return retryTx(ctx, &r.retries, attempt)
}

func retry(ctx context.Context, count *atomic.Int64, attempt func() error) error {
	var err error
	for i := 0; i < MaxTxAttempts; i++ {
		err = attempt()
		if err == nil || !errors.Is(err, ErrRetryable) {
			return err
		}
		if i == MaxTxAttempts-1 {
			break
		}
		if count != nil {
			count.Add(1)
		}
		base := time.Millisecond << min(i, 6) // 1ms … 64ms
		pause := base/2 + rand.N(base)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(pause):
		}
	}
	return err
}

// RetryTx is Retry for a transaction that may post entries: attempt is told
// whether it may post two-legged postings in one statement (PairPoster),
// which it may until an attempt ends in ErrPairRefused; every later attempt
// posts one statement at a time.
func RetryTx(ctx context.Context, attempt func(pairs bool) error) error {
	return retryTx(ctx, nil, attempt)
}

func retryTx(ctx context.Context, count *atomic.Int64, attempt func(pairs bool) error) error {
	pairs := true
	return retry(ctx, count, func() error {
		err := attempt(pairs)
		if errors.Is(err, ErrPairRefused) {
			pairs = false
		}
		return err
	})
}
