package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// startApp runs the whole server on :0 against a fresh database of engine.
func startApp(t *testing.T, engine string, mutate func(*config.Config)) *app.App {
	t.Helper()
	return startAppLogged(t, engine, io.Discard, mutate)
}

// startAppLogged is startApp with the server's log written to logs.
func startAppLogged(t *testing.T, engine string, logs io.Writer, mutate func(*config.Config)) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = dbtest.URL(t, engine)
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.PublicDomain = "umeme.test"
	cfg.HopsPerMinute, cfg.PINsPerMinute = 0, 0
	cfg.USSDCallbackToken = "e2e-gateway-token" // production mode needs one
	if mutate != nil {
		mutate(&cfg)
	}
	return startAppWithLog(t, cfg, logs)
}

// startAppWith starts a server on cfg, stopped at the test's end.
func startAppWith(t *testing.T, cfg config.Config) *app.App {
	t.Helper()
	return startAppWithLog(t, cfg, io.Discard)
}

// startAppWithLog is startAppWith with the server's log written to logs.
func startAppWithLog(t *testing.T, cfg config.Config, logs io.Writer) *app.App {
	t.Helper()
	return startAppWithLogger(t, cfg, slog.New(slog.NewTextHandler(logs, nil)))
}

// startAppWithLogger starts a server on cfg logging to log, stopped at the
// test's end.
func startAppWithLogger(t *testing.T, cfg config.Config, log *slog.Logger) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Close(ctx)
	})
	return a
}

var sessionSeq atomic.Int64

// phone is a gateway session of one subscriber, driven with the gateway's
// exact form fields; inputs accumulate in text joined by "*".
type phone struct {
	t       *testing.T
	base    string
	token   string
	number  string
	session string
	inputs  []string
	hops    int // posted, for the metrics test
}

func newPhone(t *testing.T, a *app.App) *phone {
	return &phone{t: t, base: "http://" + a.Addr(), token: a.Config.USSDCallbackToken, number: storetest.Phone(t)}
}

// dial starts a new session and returns its first screen.
func (p *phone) dial() string {
	p.t.Helper()
	p.session = fmt.Sprintf("ATUid_%d_%d", time.Now().UnixNano(), sessionSeq.Add(1))
	p.inputs = nil
	return p.post("")
}

// press sends one more input of the session.
func (p *phone) press(in string) string {
	p.t.Helper()
	p.inputs = append(p.inputs, in)
	return p.post(strings.Join(p.inputs, "*"))
}

// send dials, sends sats to the number to from the main menu and confirms
// with pin; it returns the last screen.
func (p *phone) send(to, sats, pin string) string {
	p.t.Helper()
	p.dial()
	p.press("1")
	p.press(to)
	p.press(sats)
	p.press("1")
	return p.press(pin)
}

// again repeats the last hop exactly, as a retrying gateway would.
func (p *phone) again() string {
	p.t.Helper()
	return p.post(strings.Join(p.inputs, "*"))
}

func (p *phone) post(text string) string {
	p.t.Helper()
	p.hops++
	status, body := postForm(p.t, p.base+"/ussd?token="+url.QueryEscape(p.token), url.Values{
		"sessionId": {p.session}, "phoneNumber": {p.number}, "networkCode": {"63902"},
		"serviceCode": {"*384*1234#"}, "text": {text},
	})
	if status != http.StatusOK {
		p.t.Fatalf("hop %q: status %d", text, status)
	}
	if !strings.HasPrefix(body, "CON ") && !strings.HasPrefix(body, "END ") {
		p.t.Fatalf("hop %q: body %q", text, body)
	}
	return body
}

func postForm(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode == http.StatusOK && !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q", ct)
	}
	return resp.StatusCode, string(b)
}

func expect(t *testing.T, screen string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(screen, w) {
			t.Fatalf("screen %q lacks %q", screen, w)
		}
	}
}

// register walks a fresh number through registration with pin.
func register(t *testing.T, p *phone, pin string) string {
	t.Helper()
	expect(t, p.dial(), "CON ", "1. Create account")
	expect(t, p.press("1"), "Choose a PIN")
	expect(t, p.press(pin), "again")
	return p.press(pin)
}

