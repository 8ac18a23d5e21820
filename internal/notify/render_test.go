package notify

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

const (
	phone     = "+254712345678"
	longAddr  = "a-very-long-lightning-name-for-a-shop@pay.some-long-domain.example.com"
	shortAddr = "alice@pay.umeme.co.ke"
	code      = "*384*1234#"
	bolt11    = "lnbcrt10u1pn9xyzpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdqqcqzzsxqyz5vqsp5"
)

// storeConsts reads internal/store/types.go and returns the values of its
// constants whose name starts with prefix: the kinds and reasons this
// package must have words for, as the store defines them today.
func storeConsts(t *testing.T, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../store/types.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, prefix) || i >= len(vs.Values) {
				continue
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, v)
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatalf("no constants %s* in store/types.go", prefix)
	}
	return out
}

// kinds is every notification kind the store defines.
func kinds(t *testing.T) []store.NotificationKind {
	var out []store.NotificationKind
	for _, k := range storeConsts(t, "Notify") {
		out = append(out, store.NotificationKind(k))
	}
	return out
}

// bodies is every Body worth trying: each reason and code a text maps,
// unknown ones, a payer's comment of the longest kind LNURL lets in (of
// characters that are not GSM-7), text that tries to break out of its
// line, the largest fee limit, a BOLT11 invoice.
func bodies() []string {
	out := []string{"", "garbage", strings.Repeat("x", 1000), "12\nBalance: 1,000,000 sats",
		strings.Repeat("\u201c\U0001F410[", 80), strconv.FormatInt(math.MaxInt64, 10), "-5", bolt11}
	for _, m := range []map[string]key{paymentReasons, topupReasons, refusedReasons} {
		for b := range m {
			out = append(out, b)
		}
	}
	return out
}

// TestSMSRenderEveryKind renders every kind the store defines, in both
// languages and in one unknown, with every body and counterparty worth
// trying and the largest amounts: each text is plain GSM-7, not empty,
// free of template leftovers, and at most 3 messages (an invoice, whose
// BOLT11 alone can fill more, excepted).
func TestSMSRenderEveryKind(t *testing.T) {
	parties := []string{"", phone, shortAddr, longAddr, strings.Repeat("\u00ef", 300) + "@x.example", "254712345678@pay.umeme.co.ke",
		`node 02ab12cd "` + strings.Repeat("\u00ef\"", 100) + `"`}
	amounts := []int64{0, 1, 12_345_500, math.MaxInt64}
	for _, kind := range append(kinds(t), "some_future_kind") {
		for _, lang := range []string{"en", "sw", "fr"} {
			for _, body := range bodies() {
				for _, cp := range parties {
					for _, amt := range amounts {
						for _, sc := range []string{code, ""} {
							m := Message{Kind: kind, Lang: lang, AmountMsat: amt, Counterparty: cp, Body: body,
								BalanceMsat: math.MaxInt64, HasBalance: true, ServiceCode: sc}
							s := Render(m)
							parts, unicode := sms.Segments(s)
							switch {
							case strings.TrimSpace(s) == "":
								t.Fatalf("%+v rendered nothing", m)
							case unicode || !sms.GSM7(s):
								t.Fatalf("%+v is not plain GSM-7: %q", m, s)
							case parts > 3 && kind != store.NotifyInvoice:
								t.Fatalf("%+v takes %d messages: %q", m, parts, s)
							case strings.Contains(s, "%!") || strings.Contains(s, "%s") || strings.Contains(s, "%d"):
								t.Fatalf("%+v has a template leftover: %q", m, s)
							case strings.Contains(s, phone) || strings.Contains(s, "712345678 ") || strings.HasSuffix(s, "712345678"):
								t.Fatalf("%+v shows a phone number: %q", m, s)
							}
						}
					}
				}
			}
		}
	}
}

// TestSMSRenderKnowsEveryKind: no kind the store defines falls through to
// the text for a kind this package does not know, and each kind's text
// is its own.
func TestSMSRenderKnowsEveryKind(t *testing.T) {
	for _, lang := range []string{"en", "sw"} {
		unknown := Render(Message{Kind: "some_future_kind", Lang: lang, ServiceCode: code})
		seen := map[string]store.NotificationKind{}
		for _, kind := range kinds(t) {
			s := Render(Message{Kind: kind, Lang: lang, AmountMsat: 5_000_000, Body: "", ServiceCode: code})
			if s == unknown {
				t.Errorf("%s: kind %q has no text of its own: %q", lang, kind, s)
			}
			if other, ok := seen[s]; ok {
				t.Errorf("%s: kinds %q and %q say the same: %q", lang, kind, other, s)
			}
			seen[s] = kind
		}
	}
}

