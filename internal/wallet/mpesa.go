package wallet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/rates"
	"github.com/umeme-wallet/umeme/internal/redact"
	"github.com/umeme-wallet/umeme/internal/store"
)

// M-Pesa moves money in two directions, each through a request to Daraja
// recorded beside its transaction (store.MpesaRequest) before Daraja is
// called. A top-up is a pending transaction with no entries until M-Pesa
// reports the payment, then it credits the user from the M-Pesa account,
// once. A withdrawal is a reservation (Reserve) that M-Pesa's result
// settles or refunds. The callers (internal/ramp) talk to Daraja; this file
// only moves the ledger.

// MpesaQuote is the price a user accepted: whole shillings for msat at a
// rate (thousandths of a shilling per bitcoin) with the operator's spread.
type MpesaQuote struct {
	KES                int64
	Msat               int64
	RateMilliKESPerBTC int64
	SpreadBps          int
	ExpiresAt          time.Time
}

// Errors of the M-Pesa operations.
var (
	// ErrQuoteExpired refuses a quote past its time: the user asks again.
	ErrQuoteExpired = errors.New("quote expired")
	// ErrMpesaMismatch refuses a result that does not match its request
	// (another amount or number, a receipt already used): nothing is
	// credited, and the request stays as it was.
	ErrMpesaMismatch = errors.New("m-pesa result does not match its request")
	// ErrNotMpesaNumber refuses a number M-Pesa cannot pay or charge.
	ErrNotMpesaNumber = errors.New("not an m-pesa number")
)

// DarajaPhone is a Kenyan number as Daraja writes it: 2547XXXXXXXX or
// 2541XXXXXXXX.
func DarajaPhone(e164 string) (string, error) {
	p := strings.TrimPrefix(e164, "+")
	if len(p) != 12 || !strings.HasPrefix(p, "254") || (p[3] != '7' && p[3] != '1') || strings.Trim(p, "0123456789") != "" {
		return "", fmt.Errorf("%w: %s", ErrNotMpesaNumber, redact.Phone(e164))
	}
	return p, nil
}

// check refuses a quote that is not whole (its msat must be exactly what
// its shillings, market rate and spread give, rounded against the user on
// side: a buy's down, a sell's up) or has expired.
func (q MpesaQuote) check(side rates.Side, now time.Time) error {
	if q.KES <= 0 || q.Msat <= 0 || q.RateMilliKESPerBTC <= 0 || q.SpreadBps < 0 {
		return fmt.Errorf("%w: quote %+v", ErrInvalidAmount, q)
	}
	if err := checkMsat("quote", q.Msat); err != nil {
		return err
	}
	want, err := rates.QuoteMsat(side, q.KES, rates.Rate{MilliKESPerBTC: q.RateMilliKESPerBTC}, q.SpreadBps)
	if err != nil || want != q.Msat {
		return fmt.Errorf("%w: a %s quote of KES %d at its rate and spread is %d msat, not %d", ErrInvalidAmount, side, q.KES, want, q.Msat)
	}
	if !now.Before(q.ExpiresAt) {
		return ErrQuoteExpired
	}
	return nil
}

