package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SettleTimeout bounds the settling of a COMMIT whose answer was lost: a
// connection, the end of the server session and the wait for it (about
// 10 ms on the bench machine). The caller's own deadline has passed by
// then: a USSD hop (3 s) still answers within the gateway's wait (about
// 10 s) when the server does not, after this, the wallet's read of the
// outcome (1 s) and the session's save (1 s).
const SettleTimeout = time.Second

// Settle is what an adapter's InTx does with a transaction whose COMMIT was
// sent and never answered (see ErrCommitUnanswered): end, on a context of
// its own bounded by SettleTimeout, ends the server session that ran it and
// returns once that session's transaction is over. Settle returns cause,
// the error the caller got, classified ErrCommitUnanswered, or
// ErrOutcomeUnknown if end failed.
func Settle(ctx context.Context, cause error, end func(ctx context.Context) error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SettleTimeout)
	defer cancel()
	if err := end(sctx); err != nil {
		return Classify(ErrOutcomeUnknown, fmt.Errorf("%w (and its server session could not be ended: %v)", cause, err))
	}
	return Classify(ErrCommitUnanswered, cause)
}

// UntilGone asks gone, with a growing pause, until it reports the server
// session gone or fails, or ctx ends.
func UntilGone(ctx context.Context, gone func(ctx context.Context) (bool, error)) error {
	for pause := time.Millisecond; ; pause = min(2*pause, 20*time.Millisecond) {
		if ok, err := gone(ctx); ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("the session is still running"), ctx.Err())
		case <-time.After(pause):
		}
	}
}
