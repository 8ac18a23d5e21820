package ussd

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The Lightning payment flow: sats to a Lightning Address, reached from
// the send flow's choice when a Lightning node is configured.
const (
	stSendAddress = "send_address" // name@domain, or the name alone
	stSendDomain  = "send_domain"  // buf: [name]
	stLNAmount    = "ln_amount"    // buf: [address]
	stLNConfirm   = "ln_confirm"   // buf: [address, sats]
	stLNPIN       = "ln_pin"       // buf: [address, sats]
)

var lnpayStates = map[string]state{
	stSendAddress: {parent: stSendKind, read: (*hop).sendAddress, draw: prompt(kEnterAddress)},
	stSendDomain:  {parent: stSendAddress, read: (*hop).sendDomain, draw: prompt(kEnterDomain)},
	stLNAmount:    {parent: stSendAddress, keep: 1, read: (*hop).lnAmount, draw: prompt(kEnterAmount)},
	stLNConfirm: {parent: stLNAmount, keep: keepAll, read: (*hop).lnConfirm, draw: func(h *hop) []string {
		n, _ := parseSats(h.buf[1])
		return []string{h.t(kConfirmPay, group(n), shortAddress(h.buf[0])), h.t(kFeeUpTo, sats(h.lnFee(n*1000))), h.t(kConfirm), h.t(kBack)}
	}},
	stLNPIN: {parent: stLNConfirm, afterPIN: (*hop).payAddress, draw: prompt(kEnterPIN)},
}

// addressName and addressDomain check the two halves of a Lightning Address.
var (
	addressName   = regexp.MustCompile(`^[a-z0-9\-_.]{1,32}$`)
	addressDomain = regexp.MustCompile(`^[a-z0-9\-.]{1,36}\.[a-z]{2,}$|^(localhost|127\.0\.0\.1)(:[0-9]{1,5})?$`)
)

func (h *hop) sendAddress(in string) {
	in = strings.ToLower(in)
	name, domain, found := strings.Cut(in, "@")
	if !addressName.MatchString(name) || (found && !validDomain(domain)) {
		h.refuse(kInvalidAddress)
		return
	}
	if !found {
		// Typing "@" is hard on some phones: ask for the domain alone.
		h.goTo(stSendDomain, name)
		return
	}
	h.goTo(stLNAmount, in)
}

// validDomain accepts a domain short enough for every screen that shows it.
func validDomain(d string) bool { return len(d) <= 40 && addressDomain.MatchString(d) }

// shortAddress keeps an address within what a screen can show.
func shortAddress(a string) string {
	if len(a) <= 48 {
		return a
	}
	return a[:22] + ".." + a[len(a)-24:]
}

func (h *hop) sendDomain(in string) {
	in = strings.ToLower(in)
	if len(h.buf) != 1 || !validDomain(in) {
		h.refuse(kInvalidAddress)
		return
	}
	h.goTo(stLNAmount, h.buf[0]+"@"+in)
}

// lnFee is the most a Lightning payment of amount costs: the service fee
// and the routing fee limit reserved for it.
func (h *hop) lnFee(amount int64) int64 {
	return h.e.wallet.ServiceFee(amount) + lightning.FeeLimit(amount)
}

func (h *hop) lnAmount(in string) {
	if n, ok := h.spendable(in, h.lnFee); ok {
		h.goTo(stLNConfirm, h.buf[0], strconv.FormatInt(n, 10))
	}
}

func (h *hop) lnConfirm(in string) {
	if in != "1" {
		h.refuse(kInvalidChoice)
		return
	}
	h.goTo(stLNPIN, h.buf...)
}

// payAddress fetches an invoice from the address (bounded: a hop must not
// wait long) and pays it; the payment finishes in the background and the
// user hears the outcome by SMS.
func (h *hop) payAddress(auth wallet.Authorization) {
	if len(h.buf) != 2 {
		h.goTo(stMain)
		return
	}
	addr := h.buf[0]
	n, _ := parseSats(h.buf[1])
	ln := h.e.cfg.Lightning
	timeout := ln.ResolveTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(h.ctx, timeout)
	defer cancel()
	bolt11, err := ln.Addresses.FetchInvoice(ctx, addr, n*1000)
	if errors.Is(err, lightning.ErrUnavailable) {
		h.finish(h.t(kLightningDown))
		return
	}
	if err != nil {
		h.e.log.Info("lightning address not resolved", "address", addr, "err", err)
		h.finish(h.t(kAddressFailed))
		return
	}
	p, err := ln.Payer.Pay(h.ctx, auth, bolt11, h.key)
	switch {
	case h.refusedSpend(err):
		return
	case errors.Is(err, wallet.ErrInvoiceAlreadyPaid):
		// Another payment of this invoice (by anyone) is pending or done,
		// or an outside payer paid our own invoice first.
		h.finish(h.t(kInvoiceAlreadyPaid))
		return
	case errors.Is(err, lightning.ErrInvalidInvoice):
		h.finish(h.t(kAddressFailed))
		return
	case errors.Is(err, lightning.ErrUnavailable):
		h.finish(h.t(kLightningDown))
		return
	case err != nil:
		h.sorry(err)
		return
	}
	if p.Internal && p.Transaction.Status == store.StatusCompleted {
		h.finish(h.t(kPaid, group(n), shortAddress(addr)))
		return
	}
	h.finish(h.t(kPaymentPending, group(n), shortAddress(addr)))
}
