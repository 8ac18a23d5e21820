package wallet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// NewInvoice is an incoming Lightning invoice issued by the node for a user.
type NewInvoice struct {
	UserID      int64
	Invoice     string // BOLT11
	PaymentHash string // hex
	AmountMsat  int64
	Description string
	AddIndex    int64 // lnd's add index, for resuming the invoice stream
	ExpiresAt   time.Time
	// SendToUser queues the BOLT11 string for the user (by SMS: it cannot
	// fit a USSD screen), in the same transaction as the record.
	SendToUser bool
}

// CheckReceivable refuses an amount the user may not receive: outside the
// per-operation bounds, or more than the account may hold.
func (w *Service) CheckReceivable(ctx context.Context, userID, amount int64) error {
	if err := w.checkAmount(amount); err != nil {
		return err
	}
	bal, err := w.Balance(ctx, userID)
	if err != nil {
		return err
	}
	if bal+amount > w.cfg.MaxBalanceMsat {
		return &LimitError{Limit: "balance", CapMsat: w.cfg.MaxBalanceMsat, WantMsat: bal + amount}
	}
	return nil
}

// CreateInvoice records a pending invoice and its pending transaction row.
// No money moves until the invoice is paid.
func (w *Service) CreateInvoice(ctx context.Context, n NewInvoice) (store.Invoice, error) {
	if err := checkMsat("invoice", n.AmountMsat); err != nil {
		return store.Invoice{}, err
	}
	var inv store.Invoice
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		now := w.now()
		txID, err := tx.InsertTransaction(ctx, store.NewTransaction{
			UserID: n.UserID, Type: store.TxInvoice, Direction: store.DirectionIn, Status: store.TxPending,
			AmountMsat: n.AmountMsat, Invoice: n.Invoice, PaymentHash: n.PaymentHash, Description: n.Description,
			IdempotencyKey: "invoice:" + n.PaymentHash, Now: now,
		})
		if err != nil {
			return err
		}
		if _, err := tx.InsertInvoice(ctx, store.NewInvoice{
			UserID: n.UserID, TransactionID: txID, Invoice: n.Invoice, PaymentHash: n.PaymentHash, AmountMsat: n.AmountMsat,
			Description: n.Description, AddIndex: n.AddIndex, ExpiresAt: n.ExpiresAt, Now: now,
		}); err != nil {
			return err
		}
		if inv, err = tx.InvoiceByPaymentHash(ctx, n.PaymentHash); err != nil {
			return err
		}
		if !n.SendToUser {
			return nil
		}
		u, err := tx.UserByID(ctx, n.UserID)
		if err != nil {
			return err
		}
		_, err = tx.InsertNotification(ctx, store.NewNotification{
			UserID: u.ID, Phone: u.Phone, Kind: store.NotifyInvoice, TransactionID: txID, AmountMsat: n.AmountMsat, Body: n.Invoice, Now: now,
		})
		return err
	})
	if err != nil {
		return store.Invoice{}, fmt.Errorf("create invoice: %w", err)
	}
	return inv, nil
}

// MarkInvoicePaid credits the user of a settled invoice with what was paid,
// exactly once however many times and from however many goroutines it is
// called: the first call credits and reports true, the others report false.
func (w *Service) MarkInvoicePaid(ctx context.Context, paymentHash string, amountPaidMsat int64) (bool, error) {
	if err := checkMsat("paid", amountPaidMsat); err != nil {
		return false, err
	}
	var credited bool
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		credited = false
		now := w.now()
		// The guarded status change is the once-only gate: it takes the row
		// lock, and only the first caller finds the invoice unpaid.
		ok, err := tx.MarkInvoicePaid(ctx, paymentHash, amountPaidMsat, now)
		if err != nil || !ok {
			return err
		}
		inv, err := tx.InvoiceByPaymentHash(ctx, paymentHash)
		if err != nil {
			return err
		}
		acc, err := tx.AccountByUserID(ctx, inv.UserID)
		if err != nil {
			return err
		}
		done, err := tx.FinishTransaction(ctx, inv.TransactionID, store.TxPending, store.TxCompleted, amountPaidMsat, 0, now)
		if err == nil && !done {
			done, err = tx.FinishTransaction(ctx, inv.TransactionID, store.TxExpired, store.TxCompleted, amountPaidMsat, 0, now)
		}
		if err != nil {
			return err
		}
		if !done {
			return fmt.Errorf("invoice %s: its transaction %d is neither pending nor expired", paymentHash, inv.TransactionID)
		}
		// Money that reached the node is credited whatever the balance cap.
		entries := []store.Entry{{AccountID: w.sys.lightning, AmountMsat: -amountPaidMsat}, {AccountID: acc.ID, AmountMsat: amountPaidMsat}}
		if err := tx.PostEntries(ctx, inv.TransactionID, entries, w.unlimited(now), now); err != nil {
			return err
		}
		u, err := tx.UserByID(ctx, inv.UserID)
		if err != nil {
			return err
		}
		if _, err := tx.InsertNotification(ctx, store.NewNotification{
			UserID: u.ID, Phone: u.Phone, Kind: store.NotifyReceived, TransactionID: inv.TransactionID, AmountMsat: amountPaidMsat, Now: now,
		}); err != nil {
			return err
		}
		credited = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("mark invoice paid: %w", err)
	}
	return credited, nil
}

// InvoiceStatus returns the invoice with that payment hash.
func (w *Service) InvoiceStatus(ctx context.Context, paymentHash string) (store.Invoice, error) {
	var inv store.Invoice
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		inv, err = tx.InvoiceByPaymentHash(ctx, paymentHash)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Invoice{}, ErrNotFound
	}
	return inv, err
}

// InvoiceResumeIndex is where a subscription to the node's invoices must
// start so that no settlement of ours is missed: just below the oldest
// invoice the node may still settle (pending, or expired within the last
// day), or after the newest one recorded when none may.
func (w *Service) InvoiceResumeIndex(ctx context.Context) (uint64, error) {
	var from int64
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		min, err := tx.MinUnpaidInvoiceAddIndex(ctx, w.now().Add(-24*time.Hour))
		if err != nil {
			return err
		}
		if min > 0 {
			from = min - 1
			return nil
		}
		from, err = tx.MaxInvoiceAddIndex(ctx)
		return err
	})
	return uint64(from), err
}

// CleanupResult counts what CleanupExpired closed.
type CleanupResult struct {
	Sessions int64
	Invoices int64
}

// CleanupExpired closes USSD sessions idle for longer than idle and expires
// overdue invoices.
func (w *Service) CleanupExpired(ctx context.Context, idle time.Duration) (CleanupResult, error) {
	var r CleanupResult
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		now := w.now()
		var err error
		if r.Sessions, err = tx.CloseIdleSessions(ctx, now.Add(-idle), now); err != nil {
			return err
		}
		r.Invoices, err = tx.ExpireInvoices(ctx, now)
		return err
	})
	if err != nil {
		return CleanupResult{}, fmt.Errorf("cleanup: %w", err)
	}
	return r, nil
}
