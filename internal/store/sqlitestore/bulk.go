package sqlitestore

import (
	"context"
	"fmt"

	"github.com/umeme-wallet/umeme/gen/sqlitedb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlbulk"
)

var _ store.Bulk = (*Store)(nil)

// Load implements store.Bulk with multi-row INSERTs in one transaction on a
// connection that checks no foreign key.
func (s *Store) Load(ctx context.Context, table string, columns []string, rows [][]any) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return interpret(fmt.Errorf("load %s: %w", table, err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return interpret(fmt.Errorf("load %s: %w", table, err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON") //nolint:errcheck // best effort
	// SQLite takes at most 32766 parameters in one statement.
	return interpret(sqlbulk.Insert(ctx, conn, table, columns, rows, 32_000))
}

// MaxID implements store.Bulk.
func (s *Store) MaxID(ctx context.Context, table string) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM "`+table+`"`).Scan(&id)
	return id, interpret(err)
}

// AddToBalance implements store.Bulk.
func (s *Store) AddToBalance(ctx context.Context, accountID, delta int64) error {
	_, err := s.db.ExecContext(ctx, "UPDATE accounts SET balance_msat = balance_msat + ? WHERE id = ?", delta, accountID)
	return interpret(err)
}

// Loaded implements store.Bulk: a rowid continues after explicit ids by
// itself; ANALYZE refreshes the statistics.
func (s *Store) Loaded(ctx context.Context, _ ...string) error {
	_, err := s.db.ExecContext(ctx, "ANALYZE")
	return interpret(err)
}

// Plans implements store.Bulk through the adapter's own Tx.
func (s *Store) Plans(ctx context.Context, args store.PlanArgs) ([]store.QueryPlan, error) {
	x := &sqlbulk.Explainer{DB: s.db, Prefix: "EXPLAIN QUERY PLAN ", Empty: "SELECT 1 WHERE 0",
		Format: func(r map[string]string) string { return r["detail"] }}
	return store.ExplainHotQueries(ctx, &tx{q: sqlitedb.New(x), posting: store.Posting{InTx: true}}, x, args)
}
