package ussd

import (
	"errors"
	"strconv"
	"strings"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Invoices paid by SMS: a user texts an invoice in (internal/smspay), and
// their next session opens on it. Approving takes the PIN and pays it as
// the Lightning Address flow does; rejecting closes it and shows the main
// menu, as "00" does without closing it.
const (
	stSMSPay    = "sms_pay"     // buf: [request id, amount msat, payee, invoice's note]
	stSMSPayPIN = "sms_pay_pin" // buf: as stSMSPay
)

var smspayStates = map[string]state{
	stSMSPay: {read: (*hop).smsPayChoice, draw: func(h *hop) []string {
		id, amount, payee, ok := requestBuf(h.buf)
		if !ok || id <= 0 {
			return nil
		}
		lines := []string{h.t(kSMSPayAsk, sats(amount), payee, sats(h.lnFee(amount)))}
		if note := noteShown(h.buf); note != "" {
			lines = append(lines, h.t(kSMSPayNote, note))
		}
		return append(lines, "1. "+h.t(kSMSPayYes), "2. "+h.t(kSMSPayNo), h.t(kHome))
	}},
	stSMSPayPIN: {parent: stSMSPay, keep: keepAll, afterPIN: (*hop).smsPayApprove, draw: prompt(kEnterPIN)},
}

// openRequest opens a new session of a registered user on their open
// payment request, if they have one. Nothing here may cost the session:
// a failure to look is logged and the main menu shows.
func (h *hop) openRequest() {
	ln := h.e.cfg.Lightning
	if ln == nil || ln.Requests == nil || !h.registered() {
		return
	}
	r, ok, err := ln.Requests.Open(h.ctx, h.user.ID)
	if err != nil {
		h.e.log.Warn("ussd: open payment request not read", "phone", wallet.MaskPhone(h.phone), "err", err)
		return
	}
	if ok {
		who, note := smspay.SplitPayee(r.Payee)
		h.goTo(stSMSPay, strconv.FormatInt(r.ID, 10), strconv.FormatInt(r.AmountMsat, 10), payeeShown(who),
			lightning.CleanText(note, maxNoteShown))
	}
}

// maxNoteShown bounds an invoice's note on the approval screen, as smspay
// bounds it: the screen must still fit 182 characters with the longest
// amounts and a refusal above it.
const maxNoteShown = 18

// noteShown is the invoice's note a request's state carries: the words of
// whoever made the invoice, shown quoted on a line of their own, never
// as the payee ("" when there are none).
func noteShown(buf []string) string {
	if len(buf) < 4 {
		return ""
	}
	return lightning.CleanText(strings.ReplaceAll(buf[3], `"`, "'"), maxNoteShown)
}

// payeeShown is how a screen names a request's payee (smspay.SplitPayee's
// who): a number masked, anything else cut to fit.
func payeeShown(p string) string {
	if len(p) > 1 && p[0] == '+' {
		return maskPhone(p)
	}
	return shortAddress(lightning.CleanText(p, 64))
}

// requestBuf reads the request a state carries (a session opened before
// notes were shown carries no note).
func requestBuf(buf []string) (id, amountMsat int64, payee string, ok bool) {
	if len(buf) != 3 && len(buf) != 4 {
		return 0, 0, "", false
	}
	id, err1 := strconv.ParseInt(buf[0], 10, 64)
	amountMsat, err2 := strconv.ParseInt(buf[1], 10, 64)
	return id, amountMsat, buf[2], err1 == nil && err2 == nil && amountMsat > 0
}

func (h *hop) smsPayChoice(in string) {
	id, _, _, ok := requestBuf(h.buf)
	if !ok {
		h.goTo(stMain)
		return
	}
	switch in {
	case "1":
		h.goTo(stSMSPayPIN, h.buf...)
	case "2":
		err := h.e.cfg.Lightning.Requests.Reject(h.ctx, h.user.ID, id)
		if err != nil && !errors.Is(err, smspay.ErrClosed) {
			h.sorry(err)
			return
		}
		h.goTo(stMain)
		h.refuse(kSMSPayRejected)
	default:
		h.refuse(kInvalidChoice)
	}
}

// smsPayApprove pays the request with the authorization the PIN gave. Its
// idempotency key is the request's, not the hop's: a repeated hop, or a
// second session, replays the one payment.
func (h *hop) smsPayApprove(auth wallet.Authorization) {
	id, _, _, ok := requestBuf(h.buf)
	if !ok {
		h.goTo(stMain)
		return
	}
	r, p, err := h.e.cfg.Lightning.Requests.Approve(h.ctx, auth, id)
	switch {
	case errors.Is(err, smspay.ErrClosed):
		h.finish(h.t(kSMSPayClosed))
		return
	case h.refusedSpend(err):
		return
	case errors.Is(err, wallet.ErrInvoiceAlreadyPaid):
		h.finish(h.t(kInvoiceAlreadyPaid))
		return
	case errors.Is(err, lightning.ErrInvalidInvoice), errors.Is(err, wallet.ErrNotFound):
		h.finish(h.t(kSMSPayExpired))
		return
	case errors.Is(err, lightning.ErrUnavailable):
		h.finish(h.t(kLightningDown))
		return
	case err != nil:
		h.sorry(err)
		return
	}
	who, _ := smspay.SplitPayee(r.Payee)
	if p.Internal && p.Transaction.Status == store.StatusCompleted {
		h.finish(h.t(kPaid, sats(r.AmountMsat), payeeShown(who)))
		return
	}
	h.finish(h.t(kPaymentPending, sats(r.AmountMsat), payeeShown(who)))
}
