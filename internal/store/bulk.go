package store

import (
	"context"
	"time"
)

// Bulk is what every adapter offers beside Store for rows made outside the
// wallet's operations: the growth generator (internal/store/growth) loads a
// whole ledger with it in big batches, and the contract's plan check asks
// it how the engine runs the hot queries. Nothing of the application uses
// it.
type Bulk interface {
	// Load appends rows to a table, columns in the order given, in big
	// batches on one connection: COPY on PostgreSQL, multi-row INSERTs
	// elsewhere. Foreign keys are not checked row by row where the engine
	// lets a session turn them off: the caller loads parents first and
	// owes consistent rows (the generator proves its own with Reconcile).
	Load(ctx context.Context, table string, columns []string, rows [][]any) error
	// MaxID is the highest id of a table with an id column, 0 when empty.
	MaxID(ctx context.Context, table string) (int64, error)
	// AddToBalance moves an account's cached balance by delta, for the
	// system accounts whose entries were loaded.
	AddToBalance(ctx context.Context, accountID, delta int64) error
	// Loaded tells the engine that rows with explicit ids were loaded
	// into tables: PostgreSQL moves their identity sequences past them,
	// and every engine refreshes the planner's statistics.
	Loaded(ctx context.Context, tables ...string) error
	// Plans explains the hot queries of the wallet, each as the store's
	// own Tx method issues it (through the generated queries, with
	// realistic arguments), without running them.
	Plans(ctx context.Context) ([]QueryPlan, error)
}

// QueryPlan is how an engine runs one statement: the engine's EXPLAIN, one
// line per row or node (PostgreSQL: the text plan; MySQL: "table=… type=…
// key=… rows=… extra=…"; SQLite: the EXPLAIN QUERY PLAN details).
type QueryPlan struct {
	// Name is the Tx method that issued the statement.
	Name  string
	Query string
	Lines []string
}

// HotQuery is one operation of the wallet's busy paths, run by Plans with
// realistic arguments against a Tx whose statements are explained instead
// of run (their results come back empty).
type HotQuery struct {
	Name string
	Run  func(ctx context.Context, tx Tx) error
}

// HotQueries are the operations whose cost must not grow with the tables:
// a USSD hop's user, session and history, an invoice settling, the
// outbox's claim, the payments and M-Pesa requests the background jobs
// resume, and the cleanup's sweeps. Each must find its rows through an
// index (the contract's plan check).
var HotQueries = []HotQuery{
	{"UserByPhone", func(ctx context.Context, tx Tx) error { _, err := tx.UserByPhone(ctx, planPhone); return err }},
	{"UserAccountByPhone", func(ctx context.Context, tx Tx) error { _, err := tx.UserAccountByPhone(ctx, planPhone); return err }},
	{"UserByID", func(ctx context.Context, tx Tx) error { _, err := tx.UserByID(ctx, planID); return err }},
	{"AccountByUserID", func(ctx context.Context, tx Tx) error { _, err := tx.AccountByUserID(ctx, planID); return err }},
	{"LatestTransactions", func(ctx context.Context, tx Tx) error {
		_, err := tx.LatestTransactions(ctx, planID, 0, 5)
		return err
	}},
	{"LatestTransactionsBefore", func(ctx context.Context, tx Tx) error {
		_, err := tx.LatestTransactions(ctx, planID, 5_000_000, 5)
		return err
	}},
	{"TransactionByIdempotencyKey", func(ctx context.Context, tx Tx) error {
		_, err := tx.TransactionByIdempotencyKey(ctx, "plan-key")
		return err
	}},
	{"BalanceAfter", func(ctx context.Context, tx Tx) error { _, err := tx.BalanceAfter(ctx, planID, planID); return err }},
	{"Session", func(ctx context.Context, tx Tx) error { _, err := tx.Session(ctx, "plan-session"); return err }},
	{"UpsertSession", func(ctx context.Context, tx Tx) error {
		_, err := tx.UpsertSession(ctx, NewSession{SessionID: "plan-session", Phone: planPhone, State: "main", Now: planTime})
		return err
	}},
	{"SaveSessionHop", func(ctx context.Context, tx Tx) error {
		return tx.SaveSessionHop(ctx, SessionHop{SessionID: "plan-session", State: "main", Now: planTime})
	}},
	{"CloseIdleSessions", func(ctx context.Context, tx Tx) error {
		_, err := tx.CloseIdleSessions(ctx, planTime.Add(-3*time.Minute), planTime)
		return err
	}},
	{"InvoiceByPaymentHash", func(ctx context.Context, tx Tx) error { _, err := tx.InvoiceByPaymentHash(ctx, planHash); return err }},
	{"MarkInvoicePaid", func(ctx context.Context, tx Tx) error {
		_, err := tx.MarkInvoicePaid(ctx, planHash, 1000, planTime)
		return err
	}},
	{"ExpireInvoices", func(ctx context.Context, tx Tx) error { _, err := tx.ExpireInvoices(ctx, planTime); return err }},
	{"MinUnpaidInvoiceAddIndex", func(ctx context.Context, tx Tx) error {
		_, err := tx.MinUnpaidInvoiceAddIndex(ctx, planTime.Add(-24*time.Hour))
		return err
	}},
	{"UnpaidAddressInvoices", func(ctx context.Context, tx Tx) error {
		_, err := tx.UnpaidAddressInvoices(ctx, planPhone, "254100000001", planTime)
		return err
	}},
	{"ClaimNotifications", func(ctx context.Context, tx Tx) error {
		_, err := tx.ClaimNotifications(ctx, planTime, planTime.Add(2*time.Minute), "plan-token", 50)
		return err
	}},
	{"PendingPayments", func(ctx context.Context, tx Tx) error { _, err := tx.PendingTransactions(ctx, TypePayment); return err }},
	{"PendingWithdrawals", func(ctx context.Context, tx Tx) error { _, err := tx.PendingTransactions(ctx, TypeWithdraw); return err }},
	{"PaymentByHash", func(ctx context.Context, tx Tx) error { _, err := tx.PaymentByHash(ctx, planHash); return err }},
	{"MpesaRequest", func(ctx context.Context, tx Tx) error { _, err := tx.MpesaRequest(ctx, planID); return err }},
	{"MpesaRequestByCheckout", func(ctx context.Context, tx Tx) error {
		_, err := tx.MpesaRequestByCheckout(ctx, "ws_CO_plan")
		return err
	}},
	{"MpesaRequestByOriginator", func(ctx context.Context, tx Tx) error {
		_, err := tx.MpesaRequestByOriginator(ctx, "plan-originator")
		return err
	}},
	{"DueMpesaRequests", func(ctx context.Context, tx Tx) error { _, err := tx.DueMpesaRequests(ctx, planTime, 50); return err }},
	{"UnacknowledgedTopup", func(ctx context.Context, tx Tx) error {
		_, err := tx.UnacknowledgedTopup(ctx, planPhone, 100)
		return err
	}},
}

const (
	planPhone = "+254100000001"
	planID    = 42
	planHash  = "00000000000000000000000000000000000000000000000000000000000000aa"
)

var planTime = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
