package wallet_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// quote is a top-up or withdrawal quote of kes for msat, valid two minutes
// from the wallet clock's now.
func quote(c *clock, kes, msat int64) wallet.MpesaQuote {
	// At KES 12,500,000 per bitcoin without spread a shilling is exactly
	// 8,000 msat, so the quotes are whole both ways.
	if msat != kes*8_000 {
		panic("a test quote must be KES × 8,000 msat")
	}
	return wallet.MpesaQuote{KES: kes, Msat: msat, RateMilliKESPerBTC: 12_500_000_000, ExpiresAt: c.Now().Add(2 * time.Minute)}
}

// startTopup starts a top-up of kes and records its checkout id.
func startTopup(t *testing.T, w *wallet.Service, c *clock, m member, kes, msat int64, key string) (store.Transaction, string) {
	t.Helper()
	ctx := context.Background()
	tp, _, err := w.StartTopup(ctx, m.user.ID, quote(c, kes, msat), 90*time.Second, key)
	if err != nil {
		t.Fatal(err)
	}
	checkout := "ws_CO_" + storetest.Token(t, 10)
	if err := w.RecordCheckout(ctx, tp.ID, checkout); err != nil {
		t.Fatal(err)
	}
	return tp, checkout
}

// TestMpesaTopupLedger: a top-up is committed pending with its request
// before Daraja is asked, credits exactly once whatever reports it (twice,
// concurrently), credits nothing on a report that does not match it (an
// amount, a number, a receipt already used, a top-up already failed), and
// fails with its code; reconcile passes after each.
func TestMpesaTopupLedger(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, c := newWallet(t, db, func(cfg *wallet.Config) { cfg.AuthorizationTTL = time.Hour })
		m := register(t, w, 0)
		phone := strings.TrimPrefix(m.user.Phone, "+")

		tp, checkout := startTopup(t, w, c, m, 500, 4_000*sat, "topup-1")
		if tp.Status != store.StatusPending || tp.Type != store.TypeTopup || tp.AmountMsat != 4_000*sat {
			t.Fatalf("started top-up: %+v", tp)
		}
		r, err := w.MpesaRequest(ctx, tp.ID)
		if err != nil || r.AmountKES != 500 || r.Phone != phone || r.CheckoutRequestID != checkout || r.RateMilliKESPerBTC != 12_500_000_000 ||
			r.NextCheckAt == nil || !r.NextCheckAt.Equal(c.Now().Add(90*time.Second)) {
			t.Fatalf("request: %+v %v", r, err)
		}
		if again, fresh, err := w.StartTopup(ctx, m.user.ID, quote(c, 500, 4_000*sat), 90*time.Second, "topup-1"); err != nil || again.ID != tp.ID || fresh {
			t.Fatalf("repeated start: %+v %v", again, err)
		}
		if err := w.RecordCheckout(ctx, tp.ID, checkout); err != nil {
			t.Errorf("recording the same checkout id again: %v", err)
		}
		if err := w.RecordCheckout(ctx, tp.ID, "ws_CO_other"); err == nil {
			t.Error("another checkout id was recorded")
		}
		mustReconcile(t, w)

		for _, bad := range []wallet.MpesaPayment{
			{CheckoutRequestID: checkout, Receipt: "SIMAMOUNT1", AmountKES: 499, Phone: phone},
			{CheckoutRequestID: checkout, Receipt: "SIMPHONE01", AmountKES: 500, Phone: "254700000001"},
			{CheckoutRequestID: "ws_CO_unknown", Receipt: "SIMUNKNOWN", AmountKES: 500, Phone: phone},
		} {
			if _, _, err := w.CompleteTopup(ctx, bad); err == nil {
				t.Errorf("a mismatched report credited: %+v", bad)
			}
		}
		if b := balance(t, w, m.user.ID); b != 0 {
			t.Fatalf("balance after mismatched reports: %d", b)
		}

		// The same success, reported by two callbacks at once and then by
		// the reconciler's query (no phone), credits once.
		pay := wallet.MpesaPayment{CheckoutRequestID: checkout, Receipt: "SIM" + strings.ToUpper(storetest.Token(t, 4)), AmountKES: 500, Phone: phone}
		var wg sync.WaitGroup
		credits := make(chan bool, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, credited, err := w.CompleteTopup(ctx, pay)
				if err != nil {
					t.Errorf("complete: %v", err)
				}
				credits <- credited
			}()
		}
		wg.Wait()
		close(credits)
		n := 0
		for ok := range credits {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d of 4 concurrent reports credited, want 1", n)
		}
		queried := pay
		queried.Phone = ""
		if got, credited, err := w.CompleteTopup(ctx, queried); err != nil || credited || got.Status != store.StatusCompleted {
			t.Fatalf("a later query: %+v %v %v", got, credited, err)
		}
		if b := balance(t, w, m.user.ID); b != 4_000*sat {
			t.Fatalf("balance %d, want %d", b, 4_000*sat)
		}
		if r, _ := w.MpesaRequest(ctx, tp.ID); r.Receipt != pay.Receipt || r.NextCheckAt != nil {
			t.Errorf("finished request: %+v", r)
		}
		if ok, err := w.FailTopup(ctx, checkout, "1032", "Request cancelled by user"); err != nil || ok {
			t.Errorf("failing a credited top-up: %v %v", ok, err)
		}
		mustReconcile(t, w)

		// A second top-up cannot be finished with the first one's receipt.
		tp2, checkout2 := startTopup(t, w, c, m, 100, 800*sat, "topup-2")
		reused := wallet.MpesaPayment{CheckoutRequestID: checkout2, Receipt: pay.Receipt, AmountKES: 100, Phone: phone}
		if _, _, err := w.CompleteTopup(ctx, reused); !errors.Is(err, wallet.ErrMpesaMismatch) {
			t.Fatalf("a used receipt: %v, want ErrMpesaMismatch", err)
		}
		// Cancelled by the user: failed, told why, nothing credited, and
		// a success reported afterwards does not credit it.
		if ok, err := w.FailTopup(ctx, checkout2, "1032", "Request cancelled by user"); err != nil || !ok {
			t.Fatalf("fail: %v %v", ok, err)
		}
		if got, _ := w.Transaction(ctx, tp2.ID); got.Status != store.StatusFailed {
			t.Errorf("failed top-up: %+v", got)
		}
		if r, _ := w.MpesaRequest(ctx, tp2.ID); r.ResultCode != "1032" || r.NextCheckAt != nil {
			t.Errorf("failed request: %+v", r)
		}
		late := wallet.MpesaPayment{CheckoutRequestID: checkout2, Receipt: "SIMLATE001", AmountKES: 100, Phone: phone}
		if _, _, err := w.CompleteTopup(ctx, late); !errors.Is(err, wallet.ErrMpesaMismatch) {
			t.Errorf("success after failure: %v, want ErrMpesaMismatch", err)
		}
		if b := balance(t, w, m.user.ID); b != 4_000*sat {
			t.Fatalf("balance %d after the second top-up, want %d", b, 4_000*sat)
		}
		mustReconcile(t, w)

		// Paid by query (no receipt), then the callback brings the receipt:
		// one credit, and the receipt is recorded.
		tp3, checkout3 := startTopup(t, w, c, m, 100, 800*sat, "topup-3")
		if _, credited, err := w.CompleteTopup(ctx, wallet.MpesaPayment{CheckoutRequestID: checkout3, AmountKES: 100}); err != nil || !credited {
			t.Fatalf("completed by query: %v %v", credited, err)
		}
		late3 := wallet.MpesaPayment{CheckoutRequestID: checkout3, Receipt: "SIMLATE003", AmountKES: 100, Phone: phone}
		if _, credited, err := w.CompleteTopup(ctx, late3); err != nil || credited {
			t.Fatalf("the late callback: %v %v", credited, err)
		}
		if r, _ := w.MpesaRequest(ctx, tp3.ID); r.Receipt != "SIMLATE003" {
			t.Errorf("receipt after the late callback: %+v", r)
		}
		if b := balance(t, w, m.user.ID); b != 4_800*sat {
			t.Fatalf("balance %d after the queried top-up, want %d", b, 4_800*sat)
		}
		mustReconcile(t, w)

		// An expired quote, and one past the balance cap, start nothing.
		old := quote(c, 100, 800*sat)
		c.Advance(2 * time.Minute)
		if _, _, err := w.StartTopup(ctx, m.user.ID, old, time.Minute, "topup-old"); !errors.Is(err, wallet.ErrQuoteExpired) {
			t.Errorf("expired quote: %v", err)
		}
		cap := w.Config().MaxBalanceMsat
		if _, _, err := w.StartTopup(ctx, m.user.ID, quote(c, cap/8_000, cap/8_000*8_000), time.Minute, "topup-cap"); !errors.Is(err, wallet.ErrLimitExceeded) {
			t.Errorf("top-up past the cap: %v", err)
		}
	})
}

