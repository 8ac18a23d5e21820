package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// TestAttack22ReuseAfterAbort: with one connection in InTx's pool, every
// way a transaction can end without committing (panic, error, context
// ended while fn idles, context ended and fn swallowing the errors that
// follow and returning nil, the Tx used after InTx returned) is followed
// by a transaction that commits on the same pool. Had any of them left
// its transaction open on the connection, the next COMMIT would keep its
// row. Afterwards: no InnoDB transaction open, no metadata lock held, the
// sessions still autocommit=0 READ COMMITTED.
func TestAttack22ReuseAfterAbort(t *testing.T) {
	a := a22Open(t, 1)
	bg := context.Background()
	ok := 1000
	commit := func() {
		t.Helper()
		ok++
		if err := a.s.InTx(bg, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertUser(ctx, a22NewUser("ok", ok))
			return err
		}); err != nil {
			t.Fatalf("commit %d: %v", ok, err)
		}
	}
	commit()
	boom := errors.New("boom")
	modes := []string{"panic", "error", "ctx-idle", "ctx-swallow", "late-use", "ctx-before-commit"}
	for round := 0; round < 3; round++ {
		for i, mode := range modes {
			n := round*100 + i
			var kept store.Tx
			ctx, cancel := context.WithCancel(bg)
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = errors.New("panicked")
					}
				}()
				return a.s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					if _, err := tx.InsertUser(ctx, a22NewUser("x", n)); err != nil {
						return err
					}
					switch mode {
					case "panic":
						panic("boom")
					case "error":
						return boom
					case "ctx-idle":
						go func() { time.Sleep(time.Duration(round) * time.Millisecond); cancel() }()
						<-ctx.Done()
						time.Sleep(time.Duration(round) * time.Millisecond)
						return ctx.Err()
					case "ctx-swallow":
						cancel()
						<-ctx.Done()
						time.Sleep(time.Duration(round) * time.Millisecond)
						_, _ = tx.InsertUser(ctx, a22NewUser("y", n))
						return nil
					case "late-use":
						kept = tx
						return boom
					case "ctx-before-commit":
						cancel()
						return nil
					}
					return nil
				})
			}()
			cancel()
			if err == nil {
				t.Errorf("%s: InTx succeeded", mode)
			}
			if kept != nil {
				if _, err := kept.InsertUser(bg, a22NewUser("late", n)); err == nil {
					t.Errorf("%s: a statement on the Tx after InTx returned succeeded", mode)
				}
			}
			commit()
			if c := a.users(t, n); c != 0 {
				t.Errorf("%s (round %d): the aborted transaction's row was committed (%v)", mode, round, err)
			}
			if ids := a.openTrx(t); len(ids) != 0 {
				t.Errorf("%s: transactions left open on threads %v", mode, ids)
			}
		}
	}
	for i := 1001; i <= ok; i++ {
		if a.users(t, i) != 1 {
			t.Errorf("committed row %d missing", i)
		}
	}
	a.noMetadataLocks(t, "users", "accounts", "ledger_entries", "transactions", "notifications")
	auto, iso, _ := a22TxSession(t, a.s)
	if auto != 0 || iso != "READ-COMMITTED" {
		t.Errorf("InTx's session: autocommit %d, %s", auto, iso)
	}
}
