package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/notify"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// TestRegtestSMSInvoicePaidThroughUSSD: a registered user texts an invoice
// of the world node to the real incoming-SMS endpoint; the reply is
// queued; the user's next session, through the real USSD endpoint, opens
// on it and pays it with the PIN. The world's invoice is settled once,
// the balance drops by the amount and the fee, and neither a second
// session, a repeated hop, a repeated callback nor the invoice texted again
// pays it twice; the books reconcile. Another user leaves a request with
// 00 and finds it again, then rejects it. The endpoint refuses a wrong
// token and an oversized body.
func TestRegtestSMSInvoicePaidThroughUSSD(t *testing.T) {
	net := regtest.Start(t)
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			a := lightningApp(t, net, engine, func(c *config.Config) { c.SMS.CallbackToken = smsToken })
			alice, bob := newPhone(t, a), newPhone(t, a)
			register(t, alice, "7391")
			register(t, bob, "5820")
			fund(t, a, alice, 100_000)
			before := balanceMsat(t, a, alice)

			var inv struct {
				PaymentRequest string `json:"payment_request"`
				Hash           string `json:"r_hash"`
			}
			net.WaitRoutable() // an active channel may not carry a payment yet
			net.World.CLIJSON(&inv, "addinvoice", "--amt", "5000", "--memo", "e2e coffee")
			gw := "ATXid_" + storetest.Token(t, 8)
			if status, body := textIn(t, a, smsToken, gw, alice.number, "  "+inv.PaymentRequest+"\n"); status != http.StatusOK || body != "OK" {
				t.Fatalf("inbound callback: %d %q", status, body)
			}
			in := waitOutcome(t, a, gw)
			if in.Outcome != smspay.OutcomeRequest {
				t.Fatalf("the text came to %+v", in)
			}
			// The reply waits in the outbox, worded as the sender will
			// send it.
			replies := notificationsTo(t, a, alice.number, store.NotifyPayRequest)
			if len(replies) != 1 {
				t.Fatalf("replies: %+v", replies)
			}
			fee := a.SMSPay.FeeLimit(5_000_000)
			// The payee is the world's node; the invoice's description is
			// only quoted as its words.
			var world struct {
				IdentityPubkey string `json:"identity_pubkey"`
			}
			net.World.CLIJSON(&world, "getinfo")
			payee := "node " + world.IdentityPubkey[:8]
			n := replies[0]
			text := notify.Render(notify.Message{Kind: n.Kind, Lang: "en", AmountMsat: n.AmountMsat, Counterparty: n.Counterparty, Body: n.Body,
				ServiceCode: a.Config.SMS.ServiceCode})
			if n.AmountMsat != 5_000_000 || !strings.Contains(text, "Dial "+a.Config.SMS.ServiceCode+" to approve paying 5,000 sats to "+payee+" (fee") ||
				!strings.Contains(text, `Invoice says: "e2e coffee".`) {
				t.Fatalf("reply %+v: %q", n, text)
			}
			// The gateway repeats its callback: nothing new.
			if status, _ := textIn(t, a, smsToken, gw, alice.number, inv.PaymentRequest); status != http.StatusOK {
				t.Fatalf("repeated callback: %d", status)
			}
			if got := notificationsTo(t, a, alice.number, store.NotifyPayRequest); len(got) != 1 {
				t.Fatalf("a repeated callback replied again: %+v", got)
			}

			screen := alice.dial()
			expect(t, screen, "CON Pay 5,000 sats to "+payee+" (fee up to "+groupDigits(fee/1000)+" sats)?\nInvoice says: \"e2e coffee\"\n1. Pay\n2. Reject\n00. Home")
			expect(t, alice.press("7"), "Invalid choice", "1. Pay")
			expect(t, alice.press("1"), "Enter your PIN")
			expect(t, alice.press("7391"), "END Paying 5,000 sats to "+payee)
			expect(t, alice.again(), "END Paying 5,000 sats to "+payee)
			a.Payer.Wait()
			var state struct {
				State string `json:"state"`
			}
			net.World.CLIJSON(&state, "lookupinvoice", inv.Hash)
			paid, err := a.Wallet.PaymentByHash(ctx, inv.Hash)
			if err != nil || state.State != "SETTLED" || paid.Status != store.StatusCompleted || paid.IdempotencyKey != smspay.Key(mustRequest(t, a, gw).ID) {
				t.Fatalf("world invoice %s, payment %+v %v", state.State, paid, err)
			}
			if got := balanceMsat(t, a, alice); got != before-5_000_000-paid.FeeMsat || paid.FeeMsat <= 0 || paid.FeeMsat > fee {
				t.Fatalf("balance %d msat after paying 5,000 sats with a fee of %d msat, from %d", got, paid.FeeMsat, before)
			}
			if r := mustRequest(t, a, gw); r.Status != store.PaymentRequestApproved || r.TransactionID != paid.ID {
				t.Fatalf("request: %+v", r)
			}

			// Paid once: the next session is the main menu, and the
			// invoice texted again is refused.
			expect(t, alice.dial(), "CON Umeme", "1. Send")
			gw2 := "ATXid_" + storetest.Token(t, 8)
			textIn(t, a, smsToken, gw2, alice.number, "pay "+inv.PaymentRequest)
			if in := waitOutcome(t, a, gw2); in.Outcome != "refused:"+store.PayRefusedPaid {
				t.Fatalf("the paid invoice texted again: %+v", in)
			}
			expect(t, alice.dial(), "CON Umeme", "1. Send")
			if got := balanceMsat(t, a, alice); got != before-5_000_000-paid.FeeMsat {
				t.Fatalf("balance moved again: %d msat", got)
			}
			var list struct {
				Payments []struct {
					Hash   string `json:"payment_hash"`
					Status string `json:"status"`
				} `json:"payments"`
			}
			net.Ours.CLIJSON(&list, "listpayments", "--include_incomplete")
			attempts := 0
			for _, p := range list.Payments {
				if p.Hash == inv.Hash {
					attempts++
				}
			}
			if attempts != 1 {
				t.Fatalf("our node made %d payments of the invoice", attempts)
			}

			// Bob: 00 leaves the request open, Reject closes it.
			net.World.CLIJSON(&inv, "addinvoice", "--amt", "1000", "--memo", "bob's")
			gw3 := "ATXid_" + storetest.Token(t, 8)
			textIn(t, a, smsToken, gw3, bob.number, inv.PaymentRequest)
			if in := waitOutcome(t, a, gw3); in.Outcome != smspay.OutcomeRequest {
				t.Fatalf("bob's text: %+v", in)
			}
			expect(t, bob.dial(), "Pay 1,000 sats")
			expect(t, bob.press("00"), "CON Umeme", "1. Send")
			expect(t, bob.dial(), "Pay 1,000 sats")
			expect(t, bob.press("2"), "CON Payment request rejected. Nothing was paid.\nUmeme\n1. Send")
			expect(t, bob.dial(), "CON Umeme", "1. Send")
			if _, err := a.Wallet.PaymentByHash(ctx, inv.Hash); err == nil {
				t.Fatal("a rejected request was paid")
			}

			// The endpoint's guards.
			if status, _ := textIn(t, a, "wrong-token-wrong-token-wrong", "ATXid_x", alice.number, "hi"); status != http.StatusNotFound {
				t.Fatalf("a wrong token: %d", status)
			}
			if status, _ := textIn(t, a, smsToken, "ATXid_"+storetest.Token(t, 8), alice.number, strings.Repeat("x", 20_000)); status != http.StatusBadRequest {
				t.Fatalf("an oversized body: %d", status)
			}
			if status, _ := textIn(t, a, smsToken, "", alice.number, "hi"); status != http.StatusBadRequest {
				t.Fatalf("no gateway id: %d", status)
			}

			rep, err := a.Wallet.Reconcile(ctx)
			if err != nil || !rep.OK() {
				t.Fatalf("reconcile: %+v %v", rep, err)
			}
		})
	}
}

