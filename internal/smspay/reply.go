package smspay

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Each outcome is recorded in the same transaction as what it makes (the
// request, the reply): a text never ends with a reply and no outcome, or
// the reverse.

// request stores a payment request and queues "dial to approve".
func (s *Service) request(ctx context.Context, t text, bolt11 string, inv lightning.DecodedInvoice, payee string) (Result, error) {
	res := Result{InboundID: t.id, Outcome: OutcomeRequest}
	fee := s.FeeLimit(inv.AmountMsat)
	err := s.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		res.RequestID, err = tx.InsertPaymentRequest(ctx, store.NewPaymentRequest{UserID: t.user.ID, InboundID: t.id, Invoice: bolt11,
			PaymentHash: inv.PaymentHash, AmountMsat: inv.AmountMsat, Payee: payee, ExpiresAt: inv.ExpiresAt, Now: t.at})
		if err != nil {
			return err
		}
		res.NotificationID, err = tx.InsertNotification(ctx, store.NewNotification{UserID: t.user.ID, Phone: t.phone,
			Kind: store.NotifyPayRequest, AmountMsat: inv.AmountMsat, Counterparty: payee, Body: strconv.FormatInt(fee, 10), Now: t.at})
		if err != nil {
			return err
		}
		return tx.SetInboundSMSOutcome(ctx, t.id, OutcomeRequest)
	})
	if err != nil {
		return Result{InboundID: t.id}, fmt.Errorf("store payment request: %w", err)
	}
	return res, nil
}

// FeeLimit is the most a payment of amount can cost in fees: the service
// fee and the routing fee reserved for it, as the USSD confirmation shows
// it (a payment of our own node's invoice costs none).
func (s *Service) FeeLimit(amountMsat int64) int64 {
	return s.Wallet.ServiceFee(amountMsat) + lightning.FeeLimit(amountMsat)
}

// refuse queues a refusal with its reason.
func (s *Service) refuse(ctx context.Context, t text, reason string, amountMsat int64, counterparty string) (Result, error) {
	return s.reply(ctx, t, refused(reason), store.NewNotification{Kind: store.NotifyPayRefused, Body: reason,
		AmountMsat: amountMsat, Counterparty: counterparty})
}

// unavailable answers a text the node could not help with now: nothing
// is stored, and the reply asks for the text again later.
func (s *Service) unavailable(ctx context.Context, t text, cause error) (Result, error) {
	s.Log.Warn("sms: lightning node unavailable", "phone", wallet.MaskPhone(t.phone), "inbound", t.id, "err", cause)
	return s.reply(ctx, t, OutcomeUnavailable, store.NewNotification{Kind: store.NotifyPayRefused, Body: store.PayRefusedBusy})
}

// reply records an outcome and queues its reply to the sender.
func (s *Service) reply(ctx context.Context, t text, outcome string, n store.NewNotification) (Result, error) {
	res := Result{InboundID: t.id, Outcome: outcome}
	n.UserID, n.Phone, n.Now = t.user.ID, t.phone, t.at
	err := s.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if res.NotificationID, err = tx.InsertNotification(ctx, n); err != nil {
			return err
		}
		return tx.SetInboundSMSOutcome(ctx, t.id, outcome)
	})
	if err != nil {
		return Result{InboundID: t.id}, fmt.Errorf("reply to inbound sms: %w", err)
	}
	return res, nil
}

// replyOnce records an outcome, and queues its reply only if no other
// text of the number earned the same reply today (the reply key
// "<kind>:<phone>:<YYYY-MM-DD>", the day in the wallet's time zone) and,
// with perDay > 0, fewer than perDay replies of the kind went to all
// numbers today. A key taken ends the transaction on PostgreSQL, so the
// outcome alone is then recorded in a second one.
func (s *Service) replyOnce(ctx context.Context, t text, kind, outcome string, n store.NewNotification, perDay int) (Result, error) {
	day := t.at.In(s.Wallet.Config().DayZone).Format("2006-01-02")
	key := kind + ":" + t.phone + ":" + day
	res := Result{InboundID: t.id, Outcome: outcome}
	n.UserID, n.Phone, n.Now = t.user.ID, t.phone, t.at
	capped := false
	err := s.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		res.NotificationID, capped = 0, false
		if err := tx.ClaimInboundReply(ctx, t.id, key); err != nil {
			return err
		}
		if perDay > 0 {
			ok, err := tx.TakeReplyPlace(ctx, kind, day, perDay)
			if err != nil {
				return err
			}
			if !ok {
				// The day's replies are spent: the number's key stays
				// claimed, so its later texts today do not try again.
				capped = true
				return tx.SetInboundSMSOutcome(ctx, t.id, outcome)
			}
		}
		var err error
		if res.NotificationID, err = tx.InsertNotification(ctx, n); err != nil {
			return err
		}
		return tx.SetInboundSMSOutcome(ctx, t.id, outcome)
	})
	if errors.Is(err, store.ErrConflict) {
		res.NotificationID = 0
		err = s.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.SetInboundSMSOutcome(ctx, t.id, outcome)
		})
	}
	if err != nil {
		return Result{InboundID: t.id}, fmt.Errorf("record %s: %w", outcome, err)
	}
	if capped {
		s.Log.Warn("sms: the day's replies of this kind are spent; text recorded, not answered", "kind", kind, "per_day", perDay,
			"phone", wallet.MaskPhone(t.phone), "inbound", t.id)
	}
	return res, nil
}
