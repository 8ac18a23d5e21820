package ussd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// state is one screen of a flow, waiting for input: everything the engine
// knows about it is in its entry of states, so that a new screen is one
// entry in its flow's file plus its catalogue lines.
type state struct {
	// parent is where "0" (back) leads; empty when "0" is an ordinary
	// input there.
	parent string
	// keep is how much of the buffer the state still needs when "0" leads
	// back to it from a state after it: that many leading entries, or
	// keepAll. The rest is dropped.
	keep int
	// open states are shown to a number without an account; any other
	// state of such a number falls back to the welcome.
	open bool
	// read takes one input typed at the state. A PIN state has none: the
	// engine checks the PIN and then runs afterPIN.
	read func(h *hop, in string)
	// afterPIN, when set, makes the state a PIN screen, and is what the
	// correct PIN unlocks, with the authorization it gave.
	afterPIN func(h *hop, auth wallet.Authorization)
	// draw gives the state's lines, below the reason a refused input left.
	// A draw that cannot make its screen ends the hop (sorry) instead.
	draw func(h *hop) []string
}

// keepAll keeps the whole buffer when "0" leads back to a state.
const keepAll = -1

// states is every state of every flow, by name (the name is what the
// session row stores). Each flow file declares its own states.
var states = merge(registerStates, menuStates, sendStates, lnpayStates, receiveStates,
	balanceStates, historyStates, settingsStates, mpesaStates, smspayStates)

// merge joins the flows' tables, refusing a name declared twice.
func merge(flows ...map[string]state) map[string]state {
	all := map[string]state{}
	for _, f := range flows {
		for name, st := range f {
			if _, dup := all[name]; dup {
				panic(fmt.Sprintf("ussd: state %q declared twice", name))
			}
			all[name] = st
		}
	}
	return all
}

// prompt draws a state that asks for one value: the question, and the way
// back.
func prompt(k key) func(h *hop) []string {
	return func(h *hop) []string { return []string{h.t(k), h.t(kBack)} }
}

// hop is the work of one request: the session's state, changed input by
// input, and finally the screen to show.
type hop struct {
	e     *Engine
	ctx   context.Context
	user  store.User
	phone string
	state string
	buf   []string
	key   string // idempotency key of money moved by this hop

	reason string  // one line shown above the screen (why input was refused)
	end    *Screen // a final screen, when the session is over
	failed bool    // the hop ended in an apology (sorry)
}

func (h *hop) lang() string { return h.user.Language }

func (h *hop) t(k key, args ...any) string { return text(h.lang(), k, args...) }

func (h *hop) registered() bool {
	return h.user.Status != store.UserUnregistered && h.user.PINHash != ""
}

// home is the first screen of a user: the main menu, or the welcome.
func (h *hop) home() string {
	if h.registered() && h.e.wallet.PINResetDue(h.user) {
		return stResetPIN
	}
	if h.registered() {
		return stMain
	}
	return stWelcome
}

func (h *hop) goTo(state string, buf ...string) {
	h.state, h.buf, h.reason = state, buf, ""
}

func (h *hop) refuse(k key, args ...any) { h.reason = h.t(k, args...) }

func (h *hop) finish(lines ...string) { h.end = &Screen{Lines: lines, End: true} }

// sorry ends the session with an apology after an internal error. Money
// whose move could not be confirmed either way (wallet.ErrOutcomeUnknown)
// gets no "try again": the user is told to look at the balance first, or
// a retry could pay twice.
func (h *hop) sorry(err error) {
	h.e.log.Error("ussd hop failed", "phone", wallet.MaskPhone(h.phone), "state", h.state, "err", err)
	h.failed = true
	if errors.Is(err, wallet.ErrOutcomeUnknown) {
		h.finish(h.t(kUnconfirmed))
		return
	}
	h.finish(h.t(kSorry))
}

// apply feeds one input to the current state.
func (h *hop) apply(in string) {
	switch in {
	case "00":
		h.goTo(h.home())
		return
	case "0":
		if p := states[h.state].parent; p != "" {
			if p == stMain && !h.registered() {
				p = stWelcome
			}
			h.goTo(p, h.backBuffer(p)...)
			return
		}
	}
	if !states[h.state].open && !h.registered() {
		h.goTo(stWelcome) // a stale state of a user who is not (yet) registered
	}
	st, ok := states[h.state]
	switch {
	case !ok:
		h.goTo(h.home())
	case st.afterPIN != nil:
		h.pin(in, st.afterPIN)
	default:
		st.read(h, in)
	}
}

// backBuffer keeps what the state gone back to still needs.
func (h *hop) backBuffer(to string) []string {
	switch keep := states[to].keep; {
	case keep == keepAll:
		return h.buf
	case keep > 0:
		return h.buf[:min(keep, len(h.buf))]
	}
	return nil
}

// pin checks the PIN typed at a PIN screen, then does what that screen
// guards.
func (h *hop) pin(in string, then func(h *hop, auth wallet.Authorization)) {
	now := h.e.cfg.Now()
	if h.e.pins != nil && !h.e.pins.Allow(h.phone, now) {
		h.finish(h.t(kTooFast))
		return
	}
	auth, err := h.e.wallet.VerifyUserPIN(h.ctx, h.user, in)
	var pe *wallet.PINError
	switch {
	case errors.As(err, &pe) && errors.Is(err, wallet.ErrAccountLocked):
		h.finish(h.t(kLocked, pe.LockedUntil.In(h.e.wallet.Config().DayZone).Format("15:04")))
		return
	case errors.As(err, &pe):
		h.refuse(kWrongPIN, pe.Remaining)
		return
	case errors.Is(err, wallet.ErrAccountLocked):
		h.finish(h.t(kFrozen))
		return
	case errors.Is(err, wallet.ErrPINResetDue):
		h.goTo(stResetPIN)
		return
	case err != nil:
		h.sorry(err)
		return
	}
	then(h, auth)
}

// screen is what the hop shows: the final screen, or the current state's.
func (h *hop) screen() Screen {
	if h.end != nil {
		return *h.end
	}
	var lines []string
	if h.reason != "" {
		lines = append(lines, h.reason)
	}
	if st, ok := states[h.state]; ok {
		lines = append(lines, st.draw(h)...)
	}
	if h.end != nil {
		return *h.end
	}
	return Screen{Lines: lines}
}

// address is the user's Lightning Address: the name chosen in Settings, or
// the digits of the number (which keep working either way).
func (h *hop) address() string {
	name := h.user.LightningName
	if name == "" {
		name = wallet.LightningName(h.phone)
	}
	return name + "@" + h.e.cfg.Domain
}

// maskPhone shows the country prefix and the last three digits of a number.
func maskPhone(p string) string {
	if len(p) < 9 {
		return wallet.MaskPhone(p)
	}
	return p[:5] + strings.Repeat("*", len(p)-8) + p[len(p)-3:]
}
