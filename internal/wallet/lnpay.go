package wallet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// An invoice that our own node issued for one of our users is paid inside
// the ledger, in two steps around the node. ReserveOwnInvoice holds the
// payer's funds first (a funded, PIN-authorised attempt, and the one
// payment the hash may have); only then does the caller cancel the invoice
// on the node, so that nobody outside can pay it as well. SettleOwnInvoice
// moves the hold to the payee once the node has confirmed the cancel; if
// the node reports the invoice settled instead (an outside payer won),
// the caller refunds the hold and the invoice watcher credits the payee.

// ReserveOwnInvoice checks an invoice of our node (recorded, still unpaid,
// not the payer's own) and holds its amount from the payer in a pending
// payment, without service fee. It is idempotent by key, and a hash already
// paid or being paid is refused with ErrInvoiceAlreadyPaid before anything
// is held.
func (w *Service) ReserveOwnInvoice(ctx context.Context, auth Authorization, paymentHash, key string) (store.Transaction, error) {
	if err := w.checkAuth(auth); err != nil {
		return store.Transaction{}, err
	}
	if prev, err := w.replay(ctx, key, func(t store.Transaction) bool {
		return t.UserID == auth.userID && t.Type == store.TypePayment && t.PaymentHash == paymentHash
	}); err == nil || errors.Is(err, ErrIdempotencyMismatch) {
		// A repeat: the invoice is no longer unpaid, but the first attempt
		// stands.
		return prev, err
	}
	var inv store.Invoice
	var payeePhone string
	var payeeBalance int64
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if inv, err = tx.InvoiceByPaymentHash(ctx, paymentHash); err != nil {
			return err
		}
		// An address invoice of a number without an account names only
		// the number; the account appears when it is paid.
		payeePhone = inv.Phone
		if inv.UserID != 0 {
			u, err := tx.UserByID(ctx, inv.UserID)
			if err != nil {
				return err
			}
			payeePhone = u.Phone
		}
		acc, err := tx.UserAccountByPhone(ctx, payeePhone)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		payeeBalance = acc.BalanceMsat
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Transaction{}, fmt.Errorf("pay own invoice: %w", ErrNotFound)
	case err != nil:
		return store.Transaction{}, fmt.Errorf("pay own invoice: %w", err)
	case inv.UserID == auth.userID || payeePhone == auth.phone:
		return store.Transaction{}, ErrSelfTransfer
	case inv.Status == store.InvoicePaid:
		return store.Transaction{}, ErrInvoiceAlreadyPaid
	case inv.Status != store.InvoicePending:
		return store.Transaction{}, fmt.Errorf("pay own invoice: %w: invoice %s", ErrNotFound, inv.Status)
	case payeeBalance+inv.AmountMsat > w.cfg.MaxBalanceMsat:
		// Checked before the node cancels the invoice: once it has, the
		// settlement cannot be refused.
		return store.Transaction{}, &LimitError{Limit: "balance", CapMsat: w.cfg.MaxBalanceMsat, WantMsat: payeeBalance + inv.AmountMsat}
	}
	return w.Reserve(ctx, auth, Reservation{
		Type: store.TypePayment, AmountMsat: inv.AmountMsat, Invoice: inv.Invoice, PaymentHash: paymentHash,
		CounterpartyPhone: payeePhone, Description: inv.Description, IdempotencyKey: key, Internal: true,
	})
}

