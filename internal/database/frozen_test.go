package database_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbserver"
	"github.com/umeme-wallet/umeme/internal/store"
)

// TestDatabaseRestartFrozenCommit: a transaction whose COMMIT or ROLLBACK
// the database never answers (the server hangs, or the network drops its
// packets) returns an error when its context ends (or soon after: a
// COMMIT sent is settled, which gives up after a second when the server
// does not answer, and its outcome is then unknown), not when the server
// comes back:
// a USSD hop must be answered within its deadline whatever the database
// does. Once the server answers again, the store works.
func TestDatabaseRestartFrozenCommit(t *testing.T) {
	dbserver.ForEachEngine(t, func(t *testing.T, srv *dbserver.Server) {
		ctx, engine := context.Background(), srv.Engine
		url := srv.Database(t)
		db, err := database.Open(ctx, url, database.Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()

		const deadline, margin = time.Second, 2 * time.Second
		insert := func(ctx context.Context, tx store.Tx, n int) error {
			_, err := tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: fmt.Sprintf("+25470000000%d", n), LightningName: fmt.Sprintf("frozen%d", n), Language: "en", Now: time.Now()})
			return err
		}
		// The server stops answering just before the COMMIT, or
		// before the ROLLBACK of a transaction that was refused.
		refused := errors.New("refused")
		for i, last := range map[string]error{"COMMIT": nil, "ROLLBACK": refused} {
			hctx, cancel := context.WithTimeout(ctx, deadline)
			start := time.Now()
			err = db.InTx(hctx, func(ctx context.Context, tx store.Tx) error {
				if err := insert(ctx, tx, len(i)); err != nil {
					return err
				}
				if err := srv.Freeze(); err != nil {
					t.Fatal(err)
				}
				return last
			})
			took := time.Since(start)
			cancel()
			if terr := srv.Thaw(); terr != nil {
				t.Fatal(terr)
			}
			if err == nil {
				t.Fatalf("a %s the server never answered succeeded", i)
			}
			if i == "COMMIT" && !errors.Is(err, store.ErrOutcomeUnknown) {
				t.Fatalf("a COMMIT the server never answered, whose session could not be ended, returned %v; want the outcome unknown", err)
			}
			if took > deadline+margin {
				t.Fatalf("a %s the server never answered returned after %s, past its %s deadline: %v", i, took.Round(time.Millisecond), deadline, err)
			}
			t.Logf("%s: the unanswered %s returned after %s: %v", engine, i, took.Round(time.Millisecond), err)
		}

		actx, cancel2 := context.WithTimeout(ctx, 30*time.Second)
		defer cancel2()
		if err := db.InTx(actx, func(ctx context.Context, tx store.Tx) error { return insert(ctx, tx, 1) }); err != nil {
			t.Fatalf("after the server answers again: %v", err)
		}
	})
}
