package database_test

import (
	"context"
	"testing"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// TestStoreContract runs the store's contract against every engine.
func TestStoreContract(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		storetest.Exercise(t, db)
	})
}

// TestMigrations checks that every engine migrates up, reports its version,
// reverts to nothing and migrates up again.
func TestMigrations(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		v, dirty, err := db.MigrationVersion()
		if err != nil || dirty || v == 0 {
			t.Fatalf("after up: version %d dirty %v err %v", v, dirty, err)
		}
		for v > 0 {
			if err := db.Migrate(migrations.Down); err != nil {
				t.Fatalf("down from %d: %v", v, err)
			}
			if v, _, err = db.MigrationVersion(); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(migrations.Up); err != nil {
			t.Fatalf("up again: %v", err)
		}
		if err := database.Healthy(context.Background(), db, 0); err == nil {
			t.Fatal("a zero health-check timeout must fail")
		}
	})
}

func TestEngine(t *testing.T) {
	cases := map[string]string{
		"sqlite:data/umeme.db":                  "sqlite",
		"sqlite:///tmp/x.db":                    "sqlite",
		"mysql://root@127.0.0.1:3306/umeme":     "mysql",
		"mysql+pymysql://u:p@db:3306/umeme":     "mysql",
		"postgres://postgres@127.0.0.1/umeme":   "postgres",
		"postgresql://postgres@127.0.0.1/umeme": "postgres",
		"redis://127.0.0.1:6379":                "",
		"":                                      "",
	}
	for url, want := range cases {
		got, err := database.Engine(url)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("Engine(%q) = %q, %v; want %q", url, got, err, want)
		}
	}
}

