package world_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/world/browsertest"
)

// The browser journey: a person at the web phone, on a real server, the
// simulators and the regtest network, doing what the README promises. Every
// step clicks the page and asserts on what the page shows; where money
// moved, on the operator's view on the page too.

// Sizes of the window for the journey: wide enough for two phones and the
// world panel, and the size of the README's picture.
const (
	journeyWidth  = 1400
	journeyHeight = 900
)

// worldWait bounds what the page shows only after the world moved: a
// payment over regtest, a text through the outbox, the operator's table,
// which the page polls every two seconds. A screen's answer is bounded by
// browsertest.ActionTimeout.
const worldWait = 45 * time.Second

// readmeShot is the README's picture, regenerated with UPDATE_SCREENSHOT=1.
var readmeShot = filepath.Join("..", "..", "docs", "webphone.png")

// TestBrowserJourney: on each engine (SQLite, the world's default, at
// least), phone A registers, buys KES 500 with M-Pesa approving the prompt
// on the page, and sends 1,000 sats to phone B, whose inbox shows the text;
// B registers and finds them, asks for an invoice by SMS and the world
// panel pays it; A pays an invoice the world panel made and texted in,
// approved over USSD, and the world panel shows it paid; B sells to M-Pesa
// and gets M-Pesa's text; the operator's reconcile says the books balance.
// A screenshot is saved after each step.
func TestBrowserJourney(t *testing.T) {
	if _, err := browsertest.FindBrowser(); err != nil && !browsertest.Required() {
		t.Skipf("browser tests not run: %v", err)
	}
	n := regtest.Start(t)
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			began := time.Now()
			j := startJourney(t, engine, n)
			j.run(engine == "sqlite" && os.Getenv("UPDATE_SCREENSHOT") == "1")
			t.Logf("the journey on %s took %s", engine, time.Since(began).Round(100*time.Millisecond))
		})
	}
}

// journey is a page in a browser on a world wired to a server.
type journey struct {
	t   *testing.T
	ctx context.Context
	e   *env
}

func startJourney(t *testing.T, engine string, n *regtest.Network) *journey {
	t.Helper()
	e := startWorld(t, engine, n)
	e.waitReady()
	// The browser is started after the world, so that it stops first.
	ctx := browsertest.Start(t)
	j := &journey{t: t, ctx: ctx, e: e}
	t.Cleanup(j.dumpIfFailed)
	browsertest.Do(t, ctx, chromedp.EmulateViewport(journeyWidth, journeyHeight), chromedp.Navigate(e.url+"/"))
	browsertest.WaitJS(t, ctx, "the page with both phones and the world node", `document.body.dataset.ready === "true" &&
		document.querySelectorAll("[data-phone]").length === 2 && /^[0-9,]+$/.test(document.querySelector("#world-channel").textContent)`)
	return j
}

