// Package sqlbulk is what the database/sql adapters (SQLite, MySQL) share
// of store.Bulk: multi-row INSERTs in batches, and a DBTX that explains the
// generated queries instead of running them.
package sqlbulk

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Insert appends rows to table on conn in one transaction, as multi-row
// INSERTs of at most maxParams parameters each (the engine's limit on
// placeholders in one statement).
func Insert(ctx context.Context, conn *sql.Conn, table string, columns []string, rows [][]any, maxParams int) error {
	per := max(1, maxParams/len(columns))
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("load %s: %w", table, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
	head := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES "
	var stmt *sql.Stmt
	args := make([]any, 0, per*len(columns))
	for start := 0; start < len(rows); start += per {
		batch := rows[start:min(start+per, len(rows))]
		args = args[:0]
		for _, r := range batch {
			args = append(args, r...)
		}
		if len(batch) == per && stmt != nil {
			_, err = stmt.ExecContext(ctx, args...)
		} else {
			q := head + strings.TrimSuffix(strings.Repeat(one+", ", len(batch)), ", ")
			if len(batch) == per {
				if stmt, err = tx.PrepareContext(ctx, q); err == nil {
					defer stmt.Close()
					_, err = stmt.ExecContext(ctx, args...)
				}
			} else {
				_, err = tx.ExecContext(ctx, q, args...)
			}
		}
		if err != nil {
			return fmt.Errorf("load %s: %w", table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("load %s: %w", table, err)
	}
	return nil
}

// Explainer is a DBTX of the generated database/sql queries (sqlc's
// interface) that explains every statement with prefix ("EXPLAIN ", or
// "EXPLAIN QUERY PLAN ") and the same arguments, records the plan as
// format makes each row of it, and answers no rows.
type Explainer struct {
	DB     *sql.DB
	Prefix string
	// Format turns one row of the engine's EXPLAIN, by column name, into
	// a line.
	Format func(row map[string]string) string
	// Empty is a query that returns no rows.
	Empty string

	name  string
	plans []store.QueryPlan
	err   error
}

// Begin implements store.PlanRecorder.
func (x *Explainer) Begin(name string) { x.name = name }

// Plans implements store.PlanRecorder.
func (x *Explainer) Plans() ([]store.QueryPlan, error) { return x.plans, x.err }

func (x *Explainer) explain(ctx context.Context, query string, args []any) {
	lines, err := x.plan(ctx, query, args)
	x.plans = append(x.plans, store.QueryPlan{Name: x.name, Query: strings.TrimSpace(query), Lines: lines})
	if err != nil && x.err == nil {
		x.err = fmt.Errorf("explain %s: %w", x.name, err)
	}
}

func (x *Explainer) plan(ctx context.Context, query string, args []any) ([]string, error) {
	rows, err := x.DB.QueryContext(ctx, x.Prefix+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var lines []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := map[string]string{}
		for i, c := range cols {
			row[strings.ToLower(c)] = vals[i].String
		}
		lines = append(lines, x.Format(row))
	}
	return lines, rows.Err()
}

// ExecContext implements the DBTX: explained, and nothing changed.
func (x *Explainer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	x.explain(ctx, query, args)
	return driver.RowsAffected(0), nil
}

// PrepareContext implements the DBTX: the explainer prepares nothing.
func (x *Explainer) PrepareContext(context.Context, string) (*sql.Stmt, error) {
	return nil, errors.New("the explainer prepares no statement")
}

// QueryContext implements the DBTX: explained, and no rows.
func (x *Explainer) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	x.explain(ctx, query, args)
	return x.DB.QueryContext(ctx, x.Empty)
}

// QueryRowContext implements the DBTX: explained, and no row.
func (x *Explainer) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	x.explain(ctx, query, args)
	return x.DB.QueryRowContext(ctx, x.Empty)
}
