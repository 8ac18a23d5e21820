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
//
// The definite failures are the node's: a payment it reports FAILED, a
// payment it refused to start (and has no record of), and a payment it never
// started whose invoice has expired. A payment hash has at most one pending
// or completed payment in the ledger, so the node's "this hash is already
// paid or in flight" is this payment's own attempt, and is tracked.
//
// One follower at a time calls the node about a pending payment, whichever
// server it runs in: it first takes the payment's lease in the database
// (wallet.LeasePayment, on the database's clock, only while the payment is
// pending) and renews it while it follows. Several servers
// re-attaching at once, or a hop repeated through another server, cannot
// send a payment twice, nor send one another has refunded (lnd would start
// a failed hash again).
type Payer struct {
	Node   Node
	Wallet *wallet.Service
	Log    *slog.Logger
	// Timeout bounds one payment attempt in lnd (default 60 s).
	Timeout time.Duration
	// ExpiryMargin refuses invoices that expire sooner than this (default
	// 30 s); a payment the node never started is failed once its invoice
	// has been expired for as long.
	ExpiryMargin time.Duration

	// Lease is how long a follower's hold of a pending payment lasts
	// unless renewed (default 30 s); the follower renews it every third
	// of that while it follows, and stops calling the node as soon as a
	// renewal fails. A server that dies holding one leaves the payment to
	// the others (or to itself, restarted) once it runs out.
	Lease time.Duration

	wg sync.WaitGroup
	mu sync.Mutex // guards identity
	// identity is our node's public key, once known.
	identity string
}

// ErrPaymentInFlight means the node is still trying a payment: it cannot be
// finished yet.
var ErrPaymentInFlight = errors.New("payment in flight")

// FeeLimit is the routing fee reserved for an amount: max(10 sat, 1% + 1 sat),
// the popular custodial practice; only the real fee is charged.
func FeeLimit(amountMsat int64) int64 {
	return max(10_000, amountMsat/100+1_000)
}

// Payment is a payment request as the payer saw it.
type Payment struct {
	Transaction store.Transaction
	// Internal says the invoice was ours and is settled in the ledger (its
	// transaction is completed, or still pending when the node could not
	// confirm the invoice's cancellation).
	Internal bool
}

// Pay decodes and checks an invoice and pays it: inside the ledger when our
// node issued it for one of our users, through the node otherwise. An
// external payment returns while still pending; Wait follows it. An invoice
// already paid or being paid is refused with wallet.ErrInvoiceAlreadyPaid,
// and nothing is held.
func (p *Payer) Pay(ctx context.Context, auth wallet.Authorization, bolt11, key string) (Payment, error) {
	inv, err := p.Node.DecodeInvoice(ctx, bolt11)
	if err != nil {
		return Payment{}, err
	}
	switch {
	case inv.AmountMsat <= 0:
		return Payment{}, fmt.Errorf("%w: an amount-less invoice", ErrInvalidInvoice)
	case time.Until(inv.ExpiresAt) < p.margin():
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
		Type: store.TypePayment, AmountMsat: inv.AmountMsat, AllowanceMsat: FeeLimit(inv.AmountMsat),
		Invoice: bolt11, PaymentHash: inv.PaymentHash, Description: inv.Description, IdempotencyKey: key,
	})
	if err != nil {
		return Payment{}, err
	}
	if t.Status == store.StatusPending {
		p.start(t, func(ctx context.Context) error { return p.follow(ctx, t, true) })
	}
	return Payment{Transaction: t}, nil
}