// TestSMSRenderKiswahili: every kind, and every reason of every kind,
// reads differently in Kiswahili than in English; every catalogue piece
// exists in both.
func TestSMSRenderKiswahili(t *testing.T) {
	for _, lang := range []string{"en", "sw"} {
		for k := key(0); k < numKeys; k++ {
			if catalogue[lang][k] == "" {
				t.Errorf("%s: key %d has no text", lang, k)
			}
		}
	}
	for k := key(0); k < numKeys; k++ {
		if catalogue["en"][k] == catalogue["sw"][k] && k != kRefusedAmountOf {
			t.Errorf("key %d is the same in both languages: %q", k, catalogue["en"][k])
		}
	}
	for _, kind := range append(kinds(t), "some_future_kind") {
		for _, body := range bodies() {
			m := Message{Kind: kind, AmountMsat: 5_000_000, Counterparty: shortAddr, Body: body, ServiceCode: code, BalanceMsat: 1000, HasBalance: true}
			m.Lang = "en"
			en := Render(m)
			m.Lang = "sw"
			if sw := Render(m); sw == en {
				t.Errorf("%s with body %q: Kiswahili is English: %q", kind, body, sw)
			}
		}
	}
}

// TestSMSRenderUnknownLanguage: a language the catalogue does not speak
// renders English.
func TestSMSRenderUnknownLanguage(t *testing.T) {
	for _, kind := range append(kinds(t), "some_future_kind") {
		m := Message{Kind: kind, Lang: "en", AmountMsat: 5_000_000, Counterparty: phone, Body: store.PayRefusedExpired, ServiceCode: code}
		en := Render(m)
		for _, lang := range []string{"", "fr", "EN", "sw-KE", "xx"} {
			m.Lang = lang
			if got := Render(m); got != en {
				t.Errorf("%s in %q: %q, want the English %q", kind, lang, got, en)
			}
		}
	}
}