// StartTopup records a top-up a registered user asked for at a quote: a
// pending transaction of the quote's msat and its M-Pesa request to the
// user's own number, committed before the STK push is sent (so a callback
// always finds it). No PIN is asked: nothing leaves the account, and the
// user approves the payment on M-Pesa with M-Pesa's PIN. checkAfter is
// when the reconciler asks Daraja if no callback came. A top-up that would
// take the balance past its cap is refused now; once paid, it is credited
// whatever the cap. The key makes a repeated request return the first,
// and fresh says whether this call started it (as ReserveFresh's: only a
// fresh top-up is pushed, once, a second prompt for one top-up could be
// paid twice).
func (w *Service) StartTopup(ctx context.Context, userID int64, q MpesaQuote, checkAfter time.Duration, key string) (t store.Transaction, fresh bool, err error) {
	now := w.now()
	if err := q.check(rates.SideBuy, now); err != nil {
		return store.Transaction{}, false, err
	}
	same := func(t store.Transaction) bool {
		return t.UserID == userID && t.Type == store.TypeTopup && t.AmountMsat == q.Msat
	}
	t, fresh, err = w.idempotentFresh(ctx, key, same, func() (store.Transaction, error) {
		var t store.Transaction
		err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			u, err := tx.UserByID(ctx, userID)
			if err != nil {
				return err
			}
			if u.Status == store.UserUnregistered {
				return ErrNotRegistered
			}
			phone, err := DarajaPhone(u.Phone)
			if err != nil {
				return err
			}
			acc, err := tx.AccountByUserID(ctx, userID)
			if err != nil {
				return err
			}
			if after, err := store.AddMsat(acc.BalanceMsat, q.Msat); err != nil || after > w.cfg.MaxBalanceMsat {
				return &LimitError{Limit: "balance", CapMsat: w.cfg.MaxBalanceMsat, WantMsat: q.Msat}
			}
			t = store.Transaction{
				UserID: userID, Type: store.TypeTopup, Direction: store.DirectionIn, Status: store.StatusPending,
				AmountMsat: q.Msat, CounterpartyPhone: u.Phone, IdempotencyKey: key, CreatedAt: now, UpdatedAt: now,
			}
			if t.ID, err = tx.InsertTransaction(ctx, newTransaction(t)); err != nil {
				return err
			}
			return tx.InsertMpesaRequest(ctx, store.NewMpesaRequest{
				TransactionID: t.ID, Kind: store.MpesaTopup, Phone: phone, AmountKES: q.KES,
				RateMilliKESPerBTC: q.RateMilliKESPerBTC, SpreadBps: q.SpreadBps, NextCheckAt: now.Add(checkAfter), Now: now,
			})
		})
		if errors.Is(err, store.ErrNotFound) {
			err = ErrUnknownUser
		}
		if err != nil {
			return store.Transaction{}, fmt.Errorf("start topup: %w", err)
		}
		return t, nil
	})
	return t, fresh, err
}

// RecordCheckout records the CheckoutRequestID Daraja gave a top-up's STK
// push. Recording the same id again is harmless; another id is refused.
func (w *Service) RecordCheckout(ctx context.Context, transactionID int64, checkoutRequestID string) error {
	if checkoutRequestID == "" {
		return errors.New("record checkout: empty CheckoutRequestID")
	}
	return w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		ok, err := tx.SetMpesaCheckout(ctx, transactionID, checkoutRequestID, w.now())
		if err != nil || ok {
			return err
		}
		r, err := tx.MpesaRequest(ctx, transactionID)
		if err != nil {
			return err
		}
		if r.CheckoutRequestID != checkoutRequestID {
			return fmt.Errorf("record checkout: transaction %d already has another CheckoutRequestID", transactionID)
		}
		return nil
	})
}

// AdoptCheckout gives a callback's CheckoutRequestID to the open top-up of
// its number and amount whose push Daraja never acknowledged (the answer
// to the push was lost): Daraja keeps one prompt per number at a time, so
// the callback is that top-up's. ErrNotFound when there is none.
func (w *Service) AdoptCheckout(ctx context.Context, phone string, amountKES int64, checkoutRequestID string) error {
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := tx.UnacknowledgedTopup(ctx, phone, amountKES)
		if err != nil {
			return err
		}
		ok, err := tx.SetMpesaCheckout(ctx, r.TransactionID, checkoutRequestID, w.now())
		if err == nil && !ok {
			err = store.Classify(store.ErrNotFound, errors.New("the top-up was acknowledged meanwhile"))
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("adopt checkout: %w", ErrNotFound)
	}
	return err
}

