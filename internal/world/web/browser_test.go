package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/umeme-wallet/umeme/internal/world/browsertest"
)

// open serves the page and the fake API, and loads the page in a fresh
// browser once both phones are drawn. The fake is made first so that the
// browser is stopped before the server behind it (cleanups run in reverse).
func open(t *testing.T) (context.Context, *fake) {
	t.Helper()
	f := newFake(t)
	ctx := browsertest.Start(t)
	browsertest.Do(t, ctx, chromedp.Navigate(f.srv.URL+"/"))
	browsertest.WaitJS(t, ctx, "both phones", `document.body.dataset.ready === "true" &&
		document.querySelectorAll("[data-phone]").length === 2`)
	return ctx, f
}

// in is the CSS selector of something inside a phone.
func in(phone, sel string) string { return fmt.Sprintf(`[data-phone=%q] %s`, phone, sel) }

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(sel)))
}

func clickKeys(t *testing.T, ctx context.Context, phone, keys string) {
	t.Helper()
	for _, k := range keys {
		click(t, ctx, in(phone, fmt.Sprintf(`.keypad button[data-key=%q]`, string(k))))
	}
}

func keys(t *testing.T, ctx context.Context, k string) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.KeyEvent(k))
}

// waitProp waits until a property of the element (textContent, value,
// innerText, ...) equals want, and says what it was if it never does.
func waitProp(t *testing.T, ctx context.Context, sel, prop, want string) {
	t.Helper()
	expr := fmt.Sprintf(`(document.querySelector(%s) || {})[%s] === %s`, js(sel), js(prop), js(want))
	if err := browsertest.Wait(ctx, expr); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[any](
			fmt.Sprintf(`(document.querySelector(%s) || {})[%s]`, js(sel), js(prop))))
		t.Fatalf("%s .%s = %q, want %q (%v)", sel, prop, got, want, err)
	}
}

func waitScreen(t *testing.T, ctx context.Context, phone, want string) {
	t.Helper()
	waitProp(t, ctx, in(phone, ".screen"), "textContent", want)
}

func waitEntry(t *testing.T, ctx context.Context, phone, want string) {
	t.Helper()
	waitProp(t, ctx, in(phone, ".entry"), "value", want)
}

// answered waits for the n-th USSD hop at the simulator and then for the
// page to have shown its answer: the phone is busy from before the request
// until the reply is on the screen, and its keys are dead meanwhile.
func answered(t *testing.T, ctx context.Context, f *fake, n int) hop {
	t.Helper()
	h := f.hop(t, n)
	browsertest.WaitJS(t, ctx, fmt.Sprintf("phone %s to show the answer to hop %d", h.Phone, n),
		fmt.Sprintf(`!document.querySelector(%s).classList.contains("busy")`, js(fmt.Sprintf(`[data-phone=%q]`, h.Phone))))
	return h
}

func wantHop(t *testing.T, got hop, want hop) {
	t.Helper()
	if got.Phone != want.Phone || got.Input != want.Input || got.Text != want.Text || got.Dial != want.Dial {
		t.Fatalf("USSD hop = %+v, want phone %s input %q text %q dial %v",
			got, want.Phone, want.Input, want.Text, want.Dial)
	}
}

