package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/umeme-wallet/umeme/gen/mysqldb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) Reconcile(ctx context.Context) (store.ReconcileReport, error) {
	return store.Reconcile(ctx, ledgerReader{t})
}

func (t *tx) LightningMovements(ctx context.Context, afterID int64, limit int) ([]store.LightningMovement, error) {
	ln, err := t.SystemAccount(ctx, store.AccountLightning)
	if err != nil {
		return nil, err
	}
	rows, err := t.q.ListLightningMovements(ctx, mysqldb.ListLightningMovementsParams{LightningAccount: ln.ID, AfterID: afterID, Limit: sqlvalue.Int32(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("lightning movements: %w", err))
	}
	out := make([]store.LightningMovement, len(rows))
	for i, r := range rows {
		out[i] = store.LightningMovement{
			TransactionID: r.ID, Type: store.TransactionType(r.Type), Status: store.TransactionStatus(r.Status), PaymentHash: r.PaymentHash,
			AmountMsat: r.AmountMsat, FeeMsat: r.FeeMsat, LightningMsat: r.LightningMsat,
		}
	}
	return out, nil
}

// ledgerReader gives store.Reconcile its reads.
type ledgerReader struct{ t *tx }

func (r ledgerReader) UnbalancedTransactions(ctx context.Context) ([]store.Imbalance, error) {
	rows, err := r.t.q.ListUnbalancedTransactions(ctx)
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.Imbalance, len(rows))
	for i, r := range rows {
		out[i] = store.Imbalance{TransactionID: r.TransactionID, SumMsat: r.Total}
	}
	return out, nil
}

func (r ledgerReader) BalanceDrift(ctx context.Context) ([]store.Drift, error) {
	rows, err := r.t.q.ListBalanceDrift(ctx)
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.Drift, len(rows))
	for i, r := range rows {
		out[i] = store.Drift{AccountID: r.ID, BalanceMsat: r.BalanceMsat, LedgerMsat: r.LedgerMsat}
	}
	return out, nil
}

func (r ledgerReader) NegativeUserAccounts(ctx context.Context) ([]store.Drift, error) {
	rows, err := r.t.q.ListNegativeUserAccounts(ctx)
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.Drift, len(rows))
	for i, r := range rows {
		out[i] = store.Drift{AccountID: r.ID, BalanceMsat: r.BalanceMsat}
	}
	return out, nil
}

func (r ledgerReader) ReservationMismatches(ctx context.Context, reservedID int64) ([]store.Reservation, error) {
	rows, err := r.t.q.ListReservationMismatches(ctx, reservedID)
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.Reservation, len(rows))
	for i, r := range rows {
		out[i] = store.Reservation{TransactionID: r.TransactionID, Status: store.TransactionStatus(r.Status), HeldMsat: r.HeldMsat}
	}
	return out, nil
}

func (r ledgerReader) SumAllBalances(ctx context.Context) (int64, error) {
	n, err := r.t.q.SumAllBalances(ctx)
	return n, interpret(err)
}

func (r ledgerReader) SystemAccount(ctx context.Context, code store.SystemAccountCode) (store.Account, error) {
	return r.t.SystemAccount(ctx, code)
}

func (r ledgerReader) ChainAccounts(ctx context.Context, afterID int64, limit int) ([]store.ChainAccount, error) {
	rows, err := r.t.q.ListChainAccounts(ctx, mysqldb.ListChainAccountsParams{AfterID: afterID, Limit: sqlvalue.Int32(limit)})
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.ChainAccount, len(rows))
	for i, r := range rows {
		out[i] = store.ChainAccount{ID: r.ID, BalanceMsat: r.BalanceMsat, Counter: store.DayCounter{Day: r.DayOutDay, OutMsat: r.DayOutMsat}, HeadSeq: r.HeadSeq, HeadHash: r.HeadHash}
	}
	return out, nil
}

func (r ledgerReader) ChainEntries(ctx context.Context, afterAccount, afterSeq int64, limit int) ([]store.LedgerEntry, error) {
	rows, err := r.t.q.ListChainEntries(ctx, mysqldb.ListChainEntriesParams{AfterAccount: afterAccount, AfterSeq: sql.NullInt64{Int64: afterSeq, Valid: true}, Limit: sqlvalue.Int32(limit)})
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.LedgerEntry, len(rows))
	for i, r := range rows {
		out[i] = store.LedgerEntry{
			ID: r.ID, TransactionID: r.TransactionID, AccountID: r.AccountID, AmountMsat: r.AmountMsat, DayOutMsat: r.DayOutMsat,
			DayOutDay: r.DayOutDay, Seq: r.Seq.Int64, BalanceAfterMsat: r.BalanceAfterMsat.Int64, Hash: r.Hash.String, CreatedAt: r.CreatedAt.UTC(),
		}
	}
	return out, nil
}

func (r ledgerReader) UnchainedEntries(ctx context.Context, limit int) ([]store.LedgerEntry, error) {
	rows, err := r.t.q.ListUnchainedEntries(ctx, sqlvalue.Int32(limit))
	if err != nil {
		return nil, interpret(err)
	}
	out := make([]store.LedgerEntry, len(rows))
	for i, r := range rows {
		out[i] = store.LedgerEntry{ID: r.ID, TransactionID: r.TransactionID, AccountID: r.AccountID, AmountMsat: r.AmountMsat}
	}
	return out, nil
}

func (r ledgerReader) MaxTransactionID(ctx context.Context) (int64, error) {
	n, err := r.t.q.MaxTransactionID(ctx)
	return n, interpret(err)
}

func (r ledgerReader) ShapeTransactions(ctx context.Context, afterID, uptoID int64) ([]store.ShapeTransaction, error) {
	rows, err := r.t.q.ListTransactionShapes(ctx, mysqldb.ListTransactionShapesParams{AfterID: afterID, UptoID: uptoID})
	if err != nil {
		return nil, interpret(err)
	}
	var out []store.ShapeTransaction
	for _, r := range rows {
		if n := len(out); n == 0 || out[n-1].ID != r.ID {
			out = append(out, store.ShapeTransaction{
				ID: r.ID, Type: store.TransactionType(r.Type), Direction: store.Direction(r.Direction), Status: store.TransactionStatus(r.Status),
				AmountMsat: r.AmountMsat, FeeMsat: r.FeeMsat, HeldMsat: r.HeldMsat, PaymentHash: r.PaymentHash,
				UserAccount: r.UserAccount, CounterpartyAccount: r.CounterpartyAccount,
			})
		}
		if r.EntryID != 0 {
			t := &out[len(out)-1]
			t.Entries = append(t.Entries, store.LedgerEntry{ID: r.EntryID, TransactionID: r.ID, AccountID: r.EntryAccount, AmountMsat: r.EntryAmount, DayOutMsat: r.EntryDayOut, DayOutDay: r.EntryDay})
		}
	}
	return out, nil
}