// MpesaPayment is M-Pesa's report that a top-up was paid (a success
// callback, or an STK query that says so).
type MpesaPayment struct {
	CheckoutRequestID string
	// Receipt is M-Pesa's receipt number; "" from an STK query, which says
	// a push was paid but not its receipt (a callback that comes later
	// fills it in).
	Receipt   string
	AmountKES int64
	// Phone is the paying number as Daraja writes it; "" when the report
	// carries none (an STK query), and then it is not compared.
	Phone      string
	ResultDesc string
}

// CompleteTopup credits a paid top-up exactly once: only a pending top-up
// whose request asked this amount of this number, with a receipt no other
// request holds. A repeated report of the same payment returns the
// transaction and moves nothing (false), and gives a top-up an STK query
// completed its receipt; a report that does not match is ErrMpesaMismatch
// and changes nothing.
func (w *Service) CompleteTopup(ctx context.Context, p MpesaPayment) (store.Transaction, bool, error) {
	if p.CheckoutRequestID == "" {
		return store.Transaction{}, false, fmt.Errorf("complete topup: %w: no CheckoutRequestID", ErrMpesaMismatch)
	}
	var t store.Transaction
	var credited bool
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		credited = false
		now := w.now()
		r, err := tx.MpesaRequestByCheckout(ctx, p.CheckoutRequestID)
		if err != nil {
			return err
		}
		if t, err = tx.TransactionByID(ctx, r.TransactionID); err != nil {
			return err
		}
		switch {
		case r.Kind != store.MpesaTopup || t.Type != store.TypeTopup:
			return fmt.Errorf("%w: %d is not a top-up", ErrMpesaMismatch, t.ID)
		case p.AmountKES != r.AmountKES:
			return fmt.Errorf("%w: top-up %d asked KES %d, the report says %d", ErrMpesaMismatch, t.ID, r.AmountKES, p.AmountKES)
		case p.Phone != "" && p.Phone != r.Phone:
			return fmt.Errorf("%w: top-up %d was asked of another number", ErrMpesaMismatch, t.ID)
		case t.Status == store.StatusCompleted && (r.Receipt == p.Receipt || p.Receipt == ""):
			return nil // the same payment reported again
		case t.Status == store.StatusCompleted && r.Receipt == "":
			// Completed by a query; the callback brings the receipt.
			return recordReceipt(ctx, tx, t.ID, p, now)
		case t.Status != store.StatusPending:
			return fmt.Errorf("%w: top-up %d is %s", ErrMpesaMismatch, t.ID, t.Status)
		}
		// The status change comes first: it locks the row, so of two
		// concurrent reports one credits and the other, once the first has
		// committed, finds the top-up completed.
		ok, err := tx.FinishTransaction(ctx, store.Finish{ID: t.ID, From: store.StatusPending, To: store.StatusCompleted, AmountMsat: t.AmountMsat, Now: now})
		if err != nil {
			return err
		}
		if !ok {
			if r, err = tx.MpesaRequest(ctx, r.TransactionID); err != nil {
				return err
			}
			if r.Receipt == p.Receipt || p.Receipt == "" {
				return nil // a concurrent report of the same payment credited it
			}
			if r.Receipt == "" {
				return recordReceipt(ctx, tx, t.ID, p, now)
			}
			return fmt.Errorf("%w: top-up %d was finished otherwise meanwhile", ErrMpesaMismatch, t.ID)
		}
		if err := w.creditTopup(ctx, tx, t, p, now); err != nil {
			return err
		}
		t.Status, t.UpdatedAt, credited = store.StatusCompleted, now, true
		return nil
	})
	if err != nil {
		return store.Transaction{}, false, fmt.Errorf("complete topup: %w", err)
	}
	return t, credited, nil
}

