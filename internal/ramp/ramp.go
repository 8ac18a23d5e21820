// Package ramp moves money between M-Pesa and the wallet through Daraja:
// top-ups by STK push, withdrawals by B2C, their callbacks and a reconciler
// for the callbacks that never come. The ledger side is the wallet's
// (StartTopup, CompleteTopup, Reserve, Settle, RefundMpesa); this package
// calls Daraja outside any transaction and never refunds on a guess: a
// withdrawal whose outcome is unknown stays reserved until Daraja says.
package ramp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/rates"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Daraja is what the ramp needs of Daraja (internal/mpesa's client behind
// an adapter). An error wrapping ErrRefused is a definite refusal: Daraja
// took nothing on. Any other error leaves the outcome unknown.
type Daraja interface {
	// STKPush asks the phone to pay kes and returns the push's
	// CheckoutRequestID.
	STKPush(ctx context.Context, p STKPush) (checkoutRequestID string, err error)
	// STKQuery asks how a push ended.
	STKQuery(ctx context.Context, checkoutRequestID string) (STKOutcome, error)
	// B2C pays kes to a phone and returns Daraja's ConversationID.
	B2C(ctx context.Context, p B2C) (conversationID string, err error)
	// TransactionStatus asks for a B2C payment's status; the answer comes
	// later to resultURL.
	TransactionStatus(ctx context.Context, originatorConversationID, resultURL, timeoutURL string) error
}

// STKPush is a top-up's request to Daraja.
type STKPush struct {
	Phone       string // 2547XXXXXXXX
	AmountKES   int64
	Reference   string // ≤ 12 characters
	Description string // ≤ 13 characters
	CallbackURL string
}

// B2C is a withdrawal's request to Daraja.
type B2C struct {
	OriginatorConversationID string
	Phone                    string
	AmountKES                int64
	Remarks                  string
	ResultURL, TimeoutURL    string
}

// STKOutcome is an STK push's state: Pending (being processed), or
// finished with ResultCode ("0" paid).
type STKOutcome struct {
	Pending    bool
	ResultCode string
	ResultDesc string
}

// ErrRefused marks a definite refusal by Daraja. ErrDuplicate is Daraja
// refusing a B2C OriginatorConversationID it has seen: the first request
// with it was accepted, so it is never a refusal of the payment.
var (
	ErrRefused   = errors.New("refused by daraja")
	ErrDuplicate = errors.New("daraja has seen this OriginatorConversationID")
)

