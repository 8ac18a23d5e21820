package ramp

import (
	"context"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/internal/redact"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Sell withdraws to the user's own M-Pesa number at a quote the user
// accepted: the quote's msat (and the service fee) are reserved with the
// request, then the B2C payment is sent with the withdrawal's own
// OriginatorConversationID. Daraja's definite refusal refunds at once; a
// lost answer leaves the funds reserved until Daraja says what happened.
// Sell returns by ctx's end: a payment Daraja has not answered by then is
// reported started (nil), and its answer is recorded in the background.
func (r *Ramp) Sell(ctx context.Context, auth wallet.Authorization, q wallet.MpesaQuote, key string) (store.Transaction, error) {
	if r.isStopped() {
		return store.Transaction{}, ErrStopped
	}
	t, fresh, err := r.Wallet.ReserveFresh(ctx, auth, wallet.Reservation{
		Type: store.TypeWithdraw, AmountMsat: q.Msat, CounterpartyPhone: auth.Phone(), Description: fmt.Sprintf("KES %d to M-Pesa", q.KES),
		IdempotencyKey: key, Mpesa: &wallet.MpesaWithdrawal{Quote: q, CheckAfter: r.queryAfter()},
	})
	if err != nil {
		return t, err
	}
	// From here the request's end does not cut it short: the reservation
	// may have been learned past the caller's deadline (its commit's
	// answer was lost, wallet.ReserveFresh), and a B2C sent must have its
	// ConversationID recorded. Nor does it hold the caller past its end.
	dctx, cancel := detached(ctx, 30*time.Second)
	return t, r.outlive(ctx, dctx, cancel, t.ID, func(ctx context.Context) error { return r.sendWithdrawal(ctx, t, fresh) })
}

// sendWithdrawal sends withdrawal t's B2C payment, if this call is the one
// to (claim), and records Daraja's answer: its ConversationID, or, on a
// definite refusal, the refund (the user is texted).
func (r *Ramp) sendWithdrawal(ctx context.Context, t store.Transaction, fresh bool) error {
	// One call sends the payment (claim): never a second, which could
	// pay twice, or, refused, refund what the first paid. Daraja's
	// result, or Transaction Status, finishes it.
	req, send, err := r.claim(ctx, t, fresh)
	if err != nil {
		// Never sent: the reconciler refunds it.
		return fmt.Errorf("mpesa withdrawal %d: %w", t.ID, err)
	}
	if !send {
		return nil
	}
	conversation, err := r.Daraja.B2C(ctx, B2C{
		OriginatorConversationID: req.OriginatorConversationID, Phone: req.Phone, AmountKES: req.AmountKES,
		Remarks: "Umeme withdrawal", ResultURL: r.url(PathB2CResult), TimeoutURL: r.url(PathB2CTimeout),
	})
	// Daraja's answer is recorded on a context of its own: the call may
	// have used up ctx.
	rctx, cancel := recording(ctx)
	defer cancel()
	switch {
	case refused(err):
		if _, rerr := r.Wallet.RefundMpesa(rctx, t.ID, "refused", "M-Pesa refused the payment."); rerr != nil {
			r.log().Error("mpesa withdrawal: refunding a refused payment failed; it stays reserved until an operator refunds it",
				"transaction", t.ID, "phone", redact.Phone(req.Phone), "err", rerr)
			return rerr
		}
		return fmt.Errorf("mpesa withdrawal %d: %w", t.ID, err)
	case err != nil:
		r.log().Warn("mpesa withdrawal: payment outcome unknown; funds stay reserved until Daraja says",
			"transaction", t.ID, "phone", redact.Phone(req.Phone), "err", err)
		return nil
	}
	// The payment is sent. Not recording its ConversationID (a database
	// down, a COMMIT whose answer was lost) must not reach the user as a
	// failed withdrawal, or they withdraw again: its result finds the
	// request by the OriginatorConversationID, and so does the
	// reconciler's Transaction Status.
	if err := r.Wallet.RecordConversation(rctx, t.ID, conversation); err != nil {
		r.log().Error("mpesa withdrawal: sent, but its ConversationID was not recorded; its result or Transaction Status finishes it",
			"transaction", t.ID, "phone", redact.Phone(req.Phone), "err", err)
	}
	return nil
}

// Result is a B2C result, or a Transaction Status result, as its callback
// carries it.
type Result struct {
	OriginatorConversationID string
	ConversationID           string
	ResultCode               int
	ResultDesc               string
	Receipt                  string
	// AmountKES is what M-Pesa paid, 0 when the result does not say.
	AmountKES int64
	// Status is a Transaction Status result's TransactionStatus
	// ("Completed", …); "" for a B2C result.
	Status string
}

// HandleB2CResult settles a withdrawal M-Pesa paid (with its receipt) or
// refunds one M-Pesa did not pay. A result of another ConversationID than
// the one recorded, a failure while none is recorded (the answer to the
// B2C was lost), and a success without a receipt change nothing but have
// Transaction Status asked at once: a refund needs the payment's own
// failure. A result for nothing we sent is logged.
func (r *Ramp) HandleB2CResult(ctx context.Context, res Result) error {
	req, err := r.Wallet.MpesaRequestByOriginator(ctx, res.OriginatorConversationID)
	if err != nil {
		return r.unmatched("b2c result", res.OriginatorConversationID, err)
	}
	// The result can overtake the recording of its ConversationID (Sell
	// records it when Daraja's answer arrives): look again for a moment.
	for i := 0; i < 5 && req.ConversationID == ""; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if req, err = r.Wallet.MpesaRequest(ctx, req.TransactionID); err != nil {
			return err
		}
	}
	switch {
	case req.ConversationID != "" && res.ConversationID != req.ConversationID,
		req.ConversationID == "" && res.ResultCode != 0:
		// Another conversation's result, or a failure while ours is
		// unknown (the answer to the B2C was lost): never refund on it.
		r.log().Warn("mpesa: a B2C result not of the payment's recorded conversation; asking Transaction Status",
			"transaction", req.TransactionID, "conversation", res.ConversationID)
		return r.askNow(ctx, req)
	}
	if res.ResultCode != 0 {
		_, err := r.Wallet.RefundMpesa(ctx, req.TransactionID, fmt.Sprint(res.ResultCode), res.ResultDesc)
		return err
	}
	return r.settle(ctx, req, res)
}