// creditTopup credits a top-up whose status was just changed to completed:
// its receipt, the entries from the M-Pesa account and the user's text.
func (w *Service) creditTopup(ctx context.Context, tx store.Tx, t store.Transaction, p MpesaPayment, now time.Time) error {
	if err := recordReceipt(ctx, tx, t.ID, p, now); err != nil {
		return err
	}
	acc, err := tx.AccountByUserID(ctx, t.UserID)
	if err != nil {
		return err
	}
	entries := []store.Entry{{AccountID: w.sys.mpesa, AmountMsat: -t.AmountMsat}, {AccountID: acc.ID, AmountMsat: t.AmountMsat}}
	if err := tx.PostEntries(ctx, t.ID, entries, w.unlimited(now), now); err != nil {
		return err
	}
	return notifyUser(ctx, tx, t, store.NotifyReceived, "", now)
}

// recordReceipt records a top-up's success on its request: a receipt no
// other request holds, or none yet.
func recordReceipt(ctx context.Context, tx store.Tx, transactionID int64, p MpesaPayment, now time.Time) error {
	ok, err := tx.RecordMpesaResult(ctx, store.MpesaResult{TransactionID: transactionID, Receipt: p.Receipt, ResultCode: "0", ResultDesc: p.ResultDesc, Now: now})
	if errors.Is(err, store.ErrConflict) || (err == nil && !ok) {
		return fmt.Errorf("%w: receipt of top-up %d already used", ErrMpesaMismatch, transactionID)
	}
	return err
}

// FailTopup marks a pending top-up failed with M-Pesa's code and reason
// (the user is told why); nothing was credited, so nothing moves. A
// top-up no longer pending is left alone (false).
func (w *Service) FailTopup(ctx context.Context, checkoutRequestID, code, desc string) (bool, error) {
	return w.failTopup(ctx, code, desc, func(ctx context.Context, tx store.Tx) (store.MpesaRequest, error) {
		return tx.MpesaRequestByCheckout(ctx, checkoutRequestID)
	})
}

// FailTopupByID is FailTopup for a top-up whose push Daraja never
// acknowledged, which has no CheckoutRequestID.
func (w *Service) FailTopupByID(ctx context.Context, transactionID int64, code, desc string) (bool, error) {
	return w.failTopup(ctx, code, desc, func(ctx context.Context, tx store.Tx) (store.MpesaRequest, error) {
		return tx.MpesaRequest(ctx, transactionID)
	})
}

func (w *Service) failTopup(ctx context.Context, code, desc string, find func(context.Context, store.Tx) (store.MpesaRequest, error)) (bool, error) {
	var failed bool
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := find(ctx, tx)
		if err != nil {
			return err
		}
		failed, err = w.failTopupTx(ctx, tx, r, code, desc, w.now())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("fail topup: %w", err)
	}
	return failed, nil
}

// failTopupTx fails a pending top-up inside tx (false when it is not
// pending). A top-up failed as unsent (code MpesaUnsent) is failed only
// while its push is still not marked sent, closing it first so that it can
// no longer be sent.
func (w *Service) failTopupTx(ctx context.Context, tx store.Tx, r store.MpesaRequest, code, desc string, now time.Time) (bool, error) {
	t, err := tx.TransactionByID(ctx, r.TransactionID)
	if err != nil {
		return false, err
	}
	if t.Type != store.TypeTopup || t.Status != store.StatusPending {
		return false, nil
	}
	if code == MpesaUnsent {
		if ok, err := tx.CloseUnsentMpesaRequest(ctx, t.ID, now); err != nil || !ok {
			return false, err
		}
	}
	if ok, err := tx.FinishTransaction(ctx, store.Finish{ID: t.ID, From: store.StatusPending, To: store.StatusFailed, AmountMsat: t.AmountMsat, Now: now}); err != nil || !ok {
		return false, err
	}
	if _, err := tx.RecordMpesaResult(ctx, store.MpesaResult{TransactionID: t.ID, ResultCode: code, ResultDesc: desc, Now: now}); err != nil {
		return false, err
	}
	return true, notifyUser(ctx, tx, t, store.NotifyTopupFailed, code, now)
}

