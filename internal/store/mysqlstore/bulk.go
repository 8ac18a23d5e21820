package mysqlstore

import (
	"context"
	"fmt"

	"github.com/umeme-wallet/umeme/gen/mysqldb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlbulk"
)

var _ store.Bulk = (*Store)(nil)

// bulkTables are the tables Loaded analyzes.
var bulkTables = []string{"users", "accounts", "transactions", "ledger_entries", "invoices", "ussd_sessions", "notifications", "mpesa_requests"}

// Load implements store.Bulk with multi-row INSERTs on one connection whose
// session checks no foreign key and defers unique checks of secondary
// indexes to InnoDB's change buffer (the loader owes unique keys).
func (s *Store) Load(ctx context.Context, table string, columns []string, rows [][]any) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return interpret(fmt.Errorf("load %s: %w", table, err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET foreign_key_checks = 0, unique_checks = 0"); err != nil {
		return interpret(fmt.Errorf("load %s: %w", table, err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SET foreign_key_checks = 1, unique_checks = 1") //nolint:errcheck // best effort; the pool's session
	return interpret(sqlbulk.Insert(ctx, conn, table, columns, rows, 60_000))
}

// MaxID implements store.Bulk.
func (s *Store) MaxID(ctx context.Context, table string) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM `"+table+"`").Scan(&id)
	return id, interpret(err)
}

// AddToBalance implements store.Bulk.
func (s *Store) AddToBalance(ctx context.Context, accountID, delta int64) error {
	_, err := s.db.ExecContext(ctx, "UPDATE accounts SET balance_msat = balance_msat + ? WHERE id = ?", delta, accountID)
	return interpret(err)
}

// Loaded implements store.Bulk: AUTO_INCREMENT already continues after
// explicit ids; ANALYZE TABLE refreshes the statistics.
func (s *Store) Loaded(ctx context.Context, _ ...string) error {
	for _, t := range bulkTables {
		rows, err := s.db.QueryContext(ctx, "ANALYZE TABLE `"+t+"`")
		if err != nil {
			return interpret(fmt.Errorf("analyze %s: %w", t, err))
		}
		rows.Close()
	}
	return nil
}

// Plans implements store.Bulk through the adapter's own Tx.
func (s *Store) Plans(ctx context.Context, args store.PlanArgs) ([]store.QueryPlan, error) {
	x := &sqlbulk.Explainer{DB: s.db, Prefix: "EXPLAIN ", Empty: "SELECT 1 FROM accounts WHERE 1 = 0",
		Format: func(r map[string]string) string {
			return fmt.Sprintf("table=%s type=%s key=%s rows=%s extra=%s", r["table"], r["type"], r["key"], r["rows"], r["extra"])
		}}
	return store.ExplainHotQueries(ctx, &tx{q: mysqldb.New(x), posting: store.Posting{InTx: true}}, x, args)
}