func (p *Payer) margin() time.Duration {
	if p.ExpiryMargin > 0 {
		return p.ExpiryMargin
	}
	return 30 * time.Second
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

// payOwn pays an invoice of our node inside the ledger: the payer's funds
// are held first, so that only a funded, PIN-authorised attempt ever
// cancels one of our invoices, and the money moves only once the node has
// confirmed the cancel.
func (p *Payer) payOwn(ctx context.Context, auth wallet.Authorization, inv DecodedInvoice, key string) (Payment, error) {
	t, err := p.Wallet.ReserveOwnInvoice(ctx, auth, inv.PaymentHash, key)
	if err != nil {
		return Payment{}, err
	}
	switch t.Status {
	case store.StatusPending:
		// Unless a follower, here or in another server, is already driving
		// it (then it stays pending here).
		fctx, cancel := context.WithTimeout(ctx, p.followFor())
		if held, release, _ := p.hold(fctx, t); release != nil {
			t, err = p.finishOwn(held, t)
			release()
		}
		cancel()
	case store.StatusFailed:
		// A repeat of an attempt that was refunded: say why again.
		err = ErrUnavailable
		if st, serr := p.Wallet.InvoiceStatus(ctx, inv.PaymentHash); serr == nil && st.Status == store.InvoicePaid {
			err = wallet.ErrInvoiceAlreadyPaid
		}
	}
	return Payment{Transaction: t, Internal: true}, err
}

// finishOwn drives a pending payment of one of our invoices to its outcome.
// It cancels the invoice on the node and settles inside the ledger only
// once the node confirms the cancel (a cancel already done counts). If the
// node reports the invoice settled, an outside payer won: the hold goes
// back, the invoice watcher credits the payee, and the error is
// wallet.ErrInvoiceAlreadyPaid. While the node cannot say, the hold stays
// and the payment stays pending, for Resume (or an operator) to finish.
func (p *Payer) finishOwn(ctx context.Context, t store.Transaction) (store.Transaction, error) {
	if cancelErr := p.Node.CancelInvoice(ctx, t.PaymentHash); cancelErr != nil {
		st, err := p.Node.LookupInvoice(ctx, t.PaymentHash)
		switch {
		case err != nil, st.State == InvoiceAccepted:
			p.Log.Warn("own invoice: cancel not confirmed; funds stay reserved", "transaction", t.ID, "hash", t.PaymentHash,
				"cancel", cancelErr, "lookup", err)
			return t, nil
		case st.State == InvoiceSettled:
			return p.refundOwn(ctx, t, "paid from outside before it could be cancelled", wallet.ErrInvoiceAlreadyPaid)
		case st.State == InvoiceOpen:
			// The cancel failed and nothing happened: release the hold.
			return p.refundOwn(ctx, t, "the node did not cancel the invoice", fmt.Errorf("%w: cancel invoice: %v", ErrUnavailable, cancelErr))
		}
		// Cancelled already (a repeat after a crash): settle.
	}
	_, err := p.Wallet.SettleOwnInvoice(ctx, t.ID)
	if errors.Is(err, wallet.ErrInvoiceAlreadyPaid) {
		return p.refundOwn(ctx, t, "the invoice is no longer payable", wallet.ErrInvoiceAlreadyPaid)
	}
	if err != nil {
		return t, err
	}
	return p.Wallet.Transaction(ctx, t.ID)
}

// refundOwn gives back the hold of an own-invoice payment and reports why.
func (p *Payer) refundOwn(ctx context.Context, t store.Transaction, reason string, cause error) (store.Transaction, error) {
	if err := p.refund(ctx, t, reason); err != nil {
		return t, err
	}
	got, err := p.Wallet.Transaction(ctx, t.ID)
	if err != nil {
		return t, err
	}
	return got, cause
}

func (p *Payer) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return 60 * time.Second
}

// followFor bounds one follow of a payment.
func (p *Payer) followFor() time.Duration { return p.timeout() + 30*time.Second }

// LeaseDuration is how long a follower's lease of a payment lasts unless
// renewed: a payment another follower left behind can be taken this long
// after it stopped renewing.
func (p *Payer) LeaseDuration() time.Duration { return p.lease() }

func (p *Payer) lease() time.Duration {
	if p.Lease > 0 {
		return p.Lease
	}
	return 30 * time.Second
}