func (j *journey) run(updateREADME bool) {
	t := j.t
	const a, b = phoneA, phoneB
	host := strings.TrimPrefix(j.e.server, "http://")

	// 1. A dials and registers, on the keypad.
	j.dial(a, "Welcome to Umeme", "1. Create account")
	j.answer(a, "1", "Choose a PIN of 4 to 6 digits:")
	j.answer(a, pinA, "Enter the same PIN again:")
	j.answer(a, pinA, "Account ready. Your Lightning Address:\n"+strings.TrimPrefix(a, "+")+"@"+host)
	j.ended(a)
	j.userRow(a, "active", 0)
	j.shot("01-register")

	// 2. A buys KES 500 with M-Pesa and approves the prompt on the page.
	menu := j.dial(a, "Umeme\n1. Send")
	j.answer(a, menuItem(t, screen{Text: menu}, "Buy with M-Pesa"), "Amount in KES (10-150,000):")
	quote := j.answer(a, "500", "Pay KES 500 for ", "1. Confirm")
	bought := number(t, quote, `Pay KES 500 for ([0-9,]+) sats\?`)
	j.answer(a, "1", "Check your phone: enter your M-Pesa PIN to pay KES 500.")
	j.ended(a)
	j.waitFor("A's M-Pesa prompt", fmt.Sprintf(`(e => !e.hidden && e.offsetHeight > 0 && e.textContent.includes("Enter M-Pesa PIN to pay KES 500 to Umeme"))(document.querySelector(%s))`,
		js(in(a, ".stk"))), browsertest.ActionTimeout)
	if j.eval(fmt.Sprintf(`!document.querySelector(%s).hidden`, js(in(b, ".stk")))) == "true" {
		t.Fatal("phone B shows A's M-Pesa prompt")
	}
	j.shot("02-stk-prompt")
	j.click(in(a, `.stk button[data-stk="approve"]`))
	j.waitFor("M-Pesa's confirmation on A", contains(in(a, ".mpesa .mpesa-msg"), "Confirmed. Ksh500.00 sent to Umeme"), worldWait)
	j.waitFor("A's prompt gone", fmt.Sprintf(`document.querySelector(%s).hidden`, js(in(a, ".stk"))), browsertest.ActionTimeout)
	j.userRow(a, "active", bought)
	j.shot("02-buy")

	// 3. A sends 1,000 sats to B, who has no wallet yet: B's inbox shows
	// the text, delivered.
	menu = j.dial(a, "Umeme\n1. Send")
	j.answer(a, menuItem(t, screen{Text: menu}, "Send"), "1. To a phone number")
	j.answer(a, "1", "Send to phone number:")
	j.answer(a, "0"+strings.TrimPrefix(b, "+254"), "Amount in sats:")
	j.answer(a, "1000", "Send 1,000 sats to ", "1. Confirm")
	j.answer(a, "1", "Enter your PIN:")
	sent := j.answer(a, pinA, "Sent 1,000 sats to ")
	j.ended(a)
	balanceA := number(t, sent, `Balance: ([0-9,]+) sats`)
	if balanceA > bought-1000 {
		t.Fatalf("A holds %d sats after sending 1,000 of %d", balanceA, bought)
	}
	j.userRow(a, "active", balanceA)
	j.waitFor("B's text about 1,000 sats, delivered", smsWith(b, "1,000 sats", "Success"), worldWait)
	j.shot("03-send")

	// 4. B dials, registers and finds the 1,000 sats.
	j.dial(b, "Welcome to Umeme", "1. Create account")
	j.answer(b, "1", "Choose a PIN of 4 to 6 digits:")
	j.answer(b, pinB, "Enter the same PIN again:")
	j.answer(b, pinB, "Account ready.", "1,000 sats were waiting for you.")
	menu = j.dial(b, "Umeme\n1. Send")
	j.answer(b, menuItem(t, screen{Text: menu}, "Balance"), "Enter your PIN:")
	j.answer(b, pinB, "Balance: 1,000 sats")
	j.ended(b)
	j.userRow(b, "active", 1000)
	j.shot("04-register-b")

	// 5. B asks for an invoice by SMS; the world panel pays it, pasted
	// from B's inbox.
	menu = j.dial(b, "Umeme\n1. Send")
	j.answer(b, menuItem(t, screen{Text: menu}, "Receive"), "2. Invoice by SMS")
	j.answer(b, "2", "Amount in sats:")
	j.answer(b, "2000", "An invoice for 2,000 sats is on its way to you by SMS.")
	j.ended(b)
	j.waitFor("B's invoice by SMS", smsWith(b, "Lightning invoice for 2,000 sats:", ""), worldWait)
	texts := j.eval(fmt.Sprintf(`[...document.querySelectorAll(%s)].map(e => e.textContent).join("\n")`, js(in(b, ".inbox .sms .sms-text"))))
	invoice := regexp.MustCompile(`lnbcrt[0-9a-z]+`).FindString(texts)
	if invoice == "" {
		t.Fatalf("no invoice in B's inbox: %q", texts)
	}
	browsertest.Do(t, j.ctx, chromedp.SetValue(chromedp.CSS("#world-pay-input"), invoice))
	j.click("#world-pay")
	j.waitFor("the world's payment", textIs("#world-pay-out", "SUCCEEDED · fee 0 sats"), worldWait)
	j.waitFor("the payment in the world's log", contains("#world-recent li", "world paid lnbcrt20u"), worldWait)
	j.userRow(b, "active", 3000)
	j.waitFor("B's text about 2,000 sats", smsWith(b, "You received 2,000 sats", ""), worldWait)
	j.shot("05-receive")

	// 6. The world panel makes an invoice and texts it to the service
	// from A; A dials, and the session opens on it; A pays with the PIN,
	// and the world panel shows it paid.
	browsertest.Do(t, j.ctx,
		chromedp.SetValue(chromedp.CSS("#world-invoice-sats"), "1500"),
		chromedp.SetValue(chromedp.CSS("#world-invoice-memo"), "coffee"))
	j.click("#world-make-invoice")
	j.waitFor("the world's invoice", `(e => !e.hidden && /lnbcrt15u/.test(e.textContent))(document.querySelector("#world-invoice-out"))`, worldWait)
	j.waitFor("the invoice waiting", contains("#world-invoice-state", "Waiting"), worldWait)
	j.click(fmt.Sprintf(`#world-invoice-out button.text-invoice[data-from=%q]`, a))
	j.waitFor("A's text sent", textIs(in(a, ".note"), "SMS sent to 22384."), worldWait)
	j.waitFor("the server's answer to A's text", smsWith(a, "Dial *384*1234# to approve paying 1,500 sats to node ", ""), worldWait)
	ask := j.dial(a, "Pay 1,500 sats to node ", `Invoice says: "coffee"`, "1. Pay", "2. Reject")
	feeLimit := number(t, ask, `fee up to ([0-9,]+) sats`)
	if updateREADME {
		// Mid-session: A's approval open, B's inbox with its invoice,
		// the world panel with the invoice it made.
		j.readmeShot()
	}
	j.shot("06-approve")
	j.answer(a, "1", "Enter your PIN:")
	j.answer(a, pinA, "1,500 sats to node ")
	j.ended(a)
	j.waitFor("the world's invoice paid", contains("#world-invoice-state", "Paid"), worldWait)
	j.waitFor("the world paid in its log", contains("#world-recent li", "world was paid 1,500 sats (coffee)"), worldWait)
	j.waitFor("A's text that the payment is complete", smsWith(a, "Your payment of 1,500 sats", ""), worldWait)
	paidA := j.userRowWithin(a, balanceA-1500-feeLimit-1, balanceA-1500)
	j.shot("06-pay-invoice")

	// 7. B sells to M-Pesa and gets M-Pesa's text.
	menu = j.dial(b, "Umeme\n1. Send")
	j.answer(b, menuItem(t, screen{Text: menu}, "Sell to M-Pesa"), "Amount in KES (10-150,000):")
	sell := j.answer(b, "100", "Get KES 100 on M-Pesa for ", "1. Confirm")
	sold := number(t, sell, `for ([0-9,]+) sats\?`)
	j.answer(b, "1", "Enter your PIN:")
	j.answer(b, pinB, "KES 100 is on its way to ")
	j.ended(b)
	j.waitFor("M-Pesa's text on B", contains(in(b, ".mpesa .mpesa-msg"), "You have received Ksh100.00 from Umeme"), worldWait)
	j.waitFor("B's text about the sale", smsWith(b, "Sold ", ""), worldWait)
	paidB := j.userRowWithin(b, 3000-sold-1, 3000-sold)
	j.shot("07-sell")

	// 8. The operator's view: what the users hold is what the books owe,
	// and reconcile says the books balance.
	j.waitFor("reconcile's verdict", `(e => e.classList.contains("ok") && e.textContent.startsWith("✔ books balance"))(document.querySelector("#reconcile"))`, worldWait)
	liabilities := groupInt(paidA + paidB)
	j.waitFor("the liabilities", textIs("#operator-liabilities", liabilities), worldWait)
	j.waitFor("reconcile's total", contains("#reconcile", "users hold "+liabilities+" sats"), worldWait)
	j.shot("08-reconcile")
}

