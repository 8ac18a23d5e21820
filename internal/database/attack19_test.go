package database_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbserver"
	"github.com/umeme-wallet/umeme/internal/store"
)

// TestAttack19FrozenSnapshot: a snapshot whose reads the server never
// answers returns when its context ends, and the store works once the
// server answers again.
func TestAttack19FrozenSnapshot(t *testing.T) {
	dbserver.ForEachEngine(t, func(t *testing.T, srv *dbserver.Server) {
		ctx := context.Background()
		db, err := database.Open(ctx, srv.Database(t), database.Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		const deadline, margin = time.Second, 2 * time.Second
		for _, frozenBefore := range []bool{true, false} {
			hctx, cancel := context.WithTimeout(ctx, deadline)
			start := time.Now()
			err = db.Snapshot(hctx, func(ctx context.Context, tx store.Tx) error {
				if !frozenBefore {
					if _, err := tx.UserByPhone(ctx, "+254700000009"); err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
				}
				if err := srv.Freeze(); err != nil {
					t.Fatal(err)
				}
				_, err := tx.UserByPhone(ctx, "+254700000001")
				return err
			})
			took := time.Since(start)
			cancel()
			if terr := srv.Thaw(); terr != nil {
				t.Fatal(terr)
			}
			if err == nil {
				t.Fatal("a read the server never answered succeeded")
			}
			if took > deadline+margin {
				t.Fatalf("returned after %s: %v", took, err)
			}
			t.Logf("%s: %s %v", srv.Engine, took.Round(time.Millisecond), err)
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for i := 0; i < 5; i++ {
			if err := db.Snapshot(actx, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.UserByPhone(ctx, "+254700000001")
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				return nil
			}); err != nil {
				t.Fatalf("after the server answers again: %v", err)
			}
		}
	})
}