// Clicks on the keypad, Send and Dial reach the API as the gateway's hops,
// and the screen shows each CON text exactly, line breaks and all.
func TestBrowserKeypadReachesTheAPI(t *testing.T) {
	ctx, f := open(t)

	click(t, ctx, in(phoneA, "button.dial"))
	first := answered(t, ctx, f, 1)
	wantHop(t, first, hop{Phone: phoneA, Input: "", Text: "", Dial: true})
	waitScreen(t, ctx, phoneA, menuText)
	// The handset keeps the server's line breaks: what is rendered, not
	// just what is stored, has them.
	waitProp(t, ctx, in(phoneA, ".screen"), "innerText", menuText)
	ws := browsertest.Run(t, ctx, chromedp.Evaluate[string](
		fmt.Sprintf(`getComputedStyle(document.querySelector(%s)).whiteSpace`, js(in(phoneA, ".screen")))))
	if ws != "pre-wrap" {
		t.Errorf(".screen white-space = %q, want pre-wrap", ws)
	}

	clickKeys(t, ctx, phoneA, "1")
	waitEntry(t, ctx, phoneA, "1")
	click(t, ctx, in(phoneA, "button.send"))
	wantHop(t, answered(t, ctx, f, 2), hop{Phone: phoneA, Input: "1", Text: "1"})
	waitScreen(t, ctx, phoneA, "Send to phone number:")
	waitEntry(t, ctx, phoneA, "")

	clickKeys(t, ctx, phoneA, "0722000002")
	waitEntry(t, ctx, phoneA, "0722000002")
	click(t, ctx, in(phoneA, "button.send"))
	wantHop(t, answered(t, ctx, f, 3), hop{Phone: phoneA, Input: "0722000002", Text: "1*0722000002"})
	waitScreen(t, ctx, phoneA, "Amount in sats:")
	browsertest.Shot(t, ctx, "keypad")

	clickKeys(t, ctx, phoneA, "1500")
	click(t, ctx, in(phoneA, "button.send"))
	last := answered(t, ctx, f, 4)
	wantHop(t, last, hop{Phone: phoneA, Input: "1500", Text: "1*0722000002*1500"})
	if last.SessionID != first.SessionID {
		t.Errorf("the answers went to session %s, the dial opened %s", last.SessionID, first.SessionID)
	}
	waitScreen(t, ctx, phoneA, "Sent 1500 sats to 0722000002.")
	waitState(t, ctx, phoneA, "ended")
	// The phone on the right saw none of it.
	if got := browsertest.Run(t, ctx, chromedp.Evaluate[string](
		fmt.Sprintf(`document.querySelector(%s).dataset.state`, js(fmt.Sprintf(`[data-phone=%q]`, phoneB))))); got != "idle" {
		t.Errorf("phone B is %q, want idle", got)
	}
}

