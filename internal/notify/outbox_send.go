package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// outcome is what became of one claimed row.
type outcome int

const (
	outcomeLost outcome = iota // not recorded: due again after its lease
	outcomeSent
	outcomeRetry
	outcomeFailed
	outcomeReturned // not started: to hand back
)

// recordTimeout bounds the record of an outcome. A record runs even once
// the round is stopped: a message the gateway took must be recorded as
// sent, or it goes out again after its lease.
const recordTimeout = 10 * time.Second

// movesMoney are the kinds whose text ends with the balance right after
// their transaction.
var movesMoney = map[store.NotificationKind]bool{
	store.NotifyReceived: true, store.NotifyPaymentSent: true, store.NotifyPaymentFailed: true,
	store.NotifyWithdrawalPaid: true, store.NotifyWithdrawalFailed: true,
}

// deliver starts one claimed row's send, renders and sends it, and
// records the outcome with the claim's token. Nothing starts once window
// (the claim's, which ends with the round's context) has closed. The start
// counts the attempt and leases the row to this send on the database's
// clock; the render and the send must end within that lease (sendWindow
// from before the start), or when stop ends.
func (o *Outbox) deliver(window, stop context.Context, n store.Notification, token string) outcome {
	if window.Err() != nil {
		return outcomeReturned
	}
	if n.Attempts >= o.cfg.MaxAttempts {
		// Started as often as it may be tried and still pending: the last
		// start never had its outcome recorded (a crash, a lost lease, a
		// record that failed). Given up rather than sent once more every
		// lease, for ever.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(stop), recordTimeout)
		defer cancel()
		return o.recordFailure(rctx, n, token, errors.New("started SMS_MAX_ATTEMPTS times without an outcome recorded"))
	}
	began := time.Now()
	sendCtx, cancel := context.WithDeadline(stop, began.Add(o.sendWindow()))
	defer cancel()
	var started bool
	err := o.cfg.Store.Autocommit(sendCtx, func(ctx context.Context, tx store.Tx) error {
		var err error
		started, err = tx.StartNotificationAttempt(ctx, n.ID, token, o.cfg.Lease)
		return err
	})
	switch {
	case err != nil:
		o.log.Error("sms outbox: send not started; due again after its lease", append(o.about(n), "err", err)...)
		return outcomeLost
	case !started:
		o.log.Warn("sms outbox: another sender claimed the row before its send started; not sent", o.about(n)...)
		return outcomeLost
	}
	n.Attempts++
	text, err := o.render(sendCtx, n)
	var res sms.Result
	if err == nil {
		res, err = o.cfg.Sender.Send(sendCtx, sms.Message{To: n.Phone, Text: text})
	}
	if err != nil && sendCtx.Err() != nil {
		// Cut short (out of lease time, or of grace after a stop): whether
		// the text went out is unknown, and the lease decides when it is
		// tried again.
		o.log.Warn("sms outbox: send cut short; due again after its lease", o.about(n)...)
		return outcomeLost
	}
	rctx, cancelRecord := context.WithTimeout(context.WithoutCancel(sendCtx), recordTimeout)
	defer cancelRecord()
	var oc outcome
	if err != nil {
		oc = o.recordFailure(rctx, n, token, err)
	} else {
		oc = o.recordSent(rctx, n, token, res)
	}
	o.observe(time.Since(began))
	return oc
}

// render writes a row's text as of now: in the user's language, with the
// balance right after its transaction for the kinds that move money.
func (o *Outbox) render(ctx context.Context, n store.Notification) (string, error) {
	m := Message{Kind: n.Kind, AmountMsat: n.AmountMsat, Counterparty: n.Counterparty, Body: n.Body, ServiceCode: o.cfg.ServiceCode}
	err := o.cfg.Store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		m.Lang, m.BalanceMsat, m.HasBalance = "en", 0, false
		if n.UserID == 0 {
			return nil
		}
		u, err := tx.UserByID(ctx, n.UserID)
		if err != nil {
			return fmt.Errorf("user: %w", err)
		}
		m.Lang = u.Language
		if n.TransactionID == 0 || !movesMoney[n.Kind] {
			return nil
		}
		b, err := tx.BalanceAfter(ctx, n.TransactionID, n.UserID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil // the transaction did not move this user's balance
		case err != nil:
			return fmt.Errorf("balance: %w", err)
		}
		m.BalanceMsat, m.HasBalance = b, true
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("render notification %d: %w", n.ID, err)
	}
	return Render(m), nil
}

// maxMessageID is the longest gateway message id recorded (the column's
// width).
const maxMessageID = 128

// recordSent records the gateway's message id.
func (o *Outbox) recordSent(ctx context.Context, n store.Notification, token string, res sms.Result) outcome {
	id := res.MessageID
	if !printableASCII(id) || len(id) > maxMessageID {
		// No column takes it, and a record that fails would send the
		// text again after every lease: the message goes unreported.
		o.log.Warn("sms outbox: the gateway's message id cannot be recorded; its delivery reports will not match", o.about(n)...)
		id = ""
	}
	var ok bool
	err := o.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		ok, err = tx.RecordNotificationSent(ctx, n.ID, token, id, o.cfg.Now())
		return err
	})
	switch {
	case err != nil:
		o.log.Error("sms outbox: sent but not recorded; it goes out again after its lease", append(o.about(n), "err", err)...)
		return outcomeLost
	case !ok:
		o.log.Warn("sms outbox: sent after its lease was lost; not recorded", o.about(n)...)
		return outcomeLost
	}
	o.log.Debug("sms sent", append(o.about(n), "message_id", id, "status_code", res.StatusCode)...)
	return outcomeSent
}

// recordFailure records a failed attempt: due again after Backoff when the
// error is retryable and attempts remain, failed for good otherwise.
func (o *Outbox) recordFailure(ctx context.Context, n store.Notification, token string, sendErr error) outcome {
	now := o.cfg.Now()
	permanent := sms.Permanent(sendErr)
	giveUp := permanent || n.Attempts >= o.cfg.MaxAttempts
	next := now
	if !giveUp {
		next = now.Add(o.cfg.Backoff(n.Attempts))
	}
	var ok bool
	err := o.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		ok, err = tx.RecordNotificationRetry(ctx, n.ID, token, next, sendErr.Error(), giveUp)
		return err
	})
	attrs := append(o.about(n), "attempt", n.Attempts, "err", sendErr)
	switch {
	case err != nil:
		o.log.Error("sms outbox: failure not recorded; due again after its lease", append(attrs, "record_err", err)...)
		return outcomeLost
	case !ok:
		o.log.Warn("sms outbox: lease lost before the failure was recorded", attrs...)
		return outcomeLost
	}
	level := slog.LevelWarn
	if sms.NeedsOperator(sendErr) {
		level = slog.LevelError // credentials, sender id: no retry cures it
	}
	switch {
	case permanent:
		o.log.Log(ctx, level, "sms given up: the number cannot receive", attrs...)
		return outcomeFailed
	case giveUp:
		o.log.Log(ctx, level, "sms given up: out of attempts", append(attrs, "max_attempts", o.cfg.MaxAttempts)...)
		return outcomeFailed
	}
	o.log.Log(ctx, level, "sms not sent; will retry", append(attrs, "retry_in", next.Sub(now).Round(time.Second))...)
	return outcomeRetry
}

// about is how the log names a row: never its text, never its whole
// number.
func (o *Outbox) about(n store.Notification) []any {
	return []any{"notification", n.ID, "kind", string(n.Kind), "to", wallet.MaskPhone(n.Phone)}
}

// printableASCII reports whether s is printable ASCII only.
func printableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
