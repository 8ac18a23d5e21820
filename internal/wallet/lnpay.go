package wallet

import (
	"context"
	"errors"
	"fmt"

	"github.com/umeme-wallet/umeme/internal/store"
)

// PayOwnInvoice pays an invoice that our own node issued for one of our
// users, inside the ledger: the payer's payment row and the payee's invoice
// complete together, and no money moves through the node. The caller must
// have cancelled the invoice on the node first, so that it cannot also be
// paid from outside. It is idempotent by key, and the invoice is paid once
// whoever races for it.
func (w *Service) PayOwnInvoice(ctx context.Context, auth Authorization, paymentHash, key string) (store.Transaction, error) {
	if err := w.checkAuth(auth); err != nil {
		return store.Transaction{}, err
	}
	same := func(t store.Transaction) bool {
		return t.UserID == auth.userID && t.Type == store.TxPayment && t.PaymentHash == paymentHash
	}
	return w.idempotent(ctx, key, same, func() (store.Transaction, error) {
		var paid store.Transaction
		err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			now := w.now()
			inv, err := tx.InvoiceByPaymentHash(ctx, paymentHash)
			if errors.Is(err, store.ErrNotFound) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			if inv.UserID == auth.userID || (inv.UserID == 0 && inv.Phone == auth.phone) {
				return ErrSelfTransfer
			}
			if inv.Status != store.InvoicePending {
				return fmt.Errorf("%w: invoice %s", ErrNotFound, inv.Status)
			}
			if err := w.checkAmount(inv.AmountMsat); err != nil {
				return err
			}
			payeePhone := inv.Phone
			if inv.UserID != 0 {
				u, err := tx.UserByID(ctx, inv.UserID)
				if err != nil {
					return err
				}
				payeePhone = u.Phone
			}
			paid = store.Transaction{
				UserID: auth.userID, Type: store.TxPayment, Direction: store.DirectionOut, Status: store.TxCompleted,
				AmountMsat: inv.AmountMsat, Invoice: inv.Invoice, PaymentHash: paymentHash, CounterpartyPhone: payeePhone,
				Description: inv.Description, IdempotencyKey: key, CreatedAt: now, UpdatedAt: now,
			}
			if paid.ID, err = tx.InsertTransaction(ctx, newTransaction(paid)); err != nil {
				return err
			}
			// The once-only gate: an invoice already paid is not paid again.
			ok, err := tx.MarkInvoicePaid(ctx, paymentHash, inv.AmountMsat, now)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: invoice already paid or cancelled", ErrNotFound)
			}
			payee, err := w.receiveInvoice(ctx, tx, inv, inv.AmountMsat, false, now)
			if err != nil {
				return err
			}
			entries := []store.Entry{
				{AccountID: auth.accountID, AmountMsat: -inv.AmountMsat, DayOutMsat: inv.AmountMsat},
				{AccountID: payee.accountID, AmountMsat: inv.AmountMsat},
			}
			if err := tx.PostEntries(ctx, paid.ID, entries, w.guard(now), now); err != nil {
				return w.mapBalanceError(err)
			}
			_, err = tx.InsertNotification(ctx, store.NewNotification{
				UserID: payee.userID, Phone: payee.phone, Kind: store.NotifyReceived, TransactionID: payee.transactionID,
				AmountMsat: inv.AmountMsat, Counterparty: auth.phone, Body: inv.PayerComment, Now: now,
			})
			return err
		})
		if err != nil {
			return store.Transaction{}, fmt.Errorf("pay own invoice: %w", err)
		}
		return paid, nil
	})
}

// PendingPayments lists the outgoing Lightning payments whose outcome is not
// known yet, to re-attach to them at start-up.
func (w *Service) PendingPayments(ctx context.Context) ([]store.Transaction, error) {
	var out []store.Transaction
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.PendingTransactions(ctx, store.TxPayment)
		return err
	})
	return out, err
}

// Transaction reads one transaction by id.
func (w *Service) Transaction(ctx context.Context, id int64) (store.Transaction, error) {
	var t store.Transaction
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		t, err = tx.TransactionByID(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Transaction{}, ErrNotFound
	}
	return t, err
}
