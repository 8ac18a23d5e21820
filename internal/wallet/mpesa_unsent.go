package wallet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// A request to Daraja is marked sent (MarkMpesaSent), committed just
// before Daraja is called, so that what a crash or a lost answer leaves
// behind can be told apart: a request never marked sent certainly never
// reached Daraja and can be finished without asking (a withdrawal
// refunded, a top-up failed: nothing was charged); one marked sent may
// have, and its outcome is never guessed. What Daraja cannot
// answer is decided by an operator (ResolveMpesa), in the audit log.

// The result codes of the requests Daraja could not decide.
const (
	// MpesaUnsent fails a top-up or refunds a withdrawal that was never
	// marked sent (RefundMpesa, FailTopupByID): only while it still is
	// not, and it can no longer be sent after.
	MpesaUnsent = "unsent"
	// MpesaUnconfirmed marks a top-up whose push may have reached Daraja
	// but was never acknowledged: it stays pending, out of the balance,
	// until a callback or an operator decides it.
	MpesaUnconfirmed = "unconfirmed"
	// MpesaNotFound is Transaction Status's "no such transaction" (2032),
	// noted on a withdrawal that stays reserved.
	MpesaNotFound = "2032"
	// MpesaOperator is the result code of a request an operator decided.
	MpesaOperator = "operator"
)

// MarkMpesaSent records that a request is about to be sent to Daraja and
// returns it as marked; false when it must not be sent (closed meanwhile,
// or marked already: a request is sent once). The mark and the read are
// one transaction: a read that fails undoes the mark, so a request is
// never left marked sent by a call that could not send it (outside
// review: it then waited for an operator, its money reserved).
//
// The mark has markTimeout, and carries a token of this call. When its
// COMMIT is answered into the void (store.ErrCommitUnanswered: the store
// settled it, so it committed or never will; or store.ErrOutcomeUnknown:
// it could not), the request is read back until it tells, within ctx and
// at most readBackTimeout: marked with this call's token, it is this
// call's to send; marked by another (a twin call with the same key,
// meanwhile), that call sends it; not marked after a settled COMMIT, it
// never will be. Only the token tells this call's mark from a twin's.
// What is still untold then is ErrOutcomeUnknown, and the request is not
// sent by this call (if its mark commits, an operator finishes it).
func (w *Service) MarkMpesaSent(ctx context.Context, transactionID int64) (store.MpesaRequest, bool, error) {
	var (
		req store.MpesaRequest
		ok  bool
	)
	token := store.NewToken()
	mctx, cancel := context.WithTimeout(ctx, markTimeout)
	err := w.store.InTx(mctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if ok, err = tx.MarkMpesaSent(ctx, transactionID, w.now(), token); err != nil || !ok {
			return err
		}
		req, err = tx.MpesaRequest(ctx, transactionID)
		return err
	})
	cancel()
	switch {
	case err == nil:
		return req, ok, nil
	case !errors.Is(err, store.ErrCommitUnanswered) && !errors.Is(err, store.ErrOutcomeUnknown):
		return store.MpesaRequest{}, false, err
	}
	return w.readBackMark(ctx, transactionID, token, err)
}

// The bounds of MarkMpesaSent: its transaction, and reading back what a
// COMMIT answered into the void did.
const (
	markTimeout     = 5 * time.Second
	readBackTimeout = 20 * time.Second
)

// readBackMark learns what MarkMpesaSent's unanswered COMMIT (err) did, by
// the token it wrote; see MarkMpesaSent.
func (w *Service) readBackMark(ctx context.Context, transactionID int64, token string, err error) (store.MpesaRequest, bool, error) {
	rctx, cancel := context.WithTimeout(ctx, readBackTimeout)
	defer cancel()
	settled := errors.Is(err, store.ErrCommitUnanswered)
	for {
		req, rerr := w.MpesaRequest(rctx, transactionID)
		switch {
		case rerr != nil:
		case req.SentBy == token:
			return req, true, nil
		case req.SentAt != nil:
			return store.MpesaRequest{}, false, nil
		case settled:
			return store.MpesaRequest{}, false, err
		}
		select {
		case <-rctx.Done():
			return store.MpesaRequest{}, false, fmt.Errorf("%w: %w (reading it back: %v)", ErrOutcomeUnknown, err, rerr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// NoteMpesaResult records an answer that leaves an open request open (a
// withdrawal Transaction Status does not find) and when to ask next; false
// once it is closed.
func (w *Service) NoteMpesaResult(ctx context.Context, transactionID int64, code, desc string, next time.Time) (bool, error) {
	var ok bool
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		ok, err = tx.NoteMpesaResult(ctx, store.MpesaResult{TransactionID: transactionID, ResultCode: code, ResultDesc: desc, Now: w.now()}, next)
		return err
	})
	return ok, err
}

// HoldUnconfirmedTopup marks a pending top-up whose push may have been sent
// but was never acknowledged for the operator (MpesaUnconfirmed): nothing
// is credited, it is looked at again at next (a late callback still
// credits it), and its user is told once, by text, that the payment could
// not be confirmed. held says it is (now or already) left to the operator,
// first that it was marked by this call; neither when it was finished or
// acknowledged meanwhile.
func (w *Service) HoldUnconfirmedTopup(ctx context.Context, transactionID int64, next time.Time) (held, first bool, err error) {
	err = w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		held, first = false, false
		now := w.now()
		r, err := tx.MpesaRequest(ctx, transactionID)
		if err != nil {
			return err
		}
		t, err := tx.TransactionByID(ctx, transactionID)
		if err != nil {
			return err
		}
		switch {
		case t.Type != store.TypeTopup || r.SentAt == nil:
			return fmt.Errorf("transaction %d is not a top-up whose push was sent", transactionID)
		case t.Status != store.StatusPending || r.CheckoutRequestID != "":
			return nil
		}
		held, err = tx.NoteMpesaResult(ctx, store.MpesaResult{TransactionID: t.ID, ResultCode: MpesaUnconfirmed,
			ResultDesc: "push sent, never acknowledged: M-Pesa may have charged; an operator decides", Now: now}, next)
		if err != nil || !held || r.ResultCode == MpesaUnconfirmed {
			return err
		}
		first = true
		return notifyUser(ctx, tx, t, store.NotifyTopupUnconfirmed, "", now)
	})
	if err != nil {
		return false, false, fmt.Errorf("hold unconfirmed topup: %w", err)
	}
	return held, first, nil
}

