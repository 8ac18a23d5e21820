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

// SerializableTxAttempts is the bound at IsolationSerializable, where a
// serialization failure is how one transaction waits for another that
// wrote what it read. Every posting moves a system account's cached
// balance (fees, reserved, Lightning), so under contention a long
// transaction (a settlement) may lose many rounds in a row to short ones:
// with 12 workers on six accounts (TestSerializableLedgerHashChain) some
// lost more than 40. What ran outside a transaction (a text sent, a
// payment made) is only recorded once it wins. The caller's context bounds
// the time it takes (a USSD hop's deadline, an outbox record's timeout);
// the pauses of 100 attempts add up to about 6 s.
const SerializableTxAttempts = 100

// Retry runs attempt until it returns nil or an error that is not
// ErrRetryable, at most MaxTxAttempts times, sleeping a jittered, growing
// pause between attempts so that the transactions that collided do not
// collide again in lockstep.
func Retry(ctx context.Context, attempt func() error) error {
	return retry(ctx, 0, nil, attempt)
}

// Retrier runs transactions as Retry and RetryTx do and counts the
// attempts it ran again; a store embeds one, so that its Retries reports
// how often transactions collided (deadlocks, serialization failures,
// Galera certification failures) since it was opened.
type Retrier struct {
	// MaxAttempts bounds the attempts of one transaction (0:
	// MaxTxAttempts); set it before the store is used.
	MaxAttempts   int
	retries, runs atomic.Int64
}

// Retries reports how many attempts were run again after a collision
// (not counting the rerun, one leg at a time, of a refused pair).
func (r *Retrier) Retries() int64 { return r.retries.Load() }

// Transactions reports how many transactions (InTx and Autocommit calls)
// were run, however many attempts each took: Retries over Transactions is
// the retry rate.
func (r *Retrier) Transactions() int64 { return r.runs.Load() }

// Retry is the package's Retry, counted.
func (r *Retrier) Retry(ctx context.Context, attempt func() error) error {
	r.runs.Add(1)
	return retry(ctx, r.MaxAttempts, &r.retries, attempt)
}

// RetryTx is the package's RetryTx, counted.
func (r *Retrier) RetryTx(ctx context.Context, attempt func(batch bool) error) error {
	r.runs.Add(1)
	return retryTx(ctx, r.MaxAttempts, &r.retries, attempt)
}

func retry(ctx context.Context, attempts int, count *atomic.Int64, attempt func() error) error {
	if attempts <= 0 {
		attempts = MaxTxAttempts
	}
	var err error
	for i := 0; i < attempts; i++ {
		err = attempt()
		if err == nil || !errors.Is(err, ErrRetryable) {
			return err
		}
		if i == attempts-1 {
			break
		}
		if count != nil && !errors.Is(err, ErrBatchRefused) {
			// A refused batch is run again one leg at a time to learn
			// which leg was refused: a balance check, not a collision.
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
// whether it may post a posting in one statement (BatchPoster),
// which it may until an attempt ends in ErrBatchRefused; every later attempt
// posts one statement at a time.
func RetryTx(ctx context.Context, attempt func(batch bool) error) error {
	return retryTx(ctx, 0, nil, attempt)
}

func retryTx(ctx context.Context, attempts int, count *atomic.Int64, attempt func(batch bool) error) error {
	batch := true
	return retry(ctx, attempts, count, func() error {
		err := attempt(batch)
		if errors.Is(err, ErrBatchRefused) {
			batch = false
		}
		return err
	})
}
