package database_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbadmin"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// TestGaleraSchema is the store contract's check of what MariaDB Galera
// needs of the MySQL engine: after every migration, each table is InnoDB
// with a primary key, and no migration, query or adapter statement takes
// a table lock, a named lock (GET_LOCK), an XA transaction or a global
// read lock. The check is shown to catch each of them.
func TestGaleraSchema(t *testing.T) {
	url := dbtest.URL(t, "mysql")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := database.Open(ctx, url, database.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	cfg, err := dbadmin.MySQLConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	bad, err := storetest.GaleraTableViolations(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("tables Galera would not replicate faithfully:\n%s", strings.Join(bad, "\n"))
	}
	sources := storetest.GaleraSources(t)
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range storetest.GaleraStatementViolations(name, sources[name]) {
			t.Errorf("not for Galera: %s", v)
		}
	}
	t.Logf("%d migrations, query files and adapter files read; every table InnoDB with a primary key", len(sources))

	// The checks can fail: a table of another engine and one without a
	// primary key are named, and so is each statement.
	dbtest.RawExec(t, url, "CREATE TABLE galera_probe_myisam (id BIGINT PRIMARY KEY) ENGINE = MyISAM")
	dbtest.RawExec(t, url, "CREATE TABLE galera_probe_nokey (n INT NOT NULL) ENGINE = InnoDB")
	bad, err = storetest.GaleraTableViolations(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"table galera_probe_myisam is MyISAM, not InnoDB", "table galera_probe_nokey has no primary key"}
	if !slices.Equal(bad, want) {
		t.Errorf("with two unfit tables the check found %q, want %q", bad, want)
	}
	probe := strings.Join([]string{
		"-- LOCK TABLES in a comment is no statement",
		"LOCK TABLES accounts WRITE;",
		"SELECT GET_LOCK('x', 10);",
		"XA START 'x';",
		"FLUSH TABLES accounts\n  WITH READ LOCK;",
		"CREATE TABLE t (id INT PRIMARY KEY) ENGINE=MyISAM;",
	}, "\n")
	got := storetest.GaleraStatementViolations("probe.sql", probe)
	if len(got) != 5 {
		t.Errorf("the statement check found %d of 5 unfit statements: %q", len(got), got)
	}
}
