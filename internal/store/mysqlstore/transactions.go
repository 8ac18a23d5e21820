package mysqlstore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/umeme-wallet/umeme/gen/mysqldb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) InsertTransaction(ctx context.Context, n store.NewTransaction) (int64, error) {
	id, err := t.q.InsertTransaction(ctx, mysqldb.InsertTransactionParams{
		UserID: sqlvalue.NullInt(n.UserID), Type: string(n.Type), Direction: string(n.Direction), Status: string(n.Status),
		AmountMsat: n.AmountMsat, FeeMsat: n.FeeMsat, Invoice: sqlvalue.NullString(n.Invoice), PaymentHash: sqlvalue.NullString(n.PaymentHash),
		MpesaReceipt: sqlvalue.NullString(n.MpesaReceipt), MpesaCheckoutRequestID: sqlvalue.NullString(n.MpesaCheckoutRequestID),
		MpesaConversationID: sqlvalue.NullString(n.MpesaConversationID), CounterpartyPhone: sqlvalue.NullString(n.CounterpartyPhone),
		Description: n.Description, IdempotencyKey: n.IdempotencyKey, RelatedID: sqlvalue.NullInt(n.RelatedID), HeldMsat: n.HeldMsat, Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert transaction: %w", err))
	}
	return id, nil
}

func toTransaction(r mysqldb.Transaction) store.Transaction {
	return store.Transaction{
		ID: r.ID, UserID: r.UserID.Int64, Type: store.TransactionType(r.Type), Direction: store.Direction(r.Direction),
		Status: store.TransactionStatus(r.Status), AmountMsat: r.AmountMsat, FeeMsat: r.FeeMsat, Invoice: r.Invoice.String,
		PaymentHash: r.PaymentHash.String, MpesaReceipt: r.MpesaReceipt.String, MpesaCheckoutRequestID: r.MpesaCheckoutRequestID.String,
		MpesaConversationID: r.MpesaConversationID.String, CounterpartyPhone: r.CounterpartyPhone.String, Description: r.Description,
		IdempotencyKey: r.IdempotencyKey, RelatedID: r.RelatedID.Int64, HeldMsat: r.HeldMsat, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (t *tx) InsertTransfer(ctx context.Context, n store.NewTransfer) (int64, error) {
	// The sending row comes first in the statement, and MySQL's last insert
	// id of a multi-row insert is the first row's.
	id, err := t.q.InsertTransfer(ctx, mysqldb.InsertTransferParams{
		SenderID: sqlvalue.NullInt(n.SenderID), RecipientID: sqlvalue.NullInt(n.RecipientID),
		SenderPhone: sqlvalue.NullString(n.SenderPhone), RecipientPhone: sqlvalue.NullString(n.RecipientPhone),
		AmountMsat: n.AmountMsat, FeeMsat: n.FeeMsat, Description: n.Description,
		SendKey: n.IdempotencyKey, ReceiveKey: n.ReceiveKey(), Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert transfer: %w", err))
	}
	return id, nil
}

func (t *tx) TransactionByID(ctx context.Context, id int64) (store.Transaction, error) {
	r, err := t.q.GetTransactionByID(ctx, id)
	if err != nil {
		return store.Transaction{}, interpret(fmt.Errorf("transaction %d: %w", id, err))
	}
	return toTransaction(r), nil
}

func (t *tx) TransactionByIdempotencyKey(ctx context.Context, key string) (store.Transaction, error) {
	r, err := t.q.GetTransactionByIdempotencyKey(ctx, key)
	if err != nil {
		return store.Transaction{}, interpret(fmt.Errorf("transaction by key: %w", err))
	}
	return toTransaction(r), nil
}

func (t *tx) FinishTransaction(ctx context.Context, f store.Finish) (bool, error) {
	n, err := t.q.FinishTransaction(ctx, mysqldb.FinishTransactionParams{ToStatus: string(f.To), AmountMsat: f.AmountMsat, FeeMsat: f.FeeMsat, Now: f.Now.UTC(), ID: f.ID, FromStatus: string(f.From)})
	if err != nil {
		return false, interpret(fmt.Errorf("finish transaction %d: %w", f.ID, err))
	}
	return n == 1, nil
}

func (t *tx) LatestTransactions(ctx context.Context, userID, beforeID int64, limit int) ([]store.Transaction, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	if limit < 0 {
		// MySQL refuses a negative LIMIT; SQLite reads it as no limit.
		limit = math.MaxInt32
	}
	rows, err := t.q.ListUserTransactions(ctx, mysqldb.ListUserTransactionsParams{UserID: sqlvalue.NullInt(userID), BeforeID: beforeID, Limit: sqlvalue.Int32(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("latest transactions: %w", err))
	}
	out := make([]store.Transaction, len(rows))
	for i, r := range rows {
		out[i] = toTransaction(r)
	}
	return out, nil
}

func (t *tx) PaymentByHash(ctx context.Context, hash string) (store.Transaction, error) {
	r, err := t.q.GetPaymentByHash(ctx, sqlvalue.NullString(hash))
	if err != nil {
		return store.Transaction{}, interpret(fmt.Errorf("payment by hash: %w", err))
	}
	return toTransaction(r), nil
}

func (t *tx) PendingTransactions(ctx context.Context, typ store.TransactionType) ([]store.Transaction, error) {
	rows, err := t.q.ListPendingTransactions(ctx, string(typ))
	if err != nil {
		return nil, interpret(fmt.Errorf("pending transactions: %w", err))
	}
	out := make([]store.Transaction, len(rows))
	for i, r := range rows {
		out[i] = toTransaction(r)
	}
	return out, nil
}

func (t *tx) PendingBacklog(ctx context.Context) ([]store.Backlog, error) {
	rows, err := t.q.ListPendingBacklog(ctx)
	if err != nil {
		return nil, interpret(fmt.Errorf("pending backlog: %w", err))
	}
	out := make([]store.Backlog, len(rows))
	for i, r := range rows {
		out[i] = store.Backlog{Type: store.TransactionType(r.Type), Count: r.Pending, Oldest: r.CreatedAt.UTC()}
	}
	return out, nil
}

func (t *tx) LeaseTransaction(ctx context.Context, id int64, token string, lease time.Duration) (bool, error) {
	n, err := t.q.LeaseTransaction(ctx, mysqldb.LeaseTransactionParams{
		FollowToken: sqlvalue.NullString(token), LeaseUs: lease.Microseconds(), ID: id,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("lease transaction %d: %w", id, err))
	}
	return n == 1, nil
}

func (t *tx) ReleaseTransaction(ctx context.Context, id int64, token string) (bool, error) {
	n, err := t.q.ReleaseTransaction(ctx, mysqldb.ReleaseTransactionParams{ID: id, FollowToken: sqlvalue.NullString(token)})
	if err != nil {
		return false, interpret(fmt.Errorf("release transaction %d: %w", id, err))
	}
	return n == 1, nil
}
