package ussd

import (
	"errors"
	"strconv"
	"time"

	"github.com/umeme-wallet/umeme/internal/ramp"
	"github.com/umeme-wallet/umeme/internal/rates"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Mpesa is the M-Pesa rail as the menus use it.
type Mpesa struct {
	Ramp   *ramp.Ramp
	Quoter *rates.Quoter
	// MinKES and MaxKES bound one top-up or withdrawal; MinWithdrawKES is
	// the smallest withdrawal (Daraja pays no less than KES 10).
	MinKES, MaxKES, MinWithdrawKES int64
}

// The M-Pesa flows: buy bitcoin with shillings (an STK push the user
// approves on the phone) and sell bitcoin for shillings (a B2C payment to
// the user's own number). Each quotes a price that holds for a while; the
// quote travels in the session's buffer, which only the server writes.
const (
	stBuyAmount   = "buy_amount"   // KES
	stBuyConfirm  = "buy_confirm"  // buf: quote
	stSellAmount  = "sell_amount"  // KES
	stSellConfirm = "sell_confirm" // buf: quote
	stSellPIN     = "sell_pin"     // buf: quote
)

var mpesaStates = map[string]state{
	stBuyAmount: {parent: stMain, read: (*hop).buyAmount, draw: func(h *hop) []string {
		return []string{h.t(kEnterKES, group(h.e.cfg.Mpesa.MinKES), group(h.e.cfg.Mpesa.MaxKES)), h.t(kBack)}
	}},
	stBuyConfirm: {parent: stBuyAmount, read: (*hop).buyConfirm, draw: func(h *hop) []string {
		q, ok := bufQuote(h.buf)
		if !ok {
			return nil
		}
		return []string{h.t(kBuyQuote, group(q.KES), sats(q.Msat), quoteMinutes(h, q)), h.t(kFeeLine, sats(q.FeeMsat)), h.t(kConfirm), h.t(kBack)}
	}},
	stSellAmount: {parent: stMain, read: (*hop).sellAmount, draw: func(h *hop) []string {
		return []string{h.t(kEnterKES, group(h.e.cfg.Mpesa.MinWithdrawKES), group(h.e.cfg.Mpesa.MaxKES)), h.t(kBack)}
	}},
	stSellConfirm: {parent: stSellAmount, read: (*hop).sellConfirm, draw: func(h *hop) []string {
		q, ok := bufQuote(h.buf)
		if !ok {
			return nil
		}
		fee := q.FeeMsat + h.e.wallet.ServiceFee(q.Msat)
		return []string{h.t(kSellQuote, group(q.KES), sats(q.Msat+h.e.wallet.ServiceFee(q.Msat)), quoteMinutes(h, q)), h.t(kFeeLine, sats(fee)), h.t(kConfirm), h.t(kBack)}
	}},
	stSellPIN: {parent: stSellConfirm, keep: keepAll, afterPIN: (*hop).sell, draw: prompt(kEnterPIN)},
}

// bufQuote reads the quote a confirm state carries: KES, msat, market
// rate, spread, spread fee, expiry (Unix seconds).
func bufQuote(buf []string) (rates.Quote, bool) {
	if len(buf) != 6 {
		return rates.Quote{}, false
	}
	var n [6]int64
	for i, s := range buf {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return rates.Quote{}, false
		}
		n[i] = v
	}
	return rates.Quote{KES: n[0], Msat: n[1], Rate: rates.Rate{MilliKESPerBTC: n[2]}, SpreadBps: int(n[3]), FeeMsat: n[4],
		ExpiresAt: time.Unix(n[5], 0).UTC()}, true
}

func quoteBuf(q rates.Quote) []string {
	return []string{strconv.FormatInt(q.KES, 10), strconv.FormatInt(q.Msat, 10), strconv.FormatInt(q.Rate.MilliKESPerBTC, 10),
		strconv.Itoa(q.SpreadBps), strconv.FormatInt(q.FeeMsat, 10), strconv.FormatInt(q.ExpiresAt.Unix(), 10)}
}

// quoteMinutes is how long a quote still holds, in whole minutes (at
// least 1 while it holds).
func quoteMinutes(h *hop, q rates.Quote) int {
	left := q.ExpiresAt.Sub(h.e.cfg.Now())
	return max(1, int(left/time.Minute))
}