// Config tunes the ramp.
type Config struct {
	// CallbackBase is the public base URL of the callback endpoints, with
	// the secret token in its path (MPESA_CALLBACK_URL + token).
	CallbackBase string
	// QueryAfter is how long a request waits for its callback before the
	// reconciler asks Daraja, and then between questions (default 90 s).
	QueryAfter time.Duration
	// GiveUpAfter fails a top-up whose push never reached Daraja after
	// this long (default 10 min); nothing was charged.
	GiveUpAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// The callback paths under CallbackBase. Safaricom refuses URLs with the
// words mpesa, safaricom, exe, cmd, sql or query.
const (
	PathSTK        = "/stk"
	PathB2CResult  = "/b2c/result"
	PathB2CTimeout = "/b2c/timeout"
	PathStatus     = "/status/result"
	PathStatusWait = "/status/timeout"
)

// Ramp runs top-ups and withdrawals.
type Ramp struct {
	Wallet *wallet.Service
	Daraja Daraja
	Config Config
	Log    *slog.Logger
	// Work is joined by the Daraja calls that outlive the request that
	// made them (Sell's and Buy's, once the caller's deadline passed):
	// whoever stops the server waits for it before closing the database.
	// Nil leaves them untracked.
	Work *sync.WaitGroup

	stopMu  sync.Mutex
	stopped bool // Stop was called: nothing joins Work any more
}

// Stop ends Work's growth, before whoever stops the server waits for it
// and closes the database: from now on Sell and Buy start nothing
// (ErrStopped). A hop still running then (the HTTP server gave up waiting
// for it) may have reserved its request: it is not sent, nothing waiting
// for it, and the reconciler finishes it as never sent (refunded, or
// failed; its user texted), or a repeat sends it, after the restart.
func (r *Ramp) Stop() {
	r.stopMu.Lock()
	r.stopped = true
	r.stopMu.Unlock()
}

// ErrStopped is a request refused because the server is stopping.
var ErrStopped = errors.New("the server is stopping; the request was not sent")

func (r *Ramp) isStopped() bool {
	r.stopMu.Lock()
	defer r.stopMu.Unlock()
	return r.stopped
}

func (r *Ramp) now() time.Time {
	if r.Config.Now != nil {
		return r.Config.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Ramp) queryAfter() time.Duration {
	if r.Config.QueryAfter > 0 {
		return r.Config.QueryAfter
	}
	return 90 * time.Second
}

func (r *Ramp) giveUpAfter() time.Duration {
	if r.Config.GiveUpAfter > 0 {
		return r.Config.GiveUpAfter
	}
	return 10 * time.Minute
}

// unsentAfter is how old a request never marked sent must be before the
// reconciler finishes it as never sent. Only a bound against finishing a
// request between its commit and its marking: a request closed as unsent
// can no longer be marked, so it is never sent after.
func (r *Ramp) unsentAfter() time.Duration { return r.queryAfter() }

// markSent records that a request is about to leave for Daraja and returns
// it: an error, or a request closed meanwhile, means it must not be sent.
func (r *Ramp) markSent(ctx context.Context, transactionID int64) (store.MpesaRequest, error) {
	req, ok, err := r.Wallet.MarkMpesaSent(ctx, transactionID)
	if errors.Is(err, wallet.ErrOutcomeUnknown) || errors.Is(err, store.ErrOutcomeUnknown) {
		r.log().Error("mpesa: whether the request was marked sent could not be learned; it is not sent, and if it was marked an operator finishes it",
			"transaction", transactionID, "err", err)
	}
	if err != nil {
		return store.MpesaRequest{}, err
	}
	if !ok {
		return store.MpesaRequest{}, errNotSent
	}
	return req, nil
}

// errNotSent is a request closed (by the reconciler) before it was sent.
var errNotSent = errors.New("closed before it was sent; not sent")

// claim decides whether this call sends transaction t's M-Pesa request:
// the one call that marks it sent does (markSent is once-only), whether t
// is fresh (this call made it, or found it after its commit's answer was
// lost) or a repeat of a request whose first call never got that far.
// Nobody else sends it: a request already marked was sent by another call
// (a twin with the same key, or the first of a repeat), and one the
// reconciler closed was never sent and is given up. Only a fresh t whose
// request was closed, or could not be marked, is an error (the reconciler
// finishes it); for a repeat the first call's answer stands.
func (r *Ramp) claim(ctx context.Context, t store.Transaction, fresh bool) (req store.MpesaRequest, send bool, err error) {
	if !fresh && t.Status != store.StatusPending {
		return store.MpesaRequest{}, false, nil
	}
	req, err = r.markSent(ctx, t.ID)
	switch {
	case err == nil:
		return req, true, nil
	case errors.Is(err, errNotSent):
		if other, rerr := r.Wallet.MpesaRequest(ctx, t.ID); rerr == nil && other.SentAt != nil {
			return other, false, nil
		}
	}
	if !fresh {
		return store.MpesaRequest{}, false, nil
	}
	return store.MpesaRequest{}, false, err
}

func (r *Ramp) url(path string) string {
	return strings.TrimRight(r.Config.CallbackBase, "/") + path
}

func (r *Ramp) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// detached is a context for work that must finish once started (a call to
// Daraja whose answer must be recorded): not cancelled with the request
// that started it, but bounded.
func detached(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// recording is the context on which Daraja's answer to a request is
// recorded (its id, or a refusal's refund): its own recordTimeout, after
// the call's 30 s (detached), whatever the call left of them.
func recording(ctx context.Context) (context.Context, context.CancelFunc) {
	return detached(ctx, recordTimeout)
}

// recordTimeout bounds recording Daraja's answer.
const recordTimeout = 5 * time.Second

// outlive runs send (a request's sending to Daraja and the recording of
// what Daraja answered) on dctx, in the background, and waits for it no
// longer than the caller's ctx: a request once sent has its answer
// recorded, but a slow Daraja must not hold a USSD hop past its deadline
// (the gateway would end the session unanswered, and the user, told
// nothing, might withdraw again). It is send's error when send ended
// first; nil when ctx ended first: the request has been started, and send
// finishes alone, a refusal it learns telling the user by text. cancel is
// dctx's, called once send has ended.
func (r *Ramp) outlive(ctx, dctx context.Context, cancel context.CancelFunc, transactionID int64, send func(ctx context.Context) error) error {
	var (
		mu   sync.Mutex
		gone bool // the caller returned before send ended
		done = make(chan error, 1)
	)
	work := func() {
		defer cancel()
		err := send(dctx)
		mu.Lock()
		defer mu.Unlock()
		if !gone {
			done <- err
			return
		}
		if err != nil {
			r.log().Warn("mpesa: a request finished after its caller had gone", "transaction", transactionID, "err", err)
		}
	}
	r.stopMu.Lock()
	if r.stopped {
		r.stopMu.Unlock()
		cancel()
		return fmt.Errorf("mpesa request %d: %w", transactionID, ErrStopped)
	}
	if r.Work != nil {
		r.Work.Go(work)
	} else {
		go work()
	}
	r.stopMu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	select {
	case err := <-done: // it ended with the caller's ctx: its answer stands
		return err
	default:
		gone = true
		return nil
	}
}

func refused(err error) bool { return errors.Is(err, ErrRefused) && !errors.Is(err, ErrDuplicate) }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// WalletQuote is the ledger's form of a quote the user accepted: the
// market rate it was made from, the spread, the shillings and the msat.
func WalletQuote(q rates.Quote) wallet.MpesaQuote {
	return wallet.MpesaQuote{KES: q.KES, Msat: q.Msat, RateMilliKESPerBTC: q.Rate.MilliKESPerBTC, SpreadBps: q.SpreadBps, ExpiresAt: q.ExpiresAt}
}
