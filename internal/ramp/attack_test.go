package ramp_test

// Attack review of the M-Pesa rail (branch mpesa-attack). Each test here
// reproduces a finding and FAILS on main as of 6e6aafc; the failure
// message says what money went where it should not.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/ramp"
	"github.com/umeme-wallet/umeme/internal/store"
)

// faults sits between the client and the simulator and can spoil the
// answers of one Daraja path: each call to a path with a rule left is
// handled by the next rule.
type faults struct {
	mu    sync.Mutex
	rules map[string][]fault
	next  http.Handler
}

type fault int

const (
	// forwardThen502: the simulator gets and processes the request, the
	// client gets a 502 (a gateway that failed after passing it on).
	forwardThen502 fault = iota + 1
	// drop502: the request never reaches the simulator; the client gets a
	// 502 (outcome unknown to it).
	drop502
	// drop429: Daraja's spike arrest; the request never reaches M-Pesa.
	drop429
	// blankResultCode: an STK query answered "accepted" with a blank
	// ResultCode (the simulator is not asked).
	blankResultCode
)

func (f *faults) add(path string, rs ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules[path] = append(f.rules[path], rs...)
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	var rule fault
	if rs := f.rules[r.URL.Path]; len(rs) > 0 {
		rule, f.rules[r.URL.Path] = rs[0], rs[1:]
	}
	f.mu.Unlock()
	switch rule {
	case forwardThen502:
		rec := httptest.NewRecorder()
		f.next.ServeHTTP(rec, r)
		http.Error(w, `{"errorCode":"502.000.000","errorMessage":"Bad Gateway"}`, http.StatusBadGateway)
	case drop502:
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, `{"errorCode":"502.000.000","errorMessage":"Bad Gateway"}`, http.StatusBadGateway)
	case drop429:
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"requestId":"x","errorCode":"429.001.01","errorMessage":"Spike arrest violation"}`))
	case blankResultCode:
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ResponseCode":"0","ResponseDescription":"The service request has been accepted successsfully",` +
			`"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":"","ResultDesc":""}`))
	default:
		f.next.ServeHTTP(w, r)
	}
}

// newFaultyWorld is newWorld with faults between the client and Daraja.
func newFaultyWorld(t *testing.T, db database.DB) (*world, *faults) {
	t.Helper()
	sim, err := darajasim.New(darajaConfig)
	if err != nil {
		t.Fatal(err)
	}
	f := &faults{rules: map[string][]fault{}, next: sim}
	simSrv := httptest.NewServer(f)
	t.Cleanup(func() { sim.Close(); simSrv.Close() })
	return serverOn(t, db, sim, simSrv.URL, &clock{}), f
}

const (
	pathSTKPush = "/mpesa/stkpush/v1/processrequest"
	pathB2C     = "/mpesa/b2c/v3/paymentrequest"
	pathQuery   = "/mpesa/stkpushquery/v1/query"
)