// waitState waits for the phone's screen state: idle, open or ended.
func waitState(t *testing.T, ctx context.Context, phone, want string) {
	t.Helper()
	sel := fmt.Sprintf(`[data-phone=%q]`, phone)
	if err := browsertest.Wait(ctx, fmt.Sprintf(`document.querySelector(%s).dataset.state === %s`, js(sel), js(want))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%s).dataset.state`, js(sel))))
		t.Fatalf("phone %s is %q, want %q (%v)", phone, got, want, err)
	}
}

// The keyboard types into the selected phone: digits, * and # (into the
// entry whether or not it has the focus), Backspace, Enter sends and
// Escape cancels.
func TestBrowserKeyboardReachesTheAPI(t *testing.T) {
	ctx, f := open(t)
	phone := fmt.Sprintf(`[data-phone=%q]`, phoneB)

	// The phone itself has the focus, not its entry line.
	browsertest.Do(t, ctx, chromedp.Focus(chromedp.CSS(phone)))
	keys(t, ctx, kb.Enter)
	wantHop(t, answered(t, ctx, f, 1), hop{Phone: phoneB, Input: "", Text: "", Dial: true})
	waitScreen(t, ctx, phoneB, menuText)

	browsertest.Do(t, ctx, chromedp.Focus(chromedp.CSS(phone)))
	keys(t, ctx, "2")
	waitEntry(t, ctx, phoneB, "2")
	keys(t, ctx, kb.Enter)
	wantHop(t, answered(t, ctx, f, 2), hop{Phone: phoneB, Input: "2", Text: "2"})
	waitScreen(t, ctx, phoneB, "Buy how many KES?")

	// After an answer the entry line has the focus: the same keys type
	// into it, natively.
	keys(t, ctx, "5*#")
	waitEntry(t, ctx, phoneB, "5*#")
	keys(t, ctx, kb.Backspace+kb.Backspace+"00")
	waitEntry(t, ctx, phoneB, "500")
	browsertest.Do(t, ctx, chromedp.Focus(chromedp.CSS(phone)))
	keys(t, ctx, "#"+kb.Backspace)
	waitEntry(t, ctx, phoneB, "500")
	keys(t, ctx, kb.Enter)
	wantHop(t, answered(t, ctx, f, 3), hop{Phone: phoneB, Input: "500", Text: "2*500"})
	waitScreen(t, ctx, phoneB, "Enter your M-Pesa PIN on the prompt to pay KES 500.")
	waitState(t, ctx, phoneB, "ended")

	// Escape on an END screen only puts it away; on an open one it ends
	// the session at the simulator.
	keys(t, ctx, kb.Escape)
	waitState(t, ctx, phoneB, "idle")
	keys(t, ctx, kb.Enter)
	wantHop(t, answered(t, ctx, f, 4), hop{Phone: phoneB, Input: "", Text: "", Dial: true})
	waitState(t, ctx, phoneB, "open")
	keys(t, ctx, "9"+kb.Escape)
	f.waitFor(t, "a cancel from phone B", func() bool { return slices.Contains(f.cancels, phoneB) })
	waitState(t, ctx, phoneB, "idle")
	waitEntry(t, ctx, phoneB, "")
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.hops) != 4 || len(f.cancels) != 1 {
		t.Errorf("the simulator saw %d hops and cancels %v, want 4 hops and one cancel", len(f.hops), f.cancels)
	}
	if _, open := f.sessions[phoneB]; open {
		t.Error("phone B's session is still open at the simulator after Escape")
	}
}

// An END screen closes the session: it stays on the screen, and the next
// Send (or Enter) dials anew, with a new session.
func TestBrowserEndThenNextKeyDialsAnew(t *testing.T) {
	ctx, f := open(t)

	click(t, ctx, in(phoneA, "button.dial"))
	first := answered(t, ctx, f, 1)
	clickKeys(t, ctx, phoneA, "3")
	click(t, ctx, in(phoneA, "button.send"))
	wantHop(t, answered(t, ctx, f, 2), hop{Phone: phoneA, Input: "3", Text: "3"})
	waitScreen(t, ctx, phoneA, "Balance: 1,000 sats\n(KES 1)")
	waitState(t, ctx, phoneA, "ended")
	browsertest.Shot(t, ctx, "end")

	click(t, ctx, in(phoneA, "button.send"))
	again := answered(t, ctx, f, 3)
	wantHop(t, again, hop{Phone: phoneA, Input: "", Text: "", Dial: true})
	if again.SessionID == first.SessionID {
		t.Errorf("the dial after END reused session %s", first.SessionID)
	}
	waitScreen(t, ctx, phoneA, menuText)
	waitState(t, ctx, phoneA, "open")

	// The same from the keyboard.
	clickKeys(t, ctx, phoneA, "0")
	keys(t, ctx, kb.Enter)
	wantHop(t, answered(t, ctx, f, 4), hop{Phone: phoneA, Input: "0", Text: "0"})
	waitScreen(t, ctx, phoneA, "Goodbye.")
	keys(t, ctx, kb.Enter)
	wantHop(t, answered(t, ctx, f, 5), hop{Phone: phoneA, Input: "", Text: "", Dial: true})
	waitScreen(t, ctx, phoneA, menuText)

	// A digit on an END screen puts it away and starts typing.
	clickKeys(t, ctx, phoneA, "0")
	click(t, ctx, in(phoneA, "button.send"))
	waitScreen(t, ctx, phoneA, "Goodbye.")
	clickKeys(t, ctx, phoneA, "7")
	waitState(t, ctx, phoneA, "idle")
	waitEntry(t, ctx, phoneA, "7")
}

// Messages the server sent show in the phone's inbox, newest last, with
// their delivery status; M-Pesa's own texts beside them; and the phone can
// text the service.
func TestBrowserSMSInbox(t *testing.T) {
	ctx, f := open(t)

	f.sendSMS(phoneA, "You received 1,000 sats from 0722000002.", "Success")
	browsertest.WaitJS(t, ctx, "one SMS", fmt.Sprintf(`document.querySelectorAll(%s).length === 1`, js(in(phoneA, ".inbox .sms"))))
	waitProp(t, ctx, in(phoneA, ".inbox .sms:last-child .sms-text"), "textContent", "You received 1,000 sats from 0722000002.")
	waitProp(t, ctx, in(phoneA, ".inbox .sms:last-child .sms-status"), "textContent", "Success")

	f.sendSMS(phoneA, "Pay 2,000 sats:\nlnbcrt20u1pfake", "Sent")
	browsertest.WaitJS(t, ctx, "two SMS", fmt.Sprintf(`document.querySelectorAll(%s).length === 2`, js(in(phoneA, ".inbox .sms"))))
	waitProp(t, ctx, in(phoneA, ".inbox .sms:last-child .sms-text"), "textContent", "Pay 2,000 sats:\nlnbcrt20u1pfake")
	waitProp(t, ctx, in(phoneA, ".inbox .sms:last-child .sms-status"), "textContent", "Sent")
	waitProp(t, ctx, in(phoneA, ".badge"), "textContent", "✉ 2")
	if n := browsertest.Run(t, ctx, chromedp.Evaluate[int](
		fmt.Sprintf(`document.querySelectorAll(%s).length`, js(in(phoneB, ".inbox .sms"))))); n != 0 {
		t.Errorf("phone B shows %d of phone A's messages", n)
	}

	f.update(func() {
		f.mpesa[phoneA] = append(f.mpesa[phoneA], mpesaJSON{
			Text: "SIM3ABC Confirmed. You have received Ksh500.00 from Umeme", At: "2026-12-06T14:05:01Z",
		})
	})
	browsertest.WaitJS(t, ctx, "the M-Pesa text", fmt.Sprintf(`[...document.querySelectorAll(%s)].some(e => e.textContent.includes("SIM3ABC Confirmed"))`,
		js(in(phoneA, ".mpesa .mpesa-msg"))))
	browsertest.Shot(t, ctx, "inbox")

	browsertest.Do(t, ctx, chromedp.SendKeys(chromedp.CSS(in(phoneA, ".compose textarea")), "pay lnbcrt5u1pfake"))
	click(t, ctx, in(phoneA, "button.text-service"))
	f.waitFor(t, "the SMS to the service", func() bool { return len(f.inbound) == 1 })
	f.mu.Lock()
	got := f.inbound[0]
	f.mu.Unlock()
	if got != (inboundSMS{phoneA, "pay lnbcrt5u1pfake"}) {
		t.Errorf("the service got %+v", got)
	}
	waitProp(t, ctx, in(phoneA, ".compose textarea"), "value", "")
}

// The M-Pesa prompt appears on its phone only, and each button posts its
// action and puts the prompt away.
func TestBrowserSTKPrompt(t *testing.T) {
	ctx, f := open(t)
	const text = "Enter M-Pesa PIN to pay KES 500 to Umeme"
	stkVisible := func(phone string) string {
		return fmt.Sprintf(`(e => e && !e.hidden && e.offsetHeight > 0)(document.querySelector(%s))`, js(in(phone, ".stk")))
	}

	for i, action := range []string{"cancel", "wrongpin", "ignore", "approve"} {
		id := fmt.Sprintf("ws_CO_test%d", i)
		f.prompt(phoneA, id, text)
		browsertest.WaitJS(t, ctx, "the prompt for "+action, stkVisible(phoneA))
		waitProp(t, ctx, in(phoneA, ".stk .stk-text"), "textContent", text)
		if browsertest.Run(t, ctx, chromedp.Evaluate[bool](stkVisible(phoneB))) {
			t.Fatalf("phone B shows phone A's prompt")
		}
		if action == "approve" {
			browsertest.Shot(t, ctx, "stk")
		}
		click(t, ctx, in(phoneA, fmt.Sprintf(`.stk button[data-stk=%q]`, action)))
		f.waitFor(t, "the answer "+action, func() bool { return len(f.answers) == i+1 })
		f.mu.Lock()
		got := f.answers[i]
		f.mu.Unlock()
		if got != (stkAnswer{id, action}) {
			t.Errorf("answer %d = %+v, want %s for %s", i, got, action, id)
		}
		browsertest.WaitJS(t, ctx, "the prompt gone after "+action, "!"+stkVisible(phoneA))
	}

	// A prompt the server raised from a USSD purchase shows too.
	click(t, ctx, in(phoneB, "button.dial"))
	answered(t, ctx, f, 1)
	clickKeys(t, ctx, phoneB, "2")
	click(t, ctx, in(phoneB, "button.send"))
	answered(t, ctx, f, 2)
	clickKeys(t, ctx, phoneB, "750")
	click(t, ctx, in(phoneB, "button.send"))
	answered(t, ctx, f, 3)
	browsertest.WaitJS(t, ctx, "the purchase's prompt", stkVisible(phoneB))
	waitProp(t, ctx, in(phoneB, ".stk .stk-text"), "textContent", "Enter M-Pesa PIN to pay KES 750 to Umeme")
}

// The world panel shows the node and the operator's books, makes an invoice,
// shows it waiting and then paid, texts it from a phone, and pays an invoice
// or a Lightning Address.
func TestBrowserWorldPanel(t *testing.T) {
	ctx, f := open(t)

	waitProp(t, ctx, "#world-balance", "textContent", "8,999,000")
	waitProp(t, ctx, "#world-channel", "textContent", "1,000,000")
	waitProp(t, ctx, "#operator-liabilities", "textContent", "12,345")
	browsertest.WaitJS(t, ctx, "the user's row", fmt.Sprintf(
		`(r => r && r.textContent.includes("active") && r.textContent.includes("12,345"))(document.querySelector(%s))`,
		js(fmt.Sprintf(`#operator-users tr[data-user=%q]`, phoneA))))
	browsertest.WaitJS(t, ctx, "the reconcile text", `document.querySelector("#reconcile").textContent.includes("books balance")`)
	browsertest.WaitJS(t, ctx, "a system account", `document.querySelector("#operator-system").textContent.includes("-12,345 sats")`)

	browsertest.Do(t, ctx,
		chromedp.SetValue(chromedp.CSS("#world-invoice-sats"), "1500"),
		chromedp.SendKeys(chromedp.CSS("#world-invoice-memo"), "coffee"),
	)
	click(t, ctx, "#world-make-invoice")
	f.waitFor(t, "an invoice request", func() bool { return len(f.invoices) == 1 })
	f.mu.Lock()
	inv := f.invoices[0]
	f.mu.Unlock()
	if inv.Sats != 1500 || inv.Memo != "coffee" {
		t.Errorf("invoice request = %+v, want 1500 sats for coffee", inv)
	}
	browsertest.WaitJS(t, ctx, "the invoice", fmt.Sprintf(`(e => !e.hidden && e.textContent.includes(%s))(document.querySelector("#world-invoice-out"))`, js(inv.Invoice)))
	click(t, ctx, "#world-invoice-copy")
	browsertest.WaitJS(t, ctx, "the copy", `/Copied|Selected/.test(document.querySelector("#world-invoice-copy").textContent)`)
	waitProp(t, ctx, "#world-invoice-state", "textContent", "Waiting for payment…")
	browsertest.Shot(t, ctx, "world")
	// Paid: the world's next answer says so, and the panel shows it.
	f.update(func() { f.world.Invoices[0].State = "SETTLED" })
	waitProp(t, ctx, "#world-invoice-state", "textContent", "Paid ✔")

	click(t, ctx, fmt.Sprintf(`#world-invoice-out button.text-invoice[data-from=%q]`, phoneB))
	f.waitFor(t, "the invoice texted from phone B", func() bool { return len(f.inbound) == 1 })
	f.mu.Lock()
	texted := f.inbound[0]
	f.mu.Unlock()
	if want := (inboundSMS{phoneB, "pay " + inv.Invoice}); texted != want {
		t.Errorf("texted %+v, want %+v", texted, want)
	}

	browsertest.Do(t, ctx, chromedp.SetValue(chromedp.CSS("#world-pay-input"), "lnbcrt10u1pfakeinvoice"))
	click(t, ctx, "#world-pay")
	f.waitFor(t, "a payment", func() bool { return len(f.pays) == 1 })
	waitProp(t, ctx, "#world-pay-out", "textContent", "SUCCEEDED · fee 1 sats")

	browsertest.Do(t, ctx,
		chromedp.SetValue(chromedp.CSS("#world-pay-input"), "254700000001@127.0.0.1:8080"),
		chromedp.SetValue(chromedp.CSS("#world-pay-sats"), "2100"),
	)
	click(t, ctx, "#world-pay")
	f.waitFor(t, "a payment to an address", func() bool { return len(f.pays) == 2 })
	f.mu.Lock()
	pays := slices.Clone(f.pays)
	f.mu.Unlock()
	want := []payReq{{Invoice: "lnbcrt10u1pfakeinvoice"}, {Address: "254700000001@127.0.0.1:8080", Sats: 2100}}
	if !slices.Equal(pays, want) {
		t.Errorf("payments = %+v, want %+v", pays, want)
	}
	if strings.Contains(pays[0].Invoice, " ") {
		t.Errorf("the invoice was sent with spaces: %q", pays[0].Invoice)
	}

	// The panel names phones too (a user's row, a "Text it to" button), but
	// only a handset is [data-phone]: the keyboard finds its phone by that,
	// and a digit typed on phone B's button goes to the phone in use, A.
	if n := browsertest.Run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-phone]").length`)); n != 2 {
		t.Errorf("%d elements are [data-phone] with the panel drawn, want the 2 handsets", n)
	}
	browsertest.Do(t, ctx, chromedp.Focus(chromedp.CSS(fmt.Sprintf(`#world-invoice-out button.text-invoice[data-from=%q]`, phoneB))))
	keys(t, ctx, "7")
	waitEntry(t, ctx, phoneA, "7")
	waitEntry(t, ctx, phoneB, "")
}
