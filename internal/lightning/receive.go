package lightning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Receiver issues invoices for users and credits them when the node
// settles one.
type Receiver struct {
	Node   Node
	Wallet *wallet.Service
	Log    *slog.Logger
	// Expiry is how long an invoice a user asked for can be paid (default
	// 1 h).
	Expiry time.Duration
	// AddressExpiry is how long an invoice issued to an anonymous payer of
	// a Lightning Address can be paid (default 10 min): the payer's wallet
	// pays it at once, and the watcher keeps unpaid ones in view until a
	// day after they expire.
	AddressExpiry time.Duration
	// MaxUnpaid caps the address invoices of one number that can be paid
	// at a time (default 20): a new one past it cancels the oldest.
	MaxUnpaid int
	// OnCredit, when set, is told of each credit (tests measure latency).
	OnCredit func(paymentHash string)

	// seen is the highest add index the watcher has seen (its resume
	// index, or an update's), for the metrics.
	seen atomic.Uint64
}

// SeenAddIndex is the highest invoice add index the watcher has caught up
// to: the node's latest minus this is its lag.
func (r *Receiver) SeenAddIndex() uint64 { return r.seen.Load() }

// saw raises the seen add index to i.
func (r *Receiver) saw(i uint64) {
	for {
		cur := r.seen.Load()
		if i <= cur || r.seen.CompareAndSwap(cur, i) {
			return
		}
	}
}

// RequestInvoice issues an invoice of amount msat for a user, records it
// and queues its BOLT11 string for the user (it cannot fit a USSD screen).
func (r *Receiver) RequestInvoice(ctx context.Context, userID, amountMsat int64, memo string) (store.Invoice, error) {
	return r.issue(ctx, userID, InvoiceRequest{AmountMsat: amountMsat, Memo: memo}, true)
}

// issue creates an invoice on the node for a user and records it.
func (r *Receiver) issue(ctx context.Context, userID int64, req InvoiceRequest, sendToUser bool) (store.Invoice, error) {
	if err := r.Wallet.CheckReceivable(ctx, userID, req.AmountMsat); err != nil {
		return store.Invoice{}, err
	}
	if req.Expiry = r.Expiry; req.Expiry <= 0 {
		req.Expiry = time.Hour
	}
	inv, err := r.Node.CreateInvoice(ctx, req)
	if err != nil {
		return store.Invoice{}, err
	}
	rec, err := r.Wallet.CreateInvoice(ctx, wallet.NewInvoice{
		UserID: userID, Invoice: inv.PaymentRequest, PaymentHash: inv.PaymentHash, AmountMsat: req.AmountMsat,
		Description: req.Memo, AddIndex: int64(inv.AddIndex), ExpiresAt: inv.ExpiresAt, SendToUser: sendToUser,
	})
	if err != nil {
		r.unrecorded(ctx, inv.PaymentHash)
	}
	return rec, err
}

// unrecorded cancels an invoice the node issued but the database did not
// record: paid, it would credit nobody.
func (r *Receiver) unrecorded(ctx context.Context, hash string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.Node.CancelInvoice(ctx, hash); err != nil {
		r.Log.Error("an invoice not recorded could not be cancelled", "hash", hash, "err", err)
	}
}

// capUnpaid keeps at most MaxUnpaid address invoices of one name of a
// number payable (the digits and each chosen name count apart):
// those past it, oldest first, are cancelled on the node first, so that
// they can no longer be paid, and only then expired in the database. A
// cancel the node refuses (the invoice was paid a moment ago, the node is
// unreachable) leaves that invoice as it is: the watcher credits a paid
// one, and the next request tries again. It runs after the new invoice is
// recorded, so concurrent requests still end within the cap.
func (r *Receiver) capUnpaid(ctx context.Context, phone, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	limit := r.MaxUnpaid
	if limit <= 0 {
		limit = 20
	}
	hashes, err := r.Wallet.UnpaidAddressInvoices(ctx, phone, name)
	if err != nil {
		r.Log.Warn("unpaid address invoices not capped", "phone", wallet.MaskPhone(phone), "err", err)
		return
	}
	for _, h := range hashes[min(limit, len(hashes)):] {
		if err := r.Node.CancelInvoice(ctx, h); err != nil {
			r.Log.Warn("address invoice over the cap not cancelled", "hash", h, "err", err)
			continue
		}
		if _, err := r.Wallet.ExpireInvoice(ctx, h); err != nil {
			r.Log.Warn("address invoice cancelled but not expired", "hash", h, "err", err)
		}
	}
}

// Watch follows the node's invoices until ctx ends, crediting every settled
// invoice of ours exactly once (the wallet's mark-paid is the once-only
// gate, so replays are harmless). Each (re)subscription starts from the
// resume index, so what happened while the stream was down is replayed;
// errors reconnect with a growing backoff.
func (r *Receiver) Watch(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := r.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		r.Log.Warn("invoice stream ended; resubscribing", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// follow runs one subscription until it fails.
func (r *Receiver) follow(ctx context.Context) error {
	from, err := r.Wallet.InvoiceResumeIndex(ctx)
	if err != nil {
		return fmt.Errorf("resume index: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	updates, errs, err := r.Node.SubscribeInvoices(ctx, from)
	if err != nil {
		return err
	}
	r.saw(from)
	if from == 0 {
		// lnd replays only what was added after a non-zero index: from 0
		// it would never show the node's first invoice settled while no
		// one watched. Listing the node's invoices, after subscribing so
		// that nothing falls between, catches it. Index 0 means the
		// wallet has issued nothing yet or only the node's first invoice
		// is unpaid: rare, and once per subscription.
		list, err := r.Node.ListInvoices(ctx)
		if err != nil {
			return fmt.Errorf("list invoices: %w", err)
		}
		for _, u := range list {
			if err := r.credit(ctx, u); err != nil {
				return err
			}
			r.saw(u.AddIndex)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			return fmt.Errorf("invoice stream: %w", err)
		case u, ok := <-updates:
			if !ok {
				return fmt.Errorf("invoice stream closed")
			}
			if err := r.credit(ctx, u); err != nil {
				return err
			}
			r.saw(u.AddIndex)
		}
	}
}

// credit marks a settled invoice paid (an update of any other state, or of
// an invoice someone else issued on the node, marks nothing).
func (r *Receiver) credit(ctx context.Context, u InvoiceUpdate) error {
	if u.State != InvoiceSettled {
		return nil // open, accepted (held) or cancelled: nothing arrived
	}
	credited, err := r.Wallet.MarkInvoicePaid(ctx, u.PaymentHash, u.AmountPaidMsat)
	if errors.Is(err, wallet.ErrInvalidAmount) {
		// An amount no real payment has: left uncredited for the
		// operator, without stalling the invoices after it.
		r.Log.Error("settled invoice not credited: its amount is out of range", "hash", u.PaymentHash, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("credit %s: %w", u.PaymentHash, err)
	}
	if credited {
		r.Log.Info("invoice credited", "hash", u.PaymentHash, "msat", u.AmountPaidMsat)
		if r.OnCredit != nil {
			r.OnCredit(u.PaymentHash)
		}
	}
	return nil
}
