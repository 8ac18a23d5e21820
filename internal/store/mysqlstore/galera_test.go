package mysqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
)

// TestGaleraSyncWaitURL: wsrep_sync_wait in the URL becomes a setting of
// every connection (what MariaDB Galera needs for reads that see commits
// made through other nodes); a value that is not a small number is refused,
// and the password never shows in the error.
func TestGaleraSyncWaitURL(t *testing.T) {
	cfg, err := mysqlstore.ParseURL("mysql://u:secret@db:3306/umeme?wsrep_sync_wait=1")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Params["wsrep_sync_wait"]; got != "1" {
		t.Fatalf("wsrep_sync_wait param %q, want 1", got)
	}
	if cfg, err = mysqlstore.ParseURL("mysql://u:secret@db:3306/umeme"); err != nil || cfg.Params["wsrep_sync_wait"] != "" {
		t.Fatalf("without the parameter: %v %v", cfg.Params, err)
	}
	for _, v := range []string{"x", "16", "-1", "1+DROP", "1%2C2"} {
		_, err := mysqlstore.ParseURL("mysql://u:secret@db:3306/umeme?wsrep_sync_wait=" + v)
		if err == nil {
			t.Errorf("wsrep_sync_wait=%s accepted", v)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}

	// On a real MariaDB server every connection of the store carries it
	// (MariaDB knows the variable even without Galera), and Ping passes.
	dbURL := freshDatabase(t) + "?wsrep_sync_wait=1"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if cfg, err = mysqlstore.ParseURL(dbURL); err != nil {
		t.Fatal(err)
	}
	plain := cfg.Clone()
	delete(plain.Params, "wsrep_sync_wait")
	var version string
	if err := query(ctx, plain, "SELECT VERSION()", &version); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(version, "MariaDB") {
		t.Logf("server %s is not MariaDB: no wsrep_sync_wait to set", version)
		return
	}
	var got int
	if err := query(ctx, cfg, "SELECT @@SESSION.wsrep_sync_wait", &got); err != nil || got != 1 {
		t.Fatalf("session wsrep_sync_wait %d %v, want 1", got, err)
	}
	s, err := mysqlstore.Open(ctx, dbURL, mysqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping a server without Galera: %v", err)
	}
}

// query reads one value over a connection of cfg.
func query(ctx context.Context, cfg *mysql.Config, q string, dst any) error {
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	return db.QueryRowContext(ctx, q).Scan(dst)
}
