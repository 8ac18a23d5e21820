package ussd

import "github.com/umeme-wallet/umeme/internal/wallet"

// stBalancePIN guards the balance when the PIN is asked for it
// (Config.PINForBalance); otherwise the main menu shows it at once.
const stBalancePIN = "balance_pin"

var balanceStates = map[string]state{
	stBalancePIN: {parent: stMain, afterPIN: func(h *hop, _ wallet.Authorization) { h.showBalance() }, draw: prompt(kEnterPIN)},
}

// showBalance ends the session on the balance, with its value in
// shillings when a rate is known.
func (h *hop) showBalance() {
	bal, err := h.e.wallet.Balance(h.ctx, h.user.ID)
	if err != nil {
		h.sorry(err)
		return
	}
	lines := []string{h.t(kBalanceIs, sats(bal))}
	if h.e.cfg.Rate != nil {
		if rate, ok := h.e.cfg.Rate.KESPerBTC(); ok {
			kes := float64(bal) / 1e11 * rate
			lines = append(lines, h.t(kBalanceKES, group(int64(kes+0.5))))
		}
	}
	h.finish(lines...)
}
