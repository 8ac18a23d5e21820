package atsim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/sms/atsim"
)

const (
	user, key = "umeme", "atsk_simkey_123"
	alice     = "+254711222333"
)

func newSim(t *testing.T, cfg atsim.Config) (*atsim.Sim, string) {
	t.Helper()
	if cfg.Username == "" {
		cfg.Username, cfg.APIKey = user, key
	}
	sim := atsim.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/control/", http.StripPrefix("/control", sim.Control()))
	mux.Handle("/", sim.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	return sim, srv.URL
}

// post sends a messaging request the way the API documents it.
func post(t *testing.T, base, apiKey string, form url.Values, accept string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/version1/messaging", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("apiKey", apiKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func form(to, text string) url.Values {
	return url.Values{"username": {user}, "to": {to}, "message": {text}}
}

type answer struct {
	SMSMessageData struct {
		Message    string
		Recipients []struct {
			StatusCode any    `json:"statusCode"`
			Number     string `json:"number"`
			Status     string `json:"status"`
			Cost       string `json:"cost"`
			MessageID  string `json:"messageId"`
		}
	}
}

func decode(t *testing.T, body string) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return a
}

func TestSMSSimAcceptsEachNumber(t *testing.T) {
	sim, base := newSim(t, atsim.Config{})
	f := form(alice+", +254722000111,0722000111", "hello")
	f.Set("from", "UMEME")
	status, body := post(t, base, key, f, "application/json")
	if status != http.StatusCreated {
		t.Fatalf("HTTP %d %s", status, body)
	}
	a := decode(t, body)
	if a.SMSMessageData.Message != "Sent to 2/3 Total Cost: KES 1.6000" {
		t.Errorf("summary %q", a.SMSMessageData.Message)
	}
	r := a.SMSMessageData.Recipients
	if len(r) != 3 {
		t.Fatalf("recipients %+v", r)
	}
	for i, want := range []struct {
		number, status string
		code           float64
	}{{alice, "Success", 101}, {"+254722000111", "Success", 101}, {"0722000111", "InvalidPhoneNumber", 403}} {
		if r[i].Number != want.number || r[i].Status != want.status || r[i].StatusCode != want.code {
			t.Errorf("recipient %d: %+v, want %+v", i, r[i], want)
		}
	}
	if !strings.HasPrefix(r[0].MessageID, "ATXid_") || len(r[0].MessageID) != len("ATXid_")+32 || r[0].MessageID == r[1].MessageID {
		t.Errorf("ids %q %q", r[0].MessageID, r[1].MessageID)
	}
	if r[0].Cost != atsim.Cost || r[2].Cost != "0" || r[2].MessageID != "None" {
		t.Errorf("costs/ids %+v", r)
	}
	msgs := sim.Messages()
	if len(msgs) != 2 || msgs[0].ID != r[0].MessageID || msgs[0].To != alice || msgs[0].Text != "hello" || msgs[0].From != "UMEME" {
		t.Errorf("messages %+v", msgs)
	}
	if sim.Count(alice) != 1 || sim.Count("0722000111") != 0 {
		t.Errorf("counts %d %d", sim.Count(alice), sim.Count("0722000111"))
	}
}

func TestSMSSimRefusesBadCredentials(t *testing.T) {
	sim, base := newSim(t, atsim.Config{})
	for name, tc := range map[string]struct {
		key  string
		form url.Values
	}{
		"apiKey":   {"wrong", form(alice, "x")},
		"username": {key, url.Values{"username": {"other"}, "to": {alice}, "message": {"x"}}},
		"none":     {"", form(alice, "x")},
	} {
		status, body := post(t, base, tc.key, tc.form, "application/json")
		if status != http.StatusUnauthorized || strings.TrimSpace(body) != "The supplied authentication is invalid" {
			t.Errorf("%s: HTTP %d %q", name, status, body)
		}
	}
	if status, body := post(t, base, key, url.Values{"username": {user}, "to": {alice}}, "application/json"); status != http.StatusBadRequest || !strings.Contains(body, "'message'") {
		t.Errorf("no message: HTTP %d %q", status, body)
	}
	if n := len(sim.Messages()); n != 0 {
		t.Errorf("%d messages accepted", n)
	}
}

func TestSMSSimAnswersXMLUnlessJSONAsked(t *testing.T) {
	_, base := newSim(t, atsim.Config{})
	status, body := post(t, base, key, form(alice, "x"), "")
	if status != http.StatusCreated || !strings.HasPrefix(body, "<AfricasTalkingResponse>") || !strings.Contains(body, "<statusCode>101</statusCode>") {
		t.Errorf("HTTP %d %q", status, body)
	}
}