// SettleOwnInvoice completes a payment reserved by ReserveOwnInvoice, once
// the node has confirmed that the invoice is cancelled there: the hold
// moves from the reserved account to the payee, the payee's invoice and
// its transaction complete, and both users are told, all in one
// transaction.
// It reports false when the payment was no longer pending, and fails with
// ErrInvoiceAlreadyPaid when the invoice is no longer payable in the ledger
// (the caller then refunds the hold).
func (w *Service) SettleOwnInvoice(ctx context.Context, transactionID int64) (bool, error) {
	var done bool
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		done = false
		now := w.now()
		t, err := tx.TransactionByID(ctx, transactionID)
		if err != nil {
			return err
		}
		if t.Type != store.TypePayment {
			return fmt.Errorf("transaction %d is a %s, not a payment", t.ID, t.Type)
		}
		// The payment row first, as Settle and Refund lock it: of two
		// finishers one wins, and the other finds it no longer pending.
		ok, err := tx.FinishTransaction(ctx, store.Finish{ID: t.ID, From: store.StatusPending, To: store.StatusCompleted, AmountMsat: t.AmountMsat, Now: now})
		if err != nil || !ok {
			return err
		}
		inv, err := tx.InvoiceByPaymentHash(ctx, t.PaymentHash)
		if err != nil {
			return err
		}
		// The once-only gate of the invoice, shared with the watcher.
		if ok, err := tx.MarkInvoicePaid(ctx, t.PaymentHash, t.AmountMsat, now); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("%w: invoice %s", ErrInvoiceAlreadyPaid, inv.Status)
			}
			return err
		}
		// Completed even when the clean-up expired it in the meantime: the
		// node's cancel is what counts.
		payee, err := w.receiveInvoice(ctx, tx, inv, t.AmountMsat, true, now)
		if err != nil {
			return err
		}
		held, err := tx.HeldBy(ctx, t.ID, w.sys.reserved)
		if err != nil {
			return err
		}
		if held != t.AmountMsat {
			return fmt.Errorf("payment %d holds %d msat, not its amount %d", t.ID, held, t.AmountMsat)
		}
		// The invoice is cancelled on the node: the money must land, so no
		// cap refuses it (ReserveOwnInvoice checked the payee's).
		entries := []store.Entry{{AccountID: w.sys.reserved, AmountMsat: -held}, {AccountID: payee.accountID, AmountMsat: held}}
		if err := tx.PostEntries(ctx, t.ID, entries, w.unlimited(now), now); err != nil {
			return err
		}
		payer, err := tx.UserByID(ctx, t.UserID)
		if err != nil {
			return err
		}
		if _, err := tx.InsertNotification(ctx, store.NewNotification{
			UserID: payee.userID, Phone: payee.phone, Kind: store.NotifyReceived, TransactionID: payee.transactionID,
			AmountMsat: t.AmountMsat, Counterparty: payer.Phone, Body: inv.PayerComment, Now: now,
		}); err != nil {
			return err
		}
		// The payer hears the outcome as of any payment: it may come
		// later than the screen (when the node confirmed the cancel late).
		if _, err := tx.InsertNotification(ctx, store.NewNotification{
			UserID: payer.ID, Phone: payer.Phone, Kind: store.NotifyPaymentSent, TransactionID: t.ID,
			AmountMsat: t.AmountMsat, Counterparty: payee.phone, Now: now,
		}); err != nil {
			return err
		}
		done = true
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("settle own invoice %d: %w", transactionID, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("settle own invoice %d: %w", transactionID, err)
	}
	return done, nil
}

// PaymentByHash returns the outgoing payment that owns a payment hash (one
// per hash, whatever its status), or ErrNotFound.
func (w *Service) PaymentByHash(ctx context.Context, paymentHash string) (store.Transaction, error) {
	var t store.Transaction
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		t, err = tx.PaymentByHash(ctx, paymentHash)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Transaction{}, ErrNotFound
	}
	return t, err
}

// PendingPayments lists the outgoing Lightning payments whose outcome is not
// known yet, to re-attach to them at start-up.
func (w *Service) PendingPayments(ctx context.Context) ([]store.Transaction, error) {
	var out []store.Transaction
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.PendingTransactions(ctx, store.TypePayment)
		return err
	})
	return out, err
}

// LeasePayment takes a pending payment for one follower, in whichever
// server it runs, for lease on the database's clock: only the holder of
// token calls the node about it (sends, tracks or cancels) until it
// releases it or the lease runs out. False when the payment is finished or
// another follower holds it.
func (w *Service) LeasePayment(ctx context.Context, transactionID int64, token string, lease time.Duration) (bool, error) {
	var ok bool
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		ok, err = tx.LeaseTransaction(ctx, transactionID, token, lease)
		return err
	})
	return ok, err
}

// ReleasePayment ends token's lease of a payment, so that any follower
// may take it at once.
func (w *Service) ReleasePayment(ctx context.Context, transactionID int64, token string) error {
	return w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.ReleaseTransaction(ctx, transactionID, token)
		return err
	})
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
