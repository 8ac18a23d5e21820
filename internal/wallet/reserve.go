package wallet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/internal/rates"
	"github.com/umeme-wallet/umeme/internal/store"
)

// Money that leaves the ledger through a rail (a Lightning payment, an
// M-Pesa withdrawal) moves in two steps. Reserve takes amount + service fee
// + any fee allowance from the user into the reserved account in one
// committed transaction, before the rail is called. When the rail reports a
// final outcome, settle pays the rail and the fee and releases what was not
// used, or refund returns the whole hold. While the outcome is unknown the
// hold simply stays: nothing here ever refunds on a guess.

// Reservation describes an outgoing operation to reserve funds for.
type Reservation struct {
	Type store.TransactionType // TypePayment or TypeWithdraw
	// AmountMsat is what the rail must deliver.
	AmountMsat int64
	// AllowanceMsat is held on top for costs known only afterwards (the
	// Lightning routing fee limit); unused, it is released at settlement.
	AllowanceMsat int64
	// Invoice, PaymentHash, CounterpartyPhone and Description are recorded
	// on the transaction row.
	Invoice           string
	PaymentHash       string
	CounterpartyPhone string
	Description       string
	// IdempotencyKey identifies the request; the same key returns the
	// first reservation.
	IdempotencyKey string
	// Internal marks a payment settled inside the ledger (an invoice of our
	// own node for one of our users): it carries no service fee.
	Internal bool
	// Mpesa is a withdrawal's M-Pesa side, which every withdrawal has: its
	// request to Daraja is recorded with the reservation, to the user's own
	// number.
	Mpesa *MpesaWithdrawal
}

// MpesaWithdrawal is the quote a withdrawing user accepted (its msat are
// the reservation's amount) and when the reconciler first asks Daraja
// about the payment if no result came.
type MpesaWithdrawal struct {
	Quote      MpesaQuote
	CheckAfter time.Duration
}

// Reserve holds funds for an outgoing payment or withdrawal and records it
// pending. The service fee is fixed now; the allowance is the most the rail
// may cost on top. A payment whose hash another pending or completed payment
// holds is refused with ErrInvoiceAlreadyPaid before anything is held (the
// database decides, whoever races); a repeated key returns the first
// reservation.
func (w *Service) Reserve(ctx context.Context, auth Authorization, r Reservation) (store.Transaction, error) {
	t, _, err := w.ReserveFresh(ctx, auth, r)
	return t, err
}

// ReserveFresh is Reserve that also says whether this call made the
// reservation (false: a repeated key returned the first; true also when
// its commit's answer was lost and the reservation was then found, see
// idempotentFresh). A rail is called only for a fresh one, through a step
// done once (ramp's markSent): calling it again for a replay could pay
// twice, or, refused, refund what the first call paid.
func (w *Service) ReserveFresh(ctx context.Context, auth Authorization, r Reservation) (t store.Transaction, fresh bool, err error) {
	if err := w.checkAuth(auth); err != nil {
		return store.Transaction{}, false, err
	}
	if r.Type != store.TypePayment && r.Type != store.TypeWithdraw {
		return store.Transaction{}, false, fmt.Errorf("reserve: unsupported type %q", r.Type)
	}
	if err := w.checkAmount(r.AmountMsat); err != nil {
		return store.Transaction{}, false, err
	}
	if r.AllowanceMsat < 0 || r.AllowanceMsat > store.MaxMsat {
		return store.Transaction{}, false, fmt.Errorf("%w: fee allowance of %d msat", ErrInvalidAmount, r.AllowanceMsat)
	}
	var mpesaPhone string
	if r.Type == store.TypeWithdraw {
		if r.Mpesa == nil || r.Mpesa.Quote.Msat != r.AmountMsat {
			return store.Transaction{}, false, fmt.Errorf("reserve: a withdrawal needs its M-Pesa quote, for its amount")
		}
		if err := r.Mpesa.Quote.check(rates.SideSell, w.now()); err != nil {
			return store.Transaction{}, false, err
		}
		var err error
		if mpesaPhone, err = DarajaPhone(auth.phone); err != nil {
			return store.Transaction{}, false, err
		}
	}
	serviceFee := w.ServiceFee(r.AmountMsat)
	if r.Internal {
		serviceFee = 0
	}
	hold := r.AmountMsat + serviceFee + r.AllowanceMsat
	same := func(t store.Transaction) bool {
		return t.UserID == auth.userID && t.Type == r.Type && t.AmountMsat == r.AmountMsat && t.PaymentHash == r.PaymentHash
	}
	t, fresh, err = w.idempotentFresh(ctx, r.IdempotencyKey, same, func() (store.Transaction, error) {
		var t store.Transaction
		err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			now := w.now()
			if err := w.checkSender(ctx, tx, auth.userID); err != nil {
				return err
			}
			// Money that leaves for another node or M-Pesa waits out a
			// pause; an invoice of our own node stays inside the ledger.
			if !r.Internal {
				if err := checkPayout(ctx, tx); err != nil {
					return err
				}
			}
			t = store.Transaction{
				UserID: auth.userID, Type: r.Type, Direction: store.DirectionOut, Status: store.StatusPending,
				AmountMsat: r.AmountMsat, FeeMsat: serviceFee, Invoice: r.Invoice, PaymentHash: r.PaymentHash,
				CounterpartyPhone: r.CounterpartyPhone, Description: r.Description, IdempotencyKey: r.IdempotencyKey,
				HeldMsat: hold, CreatedAt: now, UpdatedAt: now,
			}
			var err error
			if t.ID, err = tx.InsertTransaction(ctx, newTransaction(t)); err != nil {
				return err
			}
			entries := []store.Entry{{AccountID: auth.accountID, AmountMsat: -hold, DayOutMsat: r.AmountMsat}, {AccountID: w.sys.reserved, AmountMsat: hold}}
			if err := w.mapBalanceError(tx.PostEntries(ctx, t.ID, entries, w.guard(now), now)); err != nil || r.Mpesa == nil {
				return err
			}
			q := r.Mpesa.Quote
			return tx.InsertMpesaRequest(ctx, store.NewMpesaRequest{
				TransactionID: t.ID, Kind: store.MpesaWithdraw, Phone: mpesaPhone, AmountKES: q.KES, RateMilliKESPerBTC: q.RateMilliKESPerBTC,
				SpreadBps: q.SpreadBps, OriginatorConversationID: originatorID(t.ID), NextCheckAt: now.Add(r.Mpesa.CheckAfter), Now: now,
			})
		})
		if errors.Is(err, store.ErrPaymentHashTaken) {
			// Still a conflict underneath: a repeated key replays.
			return store.Transaction{}, fmt.Errorf("reserve %s: %w: %w", r.Type, ErrInvoiceAlreadyPaid, err)
		}
		if err != nil {
			return store.Transaction{}, fmt.Errorf("reserve %s: %w", r.Type, err)
		}
		return t, nil
	})
	return t, fresh, err
}