// askNow has the reconciler ask Daraja about a request at once.
func (r *Ramp) askNow(ctx context.Context, req store.MpesaRequest) error {
	_, err := r.Wallet.ScheduleMpesaCheck(ctx, req.TransactionID, r.now())
	return err
}

// settle settles a withdrawal on a success that proves it: a receipt, and
// the amount asked when the result carries one. Anything less is asked
// about again.
func (r *Ramp) settle(ctx context.Context, req store.MpesaRequest, res Result) error {
	if res.Receipt == "" || (res.AmountKES != 0 && res.AmountKES != req.AmountKES) {
		r.log().Warn("mpesa: a B2C success without a receipt or for another amount; asking Transaction Status",
			"transaction", req.TransactionID, "amount", res.AmountKES)
		return r.askNow(ctx, req)
	}
	_, err := r.Wallet.Settle(ctx, wallet.Settlement{TransactionID: req.TransactionID, MpesaReceipt: res.Receipt, MpesaResultDesc: res.ResultDesc})
	return r.unmatched("b2c success", req.OriginatorConversationID, err)
}

// HandleB2CTimeout records that a B2C request timed out in Daraja's queue:
// not a failure (it may still be paid), so the reconciler asks Transaction
// Status at once.
func (r *Ramp) HandleB2CTimeout(ctx context.Context, originatorConversationID string) error {
	req, err := r.Wallet.MpesaRequestByOriginator(ctx, originatorConversationID)
	if err != nil {
		return r.unmatched("b2c timeout", originatorConversationID, err)
	}
	_, err = r.Wallet.ScheduleMpesaCheck(ctx, req.TransactionID, r.now())
	return err
}