// in is the CSS selector of something inside a phone.
func in(phone, sel string) string { return fmt.Sprintf(`[data-phone=%q] %s`, phone, sel) }

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// contains is an expression: some element matching sel contains text.
func contains(sel, text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%s)].some(e => e.textContent.includes(%s))`, js(sel), js(text))
}

// textIs is an expression: the first element matching sel has exactly text.
func textIs(sel, text string) string {
	return fmt.Sprintf(`(document.querySelector(%s) || {}).textContent === %s`, js(sel), js(text))
}

// smsWith is an expression: the phone's inbox has a text containing text,
// with the delivery status (any status when "").
func smsWith(phone, text, status string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%s)].some(e =>
		e.querySelector(".sms-text").textContent.includes(%s) && (%s === "" || e.querySelector(".sms-status").textContent === %s))`,
		js(in(phone, ".inbox .sms")), js(text), js(status), js(status))
}

// number reads the integer (with commas) of the first group of re in s.
func number(t *testing.T, s, re string) int64 {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in %q", re, s)
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", m[1], err)
	}
	return n
}

// groupInt writes n as the page does, with commas between thousands.
func groupInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (j *journey) click(sel string) {
	j.t.Helper()
	browsertest.Do(j.t, j.ctx, chromedp.Click(chromedp.CSS(sel)))
}