func TestSMSSimQueueIsFIFO(t *testing.T) {
	sim, base := newSim(t, atsim.Config{})
	sim.Queue(atsim.Outcome{StatusCode: atsim.StatusUserInBlacklist}, atsim.Outcome{HTTPStatus: http.StatusBadGateway})
	sim.Queue(atsim.Outcome{StatusCode: atsim.StatusQueued, StringStatusCode: true, HTTPStatus: http.StatusOK})

	status, body := post(t, base, key, form(alice, "1"), "application/json")
	if r := decode(t, body).SMSMessageData.Recipients; status != 201 || len(r) != 1 || r[0].StatusCode != float64(406) || r[0].Status != "UserInBlacklist" || r[0].MessageID != "None" {
		t.Errorf("first: HTTP %d %s", status, body)
	}
	if status, body = post(t, base, key, form(alice, "2"), "application/json"); status != http.StatusBadGateway {
		t.Errorf("second: HTTP %d %s", status, body)
	}
	status, body = post(t, base, key, form(alice, "3"), "application/json")
	if r := decode(t, body).SMSMessageData.Recipients; status != 200 || len(r) != 1 || r[0].StatusCode != "102" {
		t.Errorf("third: HTTP %d %s", status, body)
	}
	status, body = post(t, base, key, form(alice, "4"), "application/json")
	if r := decode(t, body).SMSMessageData.Recipients; status != 201 || len(r) != 1 || r[0].StatusCode != float64(101) {
		t.Errorf("fourth (default): HTTP %d %s", status, body)
	}
	if got := sim.Count(alice); got != 2 {
		t.Errorf("accepted %d, want 2 (the queued 102 and the default)", got)
	}
	if reqs := sim.Requests(); len(reqs) != 4 || reqs[1].HTTPStatus != http.StatusBadGateway || reqs[0].Header.Get("apiKey") != key {
		t.Errorf("requests %+v", reqs)
	}
}

func TestSMSSimNoRecipients(t *testing.T) {
	sim, base := newSim(t, atsim.Config{})
	sim.Queue(atsim.Outcome{NoRecipients: true})
	status, body := post(t, base, key, form(alice, "x"), "application/json")
	a := decode(t, body)
	if status != 201 || a.SMSMessageData.Message != "InvalidSenderId" || len(a.SMSMessageData.Recipients) != 0 {
		t.Errorf("HTTP %d %s", status, body)
	}
	if sim.Count(alice) != 0 {
		t.Error("a refused sender id accepted the message")
	}
}

func TestSMSSimDropAfterAccept(t *testing.T) {
	sim, base := newSim(t, atsim.Config{})
	sim.Queue(atsim.Outcome{DropAfterAccept: true}, atsim.Outcome{Drop: true})
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodPost, base+"/version1/messaging", strings.NewReader(form(alice, "x").Encode()))
		req.Header.Set("apiKey", key)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request %d answered HTTP %d, want a dropped connection", i, resp.StatusCode)
		}
	}
	if got := sim.Count(alice); got != 1 {
		t.Errorf("accepted %d, want 1 (DropAfterAccept only)", got)
	}
}