// hold takes a pending payment's lease for the caller and renews it in
// the background until release. The context it returns, derived from
// ctx, ends when the lease is lost (a renewal refused, or none
// confirmed within the lease): every call to the node about the payment
// runs on it. It returns a nil release when a follower (here or in
// another server) holds the payment or it is finished, and an error when
// the database did not answer: the payment is then left to the next
// Resume.
func (p *Payer) hold(ctx context.Context, t store.Transaction) (held context.Context, release func(), err error) {
	token := store.NewToken()
	lease := p.lease()
	ok, err := p.Wallet.LeasePayment(ctx, t.ID, token, lease)
	if err != nil {
		p.Log.Warn("payment not followed now: its lease could not be taken", "transaction", t.ID, "err", err)
		return nil, nil, err
	}
	if !ok {
		return nil, nil, nil
	}
	held, lost := context.WithCancel(ctx)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		defer lost()
		renewed := time.Now()
		tick := time.NewTicker(lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-held.Done():
				return
			case <-tick.C:
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lease/3)
			ok, err := p.Wallet.LeasePayment(rctx, t.ID, token, lease)
			cancel()
			switch {
			case err == nil && !ok:
				// Finished a moment ago, or (after a stall longer than the
				// lease) taken over by another follower.
				p.Log.Info("payment lease no longer held; no longer following it here", "transaction", t.ID)
				return
			case err == nil:
				renewed = time.Now()
			case time.Since(renewed) > lease*2/3:
				p.Log.Warn("payment lease not renewed in time; no longer following it here", "transaction", t.ID, "err", err)
				return
			}
		}
	}()
	return held, func() {
		close(stop)
		<-stopped
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := p.Wallet.ReleasePayment(ctx, t.ID, token); err != nil {
			p.Log.Warn("payment lease not released; it runs out by itself", "transaction", t.ID, "err", err)
		}
	}, nil
}

// start runs a pending payment to its outcome in the background, on a
// context that no caller's hang-up cancels, once it holds its lease.
func (p *Payer) start(t store.Transaction, run func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.followFor())
	if held, release, _ := p.hold(ctx, t); release != nil {
		p.launch(t, held, cancel, release, run)
		return
	}
	cancel()
}

// launch runs a payment whose lease the caller holds (held, bounded by
// followFor), then releases the lease and ends the follow's context.
func (p *Payer) launch(t store.Transaction, held context.Context, cancel, release func(), run func(ctx context.Context) error) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer cancel()
		defer release()
		switch err := run(held); {
		case errors.Is(err, wallet.ErrPaused), errors.Is(err, wallet.ErrAccountFrozen), errors.Is(err, wallet.ErrPINResetDue):
			p.Log.Info("payment held, not sent; funds stay reserved", "transaction", t.ID, "hash", t.PaymentHash, "err", err)
		case err != nil:
			p.Log.Warn("payment outcome unknown; funds stay reserved", "transaction", t.ID, "hash", t.PaymentHash, "err", err)
		}
	}()
}

// Wait blocks until every payment this payer follows has an outcome or has
// been left pending (for tests and one-shot commands).
func (p *Payer) Wait() { p.wg.Wait() }

// send calls the node for a reserved payment, unless its sender was frozen
// or payouts were paused since it was reserved (then it stays reserved).
func (p *Payer) send(ctx context.Context, t store.Transaction) (<-chan PaymentUpdate, <-chan error, error) {
	if err := p.Wallet.MaySendOut(ctx, t.UserID); err != nil {
		return nil, nil, fmt.Errorf("not sent: %w", err)
	}
	return p.Node.PayInvoice(ctx, PaymentRequest{Invoice: t.Invoice, FeeLimitMsat: FeeLimit(t.AmountMsat), Timeout: p.timeout()})
}

func (p *Payer) track(ctx context.Context, t store.Transaction) (<-chan PaymentUpdate, <-chan error, error) {
	return p.Node.TrackPayment(ctx, t.PaymentHash)
}

// follow sends a reserved payment (send) or tracks it, and reads its updates
// until a final state, which it books. Only the node's definite answers
// finish it; any other error leaves it pending.
func (p *Payer) follow(ctx context.Context, t store.Transaction, send bool) error {
	open := p.track
	if send {
		open = p.send
	}
	updates, errs, err := open(ctx, t)
	if err != nil {
		return err
	}
	sent := send
	var refusal error // the node's refusal to start the payment, once seen
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err, ok := <-errs:
			if !ok {
				errs = nil // closed: only updates can end the wait now
				continue
			}
			switch {
			case errors.Is(err, ErrPaymentRefused) && refusal == nil:
				// Nothing was sent. Refund only once the node confirms it
				// has no record of the hash.
				refusal = err
				updates, errs, err = p.track(ctx, t)
			case errors.Is(err, ErrPaymentNotFound) && refusal != nil:
				return p.refund(ctx, t, refusal.Error())
			case errors.Is(err, ErrPaymentNotFound):
				expired, derr := p.expired(ctx, t)
				switch {
				case derr != nil:
					return derr
				case expired:
					// The node never started it and would refuse it now.
					return p.refund(ctx, t, "invoice expired before the payment was sent")
				case sent:
					return err
				}
				// Reserved but never sent (a crash in between): send it
				// now; the node refuses a second payment of one hash.
				updates, errs, err = p.send(ctx, t)
				sent = true
			case errors.Is(err, ErrPaymentExists):
				// The node's payment of this hash is this one's only if
				// this transaction owns the hash in the ledger.
				owner, oerr := p.Wallet.PaymentByHash(ctx, t.PaymentHash)
				if oerr != nil || owner.ID != t.ID {
					return fmt.Errorf("the node has a payment of this hash that transaction %d does not own (%v): %w", t.ID, oerr, err)
				}
				updates, errs, err = p.track(ctx, t)
			default:
				return err
			}
			if err != nil {
				return err
			}
		case u, ok := <-updates:
			if !ok {
				return errors.New("payment stream closed before a final state")
			}
			switch u.State {
			case PaymentSucceeded:
				_, err := p.Wallet.Settle(ctx, wallet.Settlement{TransactionID: t.ID, RailFeeMsat: u.FeeMsat})
				return err
			case PaymentFailed:
				return p.refund(ctx, t, u.Reason)
			}
		}
	}
}

