package store

import (
	"context"
	"errors"
	"math/rand/v2"
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
	var err error
	for i := 0; i < MaxTxAttempts; i++ {
		err = attempt()
		if err == nil || !errors.Is(err, ErrRetryable) {
			return err
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
	pairs := true
	return Retry(ctx, func() error {
		err := attempt(pairs)
		if errors.Is(err, ErrPairRefused) {
			pairs = false
		}
		return err
	})
}