// Settlement is a rail's report that an outgoing operation succeeded.
type Settlement struct {
	TransactionID int64
	// RailFeeMsat is what the rail charged on top of the amount (the
	// Lightning routing fee); it is charged to the user up to the
	// allowance, and any excess is borne by the fees account.
	RailFeeMsat int64
	// MpesaReceipt and MpesaResultDesc are a withdrawal's result, recorded
	// on its M-Pesa request: a receipt finishes one withdrawal at most.
	MpesaReceipt    string
	MpesaResultDesc string
}

// Settle finalises a reserved operation as paid: the rail's account gets the
// amount and rail fee, the fees account the service fee, and the unused
// allowance goes back to the user. It is idempotent: settling a transaction
// that is no longer pending changes nothing and reports false.
func (w *Service) Settle(ctx context.Context, s Settlement) (bool, error) {
	// A fee the rail reports is bounded before any arithmetic; refused,
	// the funds stay reserved.
	if s.RailFeeMsat < 0 || s.RailFeeMsat > store.MaxMsat {
		return false, fmt.Errorf("%w: rail fee of %d msat", ErrInvalidAmount, s.RailFeeMsat)
	}
	result := &store.MpesaResult{Receipt: s.MpesaReceipt, ResultCode: "0", ResultDesc: s.MpesaResultDesc}
	return w.finish(ctx, s.TransactionID, store.StatusCompleted, "", result, func(t store.Transaction, held, userAccount int64, _ time.Time) ([]store.Entry, int64) {
		rail := w.sys.lightning
		if t.Type == store.TypeWithdraw {
			rail = w.sys.mpesa
		}
		serviceFee := t.FeeMsat
		release := held - t.AmountMsat - s.RailFeeMsat - serviceFee
		entries := []store.Entry{{AccountID: w.sys.reserved, AmountMsat: -held}, {AccountID: rail, AmountMsat: t.AmountMsat + s.RailFeeMsat}}
		charged := serviceFee + s.RailFeeMsat
		switch {
		case release > 0:
			entries = append(entries, store.Entry{AccountID: userAccount, AmountMsat: release})
		case release < 0:
			// The rail cost more than the allowance: the operator pays it.
			charged += release
		}
		if net := serviceFee + min(release, 0); net != 0 {
			entries = append(entries, store.Entry{AccountID: w.sys.fees, AmountMsat: net})
		}
		return entries, charged
	})
}

// Refund finalises a reserved operation as failed and returns the whole hold
// to the user. Call it only on a definite failure from the rail. It is
// idempotent like Settle.
func (w *Service) Refund(ctx context.Context, transactionID int64) (bool, error) {
	return w.RefundBecause(ctx, transactionID, "")
}

// RefundBecause is Refund with the rail's reason, which the user's
// notification carries.
func (w *Service) RefundBecause(ctx context.Context, transactionID int64, reason string) (bool, error) {
	return w.refund(ctx, transactionID, reason, &store.MpesaResult{ResultDesc: reason})
}

