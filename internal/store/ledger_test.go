package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// secondTryWriter refuses an entry's first move, reads the account as
// fitting it (a concurrent credit committed in between), and fails the
// second move with err.
type secondTryWriter struct {
	err   error
	moves int
}

func (w *secondTryWriter) ApplyBalanceDelta(context.Context, int64, Entry, Guard, time.Time) (bool, error) {
	w.moves++
	if w.moves == 1 {
		return false, nil
	}
	return false, w.err
}

func (w *secondTryWriter) LockAccount(_ context.Context, id int64) (Account, error) {
	return Account{ID: id, BalanceMsat: 1_000}, nil
}

func (w *secondTryWriter) InsertLedgerEntry(context.Context, int64, Entry, Guard, time.Time) error {
	return nil
}

// TestApplyKeepsARetryableSecondMove: when the move made again under the
// row lock fails with a retryable error (a deadlock, a Galera certification
// conflict), the error stays retryable, so InTx runs the transaction again
// instead of failing the transfer (seen in TestGalera/BankAcrossNodes: a
// 1213 flattened into text reached the caller). A second refusal without
// an error is not retryable.
func TestApplyKeepsARetryableSecondMove(t *testing.T) {
	guard := Guard{MaxBalanceMsat: 1 << 40, DayLimitMsat: 1 << 40}
	e := Entry{AccountID: 7, AmountMsat: -100, DayOutMsat: 100}
	deadlock := Classify(ErrRetryable, errors.New("Error 1213 (40001): Deadlock found when trying to get lock"))
	err := apply(context.Background(), &secondTryWriter{err: deadlock}, 1, e, guard, time.Now())
	if !errors.Is(err, ErrRetryable) {
		t.Errorf("a deadlock on the move under lock: %v, not retryable", err)
	}
	err = apply(context.Background(), &secondTryWriter{}, 1, e, guard, time.Now())
	if err == nil || errors.Is(err, ErrRetryable) {
		t.Errorf("a second refusal under lock: %v, want a non-retryable error", err)
	}
}
