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

// The states of a session: each is one screen waiting for input.
const (
	stWelcome     = "welcome"      // unregistered number
	stRegPIN      = "reg_pin"      // choose a PIN
	stRegConfirm  = "reg_confirm"  // buf: [prepared PIN]
	stMain        = "main"         // the main menu
	stSendTo      = "send_to"      // recipient's number
	stSendAmount  = "send_amount"  // buf: [recipient]
	stSendConfirm = "send_confirm" // buf: [recipient, sats]
	stSendPIN     = "send_pin"     // buf: [recipient, sats]
	stBalancePIN  = "balance_pin"
	stHistoryPIN  = "history_pin"
	stHistory     = "history"  // buf: [id of the newest row shown, id of the oldest]
	stSettings    = "settings" // change PIN, language, Lightning Address
	stPINCurrent  = "pin_current"
	stPINNew      = "pin_new"     // buf: [sealed authorization]
	stPINConfirm  = "pin_confirm" // buf: [sealed authorization, prepared PIN]
	stLanguage    = "language"

	// With a Lightning node:
	stReceive     = "receive"        // address or invoice
	stInvoiceAmt  = "invoice_amount" // an invoice by SMS
	stSendKind    = "send_kind"      // phone number or Lightning Address
	stSendAddress = "send_address"   // name@domain, or the name alone
	stSendDomain  = "send_domain"    // buf: [name]
	stLNAmount    = "ln_amount"      // buf: [address]
	stLNConfirm   = "ln_confirm"     // buf: [address, sats]
	stLNPIN       = "ln_pin"         // buf: [address, sats]
	stLNAddress   = "ln_address"     // Settings: the user's address
	stLNName      = "ln_name"        // choose a name for it
)

// parent is where "0" (back) leads from each state.
var parent = map[string]string{
	stRegPIN: stWelcome, stRegConfirm: stRegPIN,
	stSendTo: stMain, stSendAmount: stSendTo, stSendConfirm: stSendAmount, stSendPIN: stSendConfirm,
	stBalancePIN: stMain, stHistoryPIN: stMain, stHistory: stMain, stSettings: stMain,
	stPINCurrent: stSettings, stPINNew: stSettings, stPINConfirm: stPINNew, stLanguage: stSettings,
	stReceive: stMain, stInvoiceAmt: stReceive, stSendKind: stMain, stSendAddress: stSendKind, stSendDomain: stSendAddress,
	stLNAmount: stSendAddress, stLNConfirm: stLNAmount, stLNPIN: stLNConfirm,
	stLNAddress: stSettings, stLNName: stLNAddress,
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
}

func (h *hop) lang() string { return h.user.Language }

func (h *hop) t(k key, args ...any) string { return text(h.lang(), k, args...) }

func (h *hop) registered() bool {
	return h.user.Status != store.UserUnregistered && h.user.PINHash != ""
}