// RefundMpesa refunds a withdrawal M-Pesa definitely did not pay, recording
// its result code and description; the user is told the description.
func (w *Service) RefundMpesa(ctx context.Context, transactionID int64, code, desc string) (bool, error) {
	return w.refund(ctx, transactionID, desc, &store.MpesaResult{ResultCode: code, ResultDesc: desc})
}

func (w *Service) refund(ctx context.Context, transactionID int64, reason string, result *store.MpesaResult) (bool, error) {
	return w.finish(ctx, transactionID, store.StatusFailed, reason, result, w.refundEntries)
}

// refundEntries gives back what a failed reservation held.
func (w *Service) refundEntries(t store.Transaction, held, userAccount int64, now time.Time) ([]store.Entry, int64) {
	// The refunded amount no longer counts towards the sends of the day
	// it was counted on, if that is still today; a refund on a later
	// day gives nothing to today's count, which never held it.
	var giveBack int64
	if w.Day(t.CreatedAt) == w.Day(now) {
		giveBack = -t.AmountMsat
	}
	return []store.Entry{{AccountID: w.sys.reserved, AmountMsat: -held}, {AccountID: userAccount, AmountMsat: held, DayOutMsat: giveBack}}, 0
}

// finish moves a pending reservation to its final status and posts the
// entries entries computes from what it holds (at now, the time the
// posting is booked at); reason, if any, goes into the user's notification.
// The status change comes first: it locks the row, so of two concurrent
// finishers one wins and the other sees the transaction no longer pending.
func (w *Service) finish(ctx context.Context, transactionID int64, to store.TransactionStatus, reason string, result *store.MpesaResult,
	entries func(t store.Transaction, held, userAccount int64, now time.Time) ([]store.Entry, int64)) (bool, error) {
	var done bool
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		done, err = w.finishTx(ctx, tx, transactionID, to, reason, result, w.now(), entries)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("finish %d: %w", transactionID, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("finish %d: %w", transactionID, err)
	}
	return done, nil
}

// finishTx is finish inside tx, at now; false when the transaction was not
// pending (or, for an unsent M-Pesa request, was sent meanwhile).
// finishTx is finish inside tx, at now; false when the transaction was not
// pending, or was refunded as unsent (result code MpesaUnsent) but was
// marked sent meanwhile.
func (w *Service) finishTx(ctx context.Context, tx store.Tx, transactionID int64, to store.TransactionStatus, reason string, result *store.MpesaResult, now time.Time,
	entries func(t store.Transaction, held, userAccount int64, now time.Time) ([]store.Entry, int64)) (bool, error) {
	t, err := tx.TransactionByID(ctx, transactionID)
	if err != nil {
		return false, err
	}
	if t.Type != store.TypePayment && t.Type != store.TypeWithdraw {
		return false, fmt.Errorf("transaction %d is a %s, not a reservation", t.ID, t.Type)
	}
	if t.Status != store.StatusPending {
		return false, nil // already finished: a repeated report changes nothing
	}
	// What the transaction holds can only change by finishing it, which
	// the guarded status change below allows once; so it is safe to
	// read before that change takes the row lock.
	held, err := tx.HeldBy(ctx, t.ID, w.sys.reserved)
	if err != nil {
		return false, err
	}
	acc, err := tx.AccountByUserID(ctx, t.UserID)
	if err != nil {
		return false, err
	}
	if result != nil && result.ResultCode == MpesaUnsent {
		// Refunded because it was never sent: only while it still is not,
		// closing it first so that it can no longer be sent.
		if ok, err := tx.CloseUnsentMpesaRequest(ctx, t.ID, now); err != nil || !ok {
			return false, err
		}
	}
	list, charged := entries(t, held, acc.ID, now)
	ok, err := tx.FinishTransaction(ctx, store.Finish{ID: t.ID, From: store.StatusPending, To: to, AmountMsat: t.AmountMsat, FeeMsat: charged, Now: now})
	if err != nil || !ok {
		return false, err
	}
	if err := tx.PostEntries(ctx, t.ID, list, w.unlimited(now), now); err != nil {
		return false, err
	}
	if t.Type == store.TypeWithdraw {
		r := *result
		r.TransactionID, r.Now = t.ID, now
		ok, err := tx.RecordMpesaResult(ctx, r)
		if errors.Is(err, store.ErrConflict) || (err == nil && !ok) {
			return false, fmt.Errorf("%w: receipt of withdrawal %d already used", ErrMpesaMismatch, t.ID)
		}
		if err != nil {
			return false, err
		}
	}
	kind := store.NotifyPaymentSent
	switch {
	case t.Type == store.TypeWithdraw && to == store.StatusCompleted:
		kind = store.NotifyWithdrawalPaid
	case t.Type == store.TypeWithdraw:
		kind = store.NotifyWithdrawalFailed
	case to != store.StatusCompleted:
		kind = store.NotifyPaymentFailed
	}
	return true, notifyUser(ctx, tx, t, kind, reason, now)
}
