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
	// Origin InvoiceByAddress marks an invoice an anonymous payer of a
	// Lightning Address asked for: it pays Phone (UserID may be 0, when the
	// number was not looked up), carries the payer's comment, and gets no
	// transaction row until it is paid.
	Origin       store.InvoiceOrigin
	Phone        string
	PayerComment string
	// AddressName is the name the invoice was asked for.
	AddressName string
}

// CheckAmount refuses an amount outside the per-operation bounds.
func (w *Service) CheckAmount(amount int64) error { return w.checkAmount(amount) }

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

// CreateInvoice records a pending invoice and, for one the user asked for,
// its pending transaction row. No money moves until the invoice is paid.
func (w *Service) CreateInvoice(ctx context.Context, n NewInvoice) (store.Invoice, error) {
	if err := checkMsat("invoice", n.AmountMsat); err != nil {
		return store.Invoice{}, err
	}
	byAddress := n.Origin == store.InvoiceByAddress
	if byAddress && (n.Phone == "" || n.SendToUser) {
		return store.Invoice{}, errors.New("create invoice: an address invoice needs the number it pays, and is not sent to the user")
	}
	var inv store.Invoice
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		now := w.now()
		var txID int64
		if !byAddress {
			var err error
			txID, err = tx.InsertTransaction(ctx, store.NewTransaction{
				UserID: n.UserID, Type: store.TypeInvoice, Direction: store.DirectionIn, Status: store.StatusPending,
				AmountMsat: n.AmountMsat, Invoice: n.Invoice, PaymentHash: n.PaymentHash, Description: n.Description,
				IdempotencyKey: "invoice:" + n.PaymentHash, Now: now,
			})
			if err != nil {
				return err
			}
		}
		if _, err := tx.InsertInvoice(ctx, store.NewInvoice{
			UserID: n.UserID, Phone: n.Phone, Origin: n.Origin, PayerComment: n.PayerComment, AddressName: n.AddressName, TransactionID: txID,
			Invoice: n.Invoice, PaymentHash: n.PaymentHash, AmountMsat: n.AmountMsat, Description: n.Description,
			AddIndex: n.AddIndex, ExpiresAt: n.ExpiresAt, Now: now,
		}); err != nil {
			return err
		}
		var err error
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
		payee, err := w.receiveInvoice(ctx, tx, inv, amountPaidMsat, true, now)
		if err != nil {
			return err
		}
		// Money that reached the node is credited whatever the balance cap.
		entries := []store.Entry{{AccountID: w.sys.lightning, AmountMsat: -amountPaidMsat}, {AccountID: payee.accountID, AmountMsat: amountPaidMsat}}
		if err := tx.PostEntries(ctx, payee.transactionID, entries, w.unlimited(now), now); err != nil {
			return err
		}
		if _, err := tx.InsertNotification(ctx, store.NewNotification{
			UserID: payee.userID, Phone: payee.phone, Kind: store.NotifyReceived, TransactionID: payee.transactionID,
			AmountMsat: amountPaidMsat, Body: inv.PayerComment, Now: now,
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

// invoicePayee is the receiving side of a paid invoice.
type invoicePayee struct {
	userID, accountID, transactionID int64
	phone                            string
}

// receiveInvoice books the payee's side of an invoice just marked paid,
// inside tx. The payee of an address invoice for a number without an
// account is created now (unregistered, as a transfer creates one), so the
// money waits for its owner. The transaction row is the pending one of an
// invoice the user asked for, completed now (late lets an expired one
// complete too: money that reached the node counts), or, for an address
// invoice, which has none while unpaid, a new completed row that carries
// the payer's comment.
func (w *Service) receiveInvoice(ctx context.Context, tx store.Tx, inv store.Invoice, amount int64, late bool, now time.Time) (invoicePayee, error) {
	var p invoicePayee
	if inv.UserID == 0 {
		ref, err := w.directory.resolve(ctx, tx, inv.Phone, now)
		if err != nil {
			return p, err
		}
		p.userID, p.accountID, p.phone = ref.userID, ref.accountID, inv.Phone
	} else {
		u, err := tx.UserByID(ctx, inv.UserID)
		if err != nil {
			return p, err
		}
		acc, err := tx.AccountByUserID(ctx, inv.UserID)
		if err != nil {
			return p, err
		}
		p.userID, p.accountID, p.phone = u.ID, acc.ID, u.Phone
	}
	if inv.TransactionID == 0 {
		desc := inv.Description
		if inv.PayerComment != "" {
			desc = inv.PayerComment
		}
		id, err := tx.InsertTransaction(ctx, store.NewTransaction{
			UserID: p.userID, Type: store.TypeInvoice, Direction: store.DirectionIn, Status: store.StatusCompleted,
			AmountMsat: amount, Invoice: inv.Invoice, PaymentHash: inv.PaymentHash, Description: desc,
			IdempotencyKey: "invoice:" + inv.PaymentHash, Now: now,
		})
		if err != nil {
			return p, err
		}
		p.transactionID = id
		return p, tx.SetInvoiceReceipt(ctx, inv.PaymentHash, p.userID, id, now)
	}
	done, err := tx.FinishTransaction(ctx, store.Finish{ID: inv.TransactionID, From: store.StatusPending, To: store.StatusCompleted, AmountMsat: amount, Now: now})
	if err == nil && !done && late {
		done, err = tx.FinishTransaction(ctx, store.Finish{ID: inv.TransactionID, From: store.StatusExpired, To: store.StatusCompleted, AmountMsat: amount, Now: now})
	}
	if err != nil {
		return p, err
	}
	if !done {
		return p, fmt.Errorf("%w: invoice %s: its transaction %d is no longer pending", ErrNotFound, inv.PaymentHash, inv.TransactionID)
	}
	p.transactionID = inv.TransactionID
	return p, nil
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
	// AddressInvoices counts the unpaid address invoices deleted.
	AddressInvoices int64
}

// staleAddressInvoice is how long after its expiry an unpaid address
// invoice is deleted: well after the day InvoiceResumeIndex still watches
// expired invoices for a late settlement.
const staleAddressInvoice = 48 * time.Hour

// CleanupExpired closes USSD sessions idle for longer than idle, expires
// overdue invoices, and deletes the address invoices that expired unpaid
// long ago (nobody asked for them and they record no money: a flood of
// them leaves nothing behind).
func (w *Service) CleanupExpired(ctx context.Context, idle time.Duration) (CleanupResult, error) {
	var r CleanupResult
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		now := w.now()
		var err error
		if r.Sessions, err = tx.CloseIdleSessions(ctx, now.Add(-idle), now); err != nil {
			return err
		}
		if r.Invoices, err = tx.ExpireInvoices(ctx, now); err != nil {
			return err
		}
		r.AddressInvoices, err = tx.DeleteStaleAddressInvoices(ctx, now.Add(-staleAddressInvoice))
		return err
	})
	if err != nil {
		return CleanupResult{}, fmt.Errorf("cleanup: %w", err)
	}
	return r, nil
}
