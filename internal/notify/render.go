// Package notify turns the outbox's notifications into SMS texts (Render)
// and sends them (Outbox).
package notify

import (
	"strconv"
	"strings"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
)

// Message is what a notification says, resolved at send time.
type Message struct {
	Kind         store.NotificationKind
	Lang         string // "en" or "sw"; anything else renders English
	AmountMsat   int64
	Counterparty string // a phone number (+254...), a Lightning Address, or ""
	Body         string // kind-specific, see store.types.go and the wallet's inserts
	BalanceMsat  int64  // the account's balance right after this event
	HasBalance   bool
	ServiceCode  string // e.g. *384*1234#, for pay_request
}

// Render writes the SMS a notification sends, in the user's language.
// Every text is plain GSM-7 and, but for an invoice (whose BOLT11 string
// alone can fill several messages), at most three messages long whatever
// the amounts and the counterparty. Free text from outside (a payer's
// comment, a counterparty) is made plain GSM-7 and cut; a failure's
// reason is never echoed, only mapped to words of our own. A kind this
// version does not know still renders a text, never "".
func Render(m Message) string {
	lang := m.Lang
	if _, ok := catalogue[lang]; !ok {
		lang = "en"
	}
	r := renderer{m: m, lang: lang}
	return strings.Join(r.lines(), "\n")
}

// renderer holds what every kind's text needs.
type renderer struct {
	m    Message
	lang string
}

func (r renderer) t(k key, args ...any) string { return text(r.lang, k, args...) }

// amount is the notification's amount in words.
func (r renderer) amount() string { return amount(r.lang, r.m.AmountMsat) }

// with is " from X" or " to X" (k is kFrom or kTo) for the counterparty,
// or "" when there is none.
func (r renderer) with(k key) string {
	if p := party(r.m.Counterparty); p != "" {
		return r.t(k, p)
	}
	return ""
}

// code is the USSD code a text tells the user to dial.
func (r renderer) code() string {
	if c := clean(r.m.ServiceCode, 32); c != "" {
		return c
	}
	return r.t(kServiceCode)
}

// balance is the balance line, when the balance is known.
func (r renderer) balance() []string {
	if !r.m.HasBalance {
		return nil
	}
	return []string{r.t(kBalance, amount(r.lang, r.m.BalanceMsat))}
}

// lines is the text, line by line.
func (r renderer) lines() []string {
	m := r.m
	switch m.Kind {
	case store.NotifyReceived:
		out := []string{r.t(kReceived, r.amount(), r.with(kFrom))}
		if note := clean(m.Body, lightning.CommentAllowed); note != "" {
			out = append(out, r.t(kPayerNote, note))
		}
		return append(out, r.balance()...)
	case store.NotifyPaymentSent:
		return append([]string{r.t(kPaymentSent, r.amount(), r.with(kTo))}, r.balance()...)
	case store.NotifyPaymentFailed:
		said := r.t(kPaymentNotDone, r.amount(), r.with(kTo))
		if k, ok := reason(paymentReasons, m.Body); ok {
			said = r.t(kPaymentFailed, r.amount(), r.with(kTo), r.t(k))
		}
		return append([]string{said + " " + r.t(kReturned)}, r.balance()...)
	case store.NotifyWithdrawalPaid:
		return append([]string{r.t(kWithdrawalPaid, r.amount())}, r.balance()...)
	case store.NotifyWithdrawalFailed:
		// Body is M-Pesa's own description, in English and of any
		// length: not echoed.
		return append([]string{r.t(kWithdrawalFailed, r.amount()) + " " + r.t(kReturned)}, r.balance()...)
	case store.NotifyTopupFailed:
		if k, ok := reason(topupReasons, m.Body); ok {
			return []string{r.t(kTopupFailed, r.amount(), r.t(k))}
		}
		return []string{r.t(kTopupNotDone, r.amount())}
	case store.NotifyTopupUnconfirmed:
		return []string{r.t(kTopupUnconfirmed, r.amount())}
	case store.NotifyInvoice:
		return r.invoice()
	case store.NotifyPINChanged:
		return []string{r.t(kPINChanged)}
	case store.NotifyLockedOut:
		return []string{r.t(kLockedOut)}
	case store.NotifyPayRequest:
		fee := ""
		if limit, err := strconv.ParseInt(strings.TrimSpace(m.Body), 10, 64); err == nil && limit >= 0 {
			fee = r.t(kFeeUpTo, amount(r.lang, limit))
		}
		// The payee is who smspay established; another node's invoice
		// may add its maker's words, quoted and labelled as theirs.
		who, note := smspay.SplitPayee(m.Counterparty)
		to := ""
		if p := party(who); p != "" {
			to = r.t(kTo, p)
		}
		says := ""
		if n := clean(strings.ReplaceAll(note, `"`, "'"), maxNote); n != "" {
			says = r.t(kInvoiceSays, n)
		}
		return []string{r.t(kPayRequest, r.code(), r.amount(), to, fee, says)}
	case store.NotifyPayRefused:
		return []string{r.refused() + " " + r.t(kNothingPaid)}
	case store.NotifyRegisterFirst:
		return []string{r.t(kRegisterFirst, r.code())}
	case store.NotifyPINReset:
		return []string{r.t(kPINReset, clean(m.Body, 32), r.code())}
	}
	return append([]string{r.t(kUpdate, r.code())}, r.balance()...)
}

// invoice is the text carrying a BOLT11 invoice. The invoice is never cut
// (a cut invoice cannot be paid); what is not plain GSM-7 in it, which
// BOLT11's bech32 never holds, is replaced rather than let the text turn
// to UCS-2.
func (r renderer) invoice() []string {
	bolt11 := clean(r.m.Body, len(r.m.Body)+3)
	switch {
	case bolt11 == "":
		return []string{r.t(kInvoiceMissing, r.amount())}
	case r.m.AmountMsat <= 0:
		return []string{r.t(kInvoiceNoAmount, bolt11)}
	}
	return []string{r.t(kInvoice, r.amount(), bolt11)}
}

// refused is why a texted payment was refused, and what to do.
func (r renderer) refused() string {
	k, ok := reason(refusedReasons, r.m.Body)
	switch {
	case !ok:
		return r.t(kRefusedOther)
	case k == kRefusedAmount:
		of := ""
		if r.m.AmountMsat > 0 {
			of = r.t(kRefusedAmountOf, r.amount())
		}
		return r.t(kRefusedAmount, of)
	case k == kRefusedAddress:
		to := party(r.m.Counterparty)
		if to == "" {
			to = r.t(kThatAddress)
		}
		return r.t(kRefusedAddress, to)
	}
	return r.t(k)
}
