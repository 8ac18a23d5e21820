package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/notify"
	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

const (
	sat     = int64(1000)
	goodPIN = "7391"
)

// subject is a user who should hear of exactly one event.
type subject struct {
	user store.User
	auth wallet.Authorization
}

// newSubject registers a fresh number in lang with balance msat (an
// operator's credit, which tells nobody).
func newSubject(t *testing.T, w *wallet.Service, lang string, balance int64) subject {
	t.Helper()
	ctx := ctxT(t)
	u, _, err := w.EnsureUser(ctx, storetest.Phone(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Register(ctx, u.ID, goodPIN); err != nil {
		t.Fatal(err)
	}
	if err := w.SetLanguage(ctx, u.ID, lang); err != nil {
		t.Fatal(err)
	}
	u.Language = lang
	if balance > 0 {
		if _, err := w.Adjust(ctx, u.Phone, balance, "test funding", "fund:"+u.Phone); err != nil {
			t.Fatal(err)
		}
	}
	auth, err := w.VerifyPIN(ctx, u.ID, goodPIN)
	if err != nil {
		t.Fatal(err)
	}
	return subject{user: u, auth: auth}
}

// invoice is a fresh BOLT11-shaped string (the wallet does not decode it).
func invoice(t *testing.T) string { return "lnbcrt50u1pn9xyzpp5" + storetest.Token(t, 40) }

// withdrawal is the M-Pesa side of a withdrawal of msat (whole shillings
// at 8,000 msat each).
func withdrawal(msat int64) *wallet.MpesaWithdrawal {
	return &wallet.MpesaWithdrawal{CheckAfter: time.Minute,
		Quote: wallet.MpesaQuote{KES: msat / 8_000, Msat: msat, RateMilliKESPerBTC: 12_500_000_000, ExpiresAt: time.Now().Add(time.Hour)}}
}

// twice runs an operation, then runs it again as a retried request or a
// repeated callback would.
func twice(t *testing.T, what string, op func() error) {
	t.Helper()
	for i := range 2 {
		if err := op(); err != nil {
			t.Fatalf("%s (call %d): %v", what, i+1, err)
		}
	}
}

// event is one thing the wallet tells one subject, and the text it should
// get for it.
type event struct {
	name string
	to   subject
	want notify.Message
}

// TestSMSOutboxEveryKind: every kind of notification the wallet queues,
// made by real wallet operations each done twice (a retried request, a
// repeated callback), reaches its user exactly once through the real
// adapter and the simulator, in the user's language, with the balance
// right after the event (not the balance when sent) for the kinds that
// move money; every text is at most 3 messages but for an invoice; the
// outbox's log holds neither a whole number nor a text.
func TestSMSOutboxEveryKind(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := ctxT(t)
		cfg := wallet.DefaultConfig()
		cfg.AuthorizationTTL = time.Hour
		w, err := wallet.New(ctx, db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		balance := func(s subject) int64 {
			b, err := w.Balance(ctx, s.user.ID)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		var events []event
		add := func(name string, s subject, m notify.Message) {
			m.Lang, m.ServiceCode = s.user.Language, "*384*1234#"
			if m.HasBalance {
				m.BalanceMsat = balance(s)
			}
			events = append(events, event{name: name, to: s, want: m})
		}

		// A transfer: the recipient hears, with the balance right after it
		// although more arrives before the text is sent.
		payer := newSubject(t, w, "en", 100_000*sat)
		s := newSubject(t, w, "sw", 1_000*sat)
		twice(t, "transfer", func() error {
			_, err := w.Transfer(ctx, payer.auth, s.user.Phone, 5_000*sat, "transfer-"+s.user.Phone)
			return err
		})
		add("transfer received", s, notify.Message{Kind: store.NotifyReceived, AmountMsat: 5_000 * sat, Counterparty: payer.user.Phone, HasBalance: true})
		if _, err := w.Adjust(ctx, s.user.Phone, 777*sat, "later credit", "later:"+s.user.Phone); err != nil {
			t.Fatal(err)
		}

		// A top-up credited by M-Pesa's receipt.
		s = newSubject(t, w, "en", 0)
		receipt := "SIM" + strings.ToUpper(storetest.Token(t, 4))
		twice(t, "credit top-up", func() error {
			_, err := w.CreditTopup(ctx, wallet.Topup{Phone: s.user.Phone, AmountMsat: 2_000 * sat, MpesaReceipt: receipt})
			return err
		})
		add("top-up received", s, notify.Message{Kind: store.NotifyReceived, AmountMsat: 2_000 * sat, HasBalance: true})

		// A top-up through an STK push: completed, and failed.
		for _, ok := range []bool{true, false} {
			s = newSubject(t, w, map[bool]string{true: "sw", false: "en"}[ok], 0)
			q := wallet.MpesaQuote{KES: 250, Msat: 2_000 * sat, RateMilliKESPerBTC: 12_500_000_000, ExpiresAt: time.Now().Add(time.Hour)}
			tp, _, err := w.StartTopup(ctx, s.user.ID, q, time.Minute, "stk-"+s.user.Phone)
			if err != nil {
				t.Fatal(err)
			}
			checkout := "ws_CO_" + storetest.Token(t, 8)
			if err := w.RecordCheckout(ctx, tp.ID, checkout); err != nil {
				t.Fatal(err)
			}
			if ok {
				rcpt := "SIMOK" + strings.ToUpper(storetest.Token(t, 3))
				twice(t, "complete top-up", func() error {
					_, _, err := w.CompleteTopup(ctx, wallet.MpesaPayment{CheckoutRequestID: checkout, Receipt: rcpt, AmountKES: 250})
					return err
				})
				add("top-up completed", s, notify.Message{Kind: store.NotifyReceived, AmountMsat: 2_000 * sat, HasBalance: true})
			} else {
				twice(t, "fail top-up", func() error { _, err := w.FailTopup(ctx, checkout, "1032", "Request cancelled by user"); return err })
				add("top-up failed", s, notify.Message{Kind: store.NotifyTopupFailed, AmountMsat: 2_000 * sat, Body: "1032"})
			}
		}

		// An invoice: sent to its user, then paid from outside.
		s = newSubject(t, w, "en", 500*sat)
		hash, bolt11 := storetest.Token(t, 32), invoice(t)
		if _, err := w.CreateInvoice(ctx, wallet.NewInvoice{UserID: s.user.ID, Invoice: bolt11, PaymentHash: hash, AmountMsat: 5_000 * sat,
			ExpiresAt: time.Now().Add(time.Hour), SendToUser: true}); err != nil {
			t.Fatal(err)
		}
		add("invoice", s, notify.Message{Kind: store.NotifyInvoice, AmountMsat: 5_000 * sat, Body: bolt11})
		s = newSubject(t, w, "sw", 0)
		hash = storetest.Token(t, 32)
		if _, err := w.CreateInvoice(ctx, wallet.NewInvoice{UserID: s.user.ID, Invoice: invoice(t), PaymentHash: hash, AmountMsat: 3_000 * sat,
			ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		twice(t, "invoice paid", func() error { _, err := w.MarkInvoicePaid(ctx, hash, 3_000*sat); return err })
		add("lightning received", s, notify.Message{Kind: store.NotifyReceived, AmountMsat: 3_000 * sat, HasBalance: true})

		// A Lightning payment: settled, and refunded with the node's reason.
		for _, ok := range []bool{true, false} {
			s = newSubject(t, w, map[bool]string{true: "en", false: "sw"}[ok], 50_000*sat)
			p, err := w.Reserve(ctx, s.auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: 4_000 * sat, AllowanceMsat: 40 * sat,
				Invoice: invoice(t), PaymentHash: storetest.Token(t, 32), IdempotencyKey: "pay-" + s.user.Phone})
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				twice(t, "settle", func() error {
					_, err := w.Settle(ctx, wallet.Settlement{TransactionID: p.ID, RailFeeMsat: 3 * sat})
					return err
				})
				add("payment sent", s, notify.Message{Kind: store.NotifyPaymentSent, AmountMsat: 4_000 * sat, HasBalance: true})
			} else {
				twice(t, "refund", func() error { _, err := w.RefundBecause(ctx, p.ID, "FAILURE_REASON_NO_ROUTE"); return err })
				add("payment failed", s, notify.Message{Kind: store.NotifyPaymentFailed, AmountMsat: 4_000 * sat, Body: "FAILURE_REASON_NO_ROUTE", HasBalance: true})
			}
		}

		// A withdrawal to M-Pesa: paid, and refunded.
		for _, ok := range []bool{true, false} {
			s = newSubject(t, w, map[bool]string{true: "sw", false: "en"}[ok], 50_000*sat)
			p, err := w.Reserve(ctx, s.auth, wallet.Reservation{Type: store.TypeWithdraw, AmountMsat: 8_000 * sat,
				IdempotencyKey: "sell-" + s.user.Phone, Mpesa: withdrawal(8_000 * sat)})
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				rcpt := "SIMW" + strings.ToUpper(storetest.Token(t, 3))
				twice(t, "withdrawal paid", func() error {
					_, err := w.Settle(ctx, wallet.Settlement{TransactionID: p.ID, MpesaReceipt: rcpt})
					return err
				})
				add("withdrawal paid", s, notify.Message{Kind: store.NotifyWithdrawalPaid, AmountMsat: 8_000 * sat, HasBalance: true})
			} else {
				twice(t, "withdrawal refunded", func() error { _, err := w.RefundMpesa(ctx, p.ID, "2001", "The initiator is not allowed"); return err })
				add("withdrawal refunded", s, notify.Message{Kind: store.NotifyWithdrawalFailed, AmountMsat: 8_000 * sat,
					Body: "The initiator is not allowed", HasBalance: true})
			}
		}

		// A PIN change: the same prepared PIN applied twice (a repeated
		// hop) changes it, and tells, once.
		s = newSubject(t, w, "sw", 0)
		next, err := w.PreparePIN("2846")
		if err != nil {
			t.Fatal(err)
		}
		twice(t, "set PIN", func() error { return w.SetPIN(ctx, s.auth, next) })
		if _, err := w.VerifyPIN(ctx, s.user.ID, "2846"); err != nil {
			t.Fatalf("the new PIN does not open: %v", err)
		}
		add("PIN changed", s, notify.Message{Kind: store.NotifyPINChanged})
		s = newSubject(t, w, "en", 0)
		if err := w.ChangePIN(ctx, s.user.ID, goodPIN, "5820"); err != nil {
			t.Fatal(err)
		}
		add("PIN changed (ChangePIN)", s, notify.Message{Kind: store.NotifyPINChanged})

		// A lockout: wrong PINs until it locks, and more while it is locked.
		s = newSubject(t, w, "en", 0)
		for i := range cfg.MaxPINAttempts + 2 {
			if _, err := w.VerifyPIN(ctx, s.user.ID, "0000"); err == nil {
				t.Fatalf("wrong PIN %d accepted", i+1)
			}
		}
		add("locked out", s, notify.Message{Kind: store.NotifyLockedOut})

		// Send them all.
		sim, url := newSim(t)
		o, logs := newOutbox(t, db, newAT(t, url), newClock(), func(c *notify.OutboxConfig) { c.Now = time.Now })
		got := drain(t, o)
		if got.Sent != len(events) || got.Claimed != len(events) {
			t.Fatalf("outbox %+v, want %d sent", got, len(events))
		}
		texts := map[string][]string{}
		for _, m := range sim.Messages() {
			texts[m.To] = append(texts[m.To], m.Text)
		}
		for _, e := range events {
			phone := e.to.user.Phone
			want := notify.Render(e.want)
			if len(texts[phone]) != 1 || texts[phone][0] != want {
				t.Errorf("%s: got %q, want once %q", e.name, texts[phone], want)
				continue
			}
			if parts, _ := sms.Segments(want); parts > 3 && e.want.Kind != store.NotifyInvoice {
				t.Errorf("%s: %d messages: %q", e.name, parts, want)
			}
			if strings.Contains(logs.String(), phone) || strings.Contains(logs.String(), strings.TrimPrefix(phone, "+")) {
				t.Errorf("%s: the log shows the whole number", e.name)
			}
			if line := strings.Split(want, "\n")[0]; strings.Contains(logs.String(), line) {
				t.Errorf("%s: the log shows the text %q", e.name, line)
			}
		}
		if len(sim.Messages()) != len(events) {
			t.Errorf("%d messages for %d events: %v", len(sim.Messages()), len(events), texts)
		}
		// The texts say what they must, in words, not only what Render
		// says: the Kiswahili receipt of the transfer, with the balance
		// right after it (6,000 sats, not the 6,777 of now).
		first := texts[events[0].to.user.Phone]
		if len(first) != 1 || !strings.Contains(first[0], "Umepokea sats 5,000 kutoka kwa ") || !strings.HasSuffix(first[0], "Salio: sats 6,000") {
			t.Errorf("transfer receipt: %q", first)
		}
		if !strings.Contains(logs.String(), "sms sent") {
			t.Errorf("no debug line per send:\n%s", logs.String())
		}
	})
}