// notifyUser queues a text about t to its user.
func notifyUser(ctx context.Context, tx store.Tx, t store.Transaction, kind store.NotificationKind, body string, now time.Time) error {
	u, err := tx.UserByID(ctx, t.UserID)
	if err != nil {
		return err
	}
	_, err = tx.InsertNotification(ctx, store.NewNotification{
		UserID: t.UserID, Phone: u.Phone, Kind: kind, TransactionID: t.ID, AmountMsat: t.AmountMsat, Body: body, Now: now,
	})
	return err
}

// RecordConversation records the ConversationID Daraja gave a
// withdrawal's B2C payment; the same id again is harmless.
func (w *Service) RecordConversation(ctx context.Context, transactionID int64, conversationID string) error {
	if conversationID == "" {
		return errors.New("record conversation: empty ConversationID")
	}
	return w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		ok, err := tx.SetMpesaConversation(ctx, transactionID, conversationID, w.now())
		if err != nil || ok {
			return err
		}
		r, err := tx.MpesaRequest(ctx, transactionID)
		if err != nil {
			return err
		}
		if r.ConversationID != conversationID {
			return fmt.Errorf("record conversation: withdrawal %d already has another ConversationID", transactionID)
		}
		return nil
	})
}

// MpesaRequestByOriginator finds a withdrawal's request by its
// OriginatorConversationID.
func (w *Service) MpesaRequestByOriginator(ctx context.Context, originatorConversationID string) (store.MpesaRequest, error) {
	var r store.MpesaRequest
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		r, err = tx.MpesaRequestByOriginator(ctx, originatorConversationID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return r, fmt.Errorf("mpesa request %q: %w", originatorConversationID, ErrNotFound)
	}
	return r, err
}

// originatorID is a withdrawal's OriginatorConversationID: its own id, and
// a random part so that a database started afresh against the same
// shortcode (a sandbox, a restore) never repeats an id Daraja has seen.
func originatorID(transactionID int64) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("umeme-%d-%s", transactionID, hex.EncodeToString(b[:]))
}

// MpesaRequest is the M-Pesa request beside a transaction.
func (w *Service) MpesaRequest(ctx context.Context, transactionID int64) (store.MpesaRequest, error) {
	var r store.MpesaRequest
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		r, err = tx.MpesaRequest(ctx, transactionID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return r, fmt.Errorf("mpesa request of %d: %w", transactionID, ErrNotFound)
	}
	return r, err
}

// DueMpesaRequests lists the open M-Pesa requests whose next check is due,
// the longest waiting first; at a far-off time, every open one.
func (w *Service) DueMpesaRequests(ctx context.Context, at time.Time, limit int) ([]store.MpesaRequest, error) {
	var rs []store.MpesaRequest
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		rs, err = tx.DueMpesaRequests(ctx, at, limit)
		return err
	})
	return rs, err
}

// ScheduleMpesaCheck counts a check of an open request and sets when the
// next is due; false once the request is finished.
func (w *Service) ScheduleMpesaCheck(ctx context.Context, transactionID int64, next time.Time) (bool, error) {
	var ok bool
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		ok, err = tx.ScheduleMpesaCheck(ctx, transactionID, next, w.now())
		return err
	})
	return ok, err
}

// ClaimMpesaCheck takes the check of an open request due at at for the
// caller, moving its next check to next: false when another reconciler
// (in this server or another on the database) took it first, or the
// request is finished. Only the taker asks Daraja.
func (w *Service) ClaimMpesaCheck(ctx context.Context, transactionID int64, at, next time.Time) (bool, error) {
	var ok bool
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		ok, err = tx.ClaimMpesaCheck(ctx, transactionID, next, at)
		return err
	})
	return ok, err
}
