package ramp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/internal/redact"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// ErrBusy means M-Pesa is already prompting the phone (one prompt per phone
// at a time): nothing was started, the user tries again in a moment.
var ErrBusy = errors.New("an m-pesa prompt is already on the phone")

// Buy starts a top-up at a quote the user accepted: the pending top-up and
// its request are committed first, then the STK push is sent and its
// CheckoutRequestID recorded, so that a callback always finds its top-up.
// A push Daraja refuses fails the top-up at once (nothing was charged); a
// push whose answer was lost stays pending, and the reconciler gives it up
// when it has never been acknowledged. Buy returns by ctx's end: a push
// Daraja has not answered by then is reported started (nil), and its
// answer is recorded in the background.
func (r *Ramp) Buy(ctx context.Context, userID int64, q wallet.MpesaQuote, key string) (store.Transaction, error) {
	if r.isStopped() {
		return store.Transaction{}, ErrStopped
	}
	t, fresh, err := r.Wallet.StartTopup(ctx, userID, q, r.queryAfter(), key)
	if err != nil {
		return t, err
	}
	// The push and the recording of its id must not be cut short by the
	// user's request ending: the prompt reaches the phone anyway. Nor its
	// marking: the top-up may have been learned past the caller's deadline
	// (its commit's answer was lost, wallet.StartTopup). Nor do they hold
	// the caller past its end.
	dctx, cancel := detached(ctx, 30*time.Second)
	return t, r.outlive(ctx, dctx, cancel, t.ID, func(ctx context.Context) error { return r.push(ctx, t, fresh) })
}

// push sends top-up t's STK push, if this call is the one to (claim), and
// records Daraja's answer: its CheckoutRequestID, or, on a definite
// refusal, the top-up's failure (the user is texted).
func (r *Ramp) push(ctx context.Context, t store.Transaction, fresh bool) error {
	// One call pushes (claim): a second prompt for one top-up could be
	// paid twice, and the first may be on the phone.
	req, send, err := r.claim(ctx, t, fresh)
	if err != nil {
		return fmt.Errorf("mpesa top-up %d: %w", t.ID, err)
	}
	if !send {
		return nil
	}
	checkout, err := r.Daraja.STKPush(ctx, STKPush{
		Phone: req.Phone, AmountKES: req.AmountKES, Reference: fmt.Sprintf("UMEME%d", t.ID%10_000_000), Description: "Buy bitcoin",
		CallbackURL: r.url(PathSTK),
	})
	// Daraja's answer is recorded on a context of its own: the call may
	// have used up ctx.
	rctx, cancel := recording(ctx)
	defer cancel()
	switch {
	case refused(err):
		if _, ferr := r.Wallet.FailTopupByID(rctx, t.ID, "refused", err.Error()); ferr != nil {
			r.log().Error("mpesa top-up: failing a refused push", "transaction", t.ID, "err", ferr)
		}
		if errors.Is(err, ErrBusy) {
			return ErrBusy
		}
		return fmt.Errorf("mpesa top-up %d: %w", t.ID, err)
	case err != nil:
		r.log().Warn("mpesa top-up: push outcome unknown; the reconciler will give it up if Daraja never acknowledged it",
			"transaction", t.ID, "phone", redact.Phone(req.Phone), "err", err)
		return nil
	}
	// The prompt is on the phone. Not recording its CheckoutRequestID must
	// not reach the user as a failed top-up, or they pay a second prompt:
	// its callback adopts the top-up (AdoptCheckout), and the reconciler
	// holds one never acknowledged for an operator, never failing it.
	if err := r.Wallet.RecordCheckout(rctx, t.ID, checkout); err != nil {
		r.log().Error("mpesa top-up: pushed, but its CheckoutRequestID was not recorded; its callback adopts it",
			"transaction", t.ID, "phone", redact.Phone(req.Phone), "err", err)
	}
	return nil
}

// STKResult is an STK push's callback.
type STKResult struct {
	CheckoutRequestID string
	ResultCode        int
	ResultDesc        string
	AmountKES         int64
	Receipt           string
	Phone             string
}

