package app_test

// Attack review of issue 11 (branch attack11): each test here demonstrates
// a hole in the code as merged, and fails until it is fixed. The comment
// above each names the hole and its severity (HIGH = money or secrets,
// MEDIUM = harm to users or cost, LOW).

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/notify"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// TestRegtestAttackSMSPayeeFromDescription — HOLE (MEDIUM, misleading
// approval): the payee of another node's invoice, on the approval screen
// and in the service's own "Dial … to approve" SMS, is the invoice's
// description, which whoever made the invoice writes. Cleaned and cut to
// 40 characters, it still says anything:
//   - "+2547…" — a description that looks like a number is masked as a
//     number, and reads exactly as a payment to another Umeme user by
//     number does (our node's invoice of that user): "Pay 1,000 sats to
//     +2547*****123". A stranger's node poses as the user's friend.
//   - "Umeme refund" — the service's own name, so the screen and the SMS,
//     sent from the service's sender id, read "approve paying 5,000 sats
//     to Umeme refund".
//
// With the callback token (the inbound callback is unsigned and takes
// "from" as given) a stranger plants such a request on any user, who never
// texted anything: their next session opens on it.
//
// Reproduce: world invoices with the memos "+254…" (a user's number) and
// "Umeme refund", texted in from the victim's number; the victim dials.
// Fix: never show a description as the payee's name: show it quoted and
// marked as the invoice's own words ("invoice says: …") beside the node
// ("node 02ab…"), keep the masked-number form for our own users only,
// and refuse or neutralise descriptions that name the service.
func TestRegtestAttackSMSPayeeFromDescription(t *testing.T) {
	net := regtest.Start(t)
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			a := lightningApp(t, net, engine, func(c *config.Config) { c.SMS.CallbackToken = smsToken })
			victim, friend := newPhone(t, a), newPhone(t, a)
			register(t, victim, "7391")
			register(t, friend, "5820")

			plant := func(memo string, sats string) string {
				t.Helper()
				var inv struct {
					PaymentRequest string `json:"payment_request"`
				}
				net.World.CLIJSON(&inv, "addinvoice", "--amt", sats, "--memo", memo)
				gw := "ATXid_" + storetest.Token(t, 8)
				if status, _ := textIn(t, a, smsToken, gw, victim.number, inv.PaymentRequest); status != http.StatusOK {
					t.Fatalf("planting %q: %d", memo, status)
				}
				if in := waitOutcome(t, a, gw); in.Outcome != smspay.OutcomeRequest {
					t.Fatalf("planting %q: %+v", memo, in)
				}
				return victim.dial()
			}

			// What a real payment to the friend (our node's invoice of
			// theirs) looks like on the screen.
			own, err := a.Receiver.RequestInvoice(context.Background(), mustUser(t, a, friend.number), 1_000_000, "")
			if err != nil {
				t.Fatal(err)
			}
			gw := "ATXid_" + storetest.Token(t, 8)
			textIn(t, a, smsToken, gw, victim.number, own.Invoice)
			if in := waitOutcome(t, a, gw); in.Outcome != smspay.OutcomeRequest {
				t.Fatalf("the friend's invoice: %+v", in)
			}
			genuine := firstLine(victim.dial())
			victim.press("2")

			forged := firstLine(plant(friend.number, "1000"))
			victim.press("2")
			if forged == genuine {
				t.Errorf("a stranger's node, describing its invoice as %s, is shown exactly as a payment to that user: %q", friend.number, forged)
			}

			screen := plant("Umeme refund", "5000")
			if strings.Contains(screen, "to Umeme refund") {
				t.Errorf("a stranger's description is shown as the payee, in the service's name: %q", firstLine(screen))
			}
			for _, n := range notificationsTo(t, a, victim.number, store.NotifyPayRequest) {
				text := notify.Render(notify.Message{Kind: n.Kind, Lang: "en", AmountMsat: n.AmountMsat, Counterparty: n.Counterparty, Body: n.Body,
					ServiceCode: a.Config.SMS.ServiceCode})
				if strings.Contains(text, "paying 5,000 sats to Umeme refund") {
					t.Errorf("the service's own SMS asks the user to approve paying %q", text)
				}
			}
			victim.press("2")
		})
	}
}

// mustUser is the id of the user of a number.
func mustUser(t *testing.T, a *app.App, number string) int64 {
	t.Helper()
	u, err := a.Wallet.UserByPhone(context.Background(), number)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// firstLine is a screen's first line without its CON/END prefix.
func firstLine(screen string) string {
	line, _, _ := strings.Cut(screen, "\n")
	return strings.TrimPrefix(strings.TrimPrefix(line, "CON "), "END ")
}

// TestAttackSMSCallbacksIgnoreAllowedIPs — HOLE (LOW, defence in depth):
// USSD_ALLOWED_IPS, the operator's list of Africa's Talking's addresses,
// guards the USSD callbacks only. The SMS callbacks of the same gateway
// (/sms/{token}/inbound and /delivery) answer any address: whoever learns
// the token (a proxy's access log of paths, a screenshot of the gateway's
// dashboard) can, from anywhere, plant texts in any user's name and forge
// delivery reports, and the server queues SMS replies for them.
//
// Reproduce: USSD_ALLOWED_IPS=203.0.113.0/24; from 127.0.0.1 the USSD
// callback is refused, the SMS callbacks are not.
// Fix: apply the gateway's allow-list (a setting of its own, or
// USSD_ALLOWED_IPS renamed AT_ALLOWED_IPS) to the SMS callbacks too.
func TestAttackSMSCallbacksIgnoreAllowedIPs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := startApp(t, engine, func(c *config.Config) {
			c.USSDAllowedIPs = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
			c.SMS.CallbackToken = smsToken
			c.LNDAddress, c.LNDNetwork = "127.0.0.1:1", "regtest" // nothing listens there
			c.LNDTLSCertPath, c.LNDMacaroonPath = "/nonexistent/tls.cert", "/nonexistent/admin.macaroon"
		})
		if status, _ := postForm(t, "http://"+a.Addr()+"/ussd?token="+a.Config.USSDCallbackToken, map[string][]string{
			"sessionId": {"ATUid_allowlist"}, "phoneNumber": {storetest.Phone(t)}, "serviceCode": {"*384*1234#"}, "text": {""},
		}); status == http.StatusOK {
			t.Fatal("the USSD callback answered an address outside USSD_ALLOWED_IPS: the test's premise does not hold")
		}
		if a.SMSPay == nil {
			t.Fatal("no inbound SMS service")
		}
		stranger := storetest.Phone(t)
		gw := "ATXid_" + storetest.Token(t, 8)
		status, _ := textIn(t, a, smsToken, gw, stranger, "hi")
		if status == http.StatusOK {
			in := waitOutcome(t, a, gw)
			t.Errorf("a text posted from outside the gateway's addresses was taken (%s) and answered with %d SMS",
				in.Outcome, len(notificationsTo(t, a, stranger, store.NotifyRegisterFirst)))
		}
		if status, _ := postForm(t, "http://"+a.Addr()+"/sms/"+smsToken+"/delivery", map[string][]string{
			"id": {"ATXid_forged"}, "status": {"Success"},
		}); status == http.StatusOK {
			t.Errorf("a delivery report posted from outside the gateway's addresses was taken")
		}
	})
}
