package database_test

import (
	"context"
	"testing"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
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
