package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/umeme-wallet/umeme/gen/postgresdb"
	"github.com/umeme-wallet/umeme/internal/store"
)

var _ store.Bulk = (*Store)(nil)

// Load implements store.Bulk with COPY, on one connection whose session
// skips the foreign keys' triggers when the role may (a superuser's
// session_replication_role); otherwise they run.
func (s *Store) Load(ctx context.Context, table string, columns []string, rows [][]any) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return interpret(fmt.Errorf("load %s: %w", table, err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err == nil {
		defer conn.Exec(context.WithoutCancel(ctx), "SET session_replication_role = DEFAULT") //nolint:errcheck // the connection is reset on error
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows)); err != nil {
		return interpret(fmt.Errorf("load %s: %w", table, err))
	}
	return nil
}

// MaxID implements store.Bulk.
func (s *Store) MaxID(ctx context.Context, table string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&id)
	return id, interpret(err)
}

// AddToBalance implements store.Bulk.
func (s *Store) AddToBalance(ctx context.Context, accountID, delta int64) error {
	_, err := s.pool.Exec(ctx, "UPDATE accounts SET balance_msat = balance_msat + $1 WHERE id = $2", delta, accountID)
	return interpret(err)
}

// Loaded implements store.Bulk: each table's identity continues after its
// highest id, and ANALYZE refreshes the statistics.
func (s *Store) Loaded(ctx context.Context, tables ...string) error {
	for _, t := range tables {
		id := pgx.Identifier{t}.Sanitize()
		q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), GREATEST((SELECT MAX(id) FROM %s), 1))", t, id)
		if _, err := s.pool.Exec(ctx, q); err != nil {
			return interpret(fmt.Errorf("identity of %s: %w", t, err))
		}
	}
	_, err := s.pool.Exec(ctx, "ANALYZE")
	return interpret(err)
}

// Plans implements store.Bulk: every hot query runs through the adapter's
// own Tx over an explainer, which asks EXPLAIN with the same arguments.
func (s *Store) Plans(ctx context.Context, args store.PlanArgs) ([]store.QueryPlan, error) {
	x := &explainer{pool: s.pool}
	return store.ExplainHotQueries(ctx, &tx{q: postgresdb.New(x), posting: store.Posting{InTx: true}}, x, args)
}

// explainer is a postgresdb.DBTX that explains each statement instead of
// running it, and answers no rows.
type explainer struct {
	pool interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}
	name  string
	plans []store.QueryPlan
	err   error
}

func (x *explainer) Begin(name string) { x.name = name }

func (x *explainer) Plans() ([]store.QueryPlan, error) { return x.plans, x.err }

func (x *explainer) explain(ctx context.Context, sql string, args []any) {
	rows, err := x.pool.Query(ctx, "EXPLAIN "+sql, args...)
	if err == nil {
		var lines []string
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		x.plans = append(x.plans, store.QueryPlan{Name: x.name, Query: strings.TrimSpace(sql), Lines: lines})
	}
	if err != nil && x.err == nil {
		x.err = fmt.Errorf("explain %s: %w", x.name, err)
	}
}

func (x *explainer) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	x.explain(ctx, sql, args)
	return pgconn.NewCommandTag("UPDATE 0"), nil
}

func (x *explainer) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	x.explain(ctx, sql, args)
	return x.pool.Query(ctx, "SELECT 1 WHERE FALSE")
}

func (x *explainer) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	x.explain(ctx, sql, args)
	return noRow{}
}

type noRow struct{}

func (noRow) Scan(...any) error { return pgx.ErrNoRows }