// TestSMSInboundNotServedWithoutToken: without SMS_CALLBACK_TOKEN there is
// no incoming-SMS endpoint, even with a Lightning node configured.
func TestSMSInboundNotServedWithoutToken(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := startApp(t, engine, func(c *config.Config) {
			c.LNDAddress, c.LNDNetwork = "127.0.0.1:1", "regtest" // nothing listens there
			c.LNDTLSCertPath, c.LNDMacaroonPath = "/nonexistent/tls.cert", "/nonexistent/admin.macaroon"
		})
		if a.SMSPay != nil {
			t.Fatal("smspay made without a callback token")
		}
		for _, token := range []string{"x", smsToken} {
			if status, _ := textIn(t, a, token, "ATXid_1", storetest.Phone(t), "hi"); status != http.StatusNotFound {
				t.Fatalf("token %q: %d", token, status)
			}
		}
	})
}

// textIn posts Africa's Talking's incoming-message form.
func textIn(t *testing.T, a *app.App, token, id, from, text string) (int, string) {
	t.Helper()
	resp, err := http.PostForm("http://"+a.Addr()+"/sms/"+url.PathEscape(token)+"/inbound", url.Values{
		"from": {from}, "to": {"21234"}, "text": {text}, "date": {time.Now().UTC().Format("2006-01-02 15:04:05")},
		"id": {id}, "linkId": {"link-" + id}, "networkCode": {"63902"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitOutcome waits for a text to be acted on.
func waitOutcome(t *testing.T, a *app.App, gatewayID string) store.InboundSMS {
	t.Helper()
	var m store.InboundSMS
	waitFor(t, "text "+gatewayID+" to be acted on", func() bool {
		err := a.DB.Autocommit(context.Background(), func(ctx context.Context, tx store.Tx) error {
			var err error
			m, err = tx.InboundSMSByGatewayID(ctx, gatewayID)
			return err
		})
		return err == nil && m.Outcome != smspay.OutcomeReceived
	})
	return m
}

// mustRequest is the payment request a text made.
func mustRequest(t *testing.T, a *app.App, gatewayID string) store.PaymentRequest {
	t.Helper()
	m := waitOutcome(t, a, gatewayID)
	var r store.PaymentRequest
	err := a.DB.Autocommit(context.Background(), func(ctx context.Context, tx store.Tx) error {
		// The store reads a request by id, or a user's open one: scan
		// this test's own database for the text's.
		for id := int64(1); ; id++ {
			got, err := tx.PaymentRequest(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err != nil {
				return err
			}
			if got.InboundID == m.ID {
				r = got
				return nil
			}
		}
	})
	if err != nil {
		t.Fatalf("request of text %s: %v", gatewayID, err)
	}
	return r
}

// notificationsTo lists the notifications of one kind to a number, in
// whatever state (an outbox sender may have sent them), by reading the
// rows in order: the store has no query by number, and these databases
// are the test's own.
func notificationsTo(t *testing.T, a *app.App, phone string, kind store.NotificationKind) []store.Notification {
	t.Helper()
	var out []store.Notification
	err := a.DB.Autocommit(context.Background(), func(ctx context.Context, tx store.Tx) error {
		for id, missing := int64(1), 0; missing < 20; id++ {
			n, err := tx.Notification(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				missing++
				continue
			}
			if err != nil {
				return err
			}
			missing = 0
			if n.Phone == phone && n.Kind == kind {
				out = append(out, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// balanceMsat is a user's balance to the msat (the routing fee is in msat).
func balanceMsat(t *testing.T, a *app.App, p *phone) int64 {
	t.Helper()
	u, err := a.Wallet.UserByPhone(context.Background(), p.number)
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Wallet.Balance(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
