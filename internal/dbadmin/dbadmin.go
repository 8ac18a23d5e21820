// Package dbadmin creates and drops whole databases on a MySQL/MariaDB or
// PostgreSQL server, for tests and benchmarks that each want their own.
package dbadmin

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
)

// RandomName returns a fresh database name with the given prefix.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// WithDatabase replaces the database (path) of a server URL.
func WithDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("database url: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// MySQLConfig turns a mysql:// URL into a driver configuration (the
// store's own parser, so both read URLs alike).
func MySQLConfig(raw string) (*mysql.Config, error) {
	return mysqlstore.ParseURL(raw)
}

// Create makes a database called name on the server of serverURL (whose own
// database part is ignored for MySQL, and used to connect for PostgreSQL)
// and returns the URL naming the new database and a function that drops it.
func Create(ctx context.Context, engine, serverURL, name string) (string, func(context.Context) error, error) {
	var exec func(ctx context.Context, stmt string) error
	switch engine {
	case "mysql":
		cfg, err := MySQLConfig(serverURL)
		if err != nil {
			return "", nil, err
		}
		cfg.DBName = ""
		exec = func(ctx context.Context, stmt string) error {
			db, err := sql.Open("mysql", cfg.FormatDSN())
			if err != nil {
				return err
			}
			defer db.Close()
			_, err = db.ExecContext(ctx, stmt)
			return err
		}
	case "postgres":
		exec = func(ctx context.Context, stmt string) error {
			conn, err := pgx.Connect(ctx, serverURL)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, stmt)
			return err
		}
	default:
		return "", nil, fmt.Errorf("dbadmin: no server databases for engine %q", engine)
	}
	if err := exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s on %s: %w", name, engine, err)
	}
	drop := "DROP DATABASE " + name
	if engine == "postgres" {
		drop += " WITH (FORCE)"
	}
	dbURL, err := WithDatabase(serverURL, name)
	if err != nil {
		return "", nil, err
	}
	return dbURL, func(ctx context.Context) error { return exec(ctx, drop) }, nil
}
