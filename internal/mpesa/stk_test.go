package mpesa_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/mpesa"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
)

const stkPath = "/mpesa/stkpush/v1/processrequest"

func TestMpesaClientSTKPaid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reply := e.push(t, 500)
	if reply.ResponseCode != "0" || reply.CheckoutRequestID == "" || reply.MerchantRequestID == "" {
		t.Fatalf("reply %+v", reply)
	}

	body := e.lastBody(t, stkPath)
	ts, _ := body["Timestamp"].(string)
	if !regexp.MustCompile(`^\d{14}$`).MatchString(ts) || ts != mpesa.Timestamp(e.clock.Now()) {
		t.Errorf("Timestamp %q", ts)
	}
	wantPw := base64.StdEncoding.EncodeToString([]byte(shortCode + passKey + ts))
	for k, want := range map[string]any{
		"BusinessShortCode": shortCode, "Password": wantPw, "TransactionType": "CustomerPayBillOnline",
		"Amount": 500.0, "PartyA": phone, "PhoneNumber": phone, "PartyB": shortCode,
		"AccountReference": "UMEME", "TransactionDesc": "Top-up",
	} {
		if body[k] != want {
			t.Errorf("%s = %v, want %v", k, body[k], want)
		}
	}

	got := e.rcv.next(t)
	res, err := mpesa.ParseSTKCallback(got.body)
	if err != nil {
		t.Fatalf("ParseSTKCallback: %v\n%s", err, got.body)
	}
	if res.CheckoutRequestID != reply.CheckoutRequestID || res.MerchantRequestID != reply.MerchantRequestID ||
		res.ResultCode != 0 || res.AmountKES != 500 || res.Receipt == "" || res.Phone != phone ||
		len(res.TransactionDate) != 14 {
		t.Errorf("callback %+v", res)
	}

	q, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID)
	if err != nil {
		t.Fatalf("STKQuery: %v", err)
	}
	if q.ResultCode != 0 || q.CheckoutRequestID != reply.CheckoutRequestID {
		t.Errorf("query %+v", q)
	}
	e.rcv.none(t)
}

func TestMpesaClientSTKFailures(t *testing.T) {
	t.Parallel()
	for _, code := range []int{
		darajasim.ResultInsufficientFunds, darajasim.ResultCancelled, darajasim.ResultUnreachable,
		darajasim.ResultExpired, darajasim.ResultInitiatorInvalid, darajasim.ResultRuleLimited,
	} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.sim.SetSTKDefault(darajasim.STKOutcome{ResultCode: code})
			reply := e.push(t, 100)
			res, err := mpesa.ParseSTKCallback(e.rcv.next(t).body)
			if err != nil {
				t.Fatal(err)
			}
			if res.ResultCode != code || res.AmountKES != 0 || res.Receipt != "" || res.ResultDesc == "" {
				t.Errorf("callback %+v", res)
			}
			q, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID)
			if err != nil || q.ResultCode != code {
				t.Errorf("query %+v, %v", q, err)
			}
		})
	}
}

func TestMpesaClientSTKDuplicateCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverTwice})
	e.push(t, 70)
	a, b := e.rcv.next(t), e.rcv.next(t)
	if string(a.body) != string(b.body) {
		t.Errorf("duplicate differs:\n%s\n%s", a.body, b.body)
	}
	if r, err := mpesa.ParseSTKCallback(b.body); err != nil || r.ResultCode != 0 || r.AmountKES != 70 {
		t.Errorf("%+v, %v", r, err)
	}
}