// TestMpesaWithdrawalLedger: a withdrawal reserves with its request to the
// user's own number and a unique OriginatorConversationID; M-Pesa's receipt
// settles it and cannot settle another; a definite failure refunds the
// whole hold with its code; reconcile passes after each.
func TestMpesaWithdrawalLedger(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, c := newWallet(t, db, func(cfg *wallet.Config) { cfg.AuthorizationTTL = time.Hour })
		m := register(t, w, 10_000*sat)
		withdraw := func(key string, msat int64) store.Transaction {
			t.Helper()
			wd, err := w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypeWithdraw, AmountMsat: msat, IdempotencyKey: key,
				Mpesa: &wallet.MpesaWithdrawal{Quote: quote(c, msat/8_000, msat), CheckAfter: time.Minute}})
			if err != nil {
				t.Fatal(err)
			}
			return wd
		}
		if _, err := w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypeWithdraw, AmountMsat: sat, IdempotencyKey: "no-quote"}); err == nil {
			t.Fatal("a withdrawal without its M-Pesa quote was reserved")
		}
		wd1, wd2, wd3 := withdraw("wd-1", 1_000*sat), withdraw("wd-2", 1_000*sat), withdraw("wd-3", 1_000*sat)
		r1, err := w.MpesaRequest(ctx, wd1.ID)
		r2, _ := w.MpesaRequest(ctx, wd2.ID)
		if err != nil || r1.Kind != store.MpesaWithdraw || r1.Phone != strings.TrimPrefix(m.user.Phone, "+") || r1.AmountKES != 125 ||
			r1.OriginatorConversationID == "" || r1.OriginatorConversationID == r2.OriginatorConversationID {
			t.Fatalf("withdrawal requests: %+v %+v %v", r1, r2, err)
		}
		fee := w.ServiceFee(1_000 * sat)
		if b := balance(t, w, m.user.ID); b != 7_000*sat-3*fee {
			t.Fatalf("balance after three holds: %d, want %d", b, 7_000*sat-3*fee)
		}
		mustReconcile(t, w)

		receipt := "SIMB2C" + strings.ToUpper(storetest.Token(t, 3))
		if ok, err := w.Settle(ctx, wallet.Settlement{TransactionID: wd1.ID, MpesaReceipt: receipt}); err != nil || !ok {
			t.Fatalf("settle: %v %v", ok, err)
		}
		if ok, err := w.Settle(ctx, wallet.Settlement{TransactionID: wd2.ID, MpesaReceipt: receipt}); ok || !errors.Is(err, wallet.ErrMpesaMismatch) {
			t.Fatalf("a second withdrawal settled with the first's receipt: %v %v", ok, err)
		}
		if got, _ := w.Transaction(ctx, wd2.ID); got.Status != store.StatusPending {
			t.Fatalf("withdrawal refused a used receipt is %s, want still pending", got.Status)
		}
		if ok, err := w.RefundMpesa(ctx, wd3.ID, "2001", "The initiator information is invalid."); err != nil || !ok {
			t.Fatalf("refund: %v %v", ok, err)
		}
		if r, _ := w.MpesaRequest(ctx, wd1.ID); r.Receipt != receipt || r.ResultCode != "0" || r.NextCheckAt != nil {
			t.Errorf("settled request: %+v", r)
		}
		if r, _ := w.MpesaRequest(ctx, wd3.ID); r.ResultCode != "2001" || r.Receipt != "" || r.NextCheckAt != nil {
			t.Errorf("refunded request: %+v", r)
		}
		if b := balance(t, w, m.user.ID); b != 8_000*sat-2*fee {
			t.Fatalf("balance %d, want %d (one paid, one held, one refunded)", b, 8_000*sat-2*fee)
		}
		due, err := w.DueMpesaRequests(ctx, c.Now().Add(time.Hour), 10)
		if err != nil || len(due) != 1 || due[0].TransactionID != wd2.ID {
			t.Fatalf("open requests: %+v %v, want only the held withdrawal", due, err)
		}
		mustReconcile(t, w)
	})
}
