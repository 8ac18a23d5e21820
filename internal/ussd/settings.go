package ussd

import (
	"errors"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The settings flow: change the PIN, choose the language, and (with a
// Lightning node) name the user's Lightning Address.
const (
	stSettings   = "settings" // change PIN, language, Lightning Address
	stPINCurrent = "pin_current"
	stPINNew     = "pin_new"     // buf: [sealed authorization]
	stPINConfirm = "pin_confirm" // buf: [sealed authorization, prepared PIN]
	stLanguage   = "language"
	stLNAddress  = "ln_address"  // the user's address
	stLNNamePIN  = "ln_name_pin" // the PIN, before a name is chosen
	stLNName     = "ln_name"     // buf: [sealed authorization]; choose a name
)

var settingsStates = map[string]state{
	stSettings: {parent: stMain, read: (*hop).settings, draw: func(h *hop) []string {
		lines := []string{"1. " + h.t(kChangePIN), "2. " + h.t(kLanguage)}
		if h.e.cfg.Lightning != nil {
			lines = append(lines, "3. "+h.t(kLightningAddress))
		}
		return append(lines, h.t(kBack))
	}},
	stPINCurrent: {parent: stSettings, afterPIN: func(h *hop, auth wallet.Authorization) {
		h.goTo(stPINNew, h.e.wallet.SealAuthorization(auth))
	}, draw: prompt(kEnterCurrentPIN)},
	stPINNew:     {parent: stSettings, keep: 1, read: (*hop).pinNew, draw: prompt(kEnterNewPIN)},
	stPINConfirm: {parent: stPINNew, read: (*hop).pinConfirm, draw: prompt(kConfirmNewPIN)},
	stLanguage: {parent: stSettings, read: (*hop).language, draw: func(h *hop) []string {
		return []string{"1. English", "2. Kiswahili", h.t(kBack)}
	}},
	stLNAddress: {parent: stSettings, read: (*hop).lnAddress, draw: func(h *hop) []string {
		return []string{h.t(kYourAddress, h.address()), "1. " + h.t(kChooseName), h.t(kBack)}
	}},
	// A name is the user's for good (names are never given to someone
	// else), so choosing one takes the PIN, like moving money: whoever
	// holds the phone for a moment cannot use up the user's names.
	stLNNamePIN: {parent: stLNAddress, afterPIN: func(h *hop, auth wallet.Authorization) {
		h.goTo(stLNName, h.e.wallet.SealAuthorization(auth))
	}, draw: prompt(kEnterPIN)},
	stLNName: {parent: stLNAddress, read: (*hop).lnName, draw: prompt(kEnterName)},
}

func (h *hop) settings(in string) {
	switch in {
	case "1":
		h.goTo(stPINCurrent)
	case "2":
		h.goTo(stLanguage)
	case "3":
		if h.e.cfg.Lightning == nil {
			h.refuse(kInvalidChoice)
			return
		}
		h.goTo(stLNAddress)
	default:
		h.refuse(kInvalidChoice)
	}
}

func (h *hop) pinNew(in string) {
	p, err := h.e.wallet.PreparePIN(in)
	if errors.Is(err, wallet.ErrWeakPIN) {
		h.refuse(kPINWeak)
		return
	}
	if err != nil || len(h.buf) != 1 {
		h.sorry(errors.Join(err, errors.New("pin_new without its authorization")))
		return
	}
	h.goTo(stPINConfirm, h.buf[0], string(p))
}

func (h *hop) pinConfirm(in string) {
	if len(h.buf) != 2 {
		h.goTo(stSettings)
		return
	}
	if !h.e.wallet.MatchesPrepared(in, wallet.PreparedPIN(h.buf[1])) {
		h.goTo(stPINNew, h.buf[0])
		h.refuse(kPINMismatch)
		return
	}
	auth, err := h.e.wallet.OpenAuthorization(h.buf[0])
	if err != nil {
		h.finish(h.t(kAuthExpired))
		return
	}
	if err := h.e.wallet.SetPIN(h.ctx, auth, wallet.PreparedPIN(h.buf[1])); err != nil {
		h.sorry(err)
		return
	}
	h.finish(h.t(kPINChanged))
}

func (h *hop) language(in string) {
	switch in {
	case "1":
		h.setLanguage("en")
	case "2":
		h.setLanguage("sw")
	default:
		h.refuse(kInvalidChoice)
		return
	}
	if h.end == nil {
		h.goTo(stMain)
		h.refuse(kLanguageSaved)
	}
}

// setLanguage saves the user's language; the welcome's switch uses it too.
func (h *hop) setLanguage(lang string) {
	if err := h.e.wallet.SetLanguage(h.ctx, h.user.ID, lang); err != nil {
		h.sorry(err)
		return
	}
	h.user.Language = lang
}

func (h *hop) lnAddress(in string) {
	if in != "1" {
		h.refuse(kInvalidChoice)
		return
	}
	h.goTo(stLNNamePIN)
}

// lnName gives the user's address the name typed (read as lower case).
func (h *hop) lnName(in string) {
	if len(h.buf) != 1 {
		h.goTo(stLNAddress)
		return
	}
	auth, err := h.e.wallet.OpenAuthorization(h.buf[0])
	if err != nil || auth.UserID() != h.user.ID {
		h.finish(h.t(kAuthExpired))
		return
	}
	name, err := h.e.wallet.SetLightningName(h.ctx, auth.UserID(), in)
	switch {
	case errors.Is(err, wallet.ErrInvalidName):
		h.refuse(kNameInvalid)
	case errors.Is(err, wallet.ErrNameReserved):
		h.refuse(kNameReserved)
	case errors.Is(err, wallet.ErrNameTaken):
		h.refuse(kNameTaken)
	case errors.Is(err, wallet.ErrTooManyNames):
		h.finish(h.t(kNameLimit))
	case err != nil:
		h.sorry(err)
	default:
		h.user.LightningName = name
		h.finish(h.t(kNameSaved, h.address()))
	}
}
