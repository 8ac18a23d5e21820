package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/gen/postgresdb"
	"github.com/umeme-wallet/umeme/internal/store"
)

func (t *tx) InsertInvoice(ctx context.Context, n store.NewInvoice) (int64, error) {
	origin := n.Origin
	if origin == "" {
		origin = store.InvoiceByUser
	}
	id, err := t.q.InsertInvoice(ctx, postgresdb.InsertInvoiceParams{
		UserID: nullInt(n.UserID), TransactionID: nullInt(n.TransactionID), Invoice: n.Invoice, PaymentHash: n.PaymentHash,
		AmountMsat: n.AmountMsat, Description: n.Description, AddIndex: nullInt(n.AddIndex), ExpiresAt: n.ExpiresAt.UTC(),
		Phone: nullString(n.Phone), Origin: string(origin), PayerComment: n.PayerComment, AddressName: n.AddressName, Now: n.Now.UTC(),
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
		ID: r.ID, UserID: i64(r.UserID), Phone: str(r.Phone), Origin: store.InvoiceOrigin(r.Origin), PayerComment: r.PayerComment, TransactionID: i64(r.TransactionID), Invoice: r.Invoice, PaymentHash: r.PaymentHash,
		AmountMsat: r.AmountMsat, AmountPaidMsat: i64(r.AmountPaidMsat), Status: store.InvoiceStatus(r.Status),
		Description: r.Description, AddIndex: i64(r.AddIndex), ExpiresAt: r.ExpiresAt.UTC(), PaidAt: timePtr(r.PaidAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}, nil
}

func (t *tx) MarkInvoicePaid(ctx context.Context, hash string, amountPaidMsat int64, now time.Time) (bool, error) {
	n, err := t.q.MarkInvoicePaid(ctx, postgresdb.MarkInvoicePaidParams{
		AmountPaidMsat: &amountPaidMsat, PaidAt: nullTime(&now), Now: now.UTC(), PaymentHash: hash,
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
	n, err := t.q.ExpireInvoice(ctx, postgresdb.ExpireInvoiceParams{Now: now.UTC(), PaymentHash: hash})
	if err != nil {
		return false, interpret(fmt.Errorf("expire invoice: %w", err))
	}
	return n == 1, nil
}

func (t *tx) UnpaidAddressInvoices(ctx context.Context, phone, name string, now time.Time) ([]string, error) {
	hashes, err := t.q.ListUnpaidAddressInvoices(ctx, postgresdb.ListUnpaidAddressInvoicesParams{Phone: nullString(phone), AddressName: name, Now: now.UTC()})
	if err != nil {
		return nil, interpret(fmt.Errorf("unpaid address invoices: %w", err))
	}
	return hashes, nil
}

func (t *tx) SetInvoiceReceipt(ctx context.Context, hash string, userID, transactionID int64, now time.Time) error {
	n, err := t.q.SetInvoiceReceipt(ctx, postgresdb.SetInvoiceReceiptParams{
		UserID: nullInt(userID), TransactionID: nullInt(transactionID), Now: now.UTC(), PaymentHash: hash,
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
