package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/gen/sqlitedb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) InsertInvoice(ctx context.Context, n store.NewInvoice) (int64, error) {
	origin := n.Origin
	if origin == "" {
		origin = store.InvoiceByUser
	}
	id, err := t.q.InsertInvoice(ctx, sqlitedb.InsertInvoiceParams{
		UserID: sqlvalue.NullInt(n.UserID), TransactionID: sqlvalue.NullInt(n.TransactionID), Invoice: n.Invoice, PaymentHash: n.PaymentHash,
		AmountMsat: n.AmountMsat, Description: n.Description, AddIndex: sqlvalue.NullInt(n.AddIndex), ExpiresAt: n.ExpiresAt.UTC(),
		Phone: sqlvalue.NullString(n.Phone), Origin: string(origin), PayerComment: n.PayerComment, AddressName: n.AddressName, Now: n.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert invoice: %w", err))
	}
	return id, nil
}

func (t *tx) InvoiceByPaymentHash(ctx context.Context, hash string) (store.Invoice, error) {
	r, err := t.q.GetInvoiceByPaymentHash(ctx, hash)
	if err != nil {
		return store.Invoice{}, interpret(fmt.Errorf("invoice by hash: %w", err))
	}
	return store.Invoice{
		ID: r.ID, UserID: r.UserID.Int64, Phone: r.Phone.String, Origin: store.InvoiceOrigin(r.Origin), PayerComment: r.PayerComment, TransactionID: r.TransactionID.Int64, Invoice: r.Invoice, PaymentHash: r.PaymentHash,
		AmountMsat: r.AmountMsat, AmountPaidMsat: r.AmountPaidMsat.Int64, Status: store.InvoiceStatus(r.Status),
		Description: r.Description, AddIndex: r.AddIndex.Int64, ExpiresAt: r.ExpiresAt.UTC(), PaidAt: sqlvalue.TimePtr(r.PaidAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}, nil
}

func (t *tx) MarkInvoicePaid(ctx context.Context, hash string, amountPaidMsat int64, now time.Time) (bool, error) {
	n, err := t.q.MarkInvoicePaid(ctx, sqlitedb.MarkInvoicePaidParams{
		AmountPaidMsat: sql.NullInt64{Int64: amountPaidMsat, Valid: true}, PaidAt: sqlvalue.NullTime(&now), Now: now.UTC(), PaymentHash: hash,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("mark invoice paid: %w", err))
	}
	return n == 1, nil
}

func (t *tx) ExpireInvoices(ctx context.Context, now time.Time) (int64, error) {
	n, err := t.q.ExpireInvoices(ctx, now.UTC())
	if err != nil {
		return 0, interpret(fmt.Errorf("expire invoices: %w", err))
	}
	if _, err := t.q.ExpireInvoiceTransactions(ctx, now.UTC()); err != nil {
		return 0, interpret(fmt.Errorf("expire invoice transactions: %w", err))
	}
	return n, nil
}

func (t *tx) ExpireInvoice(ctx context.Context, hash string, now time.Time) (bool, error) {
	n, err := t.q.ExpireInvoice(ctx, sqlitedb.ExpireInvoiceParams{Now: now.UTC(), PaymentHash: hash})
	if err != nil {
		return false, interpret(fmt.Errorf("expire invoice: %w", err))
	}
	return n == 1, nil
}

func (t *tx) UnpaidAddressInvoices(ctx context.Context, phone, name string, now time.Time) ([]string, error) {
	hashes, err := t.q.ListUnpaidAddressInvoices(ctx, sqlitedb.ListUnpaidAddressInvoicesParams{Phone: sqlvalue.NullString(phone), AddressName: name, Now: now.UTC()})
	if err != nil {
		return nil, interpret(fmt.Errorf("unpaid address invoices: %w", err))
	}
	return hashes, nil
}

func (t *tx) SetInvoiceReceipt(ctx context.Context, hash string, userID, transactionID int64, now time.Time) error {
	n, err := t.q.SetInvoiceReceipt(ctx, sqlitedb.SetInvoiceReceiptParams{
		UserID: sqlvalue.NullInt(userID), TransactionID: sqlvalue.NullInt(transactionID), Now: now.UTC(), PaymentHash: hash,
	})
	return one(n, err, "set invoice receipt")
}

func (t *tx) DeleteStaleAddressInvoices(ctx context.Context, before time.Time) (int64, error) {
	n, err := t.q.DeleteStaleAddressInvoices(ctx, before.UTC())
	if err != nil {
		return 0, interpret(fmt.Errorf("delete stale address invoices: %w", err))
	}
	return n, nil
}

func (t *tx) MaxInvoiceAddIndex(ctx context.Context) (int64, error) {
	n, err := t.q.MaxInvoiceAddIndex(ctx)
	if err != nil {
		return 0, interpret(fmt.Errorf("max invoice add index: %w", err))
	}
	return n, nil
}

func (t *tx) MinUnpaidInvoiceAddIndex(ctx context.Context, since time.Time) (int64, error) {
	n, err := t.q.MinUnpaidInvoiceAddIndex(ctx, since.UTC())
	if err != nil {
		return 0, interpret(fmt.Errorf("min unpaid invoice add index: %w", err))
	}
	return n, nil
}