// TestMigrationChainsExistingLedger: migration 000004 gives the rows an
// older wallet booked what later postings carry (chain places, balances
// after, hashes, day counts, holds) and recounts the daily counters, so
// that an upgraded ledger reconciles: a ledger written the old way, with
// every kind of operation, is migrated and must pass every check.
func TestMigrationChainsExistingLedger(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := dbtest.URL(t, engine)
			db, err := database.Open(ctx, url, database.Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for {
				v, _, err := db.MigrationVersion()
				if err != nil {
					t.Fatal(err)
				}
				if v < 4 {
					break
				}
				if err := db.Migrate(migrations.Down); err != nil {
					t.Fatal(err)
				}
			}
			at := func(ts string) string {
				switch engine {
				case "postgres":
					return "'" + ts + "+00'"
				case "sqlite":
					return "'" + ts + "+00:00'"
				}
				return "'" + ts + "'"
			}
			day1, day1b, day2 := at("2026-01-01 10:00:00.25"), at("2026-01-01 13:30:00"), at("2026-01-02 10:00:00")
			// System accounts 1-5 are lightning, mpesa, fees, adjustments,
			// reserved; alice's account is 6, bob's 7. Each transaction's
			// entries are those the wallet booked before the migration.
			txn := "INSERT INTO transactions (id, user_id, type, direction, status, amount_msat, fee_msat, counterparty_phone, payment_hash, idempotency_key, created_at, updated_at) VALUES "
			for _, q := range []string{
				"INSERT INTO users (id, phone, lightning_name, status, created_at, updated_at) VALUES (1, '+254700000001', '254700000001', 'active', " + day1 + ", " + day1 + "), (2, '+254700000002', '254700000002', 'active', " + day1 + ", " + day1 + ")",
				"INSERT INTO accounts (id, user_id, kind, created_at) VALUES (6, 1, 'user', " + day1 + "), (7, 2, 'user', " + day1 + ")",
				txn + "(1, 1, 'adjustment', 'in', 'completed', 100000, 0, NULL, NULL, 'k1', " + day1 + ", " + day1 + ")," +
					"(2, 1, 'send', 'out', 'completed', 3000, 0, '+254700000002', NULL, 'k2', " + day1 + ", " + day1 + ")," +
					"(3, 2, 'receive', 'in', 'completed', 3000, 0, '+254700000001', NULL, 'k2/receive', " + day1 + ", " + day1 + ")," +
					"(4, 1, 'payment', 'out', 'pending', 2000, 20, NULL, 'h4', 'k4', " + day1 + ", " + day1 + ")," +
					"(5, 1, 'payment', 'out', 'failed', 1000, 0, NULL, 'h5', 'k5', " + day1 + ", " + day2 + ")," +
					"(6, 1, 'payment', 'out', 'failed', 500, 0, NULL, 'h6', 'k6', " + day1 + ", " + day1b + ")," +
					"(7, 1, 'payment', 'out', 'completed', 4000, 45, NULL, 'h7', 'k7', " + day1 + ", " + day1 + ")," +
					"(8, 2, 'topup', 'in', 'completed', 7000, 0, NULL, NULL, 'k8', " + day1 + ", " + day1 + ")," +
					"(9, 2, 'invoice', 'in', 'completed', 1500, 0, NULL, 'h9', 'k9', " + day1 + ", " + day1 + ")," +
					"(10, 2, 'invoice', 'in', 'pending', 800, 0, NULL, 'h10', 'k10', " + day1 + ", " + day1 + ")," +
					"(11, 1, 'withdraw', 'out', 'completed', 1000, 10, NULL, NULL, 'k11', " + day2 + ", " + day2 + ")",
				"INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, created_at) VALUES " +
					"(1, 4, -100000, " + day1 + "), (1, 6, 100000, " + day1 + ")," +
					"(2, 6, -3000, " + day1 + "), (2, 7, 3000, " + day1 + ")," +
					"(4, 6, -2030, " + day1 + "), (4, 5, 2030, " + day1 + ")," +
					"(5, 6, -1020, " + day1 + "), (5, 5, 1020, " + day1 + ")," +
					"(6, 6, -520, " + day1 + "), (6, 5, 520, " + day1 + "), (6, 5, -520, " + day1b + "), (6, 6, 520, " + day1b + ")," +
					"(7, 6, -4090, " + day1 + "), (7, 5, 4090, " + day1 + "), (7, 5, -4090, " + day1 + "), (7, 1, 4005, " + day1 + "), (7, 6, 45, " + day1 + "), (7, 3, 40, " + day1 + ")," +
					"(8, 2, -7000, " + day1 + "), (8, 7, 7000, " + day1 + ")," +
					"(9, 1, -1500, " + day1 + "), (9, 7, 1500, " + day1 + ")," +
					"(5, 5, -1020, " + day2 + "), (5, 6, 1020, " + day2 + ")," +
					"(11, 6, -1010, " + day2 + "), (11, 5, 1010, " + day2 + "), (11, 5, -1010, " + day2 + "), (11, 2, 1000, " + day2 + "), (11, 3, 10, " + day2 + ")",
				"UPDATE accounts SET balance_msat = (SELECT COALESCE(SUM(e.amount_msat), 0) FROM ledger_entries e WHERE e.account_id = accounts.id)",
				// The old counter of the day: refunds gave back to it whatever
				// day they were counted on.
				"UPDATE accounts SET day_out_msat = 0, day_out_day = 20455 WHERE id = 6",
			} {
				dbtest.RawExec(t, url, q)
			}
			if err := db.Migrate(migrations.Up); err != nil {
				t.Fatalf("migrate up over an old ledger: %v", err)
			}
			var rep store.ReconcileReport
			var alice store.Account
			err = db.Snapshot(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				if rep, err = tx.Reconcile(ctx); err != nil {
					return err
				}
				alice, err = tx.AccountByID(ctx, 6)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("the migrated ledger does not reconcile: %+v", rep)
			}
			// Day 2 (20455) counts the withdrawal only: the refund on day 2
			// of a payment counted on day 1 gives nothing back to it.
			if alice.DayOutDay != 20455 || alice.DayOutMsat != 1000 {
				t.Fatalf("alice's recounted counter: %d msat on day %d", alice.DayOutMsat, alice.DayOutDay)
			}
		})
	}
}
