package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/dbtest"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
)

// freshDatabase returns the URL of a fresh database on the server of
// TEST_MYSQL_URL, dropped when the test ends (dbtest decides whether a
// missing server skips or fails).
func freshDatabase(t *testing.T) string {
	t.Helper()
	return dbtest.URL(t, "mysql")
}

// openMigrated opens a store with pools of maxOpen connections on a fresh,
// migrated database, closed when the test ends, and returns it with the
// database's URL.
func openMigrated(t *testing.T, maxOpen int) (*mysqlstore.Store, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := freshDatabase(t)
	s, err := mysqlstore.Open(ctx, url, mysqlstore.Options{MaxOpenConns: maxOpen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(migrations.Up); err != nil {
		t.Fatal(err)
	}
	return s, url
}

// TestSmoke opens a fresh database, migrates it and runs a few operations,
// checking what is particular to MySQL: INSERT IGNORE, the error numbers,
// UTC times with microseconds, matched-row counts and the session upsert.
func TestSmoke(t *testing.T) {
	dbURL := freshDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s, err := mysqlstore.Open(ctx, dbURL, mysqlstore.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	if s.Engine() != "mysql" {
		t.Errorf("engine %q", s.Engine())
	}
	if err := s.Migrate(migrations.Up); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	if v, dirty, err := s.MigrationVersion(); err != nil || dirty || v == 0 {
		t.Fatalf("version %d dirty %v err %v", v, dirty, err)
	}
	if err := s.Migrate(migrations.Up); err != nil {
		t.Fatalf("migrate up twice: %v", err)
	}

	// A time in another zone with nanoseconds comes back in UTC, truncated
	// to the microseconds DATETIME(6) keeps.
	now := time.Date(2024, 5, 6, 10, 11, 12, 123456789, time.FixedZone("EAT", 3*3600))
	want := now.UTC().Truncate(time.Microsecond)

	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		nu := store.NewUser{Phone: "+254700000001", LightningName: "alice", Language: "en", Now: now}
		created, err := tx.InsertUserIfAbsent(ctx, nu)
		if err != nil || !created {
			t.Fatalf("insert user if absent: %v %v", created, err)
		}
		created, err = tx.InsertUserIfAbsent(ctx, nu)
		if err != nil || created {
			t.Fatalf("insert user if absent again: %v %v", created, err)
		}
		if _, err := tx.InsertUser(ctx, store.NewUser{Phone: "+254700000001", LightningName: "bob", Language: "en", Status: store.UserActive, Now: now}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate phone: %v", err)
		}
		// A taken Lightning name is a conflict, not "already there".
		created, err = tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: "+254700000002", LightningName: "alice", Language: "en", Now: now})
		if created || !errors.Is(err, store.ErrConflict) {
			t.Fatalf("insert user if absent with a taken name: %v %v", created, err)
		}
		u, err := tx.UserByPhone(ctx, nu.Phone)
		if err != nil {
			t.Fatal(err)
		}
		if !u.CreatedAt.Equal(want) || u.CreatedAt.Location() != time.UTC || u.Status != store.UserUnregistered {
			t.Errorf("user %+v, want created at %v", u, want)
		}
		if _, err := tx.UserByID(ctx, u.ID+1000); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing user: %v", err)
		}
		// Setting what a row already holds still matches it.
		for range 2 {
			if err := tx.SetUserLanguage(ctx, u.ID, "sw", now); err != nil {
				t.Errorf("set language: %v", err)
			}
		}
		if err := tx.SetUserLanguage(ctx, u.ID+1000, "sw", now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("set language of a missing user: %v", err)
		}

		acct, err := tx.InsertUserAccount(ctx, u.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		locked, err := tx.LockAccounts(ctx)
		if err != nil || locked == nil || len(locked) != 0 {
			t.Errorf("lock no accounts: %v %v", locked, err)
		}
		mpesa, err := tx.SystemAccount(ctx, store.AccountMpesa)
		if err != nil {
			t.Fatal(err)
		}
		locked, err = tx.LockAccounts(ctx, acct, mpesa.ID)
		if err != nil || len(locked) != 2 || locked[0].ID > locked[1].ID {
			t.Errorf("lock accounts: %v %v", locked, err)
		}
		txID, err := tx.InsertTransaction(ctx, store.NewTransaction{
			UserID: u.ID, Type: store.TypeTopup, Direction: store.DirectionIn, Status: store.StatusCompleted,
			AmountMsat: 5000, IdempotencyKey: "topup-1", Now: now,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.PostEntries(ctx, txID, []store.Entry{{AccountID: acct, AmountMsat: 5000}, {AccountID: mpesa.ID, AmountMsat: -5000}}, store.Guard{MaxBalanceMsat: 10000, DayLimitMsat: 1 << 62}, now); err != nil {
			t.Fatalf("post entries: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("in tx: %v", err)
	}

	// A refused posting fails the transaction, which rolls back what it had
	// already moved (the mpesa account comes first in id order).
	var be *store.BalanceError
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		u, err := tx.UserAccountByPhone(ctx, "+254700000001")
		if err != nil {
			return err
		}
		mpesa, err := tx.SystemAccount(ctx, store.AccountMpesa)
		if err != nil {
			return err
		}
		txID, err := tx.InsertTransaction(ctx, store.NewTransaction{
			UserID: u.UserID, Type: store.TypeTopup, Direction: store.DirectionIn, Status: store.StatusCompleted,
			AmountMsat: 6000, IdempotencyKey: "topup-2", Now: now,
		})
		if err != nil {
			return err
		}
		return tx.PostEntries(ctx, txID, []store.Entry{{AccountID: u.AccountID, AmountMsat: 6000}, {AccountID: mpesa.ID, AmountMsat: -6000}}, store.Guard{MaxBalanceMsat: 10000, DayLimitMsat: 1 << 62}, now)
	})
	if !errors.As(err, &be) || be.AmountMsat != 6000 {
		t.Errorf("credit above the maximum: %v", err)
	}

	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.TransactionByIdempotencyKey(ctx, "topup-2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rolled back transaction: %v", err)
		}
		rep, err := tx.Reconcile(ctx)
		if err != nil || !rep.OK() {
			t.Errorf("reconcile: %+v %v", rep, err)
		}
		sess, err := tx.UpsertSession(ctx, store.NewSession{SessionID: "s1", Phone: "+254700000001", State: "menu", Now: now})
		if err != nil {
			t.Fatalf("upsert session: %v", err)
		}
		later := now.Add(time.Second)
		again, err := tx.UpsertSession(ctx, store.NewSession{SessionID: "s1", Phone: "+254700000001", State: "other", Now: later})
		if err != nil || again.ID != sess.ID || again.State != "menu" || !again.LastActivityAt.Equal(sess.LastActivityAt) {
			t.Errorf("upsert session again: %+v %v", again, err)
		}
		buf, err := tx.AppendSessionInput(ctx, "s1", "1", later)
		if err != nil || len(buf) != 1 || buf[0] != "1" {
			t.Errorf("append input: %v %v", buf, err)
		}
		if err := tx.EndSession(ctx, store.SessionEnd{SessionID: "s1", Status: "completed", DurationMs: 1500, Hops: 3, Now: later}); err != nil {
			t.Errorf("end session: %v", err)
		}
		got, err := tx.Session(ctx, "s1")
		if err != nil || got.Active || got.Hops != 3 || got.EndedAt == nil {
			t.Errorf("ended session: %+v %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("in tx: %v", err)
	}
}
