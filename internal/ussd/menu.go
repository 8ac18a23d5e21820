package ussd

import "strconv"

// stMain is the main menu of a registered user.
const stMain = "main"

var menuStates = map[string]state{
	stMain: {read: (*hop).mainMenu, draw: func(h *hop) []string {
		lines := []string{h.t(kMainTitle)}
		for i, it := range h.menu() {
			lines = append(lines, strconv.Itoa(i+1)+". "+h.t(it.label))
		}
		return lines
	}},
}

// menuItem is one numbered line of the main menu.
type menuItem struct {
	label key
	do    func()
}

// menu builds the main menu. It is built, not fixed, so that the rails'
// items (M-Pesa, Lightning) join it only where a rail is configured: nothing
// is shown that cannot work.
func (h *hop) menu() []menuItem {
	ln := h.e.cfg.Lightning != nil
	items := []menuItem{
		{kSend, func() {
			if ln {
				h.goTo(stSendKind)
			} else {
				h.goTo(stSendTo)
			}
		}},
		{kReceive, func() {
			if ln {
				h.goTo(stReceive)
			} else {
				h.finish(h.t(kReceiveAddress, h.address()))
			}
		}},
		{kBalance, func() {
			if h.e.cfg.PINForBalance {
				h.goTo(stBalancePIN)
			} else {
				h.showBalance()
			}
		}},
		{kTransactions, func() {
			if h.e.cfg.PINForBalance {
				h.goTo(stHistoryPIN)
			} else {
				h.goTo(stHistory)
			}
		}},
	}
	if h.e.cfg.Mpesa != nil {
		items = append(items, menuItem{kBuy, func() { h.goTo(stBuyAmount) }}, menuItem{kSell, func() { h.goTo(stSellAmount) }})
	}
	return append(items,
		menuItem{kSettings, func() { h.goTo(stSettings) }},
		menuItem{kExit, func() { h.finish(h.t(kGoodbye)) }},
	)
}

func (h *hop) mainMenu(in string) {
	items := h.menu()
	n, err := strconv.Atoi(in)
	if err != nil || n < 1 || n > len(items) {
		h.refuse(kInvalidChoice)
		return
	}
	items[n-1].do()
}