// resultNotFound is Transaction Status's "no such transaction" (2032).
const resultNotFound = 2032

// HandleStatus records a Transaction Status result for the withdrawal its
// URL names. Completed with a receipt settles it. A failure M-Pesa reports
// for the payment (a non-zero code about a transaction it found, or a
// failed status) refunds it. "Not found" and anything undecided leave it
// reserved: M-Pesa may not have processed it yet, and an unknown outcome
// is never refunded; a request still not found after a day is logged for
// the operator (server mpesa pending, resolve --not-paid).
func (r *Ramp) HandleStatus(ctx context.Context, originatorConversationID string, res Result) error {
	req, err := r.Wallet.MpesaRequestByOriginator(ctx, originatorConversationID)
	if err != nil {
		return r.unmatched("transaction status", originatorConversationID, err)
	}
	switch {
	case res.ResultCode == 0 && res.Status == "Completed":
		return r.settle(ctx, req, res)
	case res.ResultCode == 0 && (res.Status == "Failed" || res.Status == "Declined" || res.Status == "Cancelled"):
		_, err := r.Wallet.RefundMpesa(ctx, req.TransactionID, res.Status, res.ResultDesc)
		return err
	case res.ResultCode != 0 && res.ResultCode != resultNotFound:
		_, err := r.Wallet.RefundMpesa(ctx, req.TransactionID, fmt.Sprint(res.ResultCode), res.ResultDesc)
		return err
	}
	if res.ResultCode == resultNotFound && req.NextCheckAt != nil {
		// Noted for the operator, who may refund it after a day.
		if _, err := r.Wallet.NoteMpesaResult(ctx, req.TransactionID, wallet.MpesaNotFound, res.ResultDesc, *req.NextCheckAt); err != nil {
			return err
		}
	}
	if r.now().Sub(req.CreatedAt) > 24*time.Hour {
		r.log().Error("mpesa withdrawal undecided after a day: an operator should look (server mpesa resolve)",
			"transaction", req.TransactionID, "code", res.ResultCode, "status", res.Status, "checks", req.Checks)
	}
	return nil
}

// checkWithdrawal is the reconciler's question about a withdrawal whose
// result has not come (its next check already scheduled): Transaction
// Status, answered at the status URL. It never sends the payment again. A
// payment never marked sent never reached Daraja (the server stopped, or
// the database failed, between the reservation and the B2C call): it is
// refunded without asking.
func (r *Ramp) checkWithdrawal(ctx context.Context, req store.MpesaRequest) error {
	if req.SentAt == nil {
		if r.now().Sub(req.CreatedAt) >= r.unsentAfter() {
			refunded, err := r.Wallet.RefundMpesa(ctx, req.TransactionID, wallet.MpesaUnsent,
				"The withdrawal never reached M-Pesa (the server stopped before sending it).")
			if err != nil || refunded {
				if refunded {
					r.log().Warn("mpesa withdrawal never sent (the server stopped before the B2C call): refunded", "transaction", req.TransactionID)
				}
				return err
			}
		}
		// Not old enough (asked about at its next check), or marked sent
		// meanwhile: asked about as a sent one.
		cur, err := r.Wallet.MpesaRequest(ctx, req.TransactionID)
		if err != nil || cur.SentAt == nil {
			return err
		}
	}
	err := r.Daraja.TransactionStatus(ctx, req.OriginatorConversationID,
		r.url(PathStatus+"/"+req.OriginatorConversationID), r.url(PathStatusWait+"/"+req.OriginatorConversationID))
	if err != nil {
		r.log().Warn("mpesa reconciler: transaction status failed; asking again later", "transaction", req.TransactionID, "err", err)
	}
	return nil
}