// callbackOf waits for a callback of a kind and returns the first.
func (x *world) callbackOf(t *testing.T, kind string, n int) []darajasim.Callback {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got []darajasim.Callback
		for _, cb := range x.sim.Callbacks() {
			if cb.Kind == kind && cb.Status != 0 {
				got = append(got, cb)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d answered %s callbacks, want %d", len(got), kind, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMpesaAttackLostSTKAnswerPaidNeverCredited: Daraja accepts the STK push
// and the user pays, but the answer to the push is lost (a 5xx from a
// gateway after Daraja took it). Buy keeps the top-up pending with no
// CheckoutRequestID, so the success callback matches nothing and is
// dropped ("nothing credited"), and ten minutes later the reconciler fails
// the top-up as "unsent". The user paid KES 500 and got nothing.
func TestMpesaAttackLostSTKAnswerPaidNeverCredited(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x, f := newFaultyWorld(t, db)
		u, _ := x.user(t, 0)
		f.add(pathSTKPush, forwardThen502)

		tp, err := x.ramp.Buy(ctx, u.ID, x.quote(500), "buy-lost")
		if err != nil {
			t.Fatalf("buy: %v", err)
		}
		cb := x.callbackOf(t, "stk", 1)[0] // M-Pesa reports the payment (answered 200 "Accepted")
		if !strings.Contains(string(cb.Body), `"ResultCode":0`) {
			t.Fatalf("the simulator did not pay: %s", cb.Body)
		}
		x.clock.Advance(11 * time.Minute)
		for i := 0; i < 3; i++ {
			if _, err := x.ramp.CheckDue(ctx); err != nil {
				t.Fatal(err)
			}
			x.clock.Advance(2 * time.Minute)
		}
		got, _ := x.w.Transaction(ctx, tp.ID)
		if b := balance(t, x.w, u.ID); got.Status != store.StatusCompleted || b != 4_000_000 {
			t.Fatalf("M-Pesa took KES 500 (callback answered %d), but the top-up is %s and the balance %d msat, want completed and 4,000,000",
				cb.Status, got.Status, b)
		}
	})
}

// TestMpesaAttackRetriedSellRefundsPaidWithdrawal: the first B2C of a
// withdrawal reaches M-Pesa (which pays it) but its answer is lost, so
// the ConversationID is never recorded. The same request again (the USSD
// gateway repeats a hop with the same key) makes Sell send the B2C once
// more; that second call is refused outright (Daraja's spike arrest,
// 429), and Sell takes that refusal of the second call for a refusal of
// the withdrawal: it refunds. The user has the shillings and the bitcoin.
func TestMpesaAttackRetriedSellRefundsPaidWithdrawal(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x, f := newFaultyWorld(t, db)
		u, auth := x.user(t, 10_000_000)
		fee := x.w.ServiceFee(1_000_000)
		f.add(pathB2C, forwardThen502, drop429)
		x.sim.QueueB2C(darajasim.B2COutcome{Delivery: darajasim.DeliverLate}) // paid; its result comes later

		wd, err := x.ramp.Sell(ctx, auth, x.quote(125), "sell-retry")
		if err != nil {
			t.Fatalf("first sell: %v", err)
		}
		_, err2 := x.ramp.Sell(ctx, auth, x.quote(125), "sell-retry") // the repeated hop
		x.sim.Flush()                                                 // M-Pesa's result of the first (paid) B2C
		res := x.callbackOf(t, "b2c-result", 1)[0]
		if !strings.Contains(string(res.Body), `"ResultCode":0`) {
			t.Fatalf("the simulator did not pay: %s", res.Body)
		}
		got, _ := x.w.Transaction(ctx, wd.ID)
		if b := balance(t, x.w, u.ID); got.Status != store.StatusCompleted || b != 10_000_000-1_000_000-fee {
			t.Fatalf("M-Pesa paid KES 100, but the withdrawal is %s and the balance %d msat (want completed, %d); repeated sell said %v",
				got.Status, b, 10_000_000-1_000_000-fee, err2)
		}
	})
}

// TestMpesaAttackFailedB2CNeverRefunded: a B2C M-Pesa definitely did not pay
// (2040, receiver cannot be paid) whose result callback never came (or a
// queue time-out before the failure). The reconciler asks Transaction
// Status, which answers with the failure's own non-zero ResultCode;
// HandleStatus only acts on ResultCode 0 and logs anything else as
// "undecided", so the funds stay reserved forever, asked about every 90 s.
func TestMpesaAttackFailedB2CNeverRefunded(t *testing.T) {
	for name, delivery := range map[string]darajasim.Delivery{"no-callback": darajasim.DeliverNone, "queue-timeout": darajasim.DeliverQueueTimeout} {
		t.Run(name, func(t *testing.T) {
			dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
				ctx := context.Background()
				x := newWorld(t, db)
				u, auth := x.user(t, 10_000_000)
				x.sim.QueueB2C(darajasim.B2COutcome{ResultCode: darajasim.ResultUnsupportedReceive, Delivery: delivery})
				wd, err := x.ramp.Sell(ctx, auth, x.quote(125), "sell-failed")
				if err != nil {
					t.Fatal(err)
				}
				x.sim.Flush()
				if delivery == darajasim.DeliverQueueTimeout {
					// The time-out is posted on its own goroutine: answered
					// before the clock moves, or it may land after a check
					// and put the next one off.
					x.callbackOf(t, "b2c-timeout", 1)
				}
				for i := 1; i <= 5; i++ {
					x.clock.Advance(91 * time.Second)
					if _, err := x.ramp.CheckDue(ctx); err != nil {
						t.Fatal(err)
					}
					x.callbackOf(t, "status-result", i)
					if got, _ := x.w.Transaction(ctx, wd.ID); got.Status != store.StatusPending {
						break
					}
				}
				got, _ := x.w.Transaction(ctx, wd.ID)
				req, _ := x.w.MpesaRequest(ctx, wd.ID)
				if b := balance(t, x.w, u.ID); got.Status != store.StatusFailed || b != 10_000_000 {
					t.Fatalf("M-Pesa failed the B2C (2040) and Transaction Status said so 5 times, but the withdrawal is %s, "+
						"balance %d msat (want failed, 10,000,000), checks %d, next check %v", got.Status, b, req.Checks, req.NextCheckAt)
				}
			})
		})
	}
}

