package world_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/world"
)

// TestWorldPageAndConfig: the page is served, the config names the
// service and the phones, an unknown API path is a JSON 404.
func TestWorldPageAndConfig(t *testing.T) {
	w, err := world.New(world.Config{ServerURL: "http://127.0.0.1:1", Phones: []string{phoneA, phoneB}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	e := &env{t: t, url: srv.URL}
	var cfg struct {
		ServiceCode, ServiceNumber, Network, AddressDomain string
		Phones                                             []string
	}
	e.call(http.MethodGet, "/api/config", nil, http.StatusOK, &cfg)
	if cfg.ServiceCode != "*384*1234#" || cfg.ServiceNumber != "22384" || cfg.Network != "regtest" || cfg.AddressDomain != "127.0.0.1:1" ||
		strings.Join(cfg.Phones, ",") != phoneA+","+phoneB {
		t.Fatalf("config %+v", cfg)
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<html") {
		t.Fatalf("GET /: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/static/nothing.js", "/static/../world.go"} {
		if resp, err := http.Get(srv.URL + p); err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET %s: %v %v", p, resp.Status, err)
		}
	}
	e.call(http.MethodGet, "/api/nothing", nil, http.StatusNotFound, nil)
	e.call(http.MethodPost, "/api/ussd", map[string]string{"phone": "0712", "input": ""}, http.StatusBadRequest, nil)
	e.call(http.MethodPost, "/api/stk/ws_CO_none", map[string]string{"action": "approve"}, http.StatusNotFound, nil)
	e.call(http.MethodPost, "/api/stk/ws_CO_none", map[string]string{"action": "dance"}, http.StatusBadRequest, nil)
	// No world node: the panel says so, and the node's endpoints refuse.
	e.call(http.MethodPost, "/api/world/invoice", map[string]any{"sats": 1000}, http.StatusServiceUnavailable, nil)
}

// TestWorldUSSDRegisterAndBuy: against a real server, phone A dials and
// registers over the world's API; a session that ended, or was cancelled,
// gives way to a new one; A buys KES 500 with M-Pesa, the STK prompt shows
// on A's phone and is approved from the API; M-Pesa's text arrives; the
// operator's view lists A with the sats credited, liabilities equal to
// them, and reconcile passes, until the ledger is tampered with.
func TestWorldUSSDRegisterAndBuy(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := startWorld(t, engine, nil)
			if ws := e.world(); len(ws.Operator.Users) != 0 || !ws.Operator.Reconcile.OK || ws.Node != nil {
				t.Fatalf("an empty world: %+v", ws)
			}
			first := expect(t, e.ussd(phoneA, ""), "Welcome", "1. Create account")
			if !strings.HasPrefix(first.SessionID, "ATUid_") || first.End {
				t.Fatalf("dial: %+v", first)
			}
			// Cancel drops the session: the next request dials anew.
			e.call(http.MethodPost, "/api/ussd/cancel", map[string]string{"phone": phoneA}, http.StatusOK, nil)
			again := expect(t, e.ussd(phoneA, "1"), "1. Create account")
			if again.SessionID == first.SessionID {
				t.Fatal("a cancelled session went on")
			}
			expect(t, e.ussd(phoneA, "1"), "Choose a PIN")
			expect(t, e.ussd(phoneA, pinA), "again")
			if s := e.ussd(phoneA, pinA); !s.End || s.SessionID != again.SessionID {
				t.Fatalf("registration's last screen: %+v", s)
			}
			// After END the next input dials anew, as the registered user.
			main := expect(t, e.ussd(phoneA, "9"), "Buy with M-Pesa")
			if main.SessionID == again.SessionID || main.End {
				t.Fatalf("after END: %+v", main)
			}
			e.call(http.MethodPost, "/api/ussd/cancel", map[string]string{"phone": phoneA}, http.StatusOK, nil)

			credited := e.buy(phoneA, "500")
			// KES 500 at KES 13,000,000 a bitcoin, less the 1.5 % spread:
			// about 3,790 sats.
			if credited < 3_700 || credited > 3_900 {
				t.Fatalf("credited %d sats for KES 500", credited)
			}
			ws := e.world()
			op := ws.Operator
			if len(op.Users) != 1 || op.Users[0].Phone != phoneA || op.Users[0].Status != "active" || op.LiabilitiesSats != credited ||
				op.SystemAccounts["mpesa"] != -credited || !op.Reconcile.OK || !strings.HasPrefix(op.Reconcile.Text, "books balance") {
				t.Fatalf("operator's view after the top-up: %+v", op)
			}

			// Books edited behind the ledger's back: reconcile says so.
			dbtest.RawExec(t, e.dbURL, "UPDATE accounts SET balance_msat = balance_msat + 1000 WHERE code = 'fees'")
			op = e.world().Operator
			if op.Reconcile.OK || !strings.Contains(op.Reconcile.Text, "VIOLATIONS") || !strings.Contains(op.Reconcile.Text, "cached balances off") {
				t.Fatalf("reconcile after tampering: %+v", op.Reconcile)
			}
		})
	}
}