func TestMpesaClientSTKLateCallbackLocksPhone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sim.SetSTKForPhone(phone, darajasim.STKOutcome{Delivery: darajasim.DeliverLate})
	reply := e.push(t, 100)

	_, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID)
	if !mpesa.IsBeingProcessed(err) || mpesa.IsSubscriberLocked(err) || mpesa.Retryable(err) {
		t.Fatalf("query of a pending push: %v", err)
	}
	_, err = e.client.STKPush(context.Background(), mpesa.STKPush{
		Phone: phone, AmountKES: 100, AccountReference: "UMEME", Description: "Top-up", CallbackURL: e.rcv.url("/cb/stk"),
	})
	if !mpesa.IsSubscriberLocked(err) || mpesa.IsBeingProcessed(err) || mpesa.Retryable(err) {
		t.Fatalf("second push to a locked phone: %v", err)
	}
	var ae *mpesa.APIError
	if !errors.As(err, &ae) || ae.ErrorCode != "500.001.1001" || ae.HTTPStatus != 500 {
		t.Errorf("APIError %+v", ae)
	}
	assertNoSecrets(t, err)
	e.rcv.none(t)

	e.sim.Flush()
	if res, err := mpesa.ParseSTKCallback(e.rcv.next(t).body); err != nil || res.ResultCode != 0 {
		t.Fatalf("late callback %+v, %v", res, err)
	}
	if q, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID); err != nil || q.ResultCode != 0 {
		t.Fatalf("query after the callback %+v, %v", q, err)
	}
	e.push(t, 100) // the phone is free again
}

func TestMpesaClientSTKLateCallbackTimer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s *darajasim.Config, _ *mpesa.Config) { s.LateDelay = 20 * time.Millisecond })
	e.sim.QueueSTK(darajasim.STKOutcome{ResultCode: darajasim.ResultCancelled, Delivery: darajasim.DeliverLate})
	e.push(t, 100)
	if res, err := mpesa.ParseSTKCallback(e.rcv.next(t).body); err != nil || res.ResultCode != 1032 {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestMpesaClientSTKNoCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sim.SetSTKDefault(darajasim.STKOutcome{Delivery: darajasim.DeliverNone})
	reply := e.push(t, 100)
	q, err := e.client.STKQuery(context.Background(), reply.CheckoutRequestID)
	if err != nil || q.ResultCode != 0 {
		t.Fatalf("%+v, %v", q, err)
	}
	if cbs := e.sim.Callbacks(); len(cbs) != 0 {
		t.Errorf("callbacks %v", cbs)
	}
	e.rcv.none(t)
}

func TestMpesaClientSTKManual(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sim.SetSTKDefault(darajasim.STKOutcome{Delivery: darajasim.DeliverManual})
	actions := []struct {
		do   func(string) error
		code int
	}{
		{e.sim.Approve, 0}, {e.sim.Cancel, 1032}, {e.sim.WrongPIN, 2001}, {e.sim.Ignore, 1037},
	}
	for _, a := range actions {
		reply := e.push(t, 250)
		ps := e.sim.Prompts()
		if len(ps) != 1 || ps[0].CheckoutRequestID != reply.CheckoutRequestID || ps[0].Phone != phone || ps[0].AmountKES != 250 {
			t.Fatalf("prompts %+v", ps)
		}
		e.rcv.none(t)
		if err := a.do(reply.CheckoutRequestID); err != nil {
			t.Fatal(err)
		}
		if err := a.do(reply.CheckoutRequestID); err == nil {
			t.Error("a prompt was answered twice")
		}
		res, err := mpesa.ParseSTKCallback(e.rcv.next(t).body)
		if err != nil || res.ResultCode != a.code {
			t.Fatalf("want %d: %+v, %v", a.code, res, err)
		}
	}
	if err := e.sim.Approve("ws_CO_nope"); err == nil {
		t.Error("approved an unknown prompt")
	}
}

func TestMpesaClientSTKValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ok := mpesa.STKPush{Phone: phone, AmountKES: 10, AccountReference: "UMEME", Description: "Top-up", CallbackURL: e.rcv.url("/cb")}
	for name, mut := range map[string]func(*mpesa.STKPush){
		"zero amount":    func(p *mpesa.STKPush) { p.AmountKES = 0 },
		"negative":       func(p *mpesa.STKPush) { p.AmountKES = -5 },
		"too much":       func(p *mpesa.STKPush) { p.AmountKES = 250_001 },
		"landline":       func(p *mpesa.STKPush) { p.Phone = "0201234567" },
		"foreign":        func(p *mpesa.STKPush) { p.Phone = "+255712345678" },
		"short":          func(p *mpesa.STKPush) { p.Phone = "071234567" },
		"long reference": func(p *mpesa.STKPush) { p.AccountReference = "ABCDEFGHIJKLM" },
		"long desc":      func(p *mpesa.STKPush) { p.Description = "ABCDEFGHIJKLMN" },
		"no callback":    func(p *mpesa.STKPush) { p.CallbackURL = "" },
	} {
		p := ok
		mut(&p)
		_, err := e.client.STKPush(context.Background(), p)
		if !errors.Is(err, mpesa.ErrInvalidRequest) {
			t.Errorf("%s: %v", name, err)
		}
		assertNoSecrets(t, err)
	}
	if n := e.calls(stkPath); n != 0 {
		t.Errorf("%d invalid pushes reached Daraja", n)
	}
	p := ok
	p.AmountKES = 250_000
	p.AccountReference = "ABCDEFGHIJKL"
	p.Description = "ABCDEFGHIJKLM"
	if _, err := e.client.STKPush(context.Background(), p); err != nil {
		t.Errorf("the limits themselves: %v", err)
	}
}

func TestMpesaClientSTKWrongPasskey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(_ *darajasim.Config, c *mpesa.Config) { c.PassKey = "pk-SECRET-wrong1" })
	_, err := e.client.STKPush(context.Background(), mpesa.STKPush{
		Phone: phone, AmountKES: 10, AccountReference: "UMEME", Description: "Top-up", CallbackURL: e.rcv.url("/cb"),
	})
	var ae *mpesa.APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 400 || ae.ErrorCode != "400.002.02" || ae.RequestID == "" {
		t.Fatalf("wrong passkey: %v", err)
	}
	if mpesa.Retryable(err) {
		t.Error("a refusal is retryable")
	}
	assertNoSecrets(t, err, "pk-SECRET-wrong1")
	_, err = e.client.STKQuery(context.Background(), "ws_CO_x")
	if !errors.As(err, &ae) || ae.HTTPStatus != 400 {
		t.Fatalf("query with a wrong passkey: %v", err)
	}
}

func TestMpesaClientSTKStaleTimestamp(t *testing.T) {
	t.Parallel()
	simClock := newClock()
	e := newEnv(t, func(s *darajasim.Config, _ *mpesa.Config) { s.Now = simClock.Now })
	simClock.Advance(10 * time.Minute)
	_, err := e.client.STKPush(context.Background(), mpesa.STKPush{
		Phone: phone, AmountKES: 10, AccountReference: "UMEME", Description: "Top-up", CallbackURL: e.rcv.url("/cb"),
	})
	var ae *mpesa.APIError
	if !errors.As(err, &ae) || ae.ErrorMessage != "Bad Request - Invalid Timestamp" {
		t.Fatalf("stale timestamp: %v", err)
	}
}

func TestMpesaClientTimestampNairobi(t *testing.T) {
	t.Parallel()
	if got := mpesa.Timestamp(time.Date(2026, 11, 27, 21, 4, 5, 0, time.UTC)); got != "20261128000405" {
		t.Errorf("Timestamp = %s", got)
	}
	if got := mpesa.STKPassword("174379", "pk", "20261128000405"); got != base64.StdEncoding.EncodeToString([]byte("174379pk20261128000405")) {
		t.Errorf("STKPassword = %s", got)
	}
}

func TestMpesaClientNormalisePhone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0712345678": "254712345678", "+254712345678": "254712345678", "254712345678": "254712345678",
		"0112345678": "254112345678", "+254 712 345 678": "254712345678", "0712-345-678": "254712345678",
		"712345678": "", "0812345678": "", "25471234567": "", "2547123456789": "", "+255712345678": "",
		"07123456a8": "", "": "", "+0712345678": "",
	} {
		got, err := mpesa.NormalisePhone(in)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("NormalisePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
		if err != nil && len(in) > 3 && regexp.MustCompile(regexp.QuoteMeta(in[:len(in)-3])).MatchString(err.Error()) {
			t.Errorf("error %q shows the number", err)
		}
	}
}