// home is the first screen of a user: the main menu, or the welcome.
func (h *hop) home() string {
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

// sorry ends the session with an apology after an internal error.
func (h *hop) sorry(err error) {
	h.e.log.Error("ussd hop failed", "phone", wallet.MaskPhone(h.phone), "state", h.state, "err", err)
	h.finish(h.t(kSorry))
}

// apply feeds one input to the current state.
func (h *hop) apply(in string) {
	switch in {
	case "00":
		h.goTo(h.home())
		return
	case "0":
		if p, ok := parent[h.state]; ok {
			if p == stMain && !h.registered() {
				p = stWelcome
			}
			h.goTo(p, h.backBuffer(p)...)
			return
		}
	}
	if h.state != stWelcome && h.state != stRegPIN && h.state != stRegConfirm && !h.registered() {
		h.goTo(stWelcome) // a stale state of a user who is not (yet) registered
	}
	switch h.state {
	case stWelcome:
		h.welcome(in)
	case stRegPIN:
		h.regPIN(in)
	case stRegConfirm:
		h.regConfirm(in)
	case stMain:
		h.mainMenu(in)
	case stSendTo:
		h.sendTo(in)
	case stSendAmount:
		h.sendAmount(in)
	case stSendConfirm:
		h.sendConfirm(in)
	case stSendPIN, stBalancePIN, stHistoryPIN, stPINCurrent, stLNPIN:
		h.pin(in)
	case stReceive:
		h.receive(in)
	case stInvoiceAmt:
		h.invoiceAmount(in)
	case stSendKind:
		h.sendKind(in)
	case stSendAddress:
		h.sendAddress(in)
	case stSendDomain:
		h.sendDomain(in)
	case stLNAmount:
		h.lnAmount(in)
	case stLNConfirm:
		h.lnConfirm(in)
	case stHistory:
		h.history(in)
	case stSettings:
		h.settings(in)
	case stPINNew:
		h.pinNew(in)
	case stPINConfirm:
		h.pinConfirm(in)
	case stLanguage:
		h.language(in)
	case stLNAddress:
		h.lnAddress(in)
	case stLNName:
		h.lnName(in)
	default:
		h.goTo(h.home())
	}
}

// backBuffer keeps what the state gone back to still needs.
func (h *hop) backBuffer(to string) []string {
	switch to {
	case stSendAmount, stLNAmount:
		return h.buf[:min(1, len(h.buf))]
	case stSendConfirm, stLNConfirm:
		return h.buf
	case stPINNew:
		return h.buf[:min(1, len(h.buf))]
	}
	return nil
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

func (h *hop) setLanguage(lang string) {
	if err := h.e.wallet.SetLanguage(h.ctx, h.user.ID, lang); err != nil {
		h.sorry(err)
		return
	}
	h.user.Language = lang
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
	if len(h.buf) != 1 || !h.e.wallet.MatchesPrepared(in, wallet.PreparedPIN(h.buf[0])) {
		h.goTo(stRegPIN)
		h.refuse(kPINMismatch)
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

// address is the user's Lightning Address: the name chosen in Settings, or
// the digits of the number (which keep working either way).
func (h *hop) address() string {
	name := h.user.LightningName
	if name == "" {
		name = wallet.LightningName(h.phone)
	}
	return name + "@" + h.e.cfg.Domain
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

func (h *hop) sendTo(in string) {
	to, err := wallet.NormalizePhone(in, h.e.wallet.Config().Region)
	if err != nil {
		h.refuse(kInvalidPhone)
		return
	}
	if to == h.phone {
		h.refuse(kSelfSend)
		return
	}
	h.goTo(stSendAmount, to)
}

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

func (h *hop) sendAmount(in string) {
	if n, ok := h.spendable(in, h.e.wallet.TransferFee); ok {
		h.goTo(stSendConfirm, h.buf[0], strconv.FormatInt(n, 10))
	}
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

func (h *hop) sendConfirm(in string) {
	if in != "1" {
		h.refuse(kInvalidChoice)
		return
	}
	h.goTo(stSendPIN, h.buf...)
}

// pin checks the PIN typed at any PIN screen, then does what that screen
// guards.
func (h *hop) pin(in string) {
	now := h.e.cfg.Now()
	if h.e.pins != nil && !h.e.pins.Allow(h.phone, now) {
		h.finish(h.t(kTooFast))
		return
	}
	auth, err := h.e.wallet.VerifyPIN(h.ctx, h.user.ID, in)
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
	case err != nil:
		h.sorry(err)
		return
	}
	switch h.state {
	case stSendPIN:
		h.send(auth)
	case stBalancePIN:
		h.showBalance()
	case stHistoryPIN:
		h.goTo(stHistory)
	case stPINCurrent:
		h.goTo(stPINNew, h.e.wallet.SealAuthorization(auth))
	case stLNPIN:
		h.payAddress(auth)
	}
}

func (h *hop) send(auth wallet.Authorization) {
	if len(h.buf) != 2 {
		h.goTo(stMain)
		return
	}
	to := h.buf[0]
	n, _ := parseSats(h.buf[1])
	_, err := h.e.wallet.Transfer(h.ctx, auth, to, n*1000, h.key)
	if h.refusedSpend(err) {
		return
	}
	if err != nil {
		h.sorry(err)
		return
	}
	bal, err := h.e.wallet.Balance(h.ctx, h.user.ID)
	if err != nil {
		h.sorry(err)
		return
	}
	h.finish(h.t(kSent, group(n), maskPhone(to), sats(bal)))
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
	default:
		return false
	}
	return true
}

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

func (h *hop) history(in string) {
	if in != "9" || len(h.buf) != 2 {
		h.refuse(kInvalidChoice)
		return
	}
	oldest, _ := strconv.ParseInt(h.buf[1], 10, 64)
	h.buf = []string{"", strconv.FormatInt(oldest, 10)}
	h.reason = ""
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

func (h *hop) lnAddress(in string) {
	if in != "1" {
		h.refuse(kInvalidChoice)
		return
	}
	h.goTo(stLNName)
}

// lnName gives the user's address the name typed (read as lower case).
func (h *hop) lnName(in string) {
	name, err := h.e.wallet.SetLightningName(h.ctx, h.user.ID, in)
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

// screen is what the hop shows: the final screen, or the current state's.
func (h *hop) screen() Screen {
	if h.end != nil {
		return *h.end
	}
	var lines []string
	if h.reason != "" {
		lines = append(lines, h.reason)
	}
	back := h.t(kBack)
	switch h.state {
	case stWelcome:
		lines = append(lines, h.t(kWelcome), "1. "+h.t(kCreateAccount), "2. "+h.t(kSwitchLanguage))
	case stRegPIN:
		lines = append(lines, h.t(kChoosePIN), back)
	case stRegConfirm:
		lines = append(lines, h.t(kConfirmPIN), back)
	case stMain:
		lines = append(lines, h.t(kMainTitle))
		for i, it := range h.menu() {
			lines = append(lines, strconv.Itoa(i+1)+". "+h.t(it.label))
		}
	case stSendTo:
		lines = append(lines, h.t(kEnterPhone), back)
	case stSendAmount:
		lines = append(lines, h.t(kEnterAmount), back)
	case stSendConfirm:
		n, _ := parseSats(h.buf[1])
		lines = append(lines, h.t(kConfirmSend, group(n), maskPhone(h.buf[0])),
			h.t(kFeeLine, sats(h.e.wallet.TransferFee(n*1000))), h.t(kConfirm), back)
	case stSendPIN, stBalancePIN, stHistoryPIN, stLNPIN:
		lines = append(lines, h.t(kEnterPIN), back)
	case stReceive:
		lines = append(lines, "1. "+h.t(kReceiveShowAddress), "2. "+h.t(kReceiveInvoice), back)
	case stInvoiceAmt, stLNAmount:
		lines = append(lines, h.t(kEnterAmount), back)
	case stSendKind:
		lines = append(lines, "1. "+h.t(kSendToPhone), "2. "+h.t(kSendToAddress), back)
	case stSendAddress:
		lines = append(lines, h.t(kEnterAddress), back)
	case stSendDomain:
		lines = append(lines, h.t(kEnterDomain), back)
	case stLNConfirm:
		n, _ := parseSats(h.buf[1])
		lines = append(lines, h.t(kConfirmPay, group(n), shortAddress(h.buf[0])), h.t(kFeeUpTo, sats(h.lnFee(n*1000))), h.t(kConfirm), back)
	case stPINCurrent:
		lines = append(lines, h.t(kEnterCurrentPIN), back)
	case stPINNew:
		lines = append(lines, h.t(kEnterNewPIN), back)
	case stPINConfirm:
		lines = append(lines, h.t(kConfirmNewPIN), back)
	case stSettings:
		lines = append(lines, "1. "+h.t(kChangePIN), "2. "+h.t(kLanguage))
		if h.e.cfg.Lightning != nil {
			lines = append(lines, "3. "+h.t(kLightningAddress))
		}
		lines = append(lines, back)
	case stLNAddress:
		lines = append(lines, h.t(kYourAddress, h.address()), "1. "+h.t(kChooseName), back)
	case stLNName:
		lines = append(lines, h.t(kEnterName), back)
	case stLanguage:
		lines = append(lines, "1. English", "2. Kiswahili", back)
	case stHistory:
		return h.historyScreen(lines)
	}
	return Screen{Lines: lines}
}

// historyScreen lists a page of transactions older than the page before.
func (h *hop) historyScreen(lines []string) Screen {
	var before int64
	if len(h.buf) == 2 {
		before, _ = strconv.ParseInt(h.buf[1], 10, 64)
	}
	page := h.e.cfg.HistoryPage
	rows, err := h.e.wallet.History(h.ctx, h.user.ID, before, page+1)
	if err != nil {
		h.sorry(err)
		return *h.end
	}
	if len(rows) == 0 {
		if before > 0 {
			lines = append(lines, h.t(kNoMoreHistory))
		} else {
			lines = append(lines, h.t(kHistoryEmpty))
		}
		return Screen{Lines: append(lines, h.t(kBack))}
	}
	more := len(rows) > page
	rows = rows[:min(len(rows), page)]
	for _, r := range rows {
		lines = append(lines, historyLine(h.lang(), r, h.e.wallet.Config().DayZone))
	}
	h.buf = []string{strconv.FormatInt(rows[0].ID, 10), strconv.FormatInt(rows[len(rows)-1].ID, 10)}
	if more {
		lines = append(lines, h.t(kMore))
	}
	return Screen{Lines: append(lines, h.t(kBack))}
}

// historyLine is one compact line: signed amount, who or what, date.
func historyLine(lang string, r store.Transaction, zone *time.Location) string {
	who := maskPhone(r.CounterpartyPhone)
	if r.CounterpartyPhone == "" {
		who = string(r.Type)
	}
	if r.Status != store.StatusCompleted {
		who += "(" + string(r.Status)[:4] + ")"
	}
	date := r.CreatedAt.In(zone).Format("02/01")
	if r.Direction == store.DirectionIn {
		return text(lang, kHistoryIn, sats(r.AmountMsat), who, date)
	}
	return text(lang, kHistoryOut, sats(r.AmountMsat+r.FeeMsat), who, date)
}

// maskPhone shows the country prefix and the last three digits of a number.
func maskPhone(p string) string {
	if len(p) < 9 {
		return wallet.MaskPhone(p)
	}
	return p[:5] + strings.Repeat("*", len(p)-8) + p[len(p)-3:]
}

// lnFee is the most a Lightning payment of amount costs: the service fee
// and the routing fee limit reserved for it.
func (h *hop) lnFee(amount int64) int64 {
	return h.e.wallet.ServiceFee(amount) + lightning.FeeLimit(amount)
}

func (h *hop) receive(in string) {
	switch in {
	case "1":
		h.finish(h.t(kReceiveAddress, h.address()))
	case "2":
		h.goTo(stInvoiceAmt)
	default:
		h.refuse(kInvalidChoice)
	}
}

// invoiceAmount issues an invoice on the node; its BOLT11 string goes out
// by SMS (through the outbox), since it cannot fit a screen.
func (h *hop) invoiceAmount(in string) {
	n, ok := parseSats(in)
	if !ok {
		h.refuse(kInvalidAmount)
		return
	}
	_, err := h.e.cfg.Lightning.Receiver.RequestInvoice(h.ctx, h.user.ID, n*1000, "Umeme "+wallet.MaskPhone(h.phone))
	var le *wallet.LimitError
	switch {
	case errors.As(err, &le):
		cfg := h.e.wallet.Config()
		h.refuse(kLimit, sats(cfg.MinAmountMsat), sats(cfg.MaxAmountMsat))
		return
	case errors.Is(err, lightning.ErrUnavailable):
		h.finish(h.t(kLightningDown))
		return
	case err != nil:
		h.sorry(err)
		return
	}
	h.finish(h.t(kInvoiceSent, group(n)))
}

func (h *hop) sendKind(in string) {
	switch in {
	case "1":
		h.goTo(stSendTo)
	case "2":
		h.goTo(stSendAddress)
	default:
		h.refuse(kInvalidChoice)
	}
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