func balance(t *testing.T, a *app.App, p *phone) int64 {
	t.Helper()
	u, err := a.Wallet.UserByPhone(context.Background(), p.number)
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Wallet.Balance(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return b / 1000
}

func fund(t *testing.T, a *app.App, p *phone, sats int64) {
	t.Helper()
	if _, err := a.Wallet.Adjust(context.Background(), p.number, sats*1000, "test funding", "fund-"+p.number); err != nil {
		t.Fatal(err)
	}
}

// starter starts a server for a journey, with mutate applied to its
// configuration (nil: none).
type starter func(mutate func(*config.Config)) *app.App

// onEngine starts servers on a fresh database of engine.
func onEngine(t *testing.T, engine string) starter {
	return func(mutate func(*config.Config)) *app.App { return startApp(t, engine, mutate) }
}

func forEachEngine(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fn(t, engine)
		})
	}
}

// TestUSSDRegistrationAndSend: registration (with a weak and a mismatched
// PIN on the way), a send confirmed with a PIN, the confirm hop repeated
// by the gateway, and the funds waiting for an unregistered recipient who
// then registers.
func TestUSSDRegistrationAndSend(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) { ussdRegistrationAndSend(t, onEngine(t, engine)) })
}

func ussdRegistrationAndSend(t *testing.T, start starter) {
	a := start(nil)
	alice, bob := newPhone(t, a), newPhone(t, a)

	expect(t, alice.dial(), "Welcome to Umeme", "1. Create account", "2. Kiswahili")
	alice.press("1")
	expect(t, alice.press("1234"), "too easy", "Choose a PIN")
	expect(t, alice.press("7391"), "again")
	expect(t, alice.press("7392"), "did not match", "Choose a PIN")
	alice.press("7391")
	expect(t, alice.press("7391"), "END ", "Account ready", strings.TrimPrefix(alice.number, "+")+"@umeme.test")
	fund(t, a, alice, 5000)

	expect(t, alice.dial(), "CON Umeme", "1. Send", "2. Receive", "3. Balance", "4. Transactions", "5. Settings", "6. Exit")
	expect(t, alice.press("1"), "phone number")
	expect(t, alice.press("12"), "Invalid phone number")
	expect(t, alice.press(alice.number), "cannot send to yourself")
	national := "0" + strings.TrimPrefix(bob.number, "+254")
	expect(t, alice.press(national), "Amount in sats")
	expect(t, alice.press("abc"), "Invalid amount")
	expect(t, alice.press("9000"), "Balance too low (5,000 sats)")
	expect(t, alice.press("1500"), "Send 1,500 sats to "+bob.number[:5], bob.number[len(bob.number)-3:], "Fee: 0 sats", "1. Confirm")
	expect(t, alice.press("1"), "Enter your PIN")
	done := alice.press("7391")
	expect(t, done, "END Sent 1,500 sats", "Balance: 3,500 sats")
	if again := alice.again(); again != done {
		t.Fatalf("a repeated hop answered %q, first %q", again, done)
	}
	if b := balance(t, a, alice); b != 3500 {
		t.Fatalf("alice has %d sats after one send and a repeated hop", b)
	}

	// Bob had no account: the funds wait for him and greet him.
	expect(t, register(t, bob, "5820"), "Account ready", "1,500 sats were waiting")
	if b := balance(t, a, bob); b != 1500 {
		t.Fatalf("bob has %d", b)
	}
	rep, err := a.Wallet.Reconcile(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("reconcile: %+v %v", rep, err)
	}
}

// TestUSSDWrongPINAndLockout: wrong PINs say how many tries are left; the
// third locks the account, which then refuses even the right PIN; nothing
// moves.
func TestUSSDWrongPINAndLockout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) { ussdWrongPINAndLockout(t, onEngine(t, engine)) })
}