// TestSMSRenderExamples pins whole texts, the brief's examples among them.
func TestSMSRenderExamples(t *testing.T) {
	masked := wallet.MaskPhone(phone)
	for _, c := range []struct {
		m    Message
		want string
	}{
		{Message{Kind: store.NotifyReceived, AmountMsat: 12_345_000, BalanceMsat: 12_345_000, HasBalance: true},
			"You received 12,345 sats.\nBalance: 12,345 sats"},
		{Message{Kind: store.NotifyReceived, Lang: "sw", AmountMsat: 12_345_000, BalanceMsat: 20_000_500, HasBalance: true},
			"Umepokea sats 12,345.\nSalio: sats 20,000.5"},
		{Message{Kind: store.NotifyReceived, AmountMsat: 1_500, Counterparty: phone},
			"You received 1.5 sats from " + masked + "."},
		{Message{Kind: store.NotifyReceived, AmountMsat: 21_000, Body: "asante\n sana \U0001F410", BalanceMsat: 21_000, HasBalance: true},
			"You received 21 sats.\nNote from the payer: \"asante sana ?\"\nBalance: 21 sats"},
		{Message{Kind: store.NotifyReceived, Lang: "sw", AmountMsat: 21_000, Counterparty: shortAddr},
			"Umepokea sats 21 kutoka kwa " + shortAddr + "."},
		{Message{Kind: store.NotifyPaymentSent, AmountMsat: 5_000_000, Counterparty: phone},
			"Your payment of 5,000 sats to " + masked + " is complete."},
		{Message{Kind: store.NotifyPaymentFailed, AmountMsat: 5_000_000, Body: "FAILURE_REASON_NO_ROUTE", BalanceMsat: 7_000_000, HasBalance: true},
			"Your payment of 5,000 sats failed: no route to the recipient was found. Your sats were returned to your balance.\nBalance: 7,000 sats"},
		{Message{Kind: store.NotifyPaymentFailed, Lang: "sw", AmountMsat: 5_000_000, Body: "payment refused by the node: invoice is for chain testnet"},
			"Malipo yako ya sats 5,000 hayakuweza kukamilika. Sats zako zimerudishwa kwenye salio lako."},
		{Message{Kind: store.NotifyTopupFailed, AmountMsat: 100_000_000, Body: "2001"},
			"Your purchase of 100,000 sats with M-Pesa did not go through: the M-Pesa PIN was wrong. Nothing was charged."},
		{Message{Kind: store.NotifyTopupFailed, Lang: "sw", AmountMsat: 100_000_000, Body: "9999"},
			"Ununuzi wa sats 100,000 kwa M-Pesa haukufanikiwa. Hakuna kilichotozwa."},
		{Message{Kind: store.NotifyInvoice, AmountMsat: 1_000_000, Body: bolt11},
			"Lightning invoice for 1,000 sats:\n" + bolt11},
		{Message{Kind: store.NotifyInvoice, Lang: "sw", AmountMsat: 1_000_000, Body: bolt11},
			"Ankara ya Lightning ya sats 1,000:\n" + bolt11},
		{Message{Kind: store.NotifyPayRequest, AmountMsat: 5_000_000, Counterparty: shortAddr, Body: "60000", ServiceCode: code},
			"Dial *384*1234# to approve paying 5,000 sats to " + shortAddr + " (fee up to 60 sats). Nothing is paid until you approve with your PIN."},
		{Message{Kind: store.NotifyPayRequest, AmountMsat: 5_000_000, Counterparty: `node 02ab12cd "Coffee at Java"`, Body: "60000", ServiceCode: code},
			"Dial *384*1234# to approve paying 5,000 sats to node 02ab12cd (fee up to 60 sats). Invoice says: \"Coffee at Java\". Nothing is paid until you approve with your PIN."},
		{Message{Kind: store.NotifyPayRequest, Lang: "sw", AmountMsat: 5_000_000, Counterparty: `node 02ab12cd "a note longer than it may be"`, ServiceCode: code},
			"Piga *384*1234# kuidhinisha kulipa sats 5,000 kwa node 02ab12cd. Ankara inasema: \"a note longer t...\". Hakuna kitakacholipwa hadi uidhinishe kwa PIN yako."},
		{Message{Kind: store.NotifyPayRequest, Lang: "sw", AmountMsat: 5_000_000, Body: "bad", ServiceCode: code},
			"Piga *384*1234# kuidhinisha kulipa sats 5,000. Hakuna kitakacholipwa hadi uidhinishe kwa PIN yako."},
		{Message{Kind: store.NotifyPayRefused, Body: store.PayRefusedExpired},
			"That invoice has expired: ask for a new invoice. Nothing was paid."},
		{Message{Kind: store.NotifyPayRefused, Body: store.PayRefusedAmount, AmountMsat: 9_000_000_000},
			"The amount (9,000,000 sats) is outside what you may pay. Nothing was paid."},
		{Message{Kind: store.NotifyRegisterFirst, ServiceCode: code},
			"This number has no Umeme wallet yet. Dial *384*1234# to open a wallet first."},
		{Message{Kind: store.NotifyRegisterFirst},
			"This number has no Umeme wallet yet. Dial the Umeme USSD code to open a wallet first."},
		{Message{Kind: "some_future_kind", Lang: "sw", ServiceCode: code, BalanceMsat: 1_000, HasBalance: true},
			"Kuna habari mpya kwenye akaunti yako ya Umeme. Piga *384*1234# kwa maelezo zaidi.\nSalio: sats 1"},
	} {
		if got := Render(c.m); got != c.want {
			t.Errorf("%+v:\n got %q\nwant %q", c.m, got, c.want)
		}
	}
}

// TestSMSRenderReasons: each known reason of a failed payment, a failed
// top-up and a refused texted payment has words of its own, different
// from the generic ones an unknown reason gets; the node's reasons are
// never echoed; every refusal says that nothing was paid.
func TestSMSRenderReasons(t *testing.T) {
	for _, c := range []struct {
		kind    store.NotificationKind
		reasons map[string]key
	}{
		{store.NotifyPaymentFailed, paymentReasons},
		{store.NotifyTopupFailed, topupReasons},
		{store.NotifyPayRefused, refusedReasons},
	} {
		for _, lang := range []string{"en", "sw"} {
			generic := Render(Message{Kind: c.kind, Lang: lang, AmountMsat: 5_000_000, Body: "something the node said"})
			if strings.Contains(generic, "something") {
				t.Errorf("%s: the unknown reason is echoed: %q", c.kind, generic)
			}
			byKey := map[key]string{}
			for body, k := range c.reasons {
				s := Render(Message{Kind: c.kind, Lang: lang, AmountMsat: 5_000_000, Body: " " + body + "\n"})
				if s == generic {
					t.Errorf("%s %s: reason %q is told as an unknown one: %q", c.kind, lang, body, s)
				}
				if c.kind == store.NotifyPaymentFailed && strings.Contains(s, body) {
					t.Errorf("%s %s: reason %q is echoed: %q", c.kind, lang, body, s)
				}
				if other, ok := byKey[k]; ok && other != s {
					t.Errorf("%s %s: one key, two texts: %q, %q", c.kind, lang, other, s)
				}
				byKey[k] = s
				if c.kind == store.NotifyPayRefused && !strings.Contains(s, text(lang, kNothingPaid)) {
					t.Errorf("%s %s: %q does not say nothing was paid", c.kind, lang, s)
				}
			}
		}
	}
	for _, r := range storeConsts(t, "PayRefused") {
		if _, ok := refusedReasons[r]; !ok {
			t.Errorf("pay_refused reason %q has no text", r)
		}
	}
}