// refund books a definite failure.
func (p *Payer) refund(ctx context.Context, t store.Transaction, reason string) error {
	if len(reason) > 200 {
		reason = reason[:200]
	}
	p.Log.Info("payment failed; refunding", "transaction", t.ID, "hash", t.PaymentHash, "reason", reason)
	_, err := p.Wallet.RefundBecause(ctx, t.ID, reason)
	return err
}

// expired reports whether a payment's invoice expired more than the expiry
// margin ago (a margin, so that a sender about to call the node with it
// cannot still get through).
func (p *Payer) expired(ctx context.Context, t store.Transaction) (bool, error) {
	inv, err := p.Node.DecodeInvoice(ctx, t.Invoice)
	if err != nil {
		return false, err
	}
	return time.Since(inv.ExpiresAt) > p.margin(), nil
}

// own reports whether a payment pays an invoice of our own node.
func (p *Payer) own(ctx context.Context, t store.Transaction) (bool, error) {
	id, err := p.ownIdentity(ctx)
	if err != nil {
		return false, err
	}
	inv, err := p.Node.DecodeInvoice(ctx, t.Invoice)
	if err != nil {
		return false, err
	}
	return inv.Destination == id, nil
}

// Resume re-attaches to every payment still pending and not followed now,
// by this server or another (after a restart, or after a stream to the
// node was lost): it takes each one's lease, tracks it in the node and
// books its outcome when final; a payment of one of our own invoices is
// driven again (cancel, then settle in the ledger). The server runs it at
// start and then periodically. A payment the node never started (a crash
// between the reservation and the call) is sent now, unless its invoice has
// expired: then it is refunded.
func (p *Payer) Resume(ctx context.Context) error {
	_, err := p.ResumeOnce(ctx)
	return err
}

// ResumeOnce is Resume that also counts the pending payments it left to
// another follower (one that holds the lease, perhaps a server that died
// holding it): the server runs it again once such a lease can have run
// out.
func (p *Payer) ResumeOnce(ctx context.Context) (others int, err error) {
	pending, err := p.Wallet.PendingPayments(ctx)
	if err != nil {
		return 0, err
	}
	for _, t := range pending {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.followFor())
		held, release, err := p.hold(fctx, t)
		if err != nil || release == nil {
			cancel()
			if err != nil {
				return others, fmt.Errorf("resume payment %d: %w", t.ID, err)
			}
			others++ // followed already, or finished since the list
			continue
		}
		own, err := p.own(held, t)
		if err != nil {
			release()
			cancel()
			return others, fmt.Errorf("resume payment %d: %w", t.ID, err)
		}
		p.Log.Info("re-attaching to a pending payment", "transaction", t.ID, "hash", t.PaymentHash, "internal", own)
		if own {
			p.launch(t, held, cancel, release, func(ctx context.Context) error {
				got, err := p.finishOwn(ctx, t)
				switch {
				case got.Status != store.StatusPending:
					return nil // settled or refunded: a definite outcome
				case err == nil:
					return errors.New("the node did not confirm the invoice's cancel")
				}
				return err
			})
			continue
		}
		p.launch(t, held, cancel, release, func(ctx context.Context) error { return p.follow(ctx, t, false) })
	}
	return others, nil
}
