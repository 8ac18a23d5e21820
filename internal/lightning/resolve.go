package lightning

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// NodeView is what the node says about a payment, for an operator.
type NodeView struct {
	// Internal says the payment pays an invoice of our own node, settled in
	// the ledger: Invoice is then that invoice's state on the node.
	Internal bool
	Invoice  InvoiceState
	// Known says the node has a payment of the hash; State, FeeMsat and
	// Reason describe it.
	Known   bool
	State   PaymentState
	FeeMsat int64
	Reason  string
	// Expired says the invoice expired (by more than the expiry margin).
	Expired bool
}

// Inspect asks the node where a payment stands, changing nothing. It fails
// with ErrUnavailable when the node does not answer.
func (p *Payer) Inspect(ctx context.Context, t store.Transaction) (NodeView, error) {
	if t.Type != store.TypePayment {
		return NodeView{}, fmt.Errorf("transaction %d is a %s, not a payment", t.ID, t.Type)
	}
	var v NodeView
	var err error
	if v.Internal, err = p.own(ctx, t); err != nil {
		return NodeView{}, err
	}
	if v.Expired, err = p.expired(ctx, t); err != nil {
		return NodeView{}, err
	}
	if v.Internal {
		inv, err := p.Node.LookupInvoice(ctx, t.PaymentHash)
		if err != nil {
			return NodeView{}, err
		}
		v.Invoice = inv.State
		return v, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	updates, errs, err := p.track(ctx, t)
	if err != nil {
		return NodeView{}, err
	}
	// The node answers a track with the payment's current state first.
	select {
	case <-ctx.Done():
		return NodeView{}, fmt.Errorf("%w: no answer about the payment", ErrUnavailable)
	case err := <-errs:
		if errors.Is(err, ErrPaymentNotFound) {
			return v, nil
		}
		return NodeView{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	case u, ok := <-updates:
		if !ok {
			return NodeView{}, fmt.Errorf("%w: payment stream closed", ErrUnavailable)
		}
		v.Known, v.State, v.FeeMsat, v.Reason = true, u.State, u.FeeMsat, u.Reason
		return v, nil
	}
}

// Resolve finishes a pending payment as the node says, for an operator: a
// payment the node reports succeeded is settled with its fee, one it
// reports failed is refunded, and one it never started is refunded once
// its invoice has expired. A payment of our own invoice is driven as Pay
// does (cancel, then settle in the ledger, or refund if an outside payer
// won). It changes nothing and fails with ErrUnavailable while the node
// does not answer, and with ErrPaymentInFlight while the node is still
// trying; a finished payment is returned as it is.
func (p *Payer) Resolve(ctx context.Context, id int64) (store.Transaction, error) {
	t, err := p.Wallet.Transaction(ctx, id)
	if err != nil {
		return store.Transaction{}, err
	}
	if t.Type != store.TypePayment {
		return t, fmt.Errorf("transaction %d is a %s, not a payment", t.ID, t.Type)
	}
	if t.Status != store.StatusPending {
		return t, nil
	}
	// Decided by one follower at a time, like a server's: none may be
	// sending it while this one refunds it.
	held, release, err := p.hold(ctx, t)
	if err != nil {
		return t, err
	}
	if release == nil {
		return t, fmt.Errorf("%w: a server is following it now (or its lease has not run out); try again in %s", ErrPaymentInFlight, p.lease())
	}
	defer release()
	ctx = held
	v, err := p.Inspect(ctx, t)
	if err != nil {
		return t, err
	}
	if v.Internal {
		got, err := p.finishOwn(ctx, t)
		if err == nil && got.Status == store.StatusPending {
			err = fmt.Errorf("%w: the node did not confirm the invoice's cancel", ErrUnavailable)
		}
		if errors.Is(err, wallet.ErrInvoiceAlreadyPaid) && got.Status == store.StatusFailed {
			err = nil // refunded: an outside payer paid the invoice
		}
		return got, err
	}
	switch {
	case !v.Known && v.Expired:
		err = p.refund(ctx, t, "invoice expired before the payment was sent")
	case !v.Known:
		return t, fmt.Errorf("the node has no record of the payment and its invoice can still be paid: the server sends it when it resumes payments; resolve it after the invoice expires")
	case v.State == PaymentSucceeded:
		_, err = p.Wallet.Settle(ctx, wallet.Settlement{TransactionID: t.ID, RailFeeMsat: v.FeeMsat})
	case v.State == PaymentFailed:
		err = p.refund(ctx, t, v.Reason)
	default:
		return t, ErrPaymentInFlight
	}
	if err != nil {
		return t, err
	}
	return p.Wallet.Transaction(ctx, t.ID)
}
