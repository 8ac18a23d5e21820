package ussd

import (
	"errors"
	"strconv"
	"strings"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// parseSats reads a whole number of sats typed by a user. The number is
// range-checked as msat here (wallet.MsatFromSats), so every n*1000 the
// flows compute from it cannot overflow.
func parseSats(in string) (int64, bool) {
	in = strings.ReplaceAll(in, ",", "")
	if in == "" || len(in) > 12 {
		return 0, false
	}
	n, err := strconv.ParseInt(in, 10, 64)
	if err != nil {
		return 0, false
	}
	_, err = wallet.MsatFromSats(n)
	return n, err == nil
}

// spendable reads an amount typed at an amount screen and checks it against
// the limits and the balance (with the fee the operation will cost),
// refusing it with a reason when it does not fit.
func (h *hop) spendable(in string, fee func(msat int64) int64) (int64, bool) {
	n, ok := parseSats(in)
	if !ok || len(h.buf) != 1 {
		h.refuse(kInvalidAmount)
		return 0, false
	}
	cfg := h.e.wallet.Config()
	msat := n * 1000
	if msat < cfg.MinAmountMsat || msat > cfg.MaxAmountMsat {
		h.refuse(kLimit, sats(cfg.MinAmountMsat), sats(cfg.MaxAmountMsat))
		return 0, false
	}
	bal, err := h.e.wallet.Balance(h.ctx, h.user.ID)
	if err != nil {
		h.sorry(err)
		return 0, false
	}
	if msat+fee(msat) > bal {
		h.refuse(kInsufficientHave, sats(bal))
		return 0, false
	}
	return n, true
}

// refusedSpend shows the final screen for a refusal of the wallet to move
// money (balance, limits, oneself, a stale authorization) and reports
// whether err was one.
func (h *hop) refusedSpend(err error) bool {
	var le *wallet.LimitError
	switch {
	case errors.Is(err, wallet.ErrInsufficientBalance):
		h.finish(h.t(kInsufficient))
	case errors.As(err, &le) && le.Limit == "daily":
		h.finish(h.t(kDailyLimit, sats(le.CapMsat)))
	case errors.As(err, &le):
		cfg := h.e.wallet.Config()
		h.finish(h.t(kLimit, sats(cfg.MinAmountMsat), sats(cfg.MaxAmountMsat)))
	case errors.Is(err, wallet.ErrSelfTransfer):
		h.finish(h.t(kSelfSend))
	case errors.Is(err, wallet.ErrAuthorizationExpired):
		h.finish(h.t(kAuthExpired))
	case errors.Is(err, wallet.ErrAccountFrozen):
		h.finish(h.t(kFrozenSend))
	case errors.Is(err, wallet.ErrPINResetDue):
		// The PIN was reset while this session held an authorization.
		h.goTo(stResetPIN)
	case errors.Is(err, wallet.ErrPaused):
		h.finish(h.t(kPaused))
	default:
		return false
	}
	return true
}
