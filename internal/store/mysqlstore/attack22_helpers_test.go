package mysqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
)

// a22 is a store under attack, with an administrative pool of its own
// (autocommit on, default isolation) to look at the server from outside.
type a22 struct {
	s      *mysqlstore.Store
	admin  *sql.DB
	dbName string
}

func a22Open(t *testing.T, maxOpen int) *a22 {
	t.Helper()
	s, url := openMigrated(t, maxOpen)
	cfg, err := mysqlstore.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	admin.SetMaxOpenConns(4)
	t.Cleanup(func() { admin.Close() })
	return &a22{s: s, admin: admin, dbName: cfg.DBName}
}

func a22NewUser(tag string, n int) store.NewUser {
	return store.NewUser{Phone: fmt.Sprintf("+2547%08d", n), LightningName: fmt.Sprintf("a22%s%d", tag, n), Language: "en", Status: store.UserActive, Now: time.Now()}
}

// users counts the users with that phone number (0 or 1).
func (a *a22) users(t *testing.T, n int) int {
	t.Helper()
	var c int
	if err := a.admin.QueryRow("SELECT COUNT(*) FROM users WHERE phone = ?", fmt.Sprintf("+2547%08d", n)).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// openTrx lists the thread ids of the InnoDB transactions open on
// sessions of the test's database.
func (a *a22) openTrx(t *testing.T) []int64 {
	t.Helper()
	rows, err := a.admin.Query(`SELECT x.trx_mysql_thread_id FROM information_schema.innodb_trx x
		JOIN information_schema.processlist p ON p.ID = x.trx_mysql_thread_id WHERE p.DB = ?`, a.dbName)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// noMetadataLocks takes every table of the ledger for writing on a
// session of its own: a session holding a metadata lock (an open
// transaction, even one that only read) makes it wait and fail.
func (a *a22) noMetadataLocks(t *testing.T, tables ...string) {
	t.Helper()
	if err := a.lockTables(tables...); err != nil {
		t.Errorf("a session holds a metadata lock on %v: %v", tables, err)
	}
}

func (a *a22) lockTables(tables ...string) error {
	ctx := context.Background()
	c, err := a.admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "SET SESSION lock_wait_timeout = 2"); err != nil {
		return err
	}
	q := "LOCK TABLES "
	for i, tb := range tables {
		if i > 0 {
			q += ", "
		}
		q += tb + " WRITE"
	}
	if _, err := c.ExecContext(ctx, q); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, "UNLOCK TABLES")
	return err
}

// txSession reads, inside a transaction of InTx's pool, its session's
// autocommit, isolation and connection id.
func a22TxSession(t *testing.T, s *mysqlstore.Store) (auto int, iso string, id int64) {
	t.Helper()
	ctx := context.Background()
	tx, err := mysqlstore.TxPool(s).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	if err := tx.QueryRowContext(ctx, "SELECT @@autocommit, @@tx_isolation, CONNECTION_ID()").Scan(&auto, &iso, &id); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return auto, iso, id
}
