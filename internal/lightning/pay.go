package lightning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Payer pays BOLT11 invoices for users. The skeleton is the custodial
// servers', without their flaws: reserve in one committed transaction, call
// the node outside any transaction with a context that no hang-up cancels,
// then settle with the real fee or refund only on a definite failure; a
// timeout, a lost stream or a crash leaves the funds reserved, and Resume
// re-attaches at start-up.
type Payer struct {
	Node   Node
	Wallet *wallet.Service
	Log    *slog.Logger
	// Timeout bounds one payment attempt in lnd (default 60 s).
	Timeout time.Duration
	// ExpiryMargin refuses invoices that expire sooner than this (default 30 s).
	ExpiryMargin time.Duration

	wg sync.WaitGroup
	mu sync.Mutex // guards identity and following
	// identity is our node's public key, once known.
	identity string
	// following holds the payments a goroutine is following now, so that
	// Resume does not attach twice.
	following map[int64]bool
}

// FeeLimit is the routing fee reserved for an amount: max(10 sat, 1% + 1 sat),
// the popular custodial practice; only the real fee is charged.
func FeeLimit(amountMsat int64) int64 {
	return max(10_000, amountMsat/100+1_000)
}

// Payment is a payment request as the payer saw it.
type Payment struct {
	Transaction store.Transaction
	// Internal says the invoice was ours and was settled in the ledger.
	Internal bool
}

// Pay decodes and checks an invoice and pays it: inside the ledger when our
// node issued it for one of our users, through the node otherwise. An
// external payment returns while still pending; Wait follows it.
func (p *Payer) Pay(ctx context.Context, auth wallet.Authorization, bolt11, key string) (Payment, error) {
	inv, err := p.Node.DecodeInvoice(ctx, bolt11)
	if err != nil {
		return Payment{}, err
	}
	margin := p.ExpiryMargin
	if margin <= 0 {
		margin = 30 * time.Second
	}
	switch {
	case inv.AmountMsat <= 0:
		return Payment{}, fmt.Errorf("%w: an amount-less invoice", ErrInvalidInvoice)
	case time.Until(inv.ExpiresAt) < margin:
		return Payment{}, fmt.Errorf("%w: expired or about to", ErrInvalidInvoice)
	}
	own, err := p.ownIdentity(ctx)
	if err != nil {
		return Payment{}, err
	}
	if inv.Destination == own {
		return p.payOwn(ctx, auth, inv, key)
	}
	t, err := p.Wallet.Reserve(ctx, auth, wallet.Reservation{
		Type: store.TxPayment, AmountMsat: inv.AmountMsat, AllowanceMsat: FeeLimit(inv.AmountMsat),
		Invoice: bolt11, PaymentHash: inv.PaymentHash, Description: inv.Description, IdempotencyKey: key,
	})
	if err != nil {
		return Payment{}, err
	}
	if t.Status == store.TxPending {
		p.start(t, func(ctx context.Context) (<-chan PaymentUpdate, <-chan error, error) {
			return p.Node.PayInvoice(ctx, PaymentRequest{Invoice: bolt11, FeeLimitMsat: FeeLimit(inv.AmountMsat), Timeout: p.timeout()})
		})
	}
	return Payment{Transaction: t}, nil
}

// ownIdentity is our node's public key, asked once (payments run
// concurrently).
func (p *Payer) ownIdentity(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.identity == "" {
		id, err := p.Node.Identity(ctx)
		if err != nil {
			return "", err
		}
		p.identity = id
	}
	return p.identity, nil
}

// payOwn settles an invoice of our node inside the ledger, after cancelling
// it on the node so that nobody outside can pay it as well.
func (p *Payer) payOwn(ctx context.Context, auth wallet.Authorization, inv DecodedInvoice, key string) (Payment, error) {
	if err := p.Node.CancelInvoice(ctx, inv.PaymentHash); err != nil {
		// Cancelling fails when the invoice is no longer open (paid from
		// outside, or already cancelled for a first attempt of this key):
		// the ledger decides which.
		p.Log.Info("own invoice not cancelled on the node", "hash", inv.PaymentHash, "err", err)
	}
	t, err := p.Wallet.PayOwnInvoice(ctx, auth, inv.PaymentHash, key)
	if err != nil {
		return Payment{}, err
	}
	return Payment{Transaction: t, Internal: true}, nil
}

func (p *Payer) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return 60 * time.Second
}

// start follows a reserved payment in the background, on a context that no
// caller's hang-up cancels.
func (p *Payer) start(t store.Transaction, open func(ctx context.Context) (<-chan PaymentUpdate, <-chan error, error)) {
	p.mu.Lock()
	if p.following == nil {
		p.following = map[int64]bool{}
	}
	if p.following[t.ID] {
		p.mu.Unlock()
		return
	}
	p.following[t.ID] = true
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() {
			p.mu.Lock()
			delete(p.following, t.ID)
			p.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout()+30*time.Second)
		defer cancel()
		if err := p.follow(ctx, t, open); err != nil {
			p.Log.Warn("payment outcome unknown; funds stay reserved", "transaction", t.ID, "hash", t.PaymentHash, "err", err)
		}
	}()
}

// Wait blocks until every payment this payer follows has an outcome or has
// been left pending (for tests and one-shot commands).
func (p *Payer) Wait() { p.wg.Wait() }

// follow reads a payment's updates until a final state and books it.
func (p *Payer) follow(ctx context.Context, t store.Transaction, open func(ctx context.Context) (<-chan PaymentUpdate, <-chan error, error)) error {
	updates, errs, err := open(ctx)
	if err != nil {
		return err
	}
	resent := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err, ok := <-errs:
			if !ok {
				errs = nil // closed: only updates can end the wait now
				continue
			}
			if errors.Is(err, ErrPaymentNotFound) && !resent {
				// Tracked after a restart, never started: send it now.
				updates, errs, err = p.Node.PayInvoice(ctx, PaymentRequest{Invoice: t.Invoice, FeeLimitMsat: FeeLimit(t.AmountMsat), Timeout: p.timeout()})
				if err != nil {
					return err
				}
				resent = true
				continue
			}
			return err
		case u, ok := <-updates:
			if !ok {
				return errors.New("payment stream closed before a final state")
			}
			switch u.State {
			case PaymentSucceeded:
				_, err := p.Wallet.Settle(ctx, wallet.Settlement{TransactionID: t.ID, RailFeeMsat: u.FeeMsat})
				return err
			case PaymentFailed:
				p.Log.Info("payment failed; refunding", "transaction", t.ID, "reason", u.Reason)
				_, err := p.Wallet.Refund(ctx, t.ID)
				return err
			}
		}
	}
}

// Resume re-attaches to every payment still pending and not followed now
// (after a restart, or after a stream to the node was lost): it tracks each
// in the node and books its outcome when final. The server runs it at
// start and then periodically. A payment the
// node never started (a crash between the reservation and the call) is
// sent now: the node refuses a second payment of one hash, so this cannot
// pay twice.
func (p *Payer) Resume(ctx context.Context) error {
	pending, err := p.Wallet.PendingPayments(ctx)
	if err != nil {
		return err
	}
	for _, t := range pending {
		p.Log.Info("re-attaching to a pending payment", "transaction", t.ID, "hash", t.PaymentHash)
		p.start(t, func(ctx context.Context) (<-chan PaymentUpdate, <-chan error, error) {
			return p.Node.TrackPayment(ctx, t.PaymentHash)
		})
	}
	return nil
}