// eval evaluates a JavaScript expression to a string.
func (j *journey) eval(expr string) string {
	j.t.Helper()
	return browsertest.Run(j.t, j.ctx, chromedp.Evaluate[string](`String(`+expr+`)`))
}

// waitFor waits up to d until the expression holds on the page.
func (j *journey) waitFor(what, expr string, d time.Duration) {
	j.t.Helper()
	if err := browsertest.WaitWithin(j.ctx, expr, d); err != nil {
		j.t.Fatalf("the page never showed %s within %s: %v", what, d, err)
	}
}

// dial presses the phone's Dial and waits for the screen to show wants.
func (j *journey) dial(phone string, wants ...string) string {
	j.t.Helper()
	j.idle(phone)
	j.click(in(phone, "button.dial"))
	return j.screen(phone, wants...)
}

// answer types input on the phone's keypad, presses Send and waits for
// the screen to show wants.
func (j *journey) answer(phone, input string, wants ...string) string {
	j.t.Helper()
	j.idle(phone)
	if st := j.eval(fmt.Sprintf(`document.querySelector(%s).dataset.state`, js(fmt.Sprintf(`[data-phone=%q]`, phone)))); st != "open" {
		j.t.Fatalf("phone %s is %s, not on an open screen, to answer %q", phone, st, input)
	}
	for _, k := range input {
		j.click(in(phone, fmt.Sprintf(`.keypad button[data-key=%q]`, string(k))))
	}
	j.waitFor(fmt.Sprintf("%q typed on %s", input, phone), fmt.Sprintf(`document.querySelector(%s).value === %s`, js(in(phone, ".entry")), js(input)),
		browsertest.ActionTimeout)
	j.click(in(phone, "button.send"))
	return j.screen(phone, wants...)
}

// idle waits until the phone has no request out (its keys are dead
// meanwhile).
func (j *journey) idle(phone string) {
	j.t.Helper()
	j.waitFor("phone "+phone+" free", fmt.Sprintf(`!document.querySelector(%s).classList.contains("busy")`, js(fmt.Sprintf(`[data-phone=%q]`, phone))),
		browsertest.ActionTimeout)
}

// screen waits until the phone shows an answer holding every want, and
// returns the screen's text.
func (j *journey) screen(phone string, wants ...string) string {
	j.t.Helper()
	ph := js(fmt.Sprintf(`[data-phone=%q]`, phone))
	var checks []string
	for _, w := range wants {
		checks = append(checks, fmt.Sprintf(`s.includes(%s)`, js(w)))
	}
	expr := fmt.Sprintf(`(p => { const s = p.querySelector(".screen").textContent;
		return !p.classList.contains("busy") && p.dataset.state !== "idle" && %s; })(document.querySelector(%s))`,
		strings.Join(append(checks, "true"), " && "), ph)
	if err := browsertest.Wait(j.ctx, expr); err != nil {
		got := j.eval(fmt.Sprintf(`document.querySelector(%s).querySelector(".screen").textContent`, ph))
		j.t.Fatalf("phone %s shows %q, not %q (%v)", phone, got, wants, err)
	}
	return j.eval(fmt.Sprintf(`document.querySelector(%s).querySelector(".screen").textContent`, ph))
}

// ended checks that the phone's session ended (an END screen).
func (j *journey) ended(phone string) {
	j.t.Helper()
	j.waitFor("the end of "+phone+"'s session", fmt.Sprintf(`document.querySelector(%s).dataset.state === "ended"`,
		js(fmt.Sprintf(`[data-phone=%q]`, phone))), browsertest.ActionTimeout)
}

// userRow waits until the operator's table shows the phone with status
// and balance.
func (j *journey) userRow(phone, status string, sats int64) {
	j.t.Helper()
	j.userRowWithin(phone, sats, sats)
	j.waitFor(phone+" "+status+" in the operator's table", fmt.Sprintf(`(r => r && r.children[1].textContent === %s)(document.querySelector(%s))`,
		js(status), js(fmt.Sprintf(`#operator-users tr[data-user=%q]`, phone))), worldWait)
}