// HandleSTK records an STK callback: a success credits its top-up once (if
// it matches what was asked), any other code fails it. A callback that
// matches nothing, or does not match its top-up, credits nothing and is
// logged: callbacks are not signed.
func (r *Ramp) HandleSTK(ctx context.Context, res STKResult) error {
	if res.ResultCode != 0 {
		err := r.overtaken(ctx, func() error {
			_, err := r.Wallet.FailTopup(ctx, res.CheckoutRequestID, fmt.Sprint(res.ResultCode), res.ResultDesc)
			return err
		})
		return r.unmatched("stk failure", res.CheckoutRequestID, err)
	}
	if res.Receipt == "" {
		r.log().Warn("mpesa callback: a success without a receipt ignored", "checkout", res.CheckoutRequestID)
		return nil
	}
	pay := wallet.MpesaPayment{CheckoutRequestID: res.CheckoutRequestID, Receipt: res.Receipt, AmountKES: res.AmountKES, Phone: res.Phone, ResultDesc: res.ResultDesc}
	var t store.Transaction
	var credited bool
	complete := func() error {
		var err error
		t, credited, err = r.Wallet.CompleteTopup(ctx, pay)
		return err
	}
	err := r.overtaken(ctx, complete)
	if notFound(err) && res.Phone != "" && r.paidPush(ctx, res.CheckoutRequestID) {
		// The answer to the push was lost, so its CheckoutRequestID was
		// never recorded: the number's one open, unacknowledged top-up of
		// this amount is this callback's. Daraja confirmed first that the
		// push is ours and paid, so a forged callback cannot claim it.
		if aerr := r.Wallet.AdoptCheckout(ctx, res.Phone, res.AmountKES, res.CheckoutRequestID); aerr == nil {
			err = complete()
		}
	}
	if err != nil {
		return r.unmatched("stk success", res.CheckoutRequestID, err)
	}
	r.log().Info("mpesa top-up paid", "transaction", t.ID, "credited", credited, "receipt", res.Receipt)
	return nil
}

// paidPush asks Daraja whether a push of our shortcode was paid.
func (r *Ramp) paidPush(ctx context.Context, checkoutRequestID string) bool {
	out, err := r.Daraja.STKQuery(ctx, checkoutRequestID)
	if err != nil {
		r.log().Warn("mpesa: could not confirm an unknown push's callback with Daraja", "checkout", checkoutRequestID, "err", err)
		return false
	}
	return !out.Pending && out.ResultCode == "0"
}

// overtaken runs a callback's work, and runs it again twice, 200 ms apart,
// while its request is not found: a callback can overtake the recording of
// the CheckoutRequestID it names (Buy records it when Daraja's answer to
// the push arrives, and Daraja may call back first).
func (r *Ramp) overtaken(ctx context.Context, work func() error) error {
	err := work()
	for i := 0; i < 2 && notFound(err); i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		err = work()
	}
	return err
}

func notFound(err error) bool {
	return errors.Is(err, wallet.ErrNotFound) || errors.Is(err, store.ErrNotFound)
}

// unmatched logs a callback that matched no request, or not its request,
// and answers nil (the callback is acknowledged: Daraja cannot fix it);
// any other error is returned.
func (r *Ramp) unmatched(what, id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, wallet.ErrNotFound), errors.Is(err, store.ErrNotFound), errors.Is(err, wallet.ErrMpesaMismatch):
		r.log().Warn("mpesa callback matched nothing it could change; nothing credited", "callback", what, "id", id, "err", err)
		return nil
	}
	return err
}

// checkTopup is the reconciler's question about a top-up whose callback has
// not come (its next check already scheduled). A push never marked sent
// never reached Daraja: it is failed, nothing was charged. A push sent but
// never acknowledged cannot be asked about (Daraja's id of it is unknown):
// once old it is left to the operator, out of the balance, and its user
// told that the payment could not be confirmed. Otherwise Daraja is asked,
// and a definite answer finishes it.
func (r *Ramp) checkTopup(ctx context.Context, req store.MpesaRequest) error {
	if req.CheckoutRequestID == "" {
		now := r.now()
		switch {
		case req.SentAt == nil && now.Sub(req.CreatedAt) >= r.unsentAfter():
			failed, err := r.Wallet.FailTopupByID(ctx, req.TransactionID, wallet.MpesaUnsent, "The M-Pesa prompt was never sent; nothing was charged.")
			if failed {
				r.log().Warn("mpesa top-up never sent (the server stopped before the push): failed, nothing charged", "transaction", req.TransactionID)
			}
			return err
		case req.SentAt != nil && now.Sub(req.CreatedAt) >= r.giveUpAfter():
			held, _, err := r.Wallet.HoldUnconfirmedTopup(ctx, req.TransactionID, now.Add(time.Hour))
			if err != nil || !held {
				return err
			}
			r.log().Error("mpesa top-up sent but never acknowledged: M-Pesa may have charged the user; nothing credited; an operator decides "+
				"(server mpesa resolve --id N --paid RECEIPT --reason ..., or --not-paid)", "transaction", req.TransactionID, "phone", redact.Phone(req.Phone),
				"kes", req.AmountKES)
		}
		return nil
	}
	out, err := r.Daraja.STKQuery(ctx, req.CheckoutRequestID)
	switch {
	case err != nil || out.Pending:
		if err != nil {
			r.log().Warn("mpesa reconciler: STK query failed; asking again later", "transaction", req.TransactionID, "err", err)
		}
		return nil
	case out.ResultCode == "0":
		_, _, err := r.Wallet.CompleteTopup(ctx, wallet.MpesaPayment{CheckoutRequestID: req.CheckoutRequestID, AmountKES: req.AmountKES, ResultDesc: out.ResultDesc})
		return err
	default:
		_, err := r.Wallet.FailTopup(ctx, req.CheckoutRequestID, out.ResultCode, out.ResultDesc)
		return err
	}
}