// TestWorldUSSDTransferAndServerSMS: A (funded with M-Pesa) sends 1,000
// sats to B over USSD; B registers and finds them. When the server sends
// SMS (issue 11's outbox), B's inbox shows the text, delivered.
func TestWorldUSSDTransferAndServerSMS(t *testing.T) {
	e := startWorld(t, "sqlite", nil)
	e.register(phoneA, pinA)
	e.buy(phoneA, "500")
	send := menuItem(t, e.ussd(phoneA, ""), "Send")
	expect(t, e.ussd(phoneA, send), "Send to phone number")
	expect(t, e.ussd(phoneA, "0700000002"), "Amount in sats")
	expect(t, e.ussd(phoneA, "1000"), "Send 1,000 sats to", "1. Confirm")
	expect(t, e.ussd(phoneA, "1"), "PIN")
	if s := e.ussd(phoneA, pinA); !s.End {
		t.Fatalf("send did not end: %q", s.Text)
	}
	e.register(phoneB, pinB)
	if b := e.world().balance(phoneB); b != 1000 {
		t.Fatalf("B holds %d sats, want 1000", b)
	}
	if op := e.world().Operator; !op.Reconcile.OK {
		t.Fatalf("reconcile: %s", op.Reconcile.Text)
	}

	// The delivery-report route answers a report of an unknown message.
	resp, err := http.PostForm(e.server+"/sms/"+smsToken+"/delivery", url.Values{"id": {"ATXid_none"}, "status": {"Success"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the server's delivery-report route answered %d, want 200", resp.StatusCode)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		st := e.phone(phoneB)
		for _, m := range st.SMS {
			if strings.Contains(m.Text, "1,000") && m.Status == "Success" {
				return true, ""
			}
		}
		return false, "no delivered SMS about 1,000 sats in B's inbox"
	})
}

// recorder stands in for the server: it records what reaches it and
// answers as answer says.
type recorder struct {
	mu     sync.Mutex
	forms  map[string][]url.Values // by path
	tokens []string
	answer func(path string, form url.Values) (status int, body string)
	posted chan string // path of every request, after it is recorded
}

func newRecorder(answer func(path string, form url.Values) (int, string)) *recorder {
	return &recorder{forms: map[string][]url.Values{}, answer: answer, posted: make(chan string, 100)}
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm() //nolint:errcheck
	rc.mu.Lock()
	rc.forms[r.URL.Path] = append(rc.forms[r.URL.Path], r.PostForm)
	rc.tokens = append(rc.tokens, r.URL.Query().Get("token"))
	rc.mu.Unlock()
	rc.posted <- r.URL.Path
	status, body := rc.answer(r.URL.Path, r.PostForm)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	io.WriteString(w, body) //nolint:errcheck
}

func (rc *recorder) last(path string) url.Values {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	f := rc.forms[path]
	if len(f) == 0 {
		return nil
	}
	return f[len(f)-1]
}

// drain forgets the requests not awaited so far.
func (rc *recorder) drain() {
	for {
		select {
		case <-rc.posted:
		default:
			return
		}
	}
}

// await waits for the next request to path.
func (rc *recorder) await(t *testing.T, path string) url.Values {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case p := <-rc.posted:
			if p == path {
				return rc.last(path)
			}
		case <-timeout:
			t.Fatalf("nothing posted to %s", path)
		}
	}
}

