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
	Plans(ctx context.Context, args PlanArgs) ([]QueryPlan, error)
}

// PlanArgs are the values the hot queries are explained with: rows that
// exist, so that an engine that reads constant look-ups while planning
// (MySQL) shows a real plan.
type PlanArgs struct {
	Phone          string
	UserID         int64
	TransactionID  int64
	IdempotencyKey string
	SessionID      string
	PaymentHash    string
	CheckoutID     string
	TopupID        int64
	Now            time.Time
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

// PlanRecorder is an adapter's explaining stand-in for its database: it
// explains each statement the generated queries send it, by the name of
// the hot query begun last, and answers no rows.
type PlanRecorder interface {
	Begin(name string)
	// Plans are the plans recorded so far, and the first failure.
	Plans() ([]QueryPlan, error)
}

// ExplainHotQueries runs every hot query with args through tx, a Tx over
// r, and returns what r recorded.
func ExplainHotQueries(ctx context.Context, tx Tx, r PlanRecorder, args PlanArgs) ([]QueryPlan, error) {
	for _, h := range HotQueries {
		r.Begin(h.Name)
		_ = h.Run(ctx, tx, args) // r answers nothing: not found, or empty
		if _, err := r.Plans(); err != nil {
			return nil, err
		}
	}
	return r.Plans()
}

// HotQuery is one operation of the wallet's busy paths, run by Plans with
// realistic arguments against a Tx whose statements are explained instead
// of run (their results come back empty).
type HotQuery struct {
	Name string
	Run  func(ctx context.Context, tx Tx, a PlanArgs) error
}

// HotQueries are the operations whose cost must not grow with the tables:
// a USSD hop's user, session and history, an invoice settling, the
// outbox's claim, the payments and M-Pesa requests the background jobs
// resume, and the cleanup's sweeps. Each must find its rows through an
// index (the contract's plan check). MaxInvoiceAddIndex is not one: it
// reads the whole invoices table, once each time the invoice watcher
// connects to the node, and an index on add_index would tempt PostgreSQL to
// answer MinUnpaidInvoiceAddIndex by walking it from the oldest invoice.
var HotQueries = []HotQuery{
	{"UserByPhone", func(ctx context.Context, tx Tx, a PlanArgs) error { _, err := tx.UserByPhone(ctx, a.Phone); return err }},
	{"UserAccountByPhone", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.UserAccountByPhone(ctx, a.Phone)
		return err
	}},
	{"UserByID", func(ctx context.Context, tx Tx, a PlanArgs) error { _, err := tx.UserByID(ctx, a.UserID); return err }},
	{"UserWithAccountID", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, _, err := tx.UserWithAccountID(ctx, a.UserID)
		return err
	}},
	{"AccountByUserID", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.AccountByUserID(ctx, a.UserID)
		return err
	}},
	{"LatestTransactions", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.LatestTransactions(ctx, a.UserID, 0, 5)
		return err
	}},
	{"LatestTransactionsBefore", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.LatestTransactions(ctx, a.UserID, a.TransactionID, 5)
		return err
	}},
	{"TransactionByIdempotencyKey", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.TransactionByIdempotencyKey(ctx, a.IdempotencyKey)
		return err
	}},
	{"BalanceAfter", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.BalanceAfter(ctx, a.TransactionID, a.UserID)
		return err
	}},
	{"Session", func(ctx context.Context, tx Tx, a PlanArgs) error { _, err := tx.Session(ctx, a.SessionID); return err }},
	{"SessionWithUser", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, _, err := tx.SessionWithUser(ctx, a.SessionID)
		return err
	}},
	{"UpsertSession", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.UpsertSession(ctx, NewSession{SessionID: a.SessionID, Phone: a.Phone, State: "main", Now: a.Now})
		return err
	}},
	{"SaveSessionHop", func(ctx context.Context, tx Tx, a PlanArgs) error {
		return tx.SaveSessionHop(ctx, SessionHop{SessionID: a.SessionID, State: "main", Now: a.Now})
	}},
	{"CloseIdleSessions", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.CloseIdleSessions(ctx, a.Now.Add(-3*time.Minute), a.Now)
		return err
	}},
	{"InvoiceByPaymentHash", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.InvoiceByPaymentHash(ctx, a.PaymentHash)
		return err
	}},
	{"MarkInvoicePaid", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.MarkInvoicePaid(ctx, a.PaymentHash, 1000, a.Now)
		return err
	}},
	{"ExpireInvoices", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.ExpireInvoices(ctx, a.Now)
		return err
	}},
	{"MinUnpaidInvoiceAddIndex", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.MinUnpaidInvoiceAddIndex(ctx, a.Now.Add(-24*time.Hour))
		return err
	}},
	{"UnpaidAddressInvoices", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.UnpaidAddressInvoices(ctx, a.Phone, a.Phone[1:], a.Now)
		return err
	}},
	{"ClaimNotifications", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.ClaimNotifications(ctx, a.Now, a.Now.Add(2*time.Minute), "plan-token", 50)
		return err
	}},
	{"PendingPayments", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.PendingTransactions(ctx, TypePayment)
		return err
	}},
	{"PendingWithdrawals", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.PendingTransactions(ctx, TypeWithdraw)
		return err
	}},
	{"PaymentByHash", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.PaymentByHash(ctx, a.PaymentHash)
		return err
	}},
	{"MpesaRequest", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.MpesaRequest(ctx, a.TopupID)
		return err
	}},
	{"MpesaRequestByCheckout", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.MpesaRequestByCheckout(ctx, a.CheckoutID)
		return err
	}},
	{"MpesaRequestByOriginator", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.MpesaRequestByOriginator(ctx, "plan-originator")
		return err
	}},
	{"DueMpesaRequests", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.DueMpesaRequests(ctx, a.Now, 50)
		return err
	}},
	{"UnacknowledgedTopup", func(ctx context.Context, tx Tx, a PlanArgs) error {
		_, err := tx.UnacknowledgedTopup(ctx, a.Phone, 100)
		return err
	}},
}
