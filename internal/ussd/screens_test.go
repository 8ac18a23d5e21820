package ussd

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/rates"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestCatalogue: every key has a string in every language, in GSM-7.
func TestCatalogue(t *testing.T) {
	for _, lang := range Languages {
		for k := key(0); k < numKeys; k++ {
			s := catalogue[lang][k]
			if s == "" {
				t.Errorf("%s: key %d has no text", lang, k)
			}
			if _, err := Render(Screen{Lines: []string{s}}); err != nil && !strings.Contains(err.Error(), "exceeds") {
				t.Errorf("%s: key %d: %v", lang, k, err)
			}
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	if _, err := Render(Screen{Lines: []string{strings.Repeat("a", MaxScreen-4)}}); err != nil {
		t.Fatalf("a screen of exactly %d characters: %v", MaxScreen, err)
	}
	if _, err := Render(Screen{Lines: []string{strings.Repeat("a", MaxScreen-3)}}); err == nil {
		t.Fatal("a screen one character too long was rendered")
	}
	if _, err := Render(Screen{Lines: []string{strings.Repeat("[", (MaxScreen-4)/2+1)}}); err == nil {
		t.Fatal("extension characters were counted once")
	}
	for _, bad := range []string{"“quoted”", "⚡", "naïve"} {
		if _, err := Render(Screen{Lines: []string{bad}}); err == nil {
			t.Errorf("%q rendered", bad)
		}
	}
	got, err := Render(Screen{Lines: []string{"a", "b"}, End: true})
	if err != nil || got != "END a\nb" {
		t.Fatalf("render: %q %v", got, err)
	}
}

// TestEveryScreenFits renders every state of every flow, in both
// languages, with every refusal line above it and the longest values the
// limits allow, plus every final screen: each must render (182 GSM-7
// characters at most).
func TestEveryScreenFits(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t, "sqlite")
	wcfg := wallet.DefaultConfig()
	wcfg.Argon2 = wallet.Argon2Params{Time: 1, Memory: 1024, Threads: 1}
	// Room for the six largest credits the history below is made of (an
	// operator's credit obeys the cap).
	wcfg.MaxBalanceMsat = 6 * wcfg.MaxAmountMsat
	w, err := wallet.New(ctx, db, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	// The M-Pesa screens at their widest: Daraja's largest amount at the
	// lowest rate the rates package accepts, the largest spread.
	fixed, err := rates.Fixed("1000")
	if err != nil {
		t.Fatal(err)
	}
	quoter := &rates.Quoter{Rates: fixed, SpreadBps: rates.MaxSpreadBps}
	mp := &Mpesa{Quoter: quoter, MinKES: 250_000, MaxKES: 250_000, MinWithdrawKES: 250_000}
	e := New(Config{Domain: "pay.umeme.co.ke", PINForBalance: true, Rate: rate(1e9), Lightning: &Lightning{}, Mpesa: mp}, w, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sellQuote, err := quoter.Sell(ctx, 250_000)
	if err != nil {
		t.Fatal(err)
	}
	longest := "+254712345678"
	u, _, err := w.EnsureUser(ctx, longest)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Register(ctx, u.ID, "7391"); err != nil {
		t.Fatal(err)
	}
	maxSats := wcfg.MaxAmountMsat / 1000
	for i := range 6 {
		if _, err := w.Adjust(ctx, longest, wcfg.MaxAmountMsat-int64(i), "x", "fund-"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	u, _ = w.UserByPhone(ctx, longest)
	// The longest name a user can choose shows on the address screens.
	longName := strings.Repeat("n", 20)
	if _, err := w.SetLightningName(ctx, u.ID, longName); err != nil {
		t.Fatal(err)
	}
	u.LightningName = longName
	reasons := []key{kInvalidChoice, kInvalidPhone, kInvalidAmount, kSelfSend, kPINWeak, kPINMismatch, kLanguageSaved, kInsufficientHave, kLimit, kWrongPIN,
		kNameInvalid, kNameReserved, kNameTaken, kInvalidKES, kKESLimit, kSMSPayRejected}
	reasonArgs := map[key][]any{kInsufficientHave: {sats(wcfg.MaxBalanceMsat)}, kLimit: {sats(wcfg.MinAmountMsat), sats(wcfg.MaxAmountMsat)}, kWrongPIN: {2},
		kKESLimit: {group(250_000), group(250_000)}}
	states := []string{stWelcome, stRegPIN, stRegConfirm, stMain, stSendTo, stSendAmount, stSendConfirm, stSendPIN, stBalancePIN,
		stHistoryPIN, stHistory, stSettings, stPINCurrent, stPINNew, stPINConfirm, stLanguage,
		stReceive, stInvoiceAmt, stSendKind, stSendAddress, stSendDomain, stLNAmount, stLNConfirm, stLNPIN, stLNAddress, stLNNamePIN, stLNName,
		stBuyAmount, stBuyConfirm, stSellAmount, stSellConfirm, stSellPIN, stSMSPay, stSMSPayPIN}
	// The longest payee a texted request can name: an address as long as
	// smspay takes. Another node's invoice names the node in short and
	// may carry a note, of at most maxNoteShown characters.
	longPayee := payeeShown(strings.Repeat("n", 32) + "@" + strings.Repeat("d", 27) + ".com")
	nodeWithNote := []string{payeeShown("node 02ab12cd"), strings.Repeat("W", maxNoteShown)}
	count := 0
	for _, lang := range Languages {
		u.Language = lang
		for _, st := range states {
			for _, r := range append([]key{-1}, reasons...) {
				h := &hop{e: e, ctx: ctx, user: u, phone: longest, state: st, buf: []string{"+254798765432", group(maxSats)}}
				if strings.HasPrefix(st, "ln_") {
					// The longest address the input rules let through.
					h.buf[0] = strings.Repeat("n", 32) + "@" + strings.Repeat("d", 36) + ".com"
				}
				if st == stSMSPay || st == stSMSPayPIN {
					h.buf = []string{"9223372036854775807", strconv.FormatInt(wcfg.MaxAmountMsat, 10), longPayee}
				}
				if st == stHistory {
					h.buf = nil
				}
				if st == stBuyConfirm || st == stSellConfirm || st == stSellPIN {
					// A quote of the longest numbers, with hours left.
					q := sellQuote
					q.FeeMsat, q.ExpiresAt = wcfg.MaxAmountMsat, time.Now().Add(99*time.Hour)
					h.buf = quoteBuf(q)
				}
				if r >= 0 {
					h.refuse(r, reasonArgs[r]...)
				}
				if _, err := Render(h.screen()); err != nil {
					t.Errorf("%s/%s with reason %d: %v", lang, st, r, err)
				}
				count++
			}
		}
		for _, st := range []string{stSMSPay, stSMSPayPIN} {
			for _, r := range append([]key{-1}, reasons...) {
				h := &hop{e: e, ctx: ctx, user: u, phone: longest, state: st,
					buf: append([]string{"9223372036854775807", strconv.FormatInt(wcfg.MaxAmountMsat, 10)}, nodeWithNote...)}
				if r >= 0 {
					h.refuse(r, reasonArgs[r]...)
				}
				if _, err := Render(h.screen()); err != nil {
					t.Errorf("%s/%s of another node's invoice with reason %d: %v", lang, st, r, err)
				}
				count++
			}
		}
		finals := [][]string{
			{text(lang, kRegistered, "254712345678@pay.umeme.co.ke"), text(lang, kWaitingFunds, sats(wcfg.MaxBalanceMsat))},
			{text(lang, kSent, group(maxSats), maskPhone(longest), sats(wcfg.MaxBalanceMsat))},
			{text(lang, kBalanceIs, sats(wcfg.MaxBalanceMsat)), text(lang, kBalanceKES, group(9_999_999_999))},
			{text(lang, kReceiveAddress, "254712345678@pay.umeme.co.ke")},
			{text(lang, kReceiveAddress, longName+"@pay.umeme.co.ke")},
			{text(lang, kNameSaved, longName+"@pay.umeme.co.ke")}, {text(lang, kNameLimit)},
			{text(lang, kLocked, time.Now().Format("15:04"))},
			{text(lang, kDailyLimit, sats(wcfg.DailyLimitMsat))},
			{text(lang, kLimit, sats(wcfg.MinAmountMsat), sats(wcfg.MaxAmountMsat))},
			{text(lang, kInsufficient)}, {text(lang, kFrozen)}, {text(lang, kTooFast)}, {text(lang, kSorry)},
			{text(lang, kPINChanged)}, {text(lang, kGoodbye)}, {text(lang, kAlreadyRegistered)}, {text(lang, kAuthExpired)},
			{text(lang, kInvoiceSent, group(maxSats))}, {text(lang, kLightningDown)}, {text(lang, kAddressFailed)}, {text(lang, kInvoiceAlreadyPaid)},
			{text(lang, kPaymentPending, group(maxSats), shortAddress(strings.Repeat("n", 32)+"@"+strings.Repeat("d", 36)+".com"))},
			{text(lang, kPaid, group(maxSats), shortAddress(strings.Repeat("n", 32)+"@"+strings.Repeat("d", 36)+".com"))},
			{text(lang, kBuyStarted, group(250_000))}, {text(lang, kSellStarted, group(250_000), maskPhone(longest))},
			{text(lang, kRatesDown)}, {text(lang, kQuoteExpired)}, {text(lang, kMpesaBusy)}, {text(lang, kMpesaDown)},
			{text(lang, kMpesaRefused)}, {text(lang, kBuyOverCap)},
			{text(lang, kSMSPayClosed)}, {text(lang, kSMSPayExpired)},
			{text(lang, kPaid, group(maxSats), longPayee)}, {text(lang, kPaymentPending, group(maxSats), longPayee)},
		}
		for _, lines := range finals {
			if _, err := Render(Screen{Lines: lines, End: true}); err != nil {
				t.Errorf("%s final screen: %v", lang, err)
			}
			count++
		}
		// The longest history line: the largest amounts, a pending status.
		line := historyLine(lang, store.Transaction{Direction: store.DirectionOut, AmountMsat: wcfg.MaxAmountMsat, FeeMsat: wcfg.MaxAmountMsat,
			CounterpartyPhone: longest, Status: store.StatusPending, CreatedAt: time.Now()}, wcfg.DayZone)
		lines := []string{}
		for range e.cfg.HistoryPage {
			lines = append(lines, line)
		}
		if _, err := Render(Screen{Lines: append(lines, text(lang, kMore), text(lang, kBack))}); err != nil {
			t.Errorf("%s: a full history page of the longest lines: %v", lang, err)
		}
	}
	t.Logf("%d screens rendered", count)
}

type rate float64

func (r rate) KESPerBTC() (float64, bool) { return float64(r), true }
