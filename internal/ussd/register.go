package ussd

import (
	"errors"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The registration flow: a number without an account chooses a PIN.
const (
	stWelcome    = "welcome"     // unregistered number
	stRegPIN     = "reg_pin"     // choose a PIN
	stRegConfirm = "reg_confirm" // buf: [prepared PIN]
)

// The reset flow: after an operator's PIN reset has taken effect, the next
// dial asks for a new PIN before anything else (the old one opens nothing).
const (
	stResetPIN     = "reset_pin"     // choose the new PIN
	stResetConfirm = "reset_confirm" // buf: [prepared PIN]
)

var registerStates = map[string]state{
	stResetPIN:     {read: (*hop).resetPIN, draw: func(h *hop) []string { return []string{h.t(kResetPIN)} }},
	stResetConfirm: {parent: stResetPIN, read: (*hop).resetConfirm, draw: prompt(kConfirmPIN)},
	stWelcome: {open: true, read: (*hop).welcome, draw: func(h *hop) []string {
		return []string{h.t(kWelcome), "1. " + h.t(kCreateAccount), "2. " + h.t(kSwitchLanguage)}
	}},
	stRegPIN:     {parent: stWelcome, open: true, read: (*hop).regPIN, draw: prompt(kChoosePIN)},
	stRegConfirm: {parent: stRegPIN, open: true, read: (*hop).regConfirm, draw: prompt(kConfirmPIN)},
}

func (h *hop) welcome(in string) {
	switch in {
	case "1":
		h.goTo(stRegPIN)
	case "2":
		h.switchLanguage()
	default:
		h.refuse(kInvalidChoice)
	}
}

func (h *hop) switchLanguage() {
	next := "sw"
	if h.lang() == "sw" {
		next = "en"
	}
	h.setLanguage(next)
}

func (h *hop) regPIN(in string) {
	p, err := h.e.wallet.PreparePIN(in)
	if errors.Is(err, wallet.ErrWeakPIN) {
		h.refuse(kPINWeak)
		return
	}
	if err != nil {
		h.sorry(err)
		return
	}
	h.goTo(stRegConfirm, string(p))
}

func (h *hop) regConfirm(in string) {
	if !h.confirmed(in, stRegPIN) {
		return
	}
	err := h.e.wallet.RegisterPrepared(h.ctx, h.user.ID, wallet.PreparedPIN(h.buf[0]))
	switch {
	case errors.Is(err, wallet.ErrAlreadyRegistered):
		h.finish(h.t(kAlreadyRegistered))
		return
	case err != nil:
		h.sorry(err)
		return
	}
	h.user.Status, h.user.PINHash = store.UserActive, h.buf[0]
	lines := []string{h.t(kRegistered, h.address())}
	if bal, err := h.e.wallet.Balance(h.ctx, h.user.ID); err == nil && bal >= 1000 {
		lines = append(lines, h.t(kWaitingFunds, sats(bal)))
	}
	h.finish(lines...)
}

func (h *hop) resetPIN(in string) {
	h.regPIN(in)
	if h.state == stRegConfirm {
		h.state = stResetConfirm
	}
}

func (h *hop) resetConfirm(in string) {
	if !h.confirmed(in, stResetPIN) {
		return
	}
	err := h.e.wallet.CompletePINReset(h.ctx, h.user.ID, wallet.PreparedPIN(h.buf[0]))
	switch {
	case errors.Is(err, wallet.ErrNoPINReset):
		h.goTo(stMain) // cancelled meanwhile: the old PIN stands
		return
	case err != nil:
		h.sorry(err)
		return
	}
	h.user.PINHash, h.user.PINResetAt = h.buf[0], nil
	h.finish(h.t(kPINChanged))
}

// confirmed reports whether in is the PIN prepared in the buffer; if not,
// the flow goes back to choosing one (state choose), saying why.
func (h *hop) confirmed(in, choose string) bool {
	if len(h.buf) == 1 && h.e.wallet.MatchesPrepared(in, wallet.PreparedPIN(h.buf[0])) {
		return true
	}
	h.goTo(choose)
	h.refuse(kPINMismatch)
	return false
}
