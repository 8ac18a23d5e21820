package mysqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
)

func attack19Open(t *testing.T, maxOpen int) *mysqlstore.Store {
	t.Helper()
	s, _ := openMigrated(t, maxOpen)
	return s
}

func attack19Insert(ctx context.Context, tx store.Tx, n int) error {
	_, err := tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: fmt.Sprintf("+2547%08d", n), LightningName: fmt.Sprintf("a19u%d", n), Language: "en", Now: time.Now()})
	return err
}

// TestAttack19LockWaitCut: a transaction waiting on a row lock another
// transaction holds returns when its context ends, not after
// innodb_lock_wait_timeout; the connection is not reused broken.
func TestAttack19LockWaitCut(t *testing.T) {
	s := attack19Open(t, 2)
	bg := context.Background()
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(bg, func(ctx context.Context, tx store.Tx) error {
			if err := attack19Insert(ctx, tx, 1); err != nil {
				return err
			}
			close(held)
			<-release
			return errors.New("holder gives up")
		})
	}()
	<-held
	for _, kind := range []string{"InTx", "InTx again"} {
		ctx, cancel := context.WithTimeout(bg, time.Second)
		start := time.Now()
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return attack19Insert(ctx, tx, 1) })
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Fatalf("%s: waiting on a held lock succeeded", kind)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: error does not carry the context's: %v", kind, err)
		}
		if took > 5*time.Second {
			t.Fatalf("%s: returned after %s", kind, took)
		}
		t.Logf("%s: %s %v", kind, took.Round(time.Millisecond), err)
	}
	close(release)
	if err := <-done; err == nil {
		t.Fatal("holder")
	}
	// The pool works for every connection afterwards.
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	for i := 0; i < 10; i++ {
		if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return attack19Insert(ctx, tx, 100+i) }); err != nil {
			t.Fatalf("after: %v", err)
		}
	}
}

// TestAttack19CancelStorm: many transactions whose contexts end at random
// moments. A success must have committed; a failure that committed must
// say the context ended (unknown outcome); afterwards no connection is
// left broken, and goroutines and connections are not leaked.
func TestAttack19CancelStorm(t *testing.T) {
	s := attack19Open(t, 4)
	bg := context.Background()
	// Warm up: prepare statements, open connections.
	if err := s.InTx(bg, func(ctx context.Context, tx store.Tx) error { return attack19Insert(ctx, tx, 0) }); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before := runtime.NumGoroutine()
	const n = 400
	type result struct {
		err error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			d := time.Duration(rand.N(3000)) * time.Microsecond
			time.AfterFunc(d, cancel)
			var fnErr error
			if i%3 == 0 {
				fnErr = s.Snapshot(ctx, func(ctx context.Context, tx store.Tx) error {
					_, err := tx.UserByPhone(ctx, "+254700000000")
					return err
				})
			}
			if i%7 == 0 {
				func() {
					defer func() { _ = recover() }()
					_ = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
						if err := attack19Insert(ctx, tx, 1_000_000+i); err != nil {
							return err
						}
						panic("boom")
					})
				}()
			}
			_ = fnErr
			results[i-1].err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				if err := attack19Insert(ctx, tx, i); err != nil {
					return err
				}
				return attack19Insert(ctx, tx, 500_000+i)
			})
		}(i)
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	var ok, failed, unknownCommitted int
	for i := 1; i <= n; i++ {
		var exists1, exists2 bool
		if err := s.Snapshot(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err1 := tx.UserByPhone(ctx, fmt.Sprintf("+2547%08d", i))
			_, err2 := tx.UserByPhone(ctx, fmt.Sprintf("+2547%08d", 500_000+i))
			for _, e := range []error{err1, err2} {
				if e != nil && !errors.Is(e, store.ErrNotFound) {
					return e
				}
			}
			exists1, exists2 = err1 == nil, err2 == nil
			return nil
		}); err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
		if exists1 != exists2 {
			t.Errorf("tx %d half committed: %v %v", i, exists1, exists2)
		}
		err := results[i-1].err
		switch {
		case err == nil && !exists1:
			t.Errorf("tx %d reported success but did not commit", i)
		case err == nil:
			ok++
		case exists1 && !errors.Is(err, context.Canceled):
			t.Errorf("tx %d committed but reported a failure not carrying the context's: %v", i, err)
		case exists1:
			unknownCommitted++
		default:
			failed++
		}
	}
	for i := 7; i <= n; i += 7 {
		var err error
		_ = s.Snapshot(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err = tx.UserByPhone(ctx, fmt.Sprintf("+2547%08d", 1_000_000+i))
			return nil
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("panicked tx %d committed: %v", i, err)
		}
	}
	t.Logf("ok %d, failed %d, failed-but-committed (ctx error) %d", ok, failed, unknownCommitted)
	// No connection left broken: run many on every pooled connection.
	for i := 0; i < 50; i++ {
		if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UserByPhone(ctx, "+254700000000")
			return err
		}); err != nil {
			t.Fatalf("after the storm, %d: %v", i, err)
		}
		if err := s.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UserByPhone(ctx, "+254700000000")
			return err
		}); err != nil {
			t.Fatalf("after the storm, autocommit %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		g := runtime.NumGoroutine()
		p := s.Pool()
		if g <= before+p.MaxOpen+2 && p.InUse == 0 && p.Open <= p.MaxOpen {
			t.Logf("goroutines %d (before %d), pool %+v", g, before, p)
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d (before %d), pool %+v\n%s", g, before, p, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