// kesAmount reads whole shillings within [min, max].
func (h *hop) kesAmount(in string, lo, hi int64) (int64, bool) {
	n, err := strconv.ParseInt(in, 10, 64)
	if err != nil || n <= 0 || len(in) > 7 {
		h.refuse(kInvalidKES)
		return 0, false
	}
	if n < lo || n > hi {
		h.refuse(kKESLimit, group(lo), group(hi))
		return 0, false
	}
	return n, true
}

// quoted handles a quote that could not be made: stale or missing rates
// end the session politely; anything else is an apology.
func (h *hop) quoted(q rates.Quote, err error, next string) {
	switch {
	case errors.Is(err, rates.ErrStale), errors.Is(err, rates.ErrInvalidRate):
		h.finish(h.t(kRatesDown))
	case errors.Is(err, rates.ErrInvalidAmount), errors.Is(err, rates.ErrOverflow):
		h.refuse(kInvalidKES)
	case err != nil:
		h.e.log.Warn("ussd: no quote", "err", err)
		h.finish(h.t(kRatesDown))
	default:
		h.goTo(next, quoteBuf(q)...)
	}
}

func (h *hop) buyAmount(in string) {
	m := h.e.cfg.Mpesa
	if kes, ok := h.kesAmount(in, m.MinKES, m.MaxKES); ok {
		q, err := m.Quoter.Buy(h.ctx, kes)
		h.quoted(q, err, stBuyConfirm)
	}
}

func (h *hop) sellAmount(in string) {
	m := h.e.cfg.Mpesa
	if kes, ok := h.kesAmount(in, m.MinWithdrawKES, m.MaxKES); ok {
		q, err := m.Quoter.Sell(h.ctx, kes)
		h.quoted(q, err, stSellConfirm)
	}
}

// confirmedQuote reads the quote of a confirm state on "1", refusing an
// expired one.
func (h *hop) confirmedQuote(in string) (rates.Quote, bool) {
	if in != "1" {
		h.refuse(kInvalidChoice)
		return rates.Quote{}, false
	}
	q, ok := bufQuote(h.buf)
	if !ok {
		h.goTo(stMain)
		return rates.Quote{}, false
	}
	if !h.e.cfg.Now().Before(q.ExpiresAt) {
		h.finish(h.t(kQuoteExpired))
		return rates.Quote{}, false
	}
	return q, true
}

func (h *hop) buyConfirm(in string) {
	q, ok := h.confirmedQuote(in)
	if !ok {
		return
	}
	_, err := h.e.cfg.Mpesa.Ramp.Buy(h.ctx, h.user.ID, ramp.WalletQuote(q), h.key)
	var le *wallet.LimitError
	switch {
	case err == nil:
		h.finish(h.t(kBuyStarted, group(q.KES)))
	case errors.Is(err, ramp.ErrBusy):
		h.finish(h.t(kMpesaBusy))
	case errors.Is(err, wallet.ErrQuoteExpired):
		h.finish(h.t(kQuoteExpired))
	case errors.As(err, &le):
		h.finish(h.t(kBuyOverCap))
	case errors.Is(err, ramp.ErrRefused):
		h.finish(h.t(kMpesaDown))
	default:
		h.sorry(err)
	}
}

func (h *hop) sellConfirm(in string) {
	if _, ok := h.confirmedQuote(in); ok {
		h.goTo(stSellPIN, h.buf...)
	}
}

func (h *hop) sell(auth wallet.Authorization) {
	q, ok := bufQuote(h.buf)
	if !ok {
		h.goTo(stMain)
		return
	}
	if !h.e.cfg.Now().Before(q.ExpiresAt) {
		h.finish(h.t(kQuoteExpired))
		return
	}
	_, err := h.e.cfg.Mpesa.Ramp.Sell(h.ctx, auth, ramp.WalletQuote(q), h.key)
	switch {
	case err == nil:
		h.finish(h.t(kSellStarted, group(q.KES), maskPhone(h.phone)))
	case h.refusedSpend(err):
	case errors.Is(err, wallet.ErrQuoteExpired):
		h.finish(h.t(kQuoteExpired))
	case errors.Is(err, ramp.ErrRefused):
		h.finish(h.t(kMpesaRefused))
	default:
		h.sorry(err)
	}
}