// MpesaDecision is an operator's decision on a request Daraja cannot
// answer: paid with M-Pesa's receipt, or not paid.
type MpesaDecision struct {
	Paid    bool
	Receipt string
}

// Audit actions of ResolveMpesa.
const (
	AuditMpesaPaid    = "mpesa-paid"
	AuditMpesaNotPaid = "mpesa-not-paid"
)

// ErrNotUndecidable refuses an operator's decision on a request Daraja can
// still answer, or one already finished.
var ErrNotUndecidable = errors.New("not a request only an operator can decide")

// ResolveMpesa finishes, by an operator's decision recorded in the audit
// log in the same transaction, a request Daraja cannot answer: a top-up
// marked unconfirmed is credited once with the receipt the user shows
// (unique: a receipt credits one request) or failed; a withdrawal that
// Transaction Status still does not find a day after it was sent is
// refunded. Anything else is ErrNotUndecidable.
func (w *Service) ResolveMpesa(ctx context.Context, transactionID int64, d MpesaDecision, a Action) error {
	if err := a.check(); err != nil {
		return err
	}
	if d.Paid && d.Receipt == "" {
		return errors.New("a paid decision needs M-Pesa's receipt")
	}
	return w.audited(ctx, func(ctx context.Context, tx store.Tx, now time.Time) (store.AuditRow, error) {
		r, err := tx.MpesaRequest(ctx, transactionID)
		if errors.Is(err, store.ErrNotFound) {
			return store.AuditRow{}, fmt.Errorf("mpesa request of %d: %w", transactionID, ErrNotFound)
		}
		if err != nil {
			return store.AuditRow{}, err
		}
		t, err := tx.TransactionByID(ctx, transactionID)
		if err != nil {
			return store.AuditRow{}, err
		}
		row := store.AuditRow{Operator: a.Operator, Action: AuditMpesaNotPaid, UserID: t.UserID, Reason: a.Reason,
			Detail: fmt.Sprintf("transaction %d, %s KES %d", t.ID, r.Kind, r.AmountKES)}
		var done bool
		switch {
		case t.Status != store.StatusPending || r.NextCheckAt == nil:
			return store.AuditRow{}, fmt.Errorf("%w: %d is %s", ErrNotUndecidable, t.ID, t.Status)
		case r.Kind == store.MpesaTopup && r.ResultCode != MpesaUnconfirmed:
			return store.AuditRow{}, fmt.Errorf("%w: top-up %d is not marked unconfirmed", ErrNotUndecidable, t.ID)
		case r.Kind == store.MpesaTopup && d.Paid:
			row.Action, row.Detail = AuditMpesaPaid, row.Detail+", receipt "+d.Receipt
			if done, err = tx.FinishTransaction(ctx, store.Finish{ID: t.ID, From: store.StatusPending, To: store.StatusCompleted, AmountMsat: t.AmountMsat, Now: now}); err == nil && done {
				err = w.creditTopup(ctx, tx, t, MpesaPayment{Receipt: d.Receipt, ResultDesc: "paid: decided by an operator (audit log)"}, now)
			}
		case r.Kind == store.MpesaTopup:
			done, err = w.failTopupTx(ctx, tx, r, MpesaOperator, "not paid: decided by an operator (audit log)", now)
		case d.Paid:
			return store.AuditRow{}, fmt.Errorf("%w: a withdrawal is settled by Daraja's result, not by hand", ErrNotUndecidable)
		case r.SentAt == nil || r.ResultCode != MpesaNotFound || now.Sub(*r.SentAt) < 24*time.Hour:
			return store.AuditRow{}, fmt.Errorf("%w: withdrawal %d is not one Transaction Status has not found for a day", ErrNotUndecidable, t.ID)
		default:
			done, err = w.finishTx(ctx, tx, t.ID, store.StatusFailed, "", &store.MpesaResult{ResultCode: MpesaOperator,
				ResultDesc: "not paid: decided by an operator (audit log)"}, now, w.refundEntries)
		}
		if err == nil && !done {
			err = fmt.Errorf("%w: %d was finished meanwhile", ErrNotUndecidable, t.ID)
		}
		return row, err
	})
}
