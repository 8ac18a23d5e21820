package mysqlstore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// TestAttack22CancelStorm: InTx on a pool of two connections, four callers,
// contexts ending at random moments, fn committing, failing, panicking,
// waiting for its context, or swallowing the errors after it ended and
// returning nil. Each fn writes two rows. (An fn that returns nil once
// its context ended may still commit: database/sql's Commit checks the
// Tx's context, a child of fn's, which is cancelled a moment after it;
// the COMMIT then races the interruption, and InTx reports the context's
// error: an unknown outcome, as documented.) A transaction that did not mean
// to commit never leaves a row (had its connection gone back with the
// transaction open, the next caller's COMMIT would keep it); one that did
// leaves both or neither, both when InTx returned nil. Afterwards no
// transaction or metadata lock is left and InTx works.
func TestAttack22CancelStorm(t *testing.T) {
	a := a22Open(t, 2)
	bg := context.Background()
	const n = 300
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	boom := errors.New("boom")
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			time.AfterFunc(time.Duration(rand.N(15000))*time.Microsecond, cancel)
			errs[i] = func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = errors.New("panicked")
					}
				}()
				return a.s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					for _, k := range []int{2 * i, 2*i + 1} {
						if _, err := tx.InsertUser(ctx, a22NewUser("s", k)); err != nil {
							if i%5 == 4 {
								continue
							}
							return err
						}
					}
					switch i % 5 {
					case 1:
						return boom
					case 2:
						panic("boom")
					case 3:
						<-ctx.Done()
						return ctx.Err()
					case 4:
						<-ctx.Done()
						_, _ = tx.UserByPhone(ctx, "+254700000000")
						return nil
					}
					return nil
				})
			}()
		}(i)
	}
	wg.Wait()
	committed := 0
	for i := 0; i < n; i++ {
		got := a.users(t, 2*i) + a.users(t, 2*i+1)
		switch {
		case i%5 != 0 && i%5 != 4 && got != 0:
			t.Errorf("call %d (mode %d, %v): %d rows of a transaction that did not commit", i, i%5, errs[i], got)
		case got == 1:
			t.Errorf("call %d (%v): one row of two", i, errs[i])
		case errs[i] == nil && got != 2:
			t.Errorf("call %d succeeded without its rows", i)
		case errs[i] != nil && got == 2 && !errors.Is(errs[i], context.Canceled):
			t.Errorf("call %d kept its rows but failed with %v", i, errs[i])
		}
		if got == 2 {
			committed++
		}
	}
	t.Logf("%d of %d committing calls committed", committed, n/5)
	var open []int64
	for j := 0; j < 40; j++ { // a dropped connection's transaction ends once the server sees it closed
		if open = a.openTrx(t); len(open) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(open) != 0 {
		t.Errorf("transactions left open: %v", open)
	}
	a.noMetadataLocks(t, "users")
	for i := 0; i < 10; i++ {
		if err := a.s.InTx(bg, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertUser(ctx, a22NewUser("after", 10_000+i))
			return err
		}); err != nil {
			t.Fatalf("after the storm: %v", err)
		}
	}
}