func ussdWrongPINAndLockout(t *testing.T, start starter) {
	a := start(nil)
	alice, bob := newPhone(t, a), newPhone(t, a)
	register(t, alice, "7391")
	fund(t, a, alice, 1000)
	alice.dial()
	alice.press("1")
	alice.press(bob.number)
	alice.press("100")
	alice.press("1")
	expect(t, alice.press("1111"), "CON Wrong PIN, 2 tries left", "Enter your PIN")
	expect(t, alice.press("2222"), "CON Wrong PIN, 1 tries left")
	expect(t, alice.press("3333"), "END Too many wrong PINs")
	expect(t, alice.dial(), "CON Umeme")
	alice.press("3")
	expect(t, alice.press("7391"), "END Too many wrong PINs")
	if b := balance(t, a, alice); b != 1000 {
		t.Fatalf("balance moved to %d", b)
	}
}

// TestUSSDNavigationAndLanguage: back, home, invalid input re-showing the
// screen, balance and receive, and a language switch that sticks.
func TestUSSDNavigationAndLanguage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) { ussdNavigationAndLanguage(t, onEngine(t, engine)) })
}

func ussdNavigationAndLanguage(t *testing.T, start starter) {
	a := start(func(c *config.Config) { c.KESPerBTC = "10000000" })
	alice := newPhone(t, a)
	register(t, alice, "7391")
	fund(t, a, alice, 12_345)

	alice.dial()
	expect(t, alice.press("9"), "Invalid choice", "1. Send")
	expect(t, alice.press("1"), "phone number")
	expect(t, alice.press("0"), "CON Umeme", "1. Send")
	alice.press("1")
	alice.press("0722000111")
	expect(t, alice.press("0"), "phone number")
	expect(t, alice.press("00"), "CON Umeme")
	expect(t, alice.press("3"), "Enter your PIN")
	expect(t, alice.press("7391"), "END Balance: 12,345 sats", "About KES 1,235")

	expect(t, alice.dial(), "CON Umeme")
	expect(t, alice.press("2"), "END ", strings.TrimPrefix(alice.number, "+")+"@umeme.test")

	alice.dial()
	expect(t, alice.press("5"), "1. Change PIN", "2. Language")
	expect(t, alice.press("2"), "1. English", "2. Kiswahili")
	expect(t, alice.press("2"), "Lugha imehifadhiwa", "1. Tuma", "6. Ondoka")
	expect(t, alice.press("6"), "END Asante")
	expect(t, alice.dial(), "1. Tuma")

	// Change PIN: current, new twice.
	alice.press("5")
	alice.press("1")
	expect(t, alice.press("0000"), "PIN si sahihi")
	expect(t, alice.press("7391"), "PIN mpya")
	expect(t, alice.press("4444"), "rahisi kukisia")
	expect(t, alice.press("8642"), "PIN mpya tena")
	expect(t, alice.press("8642"), "END PIN yako imebadilishwa")
	alice.dial()
	alice.press("3")
	expect(t, alice.press("7391"), "PIN si sahihi")
	expect(t, alice.press("8642"), "END Salio: sats 12,345")
}

// TestUSSDHistoryPaging lists transactions a page at a time.
func TestUSSDHistoryPaging(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) { ussdHistoryPaging(t, onEngine(t, engine)) })
}

func ussdHistoryPaging(t *testing.T, start starter) {
	a := start(nil)
	alice, bob := newPhone(t, a), newPhone(t, a)
	register(t, alice, "7391")
	expect(t, alice.dial(), "CON Umeme")
	alice.press("4")
	expect(t, alice.press("7391"), "No transactions yet")
	fund(t, a, alice, 10_000)
	for i := range 5 {
		alice.dial()
		alice.press("1")
		alice.press(bob.number)
		alice.press(fmt.Sprint(100 * (i + 1)))
		alice.press("1")
		expect(t, alice.press("7391"), "END Sent")
	}
	alice.dial()
	alice.press("4")
	first := alice.press("7391")
	expect(t, first, "-500 "+bob.number[:5], "-400 ", "-300 ", "-200 ", "9. More", "0. Back")
	if strings.Contains(first, "-100 ") {
		t.Fatalf("first page shows more than four: %q", first)
	}
	second := alice.press("9")
	expect(t, second, "-100 ", "+10,000 adjustment", "0. Back")
	if strings.Contains(second, "9. More") || strings.Contains(second, "-500") {
		t.Fatalf("second page: %q", second)
	}
	expect(t, alice.press("0"), "CON Umeme")
}