// TestMpesaAttackB2CNeverReceivedStuckForever: the B2C never reached M-Pesa
// (a gateway answered 502 without passing it on), and every Transaction
// Status answers "The transaction does not exist" (2032). The review found
// the funds held forever. Decision: an unknown outcome stays reserved
// (money rule), since "not found" is also what a payment M-Pesa has not
// processed yet looks like; after a day it is logged for the operator, who
// resolves it (server mpesa pending, resolve). The test holds that it is
// still reserved, never refunded on a guess, and still asked about.
func TestMpesaAttackB2CNeverReceivedStuckForever(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x, _, wd := lostSell(t, db)
		x.askStatus(t, 4, 6*time.Hour)
		got, _ := x.w.Transaction(ctx, wd.ID)
		req, _ := x.w.MpesaRequest(ctx, wd.ID)
		if got.Status != store.StatusPending || req.NextCheckAt == nil || req.Checks < 4 {
			t.Fatalf("a B2C M-Pesa has never heard of (2032, 24 h): %s, %d checks, next check %v; want still reserved and asked about",
				got.Status, req.Checks, req.NextCheckAt)
		}
	})
}

// TestMpesaAttackB2CFailureOfAnotherConversationRefunds: a failure result is
// applied to the withdrawal its OriginatorConversationID names without
// comparing its ConversationID with the one Daraja gave our (accepted,
// later paid) B2C. A failure carrying another ConversationID (a second
// submission's result, or anyone holding the callback token) refunds a
// withdrawal that M-Pesa then pays.
func TestMpesaAttackB2CFailureOfAnotherConversationRefunds(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x := newWorld(t, db)
		u, auth := x.user(t, 10_000_000)
		fee := x.w.ServiceFee(1_000_000)
		x.sim.QueueB2C(darajasim.B2COutcome{Delivery: darajasim.DeliverLate})
		wd, err := x.ramp.Sell(ctx, auth, x.quote(125), "sell-conv")
		if err != nil {
			t.Fatal(err)
		}
		req, _ := x.w.MpesaRequest(ctx, wd.ID)
		if req.ConversationID == "" {
			t.Fatal("no ConversationID recorded")
		}
		body := `{"Result":{"ResultType":0,"ResultCode":15,"ResultDesc":"Duplicate OriginatorConversationID.","OriginatorConversationID":"` +
			req.OriginatorConversationID + `","ConversationID":"AG_20260101_not_ours","TransactionID":"X"}}`
		if code := post(t, x.api+ramp.PathB2CResult, []byte(body)); code != http.StatusOK {
			t.Fatalf("failure result answered %d", code)
		}
		x.sim.Flush() // our B2C is paid
		x.callbackOf(t, "b2c-result", 1)
		got, _ := x.w.Transaction(ctx, wd.ID)
		if b := balance(t, x.w, u.ID); got.Status != store.StatusCompleted || b != 10_000_000-1_000_000-fee {
			t.Fatalf("M-Pesa paid conversation %s, but a failure of conversation AG_20260101_not_ours left the withdrawal %s "+
				"with balance %d msat (want completed, %d)", req.ConversationID, got.Status, b, 10_000_000-1_000_000-fee)
		}
	})
}

// TestMpesaAttackB2CSuccessWithoutProofSettles: a B2C "success" with a blank
// ResultCode and no ResultParameters (no receipt, no amount) settles the
// withdrawal: the blank code reads as 0 and Settle needs neither receipt
// nor amount. The STK side demands both; here the user's funds go to the
// M-Pesa account on a result that proves nothing.
func TestMpesaAttackB2CSuccessWithoutProofSettles(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x := newWorld(t, db)
		_, auth := x.user(t, 10_000_000)
		x.sim.QueueB2C(darajasim.B2COutcome{ResultCode: darajasim.ResultUnsupportedReceive, Delivery: darajasim.DeliverLate})
		wd, err := x.ramp.Sell(ctx, auth, x.quote(125), "sell-blank")
		if err != nil {
			t.Fatal(err)
		}
		req, _ := x.w.MpesaRequest(ctx, wd.ID)
		body := `{"Result":{"ResultType":0,"ResultCode":"","ResultDesc":"","OriginatorConversationID":"` +
			req.OriginatorConversationID + `","ConversationID":"` + req.ConversationID + `"}}`
		post(t, x.api+ramp.PathB2CResult, []byte(body))
		got, _ := x.w.Transaction(ctx, wd.ID)
		req, _ = x.w.MpesaRequest(ctx, wd.ID)
		if got.Status == store.StatusCompleted {
			t.Fatalf("a result with a blank ResultCode, no receipt and no amount settled the withdrawal (receipt %q); "+
				"M-Pesa will report it failed (2040)", req.Receipt)
		}
	})
}