// userRowWithin waits until the operator's table shows the phone with a
// balance in [lo, hi], and returns it.
func (j *journey) userRowWithin(phone string, lo, hi int64) int64 {
	j.t.Helper()
	row := js(fmt.Sprintf(`#operator-users tr[data-user=%q] td.num`, phone))
	expr := fmt.Sprintf(`(c => { if (!c) return false; const n = Number(c.textContent.replaceAll(",", "")); return n >= %d && n <= %d; })(document.querySelector(%s))`,
		lo, hi, row)
	if err := browsertest.WaitWithin(j.ctx, expr, worldWait); err != nil {
		got := j.eval(fmt.Sprintf(`(document.querySelector(%s) || {}).textContent`, row))
		j.t.Fatalf("the operator's table shows %s with %s sats, want %d to %d (%v)", phone, got, lo, hi, err)
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(j.eval(fmt.Sprintf(`document.querySelector(%s).textContent`, row)), ",", ""), 10, 64)
	if err != nil {
		j.t.Fatal(err)
	}
	return n
}

// shot saves a screenshot of the whole page among the test's artefacts.
func (j *journey) shot(name string) {
	j.t.Helper()
	browsertest.Shot(j.t, j.ctx, name)
}

// readmeShot regenerates the README's picture: the window as it is, from
// the top of the page.
func (j *journey) readmeShot() {
	j.t.Helper()
	browsertest.Do(j.t, j.ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	if err := browsertest.ScreenshotViewport(j.ctx, readmeShot); err != nil {
		j.t.Fatal(err)
	}
	st, err := os.Stat(readmeShot)
	if err != nil {
		j.t.Fatal(err)
	}
	j.t.Logf("README screenshot: %s (%d KB)", readmeShot, st.Size()/1024)
}

// dumpIfFailed writes, for a failed journey, what each phone and the world
// panel show and the end of the server's log.
func (j *journey) dumpIfFailed() {
	if !j.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(j.ctx, 5*time.Second)
	defer cancel()
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](dumpPage))
	if err != nil {
		page = "(the page did not answer: " + err.Error() + ")"
	}
	j.t.Logf("what the page shows:\n%s", page)
	j.t.Logf("the server's and the world's log, last lines:\n%s", j.e.logs.tail(80))
}

// dumpPage is JavaScript that describes the page for a failure's report.
const dumpPage = `(() => {
	const t = (e) => (e ? e.textContent : "(none)");
	const out = [];
	for (const p of document.querySelectorAll("[data-phone]")) {
		if (!p.classList.contains("phone")) continue;
		out.push("phone " + p.dataset.phone + " (" + p.dataset.state + (p.classList.contains("busy") ? ", busy" : "") + ")");
		out.push("  screen: " + JSON.stringify(t(p.querySelector(".screen"))));
		out.push("  typed: " + JSON.stringify(p.querySelector(".entry").value) + "  note: " + JSON.stringify(t(p.querySelector(".note"))));
		const stk = p.querySelector(".stk");
		if (!stk.hidden) out.push("  M-Pesa prompt: " + JSON.stringify(t(stk.querySelector(".stk-text"))));
		for (const m of p.querySelectorAll(".inbox .sms")) {
			out.push("  sms [" + t(m.querySelector(".sms-status")) + "] " + JSON.stringify(t(m.querySelector(".sms-text"))));
		}
		for (const m of p.querySelectorAll(".mpesa .mpesa-msg")) out.push("  mpesa " + JSON.stringify(t(m)));
	}
	for (const r of document.querySelectorAll("#operator-users tr")) out.push("operator: " + [...r.children].map(t).join(" | "));
	out.push("liabilities: " + t(document.querySelector("#operator-liabilities")));
	out.push("reconcile: " + t(document.querySelector("#reconcile")));
	out.push("world pay: " + t(document.querySelector("#world-pay-out")));
	out.push("world invoice: " + t(document.querySelector("#world-invoice-out")));
	for (const r of document.querySelectorAll("#world-recent li")) out.push("recent: " + t(r));
	out.push("connection: " + t(document.querySelector("#conn")));
	return out.join("\n");
})()`
