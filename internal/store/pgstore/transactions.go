package pgstore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/umeme-wallet/umeme/gen/postgresdb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) InsertTransaction(ctx context.Context, n store.NewTransaction) (int64, error) {
	id, err := t.q.InsertTransaction(ctx, postgresdb.InsertTransactionParams{
		UserID: nullInt(n.UserID), Type: string(n.Type), Direction: string(n.Direction), Status: string(n.Status),
		AmountMsat: n.AmountMsat, FeeMsat: n.FeeMsat, Invoice: nullString(n.Invoice), PaymentHash: nullString(n.PaymentHash),
		MpesaReceipt: nullString(n.MpesaReceipt), MpesaCheckoutRequestID: nullString(n.MpesaCheckoutRequestID),
		MpesaConversationID: nullString(n.MpesaConversationID), CounterpartyPhone: nullString(n.CounterpartyPhone),
		Description: n.Description, IdempotencyKey: n.IdempotencyKey, RelatedID: nullInt(n.RelatedID), HeldMsat: n.HeldMsat, Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert transaction: %w", err))
	}
	return id, nil
}

func toTransaction(r postgresdb.Transaction) store.Transaction {
	return store.Transaction{
		ID: r.ID, UserID: i64(r.UserID), Type: store.TransactionType(r.Type), Direction: store.Direction(r.Direction),
		Status: store.TransactionStatus(r.Status), AmountMsat: r.AmountMsat, FeeMsat: r.FeeMsat, Invoice: str(r.Invoice),
		PaymentHash: str(r.PaymentHash), MpesaReceipt: str(r.MpesaReceipt), MpesaCheckoutRequestID: str(r.MpesaCheckoutRequestID),
		MpesaConversationID: str(r.MpesaConversationID), CounterpartyPhone: str(r.CounterpartyPhone), Description: r.Description,
		IdempotencyKey: r.IdempotencyKey, RelatedID: i64(r.RelatedID), HeldMsat: r.HeldMsat, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (t *tx) InsertTransfer(ctx context.Context, n store.NewTransfer) (int64, error) {
	rows, err := t.q.InsertTransfer(ctx, postgresdb.InsertTransferParams{
		SenderID: nullInt(n.SenderID), RecipientID: nullInt(n.RecipientID),
		SenderPhone: nullString(n.SenderPhone), RecipientPhone: nullString(n.RecipientPhone),
		AmountMsat: n.AmountMsat, FeeMsat: n.FeeMsat, Description: n.Description,
		SendKey: n.IdempotencyKey, ReceiveKey: n.ReceiveKey(), Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert transfer: %w", err))
	}
	for _, r := range rows {
		if r.Type == string(store.TypeSend) {
			return r.ID, nil
		}
	}
	return 0, fmt.Errorf("insert transfer: no sending row returned")
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
	n, err := t.q.FinishTransaction(ctx, postgresdb.FinishTransactionParams{ToStatus: string(f.To), AmountMsat: f.AmountMsat, FeeMsat: f.FeeMsat, Now: f.Now.UTC(), ID: f.ID, FromStatus: string(f.From)})
	if err != nil {
		return false, interpret(fmt.Errorf("finish transaction %d: %w", f.ID, err))
	}
	return n == 1, nil
}

func (t *tx) LatestTransactions(ctx context.Context, userID, beforeID int64, limit int) ([]store.Transaction, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	// PostgreSQL refuses a negative LIMIT where SQLite reads it as none.
	if limit < 0 {
		limit = math.MaxInt32
	}
	rows, err := t.q.ListUserTransactions(ctx, postgresdb.ListUserTransactionsParams{UserID: nullInt(userID), BeforeID: beforeID, MaxRows: sqlvalue.Int32(limit)})
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
	r, err := t.q.GetPaymentByHash(ctx, &hash)
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
	n, err := t.q.LeaseTransaction(ctx, postgresdb.LeaseTransactionParams{
		FollowToken: nullString(token), LeaseUs: lease.Microseconds(), ID: id,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("lease transaction %d: %w", id, err))
	}
	return n == 1, nil
}

func (t *tx) ReleaseTransaction(ctx context.Context, id int64, token string) (bool, error) {
	n, err := t.q.ReleaseTransaction(ctx, postgresdb.ReleaseTransactionParams{ID: id, FollowToken: nullString(token)})
	if err != nil {
		return false, interpret(fmt.Errorf("release transaction %d: %w", id, err))
	}
	return n == 1, nil
}