func TestSMSSimWaitFor(t *testing.T) {
	sim, base := newSim(t, atsim.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := sim.WaitFor(ctx, 1); err == nil {
		t.Fatal("WaitFor returned with no message")
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- sim.WaitFor(ctx, 2)
	}()
	post(t, base, key, form(alice, "1"), "application/json")
	post(t, base, key, form(alice, "2"), "application/json")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// receiver records the forms posted to it.
func receiver(t *testing.T, status int) (string, chan url.Values) {
	t.Helper()
	got := make(chan url.Values, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got <- r.PostForm
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/dlr", got
}

func next(t *testing.T, ch chan url.Values) url.Values {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("nothing posted within 5 s")
		return nil
	}
}

func TestSMSSimDeliveryReports(t *testing.T) {
	sim, base := newSim(t, atsim.Config{})
	ctx := context.Background()
	_, body := post(t, base, key, form(alice, "x"), "application/json")
	id := decode(t, body).SMSMessageData.Recipients[0].MessageID

	if err := sim.Deliver(ctx, id, "Success", ""); err == nil {
		t.Error("Deliver without a URL succeeded")
	}
	u, got := receiver(t, http.StatusOK)
	sim.SetDeliveryURL(u)
	if err := sim.Deliver(ctx, id, "Failed", "UserInBlacklist"); err != nil {
		t.Fatal(err)
	}
	f := next(t, got)
	want := url.Values{"id": {id}, "status": {"Failed"}, "phoneNumber": {alice}, "networkCode": {"63902"},
		"failureReason": {"UserInBlacklist"}, "retryCount": {"0"}}
	if f.Encode() != want.Encode() {
		t.Errorf("report %v, want %v", f, want)
	}
	if err := sim.Deliver(ctx, "ATXid_nope", "Success", ""); err == nil {
		t.Error("Deliver of an unknown id succeeded")
	}
	if err := sim.Deliver(ctx, id, "Delivered", ""); err == nil {
		t.Error("Deliver of an unknown status succeeded")
	}
	if r := sim.Reports(); len(r) != 1 || r[0].HTTPStatus != 200 || r[0].Status != "Failed" {
		t.Errorf("reports %+v", r)
	}

	u500, _ := receiver(t, http.StatusInternalServerError)
	sim.SetDeliveryURL(u500)
	if err := sim.Deliver(ctx, id, "Success", ""); err == nil {
		t.Error("a 500 from the receiver was not reported")
	}
}

func TestSMSSimAutoDeliver(t *testing.T) {
	sim, base := newSim(t, atsim.Config{AutoDeliver: true})
	u, got := receiver(t, http.StatusOK)
	sim.SetDeliveryURL(u)
	_, body := post(t, base, key, form(alice, "x"), "application/json")
	id := decode(t, body).SMSMessageData.Recipients[0].MessageID
	f := next(t, got)
	if f.Get("id") != id || f.Get("status") != "Success" || f.Get("phoneNumber") != alice || f.Has("failureReason") {
		t.Errorf("report %v", f)
	}
}

func TestSMSSimInbound(t *testing.T) {
	now := time.Date(2026, 12, 6, 11, 5, 1, 0, time.UTC)
	sim, _ := newSim(t, atsim.Config{Now: func() time.Time { return now }})
	u, got := receiver(t, http.StatusOK)
	var ids []string
	for range 2 {
		resp, err := sim.SendInbound(context.Background(), u, alice, "21525", "pay lnbc10u1...")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		f := next(t, got)
		if f.Get("from") != alice || f.Get("to") != "21525" || f.Get("text") != "pay lnbc10u1..." ||
			f.Get("date") != "2026-12-06 14:05:01" || f.Get("networkCode") != "63902" || f.Get("linkId") == "" || len(f.Get("id")) != 36 {
			t.Errorf("inbound %v", f)
		}
		ids = append(ids, f.Get("id"))
	}
	if ids[0] == ids[1] {
		t.Errorf("inbound ids repeat: %q", ids[0])
	}
}

func TestSMSSimSlowAnswerAbandoned(t *testing.T) {
	sim, base := newSim(t, atsim.Config{})
	sim.Queue(atsim.Outcome{Delay: time.Minute})
	c := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodPost, base+"/version1/messaging", strings.NewReader(form(alice, "x").Encode()))
	req.Header.Set("apiKey", key)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	start := time.Now()
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered HTTP %d", resp.StatusCode)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("the client timeout did not bound the wait")
	}
	if sim.Count(alice) != 0 {
		t.Error("an abandoned request was accepted")
	}
}

func TestSMSSimControl(t *testing.T) {
	sim, base := newSim(t, atsim.Config{})
	resp, err := http.Post(base+"/control/queue", "application/json", strings.NewReader(`{"statusCode":405}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("queue: HTTP %d", resp.StatusCode)
	}
	_, body := post(t, base, key, form(alice, "x"), "application/json")
	if r := decode(t, body).SMSMessageData.Recipients; r[0].StatusCode != float64(405) {
		t.Errorf("queued outcome not used: %s", body)
	}
	_, body = post(t, base, key, form(alice, "y"), "application/json")
	id := decode(t, body).SMSMessageData.Recipients[0].MessageID

	resp, err = http.Get(base + "/control/messages")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []atsim.Message
	err = json.NewDecoder(resp.Body).Decode(&msgs)
	resp.Body.Close()
	if err != nil || len(msgs) != 1 || msgs[0].ID != id || msgs[0].Text != "y" {
		t.Errorf("messages %+v %v", msgs, err)
	}

	u, got := receiver(t, http.StatusOK)
	sim.SetDeliveryURL(u)
	for path, want := range map[string]int{
		"/control/messages/" + id + "/deliver":                    http.StatusNoContent,
		"/control/messages/ATXid_none/deliver":                    http.StatusNotFound,
		"/control/messages/" + id + "/deliver?status=Delivered":   http.StatusBadRequest,
		"/control/messages/" + id + "/deliver?status=Rejected&x=": http.StatusNoContent,
	} {
		resp, err := http.Post(base+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
	statuses := map[string]bool{next(t, got).Get("status"): true, next(t, got).Get("status"): true}
	if !statuses["Success"] || !statuses["Rejected"] {
		t.Errorf("reports posted: %v", statuses)
	}
	if resp, err := http.Post(base+"/control/queue", "application/json", strings.NewReader(`{"statusCod":405}`)); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a misspelt outcome was accepted: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
