package database_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// TestSerializableStoreContract runs the store's contract on PostgreSQL
// with DB_ISOLATION=serializable, its checks one at a time (see
// storetest.ExerciseOneByOne: run side by side, a check's read may be the
// victim of a serialization failure, which the check would take for a
// broken contract).
func TestSerializableStoreContract(t *testing.T) {
	db := dbtest.OpenWith(t, "postgres", database.Options{Isolation: store.IsolationSerializable})
	storetest.ExerciseOneByOne(t, db)
	dbtest.LogRetries(t, db, "SERIALIZABLE")
}

// TestSerializableConflictRetried forces the conflict READ COMMITTED lets
// through and SERIALIZABLE refuses: a transaction reads a user, another
// changes the user and commits, then the first writes the user. At the
// default isolation the first commits at once; at SERIALIZABLE its write
// fails with SQLSTATE 40001, InTx runs it again on a fresh snapshot, and
// Retries counts the rerun.
func TestSerializableConflictRetried(t *testing.T) {
	for _, c := range []struct {
		iso      store.Isolation
		attempts int
	}{{store.IsolationDefault, 1}, {store.IsolationSerializable, 2}} {
		t.Run(c.iso.String(), func(t *testing.T) {
			t.Parallel()
			db := dbtest.OpenWith(t, "postgres", database.Options{Isolation: c.iso})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
			phone := storetest.Phone(t)
			var id int64
			err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				id, err = tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: now})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			retries, attempts := db.Retries(), 0
			err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				attempts++
				if _, err := tx.UserByID(ctx, id); err != nil { // the snapshot is taken here
					return err
				}
				if attempts == 1 {
					// Another transaction changes the row and commits.
					if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
						return tx.SetUserLanguage(ctx, id, "sw", now)
					}); err != nil {
						return err
					}
				}
				return tx.SetUserLanguage(ctx, id, "en", now.Add(time.Second))
			})
			if err != nil {
				t.Fatal(err)
			}
			if attempts != c.attempts {
				t.Fatalf("at %s the transaction ran %d times, want %d", c.iso, attempts, c.attempts)
			}
			if got := db.Retries() - retries; got != int64(c.attempts-1) {
				t.Fatalf("at %s Retries grew by %d, want %d", c.iso, got, c.attempts-1)
			}
			err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				u, err := tx.UserByID(ctx, id)
				if err == nil && u.Language != "en" {
					t.Fatalf("the last write was lost: language %q", u.Language)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSerializableSetting: DB_ISOLATION reads default and serializable in
// any case and refuses anything else; SQLite accepts serializable (it is
// serializable already) and MySQL/MariaDB refuse it at open.
func TestSerializableSetting(t *testing.T) {
	for v, want := range map[string]store.Isolation{"": store.IsolationDefault, "default": store.IsolationDefault,
		"serializable": store.IsolationSerializable, "SERIALIZABLE": store.IsolationSerializable} {
		cfg, err := config.FromEnv(func(k string) string {
			if k == "DB_ISOLATION" {
				return v
			}
			return ""
		})
		if err != nil || cfg.DBIsolation != want {
			t.Errorf("DB_ISOLATION=%q: %q, %v; want %q", v, cfg.DBIsolation, err, want)
		}
	}
	for _, v := range []string{"read committed", "snapshot", "1"} {
		if _, err := config.FromEnv(func(k string) string {
			if k == "DB_ISOLATION" {
				return v
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), "DB_ISOLATION") {
			t.Errorf("DB_ISOLATION=%q was accepted (%v)", v, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	serializable := database.Options{Isolation: store.IsolationSerializable, Migrate: true}
	db, err := database.Open(ctx, dbtest.URL(t, "sqlite"), serializable)
	if err != nil {
		t.Fatalf("sqlite refused serializable: %v", err)
	}
	db.Close()
	if db, err := database.Open(ctx, dbtest.URL(t, "mysql"), serializable); err == nil {
		db.Close()
		t.Fatal("mysql accepted DB_ISOLATION=serializable")
	} else if !strings.Contains(err.Error(), "docs/distributed-sql.md") {
		t.Fatalf("mysql's refusal does not say where to read why: %v", err)
	}
}