// TestMpesaAttackUnknownCallbackHoldsThreeSeconds: every callback naming a
// CheckoutRequestID we do not know is retried for ~3 s (16 database
// transactions) before it is answered: one request per 3 s of a server
// goroutine and a stream of queries, for anyone with the token, and a
// slow answer to Daraja whenever its callback overtakes RecordCheckout.
func TestMpesaAttackUnknownCallbackHoldsThreeSeconds(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		x := newWorld(t, db)
		body := `{"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_nobody","ResultCode":1032,"ResultDesc":"x"}}}`
		start := time.Now()
		post(t, x.api+ramp.PathSTK, []byte(body))
		if d := time.Since(start); d > time.Second {
			t.Fatalf("a callback for an unknown push took %v to answer", d.Round(100*time.Millisecond))
		}
	})
}

// TestMpesaAttackBlankQueryResultCredits: the reconciler credits a top-up the
// user never approved when an STK query answers with a blank ResultCode:
// mpesa's flexInt reads "" as 0, which STKQuery reports as "paid". A
// field that decides a credit is read fail-open.
func TestMpesaAttackBlankQueryResultCredits(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x, f := newFaultyWorld(t, db)
		u, _ := x.user(t, 0)
		x.sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverManual}) // the user never answers the prompt
		tp, err := x.ramp.Buy(ctx, u.ID, x.quote(500), "buy-blank")
		if err != nil {
			t.Fatal(err)
		}
		f.add(pathQuery, blankResultCode)
		x.clock.Advance(91 * time.Second)
		if _, err := x.ramp.CheckDue(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := x.w.Transaction(ctx, tp.ID)
		if b := balance(t, x.w, u.ID); got.Status == store.StatusCompleted || b != 0 {
			t.Fatalf("an STK query with a blank ResultCode credited a prompt nobody approved: %s, balance %d msat", got.Status, b)
		}
	})
}

// TestMpesaAttackForgedCallbackCannotAdopt: a top-up whose push answer was
// lost is open, unacknowledged, for its number and amount. A forged
// success callback (someone holding the callback token) naming that
// number and amount and a made-up CheckoutRequestID must not claim it:
// the push is confirmed with Daraja first, which knows no such push.
func TestMpesaAttackForgedCallbackCannotAdopt(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x, f := newFaultyWorld(t, db)
		u, _ := x.user(t, 0)
		f.add(pathSTKPush, forwardThen502)
		x.sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverNone}) // nobody pays, nothing calls back
		tp, err := x.ramp.Buy(ctx, u.ID, x.quote(500), "buy-forged")
		if err != nil {
			t.Fatalf("buy: %v", err)
		}
		req, _ := x.w.MpesaRequest(ctx, tp.ID)
		if req.CheckoutRequestID != "" {
			t.Fatalf("the push was acknowledged: %+v", req)
		}
		body := `{"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_FORGED0001","ResultCode":0,"ResultDesc":"ok",` +
			`"CallbackMetadata":{"Item":[{"Name":"Amount","Value":500},{"Name":"MpesaReceiptNumber","Value":"SIMFORGED9"},{"Name":"PhoneNumber","Value":` +
			req.Phone + `}]}}}}`
		post(t, x.api+ramp.PathSTK, []byte(body))
		got, _ := x.w.Transaction(ctx, tp.ID)
		if b := balance(t, x.w, u.ID); got.Status != store.StatusPending || b != 0 {
			t.Fatalf("a forged callback claimed the unacknowledged top-up: %s, balance %d msat", got.Status, b)
		}
		if r, _ := x.w.MpesaRequest(ctx, tp.ID); r.CheckoutRequestID != "" {
			t.Fatalf("the forged CheckoutRequestID was adopted: %+v", r)
		}
	})
}
