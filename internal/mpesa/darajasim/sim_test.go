package darajasim_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/mpesa"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
)

const (
	key, secret, sc, pk = "k", "s", "174379", "pk"
	phone               = "254712345678"
)

type harness struct {
	sim    *darajasim.Sim
	url    string
	cbURL  string
	cbs    chan []byte
	token  string
	status int // what the callback receiver answers
}

func newHarness(t *testing.T, status int, late time.Duration) *harness {
	t.Helper()
	h := &harness{cbs: make(chan []byte, 16), status: status}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.cbs <- b
		w.WriteHeader(h.status)
	}))
	t.Cleanup(rcv.Close)
	h.cbURL = rcv.URL + "/cb"
	sim, err := darajasim.New(darajasim.Config{ConsumerKey: key, ConsumerSecret: secret, ShortCode: sc, PassKey: pk,
		B2CShortCode: "600000", InitiatorName: "api", InitiatorPassword: "pw", LateDelay: late})
	if err != nil {
		t.Fatal(err)
	}
	h.sim = sim
	mux := http.NewServeMux()
	mux.Handle("/sim/", http.StripPrefix("/sim", sim.Control()))
	mux.Handle("/", sim)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	h.url = srv.URL

	req, _ := http.NewRequest("GET", h.url+"/oauth/v1/generate?grant_type=client_credentials", nil)
	req.SetBasicAuth(key, secret)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   string `json:"expires_in"`
	}
	h.do(t, req, http.StatusOK, &tok)
	if tok.AccessToken == "" || tok.ExpiresIn != "3599" {
		t.Fatalf("token %+v", tok)
	}
	h.token = tok.AccessToken
	return h
}

// next waits for the next callback body; it fails the test after 5 s.
func (h *harness) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-h.cbs:
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no callback within 5 s")
		return nil
	}
}

func (h *harness) do(t *testing.T, req *http.Request, wantStatus int, out any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: HTTP %d %s, want %d", req.Method, req.URL.Path, resp.StatusCode, b, wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
}

func (h *harness) post(t *testing.T, path, token string, body any, wantStatus int, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", h.url+path, bytes.NewReader(b))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	h.do(t, req, wantStatus, out)
}

func (h *harness) stk(amount any) map[string]any {
	ts := mpesa.Timestamp(time.Now())
	return map[string]any{
		"BusinessShortCode": 174379, "Password": base64.StdEncoding.EncodeToString([]byte(sc + pk + ts)), "Timestamp": ts,
		"TransactionType": "CustomerPayBillOnline", "Amount": amount, "PartyA": 254712345678, "PartyB": sc,
		"PhoneNumber": phone, "CallBackURL": h.cbURL, "AccountReference": "ACC", "TransactionDesc": "d",
	}
}