// TestWorldUSSDGatewayAsAfricasTalking: the gateway posts AT's form with
// the text accumulated, CON and END as the contract says, the handset's
// error for a non-200, an answer that is neither CON nor END, and one
// later than the gateway waits; a phone answering while its last answer is
// on its way is refused; the end of every session is posted to the
// events URL with its status.
func TestWorldUSSDGatewayAsAfricasTalking(t *testing.T) {
	var mu sync.Mutex
	next := "CON Menu\n1. One"
	release := make(chan struct{})
	rc := newRecorder(func(path string, form url.Values) (int, string) {
		if path != "/ussd" {
			return http.StatusOK, "OK"
		}
		mu.Lock()
		ans := next
		mu.Unlock()
		switch ans {
		case "500":
			return http.StatusInternalServerError, "boom"
		case "hold":
			<-release
			return http.StatusOK, "CON late"
		}
		return http.StatusOK, ans
	})
	srv := httptest.NewServer(rc)
	defer srv.Close()
	w, err := world.New(world.Config{ServerURL: srv.URL, USSDToken: "tok", USSDTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	sim := httptest.NewServer(w.Handler())
	defer sim.Close()
	e := &env{t: t, url: sim.URL}
	say := func(s string) {
		mu.Lock()
		next = s
		mu.Unlock()
	}

	dial := e.ussd(phoneA, "")
	if dial.Text != "Menu\n1. One" || dial.End {
		t.Fatalf("dial: %+v", dial)
	}
	f := rc.last("/ussd")
	if f.Get("sessionId") != dial.SessionID || f.Get("phoneNumber") != phoneA || f.Get("networkCode") != "99999" ||
		f.Get("serviceCode") != "*384*1234#" || f.Get("text") != "" || rc.tokens[0] != "tok" {
		t.Fatalf("dial's form %v, token %q", f, rc.tokens[0])
	}
	say("CON Two")
	e.ussd(phoneA, "1")
	say("END Bye")
	end := e.ussd(phoneA, "2")
	if f := rc.last("/ussd"); f.Get("text") != "1*2" || f.Get("sessionId") != dial.SessionID {
		t.Fatalf("third hop's form %v", f)
	}
	if end.Text != "Bye" || !end.End || end.SessionID != dial.SessionID {
		t.Fatalf("END: %+v", end)
	}
	ev := rc.await(t, "/ussd/events")
	if ev.Get("sessionId") != dial.SessionID || ev.Get("status") != "Success" || ev.Get("hopsCount") != "3" || ev.Get("input") != "1*2" {
		t.Fatalf("end-of-session event %v", ev)
	}

	for _, c := range []struct{ answer, status string }{{"500", "Failed"}, {"Hello", "Failed"}, {"hold", "Failed"}} {
		say("CON Menu")
		e.ussd(phoneB, "")
		say(c.answer)
		s := e.ussd(phoneB, "1")
		if c.answer == "hold" {
			// The server held its answer past the gateway's wait.
			release <- struct{}{}
			if s.MS < 2000 {
				t.Fatalf("gave up after %d ms, before the gateway's 2 s", s.MS)
			}
		}
		if s.Text != "Connection problem or invalid MMI code." || !s.End {
			t.Fatalf("answer %q: %+v", c.answer, s)
		}
		if ev := rc.await(t, "/ussd/events"); ev.Get("status") != c.status || ev.Get("errorMessage") == "" {
			t.Fatalf("answer %q: event %v", c.answer, ev)
		}
	}

	// An answer while the last is on its way is refused.
	say("CON Menu")
	e.ussd(phoneB, "")
	say("hold")
	rc.drain()
	done := make(chan screen)
	go func() {
		var s screen
		e.call(http.MethodPost, "/api/ussd", map[string]string{"phone": phoneB, "input": "1"}, http.StatusOK, &s)
		done <- s
	}()
	for p := range rc.posted {
		if p == "/ussd" {
			break // the held hop reached the server
		}
	}
	e.call(http.MethodPost, "/api/ussd", map[string]string{"phone": phoneB, "input": "2"}, http.StatusConflict, nil)
	release <- struct{}{}
	if s := <-done; s.Text != "late" || s.End {
		t.Fatalf("the held hop: %+v", s)
	}
	e.call(http.MethodPost, "/api/ussd/cancel", map[string]string{"phone": phoneB}, http.StatusOK, nil)
	rc.await(t, "/ussd/events")

	// Cancel ends the session as incomplete; the next input dials.
	say("CON Menu")
	open := e.ussd(phoneA, "")
	e.call(http.MethodPost, "/api/ussd/cancel", map[string]string{"phone": phoneA}, http.StatusOK, nil)
	if ev := rc.await(t, "/ussd/events"); ev.Get("sessionId") != open.SessionID || ev.Get("status") != "Incomplete" {
		t.Fatalf("cancel's event %v", ev)
	}
	if s := e.ussd(phoneA, "4"); s.SessionID == open.SessionID || rc.last("/ussd").Get("text") != "" {
		t.Fatalf("after cancel: %+v, text %q", s, rc.last("/ussd").Get("text"))
	}
	e.call(http.MethodPost, "/api/ussd", map[string]string{"phone": phoneA, "input": "1\n2"}, http.StatusBadRequest, nil)
}

// TestWorldSMSGateway: the server's own SMS adapter sends through the
// world's Africa's Talking API; the text shows in the phone's inbox with
// the delivery status, and the report reached the server's delivery URL
// with AT's form. A text from a phone reaches the server's inbound URL as
// AT's form, its id returned; a server that refuses it is an error.
func TestWorldSMSGateway(t *testing.T) {
	refuse := false
	var mu sync.Mutex
	rc := newRecorder(func(path string, form url.Values) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return http.StatusNotFound, "404 page not found"
		}
		return http.StatusOK, "OK"
	})
	srv := httptest.NewServer(rc)
	defer srv.Close()
	w, err := world.New(world.Config{ServerURL: srv.URL, SMSToken: smsToken, ATUsername: "umeme", ATAPIKey: atKey})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	sim := httptest.NewServer(w.Handler())
	defer sim.Close()
	e := &env{t: t, url: sim.URL}

	at, err := sms.NewAT(sms.Config{BaseURL: sim.URL, Username: "umeme", APIKey: atKey})
	if err != nil {
		t.Fatal(err)
	}
	res, err := at.Send(context.Background(), sms.Message{To: phoneB, Text: "You received 1,000 sats from ***001."})
	if err != nil || !res.Sent {
		t.Fatalf("send: %+v %v", res, err)
	}
	rep := rc.await(t, "/sms/"+smsToken+"/delivery")
	if rep.Get("id") != res.MessageID || rep.Get("status") != "Success" || rep.Get("phoneNumber") != phoneB {
		t.Fatalf("delivery report %v for %s", rep, res.MessageID)
	}
	var st phoneState
	eventually(t, 10*time.Second, func() (bool, string) {
		st = e.phone(phoneB)
		return len(st.SMS) == 1 && st.SMS[0].Status == "Success", "the inbox does not show the report"
	})
	if len(st.SMS) != 1 || st.SMS[0].ID != res.MessageID || st.SMS[0].Text != "You received 1,000 sats from ***001." ||
		st.SMS[0].Status != "Success" || st.SMS[0].From != "Umeme" || st.SMS[0].At.IsZero() {
		t.Fatalf("B's inbox %+v", st.SMS)
	}
	if st := e.phone(phoneA); len(st.SMS) != 0 {
		t.Fatalf("A's inbox %+v", st.SMS)
	}
	bad, _ := sms.NewAT(sms.Config{BaseURL: sim.URL, Username: "umeme", APIKey: "wrong"})
	if _, err := bad.Send(context.Background(), sms.Message{To: phoneB, Text: "x"}); err == nil {
		t.Fatal("a wrong apiKey sent a text")
	}

	var ok struct {
		OK bool   `json:"ok"`
		ID string `json:"id"`
	}
	e.call(http.MethodPost, "/api/phones/"+url.PathEscape(phoneA)+"/sms", map[string]string{"text": "pay lnbcrt1"}, http.StatusOK, &ok)
	in := rc.last("/sms/" + smsToken + "/inbound")
	if !ok.OK || ok.ID == "" || in.Get("id") != ok.ID || in.Get("from") != phoneA || in.Get("to") != "22384" || in.Get("text") != "pay lnbcrt1" ||
		in.Get("linkId") == "" || in.Get("date") == "" {
		t.Fatalf("inbound %v, answer %+v", in, ok)
	}
	mu.Lock()
	refuse = true
	mu.Unlock()
	e.call(http.MethodPost, "/api/phones/"+url.PathEscape(phoneA)+"/sms", map[string]string{"text": "hello"}, http.StatusBadGateway, nil)
	e.call(http.MethodPost, "/api/phones/"+url.PathEscape(phoneA)+"/sms", map[string]string{"text": " "}, http.StatusBadRequest, nil)
}