// TestUSSDGatewayEdges: the callback token, the end-of-session report, a
// garbage request, and a database outage answered with a 200 apology.
func TestUSSDGatewayEdges(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) { ussdGatewayEdges(t, onEngine(t, engine)) })
}

func ussdGatewayEdges(t *testing.T, start starter) {
	a := start(func(c *config.Config) { c.USSDCallbackToken = "s3cret-gateway-token" })
	p := newPhone(t, a)
	status, _ := postForm(t, "http://"+a.Addr()+"/ussd", url.Values{"sessionId": {"x"}, "phoneNumber": {p.number}, "text": {""}})
	if status != http.StatusForbidden {
		t.Fatalf("a request without the token got %d", status)
	}
	p.token = "s3cret-gateway-token"
	expect(t, p.dial(), "CON Welcome")
	expect(t, p.press("1"), "Choose a PIN")

	status, body := postForm(t, "http://"+a.Addr()+"/ussd/events?token=s3cret-gateway-token", url.Values{
		"sessionId": {p.session}, "status": {"Incomplete"}, "durationInMillis": {"15000"}, "hopsCount": {"2"},
		"phoneNumber": {p.number}, "serviceCode": {"*384*1234#"}, "networkCode": {"63902"}, "cost": {"KES 0.5"},
	})
	if status != http.StatusOK || body != "OK" {
		t.Fatalf("events: %d %q", status, body)
	}
	// The ended session answers no more input.
	expect(t, p.press("7391"), "END ")

	status, body = postForm(t, "http://"+a.Addr()+"/ussd?token=s3cret-gateway-token", url.Values{"sessionId": {"y"}, "phoneNumber": {"not a phone"}, "text": {""}})
	if status != http.StatusOK || !strings.HasPrefix(body, "END Sorry") {
		t.Fatalf("garbage request: %d %q", status, body)
	}

	a.DB.Close()
	status, body = postForm(t, "http://"+a.Addr()+"/ussd?token=s3cret-gateway-token", url.Values{"sessionId": {"z"}, "phoneNumber": {p.number}, "text": {""}})
	if status != http.StatusOK || !strings.HasPrefix(body, "END Sorry") {
		t.Fatalf("database outage: %d %q", status, body)
	}
	resp, err := http.Get("http://" + a.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz during an outage: %d", resp.StatusCode)
	}
}

// TestUSSDLightningNodeDown: with a node configured but unreachable, the
// server still starts, the Lightning items are there and answer "try
// later", phone-to-phone sends still work, and /readyz says why it is not
// ready.
func TestUSSDLightningNodeDown(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) { ussdLightningNodeDown(t, onEngine(t, engine)) })
}

func ussdLightningNodeDown(t *testing.T, start starter) {
	a := start(func(c *config.Config) {
		c.LNDAddress, c.LNDNetwork = "127.0.0.1:1", "regtest" // nothing listens there
		c.LNDTLSCertPath, c.LNDMacaroonPath = "/nonexistent/tls.cert", "/nonexistent/admin.macaroon"
	})
	alice := newPhone(t, a)
	register(t, alice, "7391")
	fund(t, a, alice, 5000)
	alice.dial()
	expect(t, alice.press("2"), "1. Show my Lightning Address", "2. Invoice by SMS")
	expect(t, alice.press("2"), "Amount in sats")
	expect(t, alice.press("1000"), "END Lightning is unavailable right now")

	alice.dial()
	expect(t, alice.press("1"), "1. To a phone number", "2. To a Lightning Address")
	alice.press("1")
	alice.press(newPhone(t, a).number)
	alice.press("100")
	alice.press("1")
	expect(t, alice.press("7391"), "END Sent 100 sats")

	resp, err := http.Get("http://" + a.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "lightning") {
		t.Fatalf("readyz with the node down: %d %q", resp.StatusCode, body)
	}
}