type darajaError struct {
	RequestID    string `json:"requestId"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

func TestMpesaSimErrorShapes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 200, time.Hour)
	var e darajaError
	h.post(t, "/mpesa/stkpush/v1/processrequest", "nope", h.stk(10), http.StatusUnauthorized, &e)
	if e.ErrorCode != "404.001.03" || e.RequestID == "" || e.ErrorMessage != "Invalid Access Token" {
		t.Errorf("bad token: %+v", e)
	}
	h.post(t, "/mpesa/stkpush/v1/processrequest", "", h.stk(10), http.StatusUnauthorized, &e)
	if e.ErrorCode != "404.001.04" {
		t.Errorf("no token: %+v", e)
	}
	req, _ := http.NewRequest("GET", h.url+"/oauth/v1/generate?grant_type=client_credentials", nil)
	req.SetBasicAuth(key, "wrong")
	h.do(t, req, http.StatusBadRequest, &e)
	if e.ErrorCode != "400.008.01" {
		t.Errorf("wrong secret: %+v", e)
	}
	for field, bad := range map[string]any{
		"Amount": 10.5, "PhoneNumber": "0712345678", "PartyA": "25471234567", "PartyB": "999",
		"AccountReference": "ABCDEFGHIJKLM", "TransactionDesc": "ABCDEFGHIJKLMN", "CallBackURL": "not a url",
		"TransactionType": "Other", "Password": "x", "Timestamp": "20200101000000", "BusinessShortCode": "1",
	} {
		body := h.stk(10)
		body[field] = bad
		h.post(t, "/mpesa/stkpush/v1/processrequest", h.token, body, http.StatusBadRequest, &e)
		if e.ErrorCode != "400.002.02" || !strings.HasPrefix(e.ErrorMessage, "Bad Request - Invalid") {
			t.Errorf("%s=%v: %+v", field, bad, e)
		}
	}
	h.post(t, "/mpesa/nothing", h.token, map[string]any{}, http.StatusNotFound, &e)
	if len(h.sim.Callbacks()) != 0 {
		t.Error("a refused push posted a callback")
	}
}

func TestMpesaSimLenientAmountAndCallbackRecord(t *testing.T) {
	t.Parallel()
	h := newHarness(t, http.StatusInternalServerError, time.Hour)
	var ok map[string]string
	h.post(t, "/mpesa/stkpush/v1/processrequest", h.token, h.stk("100.00"), http.StatusOK, &ok)
	if ok["ResponseCode"] != "0" {
		t.Fatalf("%v", ok)
	}
	body := h.next(t)
	r, err := mpesa.ParseSTKCallback(body)
	if err != nil || r.AmountKES != 100 || r.CheckoutRequestID != ok["CheckoutRequestID"] {
		t.Fatalf("%+v, %v", r, err)
	}
	// The receiver's 500 is recorded, and the callback is not retried.
	deadline := time.Now().Add(5 * time.Second)
	for len(h.sim.Callbacks()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling the record, with a deadline
	}
	cbs := h.sim.Callbacks()
	if len(cbs) != 1 || cbs[0].Status != 500 || cbs[0].Kind != "stk" || cbs[0].URL != h.cbURL || !bytes.Equal(cbs[0].Body, body) {
		t.Errorf("callbacks %+v", cbs)
	}
	select {
	case b := <-h.cbs:
		t.Errorf("retried: %s", b)
	default:
	}
}

func TestMpesaSimControlAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 200, time.Hour)
	h.sim.SetSTKDefault(darajasim.STKOutcome{Delivery: darajasim.DeliverManual})
	var ok map[string]string
	h.post(t, "/mpesa/stkpush/v1/processrequest", h.token, h.stk(10), http.StatusOK, &ok)
	req, _ := http.NewRequest("GET", h.url+"/sim/prompts", nil)
	var ps []darajasim.Prompt
	h.do(t, req, 200, &ps)
	if len(ps) != 1 || ps[0].CheckoutRequestID != ok["CheckoutRequestID"] {
		t.Fatalf("prompts %+v", ps)
	}
	req, _ = http.NewRequest("POST", h.url+"/sim/prompts/"+ps[0].CheckoutRequestID+"/wrong-pin", nil)
	h.do(t, req, http.StatusNoContent, nil)
	if r, err := mpesa.ParseSTKCallback(h.next(t)); err != nil || r.ResultCode != 2001 {
		t.Fatalf("%+v, %v", r, err)
	}
	req, _ = http.NewRequest("POST", h.url+"/sim/prompts/"+ps[0].CheckoutRequestID+"/approve", nil)
	h.do(t, req, http.StatusConflict, nil)
}

func TestMpesaSimCloseStopsPending(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 200, time.Hour)
	h.sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverLate})
	h.post(t, "/mpesa/stkpush/v1/processrequest", h.token, h.stk(10), http.StatusOK, nil)
	h.sim.Close()
	h.sim.Flush()
	if cbs := h.sim.Callbacks(); len(cbs) != 0 {
		t.Errorf("posted after Close: %+v", cbs)
	}
	select {
	case b := <-h.cbs:
		t.Errorf("posted after Close: %s", b)
	default:
	}
}

func TestMpesaSimTransactionStatusByReceipt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 200, time.Hour)
	c, err := mpesa.New(mpesa.Config{BaseURL: h.url, ConsumerKey: key, ConsumerSecret: secret,
		B2CShortCode: "600000", InitiatorName: "api", InitiatorPassword: "pw", CertPEM: h.sim.CertPEM()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.B2C(ctx, mpesa.B2C{OriginatorConversationID: "w1", Phone: phone, AmountKES: 10, Remarks: "r",
		ResultURL: h.cbURL, QueueTimeOutURL: h.cbURL}); err != nil {
		t.Fatal(err)
	}
	paid, err := mpesa.ParseResult(h.next(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TransactionStatus(ctx, mpesa.TransactionStatus{TransactionID: paid.Receipt(), Remarks: "r",
		ResultURL: h.cbURL, QueueTimeOutURL: h.cbURL}); err != nil {
		t.Fatal(err)
	}
	st, err := mpesa.ParseResult(h.next(t))
	if err != nil || st.Receipt() != paid.Receipt() || st.Params["OriginatorConversationID"] != "w1" {
		t.Fatalf("%+v, %v", st, err)
	}
}

// TestMpesaSimSlowAndRefusedAnswers: an outcome's Answer holds Daraja's
// answer (the push is on the phone meanwhile) or refuses the request in
// Daraja's error shape, taking nothing on: the phone is free for the next
// push, which is accepted.
func TestMpesaSimSlowAndRefusedAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 200, time.Hour)
	const hold = 300 * time.Millisecond
	h.sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverLate, Answer: darajasim.Answer{After: hold, Refuse: true}},
		darajasim.STKOutcome{Delivery: darajasim.DeliverLate, Answer: darajasim.Answer{After: hold}})
	var e darajaError
	start := time.Now()
	h.post(t, "/mpesa/stkpush/v1/processrequest", h.token, h.stk(10), http.StatusBadRequest, &e)
	if took := time.Since(start); took < hold {
		t.Errorf("refusal answered after %s, want at least %s", took, hold)
	}
	if e.ErrorCode != "400.002.02" || e.RequestID == "" {
		t.Errorf("refusal %+v", e)
	}
	var ok map[string]string
	start = time.Now()
	h.post(t, "/mpesa/stkpush/v1/processrequest", h.token, h.stk(10), http.StatusOK, &ok)
	if took := time.Since(start); took < hold {
		t.Errorf("acceptance answered after %s, want at least %s", took, hold)
	}
	if ok["ResponseCode"] != "0" {
		t.Errorf("accepted %v", ok)
	}
	if rs := h.sim.Requests(); len(rs) != 3 || rs[1].Status != http.StatusBadRequest || rs[2].Status != http.StatusOK {
		t.Errorf("requests %+v", rs)
	}
}