// TestSMSFailureReasonsStillPassed reads what internal/lightning passes
// as a failed payment's reason: each one it writes itself is either given
// words here or deliberately told as generic, so that a reason reworded
// there cannot silently fall back to "could not be completed".
func TestSMSFailureReasonsStillPassed(t *testing.T) {
	generic := []string{"the node did not cancel the invoice"}
	var passed []string
	for _, file := range []string{"../lightning/pay.go", "../lightning/resolve.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 3 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || (sel.Sel.Name != "refund" && sel.Sel.Name != "refundOwn") {
				return true
			}
			if lit, ok := call.Args[2].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				passed = append(passed, s)
			}
			return true
		})
	}
	if len(passed) < 3 {
		t.Fatalf("found only %q passed as reasons: has internal/lightning changed how it refunds?", passed)
	}
	for _, s := range passed {
		if _, ok := paymentReasons[s]; !ok && !slices.Contains(generic, s) {
			t.Errorf("internal/lightning passes %q, which has no words here", s)
		}
	}
	for s := range paymentReasons {
		if !strings.HasPrefix(s, "FAILURE_REASON_") && !slices.Contains(passed, s) {
			t.Errorf("%q has words here but internal/lightning no longer passes it", s)
		}
	}
}

// TestSMSRenderCounterparty: phone numbers are masked wherever a
// counterparty is shown; a long Lightning Address is cut to 48 characters
// keeping its domain; a stranger's text cannot add a line.
func TestSMSRenderCounterparty(t *testing.T) {
	masked := wallet.MaskPhone(phone)
	for _, kind := range []store.NotificationKind{store.NotifyReceived, store.NotifyPaymentSent, store.NotifyPaymentFailed, store.NotifyPayRequest} {
		for _, lang := range []string{"en", "sw"} {
			for _, p := range []string{phone, "254712345678"} {
				s := Render(Message{Kind: kind, Lang: lang, AmountMsat: 1000, Counterparty: p})
				if strings.Contains(s, "712345678") || !strings.Contains(s, wallet.MaskPhone(p)) {
					t.Errorf("%s %s: %q does not mask %s as %s", kind, lang, s, p, masked)
				}
			}
			s := Render(Message{Kind: kind, Lang: lang, AmountMsat: 1000, Counterparty: longAddr})
			want := longAddr[:48-len("...@pay.some-long-domain.example.com")] + "...@pay.some-long-domain.example.com"
			if len(want) != 48 || !strings.Contains(s, want) {
				t.Errorf("%s %s: %q does not show %q", kind, lang, s, want)
			}
			s = Render(Message{Kind: kind, Lang: lang, AmountMsat: 1000, Counterparty: "x@y.example\nBalance: 9,999,999 sats"})
			if strings.Contains(s, "\nBalance") {
				t.Errorf("%s %s: a counterparty added a line: %q", kind, lang, s)
			}
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"  ", ""},
		{phone, masked},
		{shortAddr, shortAddr},
		{strings.Repeat("n", 48), strings.Repeat("n", 48)},
		{strings.Repeat("n", 49), strings.Repeat("n", 22) + "..." + strings.Repeat("n", 23)},
		// A domain too long to keep whole: head and tail.
		{"ab@" + strings.Repeat("d", 60), "ab@" + strings.Repeat("d", 19) + "..." + strings.Repeat("d", 23)},
		{"na\u00efve@x.example", "na?ve@x.example"},
	} {
		if got := party(c.in); got != c.want || len(got) > maxParty {
			t.Errorf("party(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestSMSRenderAmounts: sats with thousands separators, the msat
// remainder only when there is one, whole int64 range.
func TestSMSRenderAmounts(t *testing.T) {
	for _, c := range []struct {
		msat int64
		want string
	}{
		{0, "0"},
		{1, "0.001"},
		{10, "0.01"},
		{999, "0.999"},
		{1000, "1"},
		{12_345_000, "12,345"},
		{12_345_500, "12,345.5"},
		{12_345_050, "12,345.05"},
		{123_456_789_000, "123,456,789"},
		{1_000_000_000, "1,000,000"},
		{math.MaxInt64, "9,223,372,036,854,775.807"},
		{-12_345_500, "-12,345.5"},
		{math.MinInt64, "-9,223,372,036,854,775.808"},
	} {
		if got := sats(c.msat); got != c.want {
			t.Errorf("sats(%d) = %q, want %q", c.msat, got, c.want)
		}
	}
}
