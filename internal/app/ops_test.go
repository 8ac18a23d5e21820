package app_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
	"github.com/umeme-wallet/umeme/internal/watchdog"
)

// The operator's controls (issue 14): the liabilities watchdog, freezing an
// account, and a PIN reset that waits out its delay. The tests' names carry
// the words in lower case: go test splits -run '(?i)watchdog|freeze|pinreset'
// at each |, so (?i) holds for its first word only. The Lightning tests
// share one regtest network (regtest.Shared), stopped after the package.
func TestMain(m *testing.M) { os.Exit(regtest.RunShared(m)) }

// worldInvoice makes an invoice of the world's node.
func worldInvoice(t *testing.T, net *regtest.Network, sats, memo string) (bolt11, hash string) {
	t.Helper()
	var inv struct {
		PaymentRequest string `json:"payment_request"`
		Hash           string `json:"r_hash"`
	}
	net.World.CLIJSON(&inv, "addinvoice", "--amt", sats, "--memo", memo)
	return inv.PaymentRequest, inv.Hash
}

// textInvoice texts an invoice to the service from p, as a payment request.
func textInvoice(t *testing.T, a *app.App, p *phone, bolt11 string) {
	t.Helper()
	gw := "ATXid_" + storetest.Token(t, 8)
	if status, body := textIn(t, a, smsToken, gw, p.number, bolt11); status != http.StatusOK || body != "OK" {
		t.Fatalf("inbound callback: %d %q", status, body)
	}
	if in := waitOutcome(t, a, gw); in.Outcome != smspay.OutcomeRequest {
		t.Fatalf("the text came to %+v", in)
	}
}

// sendByUSSD walks p from the main menu (screen) through a send of sats to
// a phone number with pin, and returns the last screen.
func sendByUSSD(t *testing.T, p *phone, screen, to, sats, pin string) string {
	t.Helper()
	expect(t, screen, "1. Send")
	expect(t, p.press("1"), "1. ")
	expect(t, p.press("1"), "phone number")
	expect(t, p.press(to), "Amount in sats")
	expect(t, p.press(sats), "1. Confirm")
	expect(t, p.press("1"), "Enter your PIN")
	return p.press(pin)
}

// pauseState reads the shared pause.
func pauseState(t *testing.T, a *app.App) store.ServicePause {
	t.Helper()
	p, err := a.Wallet.PauseState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// logLines are the lines of a log that contain s.
func logLines(log, s string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// TestRegtest_watchdogPausesAndResumes: the watchdog checks every 200 ms
// against the regtest node. Liabilities raised through the ledger past
// what the node holds pause payouts: a payment texted in and approved then
// is refused with "temporarily unavailable" before anything is held, and
// its request stays open. Liabilities lowered again resume them, and the
// same request, approved again, is paid. A pause by hand is not lifted by
// the watchdog.
func TestRegtest_watchdogPausesAndResumes(t *testing.T) {
	net := regtest.Shared(t)
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			logs := &logBuffer{}
			a := lightningAppLogged(t, net, engine, logs, func(c *config.Config) {
				c.SMS.CallbackToken = smsToken
				c.MaxBalanceSats = store.MaxMsat / 1000
				c.Ops = config.Ops{WatchdogEvery: 200 * time.Millisecond, WatchdogMinRatio: 1}
			})
			if a.Watchdog == nil {
				t.Fatal("no watchdog with a node and a minimum ratio")
			}
			alice, bob := newPhone(t, a), newPhone(t, a)
			register(t, alice, "7391")
			fund(t, a, alice, 100_000)
			var s watchdog.State
			waitFor(t, "a check of the funded ledger", func() bool {
				s = a.Watchdog.State()
				return s.Err == "" && s.LiabilitiesMsat == 100_000_000
			})
			if s.Paused || s.ChannelMsat <= 0 || s.CoverageMsat != s.ChannelMsat+s.OnchainMsat || s.Ratio < 1 {
				t.Fatalf("a covered ledger: %+v", s)
			}
			t.Logf("covered: liabilities %d msat, node channels %d msat + on-chain %d msat, ratio %.1f", s.LiabilitiesMsat, s.ChannelMsat, s.OnchainMsat, s.Ratio)

			// Bob is credited more than the node holds.
			surplus := s.CoverageMsat - s.LiabilitiesMsat + 1_000_000_000
			if _, err := a.Wallet.Adjust(ctx, bob.number, surplus, "test: liabilities past the node", "wd-up-"+bob.number); err != nil {
				t.Fatal(err)
			}
			// The pause is in the database first, then in the watchdog's
			// figures of the check that set it.
			waitFor(t, "the watchdog's pause", func() bool { return pauseState(t, a).Auto && a.Watchdog.State().Paused })
			if s := a.Watchdog.State(); !s.Paused || s.Ratio >= 1 {
				t.Fatalf("paused state: %+v", s)
			}

			net.WaitRoutable()
			bolt11, hash := worldInvoice(t, net, "5000", "watchdog")
			textInvoice(t, a, alice, bolt11)
			before := balanceMsat(t, a, alice)
			expect(t, alice.dial(), "Pay 5,000 sats")
			expect(t, alice.press("1"), "Enter your PIN")
			expect(t, alice.press("7391"), "END This service is temporarily unavailable. Nothing was taken")
			if _, err := a.Wallet.PaymentByHash(ctx, hash); !errors.Is(err, wallet.ErrNotFound) {
				t.Fatalf("a paused payment left a row: %v", err)
			}
			if got := balanceMsat(t, a, alice); got != before {
				t.Fatalf("balance %d msat while paused, was %d", got, before)
			}
			// Straight through the payer too: refused, nothing held.
			auth, err := a.Wallet.VerifyPIN(ctx, mustUser(t, a, alice.number), "7391")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Payer.Pay(ctx, auth, bolt11, "wd-direct-"+hash); !errors.Is(err, wallet.ErrPaused) {
				t.Fatalf("a payment while paused: %v", err)
			}

			// Bob's surplus goes: covered again, payouts resume.
			if _, err := a.Wallet.Adjust(ctx, bob.number, -surplus, "test: liabilities back under the node", "wd-down-"+bob.number); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the watchdog's resume", func() bool { return !pauseState(t, a).Paused() })

			// The paused payment was not lost: its request is still open,
			// and approved again it is paid.
			expect(t, alice.dial(), "Pay 5,000 sats")
			expect(t, alice.press("1"), "Enter your PIN")
			expect(t, alice.press("7391"), "END Paying 5,000 sats")
			a.Payer.Wait()
			paid, err := a.Wallet.PaymentByHash(ctx, hash)
			if err != nil || paid.Status != store.StatusCompleted {
				t.Fatalf("after the resume: %+v %v", paid, err)
			}
			var state struct {
				State string `json:"state"`
			}
			net.World.CLIJSON(&state, "lookupinvoice", hash)
			if state.State != "SETTLED" {
				t.Fatalf("world invoice %s", state.State)
			}

			// A pause by hand outlives the watchdog's checks.
			op := wallet.Action{Operator: "test-operator", Reason: "node maintenance"}
			if ok, err := a.Wallet.Pause(ctx, op); !ok || err != nil {
				t.Fatalf("pause: %v %v", ok, err)
			}
			checked := a.Watchdog.State().CheckedAt
			waitFor(t, "two checks after the manual pause", func() bool {
				return a.Watchdog.State().CheckedAt.After(checked.Add(300 * time.Millisecond))
			})
			if p := pauseState(t, a); !p.Manual || p.Auto || !a.Watchdog.State().Paused {
				t.Fatalf("the watchdog lifted a manual pause: %+v", p)
			}
			if ok, err := a.Wallet.Resume(ctx, op); !ok || err != nil {
				t.Fatalf("resume: %v %v", ok, err)
			}

			log := logs.String()
			paused := logLines(log, "ALERT watchdog: liabilities not covered")
			resumed := logLines(log, "watchdog: liabilities covered again")
			if len(paused) != 1 || len(resumed) != 1 {
				t.Fatalf("watchdog log lines: %d paused, %d resumed\n%s", len(paused), len(resumed), log)
			}
			t.Logf("pause:  %s", paused[0])
			t.Logf("resume: %s", resumed[0])
			rep, err := a.Wallet.Reconcile(ctx)
			if err != nil || !rep.OK() {
				t.Fatalf("reconcile: %+v %v", rep, err)
			}
		})
	}
}

// TestRegtest_freezeStopsEverySendChannel: a frozen account is refused on
// every way money leaves it, each tried: a USSD send to a phone, a USSD
// payment to a Lightning Address, the approval of an invoice texted in, a
// Lightning payment through the payer, the operator's payment (admin pay's
// path), an M-Pesa withdrawal. Nothing is held. It still receives, from a
// user and from another node; unfrozen, it sends again. A pause by hand
// stops M-Pesa withdrawals too, and resumed they go.
func TestRegtest_freezeStopsEverySendChannel(t *testing.T) {
	net := regtest.Shared(t)
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			cfg, _ := mpesaConfig(t, engine)
			cfg.PublicDomain = cfg.ListenAddr
			cfg.LNDAddress, cfg.LNDTLSCertPath, cfg.LNDMacaroonPath, cfg.LNDNetwork = net.Ours.RPC, net.Ours.TLSCertPath(), net.Ours.MacaroonPath(), "regtest"
			cfg.SMS.CallbackToken = smsToken
			a := startAppWith(t, cfg)
			if err := a.WaitLightning(ctx, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			alice, bob := newPhone(t, a), newPhone(t, a)
			register(t, alice, "7391")
			register(t, bob, "5820")
			fund(t, a, alice, 100_000)
			op := wallet.Action{Operator: "support-1", Reason: "phone reported stolen"}
			if ok, err := a.Wallet.Freeze(ctx, alice.number, op); !ok || err != nil {
				t.Fatalf("freeze: %v %v", ok, err)
			}
			if ok, err := a.Wallet.Freeze(ctx, alice.number, op); ok || err != nil {
				t.Fatalf("a second freeze: %v %v", ok, err)
			}
			before := balanceMsat(t, a, alice)
			const frozen = "END Your account is frozen: you can receive, but not send."

			// USSD: send to a phone number.
			expect(t, sendByUSSD(t, alice, alice.dial(), bob.number, "1000", "7391"), frozen)

			// USSD: pay a Lightning Address (bob's, on this server).
			expect(t, alice.dial(), "1. Send")
			alice.press("1")
			alice.press("2")
			expect(t, alice.press(strings.TrimPrefix(bob.number, "+")+"@"+cfg.PublicDomain), "Amount in sats")
			expect(t, alice.press("1000"), "1. Confirm")
			expect(t, alice.press("1"), "Enter your PIN")
			expect(t, alice.press("7391"), frozen)

			// SMS: an invoice texted in, approved with the PIN.
			net.WaitRoutable()
			bolt11, hash := worldInvoice(t, net, "2000", "frozen")
			textInvoice(t, a, alice, bolt11)
			expect(t, alice.dial(), "Pay 2,000 sats")
			expect(t, alice.press("1"), "Enter your PIN")
			expect(t, alice.press("7391"), frozen)

			// The payer, with the user's PIN and with the operator's
			// authorization (server admin pay).
			auth, err := a.Wallet.VerifyPIN(ctx, mustUser(t, a, alice.number), "7391")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Payer.Pay(ctx, auth, bolt11, "frozen-direct"); !errors.Is(err, wallet.ErrAccountFrozen) {
				t.Fatalf("a Lightning payment of a frozen account: %v", err)
			}
			opAuth, err := a.Wallet.OperatorAuthorization(ctx, alice.number)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Payer.Pay(ctx, opAuth, bolt11, "frozen-admin-pay"); !errors.Is(err, wallet.ErrAccountFrozen) {
				t.Fatalf("the operator's payment from a frozen account: %v", err)
			}

			// M-Pesa: a withdrawal. (Each dial opens on the request texted
			// in, still open: 00 goes to the menu.)
			home := func(p *phone) string {
				t.Helper()
				if s := p.dial(); !strings.Contains(s, "Pay 2,000 sats") {
					return s
				}
				return p.press("00")
			}
			item := menuItem(t, home(alice), "Sell to M-Pesa")
			expect(t, alice.press(item), "Amount in KES")
			expect(t, alice.press("100"), "1. Confirm")
			expect(t, alice.press("1"), "PIN")
			expect(t, alice.press("7391"), frozen)

			if got := balanceMsat(t, a, alice); got != before {
				t.Fatalf("a frozen account's balance moved: %d msat, was %d", got, before)
			}
			if _, err := a.Wallet.PaymentByHash(ctx, hash); !errors.Is(err, wallet.ErrNotFound) {
				t.Fatalf("a frozen account's payment left a row: %v", err)
			}
			hist, err := a.Wallet.History(ctx, mustUser(t, a, alice.number), 0, 50)
			if err != nil || len(hist) != 1 || hist[0].Type != store.TypeAdjustment {
				t.Fatalf("a frozen account's transactions: %+v %v", hist, err)
			}

			// It receives: from bob, and from another node.
			fund(t, a, bob, 10_000)
			expect(t, sendByUSSD(t, bob, bob.dial(), alice.number, "1500", "5820"), "END Sent 1,500 sats")
			inv, err := a.Receiver.RequestInvoice(ctx, mustUser(t, a, alice.number), 3_000_000, "to a frozen account")
			if err != nil {
				t.Fatal(err)
			}
			net.World.CLI("payinvoice", "--force", inv.Invoice)
			waitFor(t, "the frozen account credited from Lightning", func() bool {
				return balanceMsat(t, a, alice) == before+1_500_000+3_000_000
			})

			// Unfrozen, it sends.
			if ok, err := a.Wallet.Unfreeze(ctx, alice.number, wallet.Action{Operator: "support-2", Reason: "owner identified"}); !ok || err != nil {
				t.Fatalf("unfreeze: %v %v", ok, err)
			}
			expect(t, sendByUSSD(t, alice, home(alice), bob.number, "1000", "7391"), "END Sent 1,000 sats")

			// Withdrawals pause by hand, and resume.
			pause := wallet.Action{Operator: "support-2", Reason: "M-Pesa float low"}
			if ok, err := a.Wallet.Pause(ctx, pause); !ok || err != nil {
				t.Fatalf("pause: %v %v", ok, err)
			}
			sell := func(want string) {
				t.Helper()
				item := menuItem(t, home(alice), "Sell to M-Pesa")
				alice.press(item)
				alice.press("100")
				alice.press("1")
				expect(t, alice.press("7391"), want)
			}
			sell("END This service is temporarily unavailable.")
			if ok, err := a.Wallet.Resume(ctx, pause); !ok || err != nil {
				t.Fatalf("resume: %v %v", ok, err)
			}
			sell("KES 100 is on its way")

			r, err := a.Wallet.UserReport(ctx, alice.number, 10)
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, x := range r.Audit {
				actions = append(actions, x.Action+" by "+x.Operator)
			}
			if got := strings.Join(actions, ", "); got != "unfreeze by support-2, freeze by support-1" {
				t.Fatalf("audit of the user: %s", got)
			}
			rep, err := a.Wallet.Reconcile(ctx)
			if err != nil || !rep.OK() {
				t.Fatalf("reconcile: %+v %v", rep, err)
			}
		})
	}
}

// Test_pinresetWaitsOutItsDelay: an operator's PIN reset texts the user at
// once, and changes nothing until its delay has passed on the server's
// clock (moved by the test): the old PIN keeps working a minute before.
// After it the old PIN opens nothing, the next dial asks for a new PIN,
// and the new one works. A cancelled reset never takes effect. Reconcile
// holds the audit rows to the users' states.
func Test_pinresetWaitsOutItsDelay(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		var skew atomic.Int64
		now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		a, sim, _ := smsAppWith(t, engine, func(c *config.Config) { c.Ops.Now = now })
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a.Close(cctx)
		})
		alice, bob := newPhone(t, a), newPhone(t, a)
		register(t, alice, "7391")
		register(t, bob, "5820")
		fund(t, a, alice, 10_000)
		checkBalance := func(p *phone, pin, want string) {
			t.Helper()
			item := menuItem(t, p.dial(), "Balance")
			expect(t, p.press(item), "Enter your PIN")
			expect(t, p.press(pin), want)
		}

		op := wallet.Action{Operator: "support-1", Reason: "caller forgot the PIN, ID checked"}
		at, err := a.Wallet.SchedulePINReset(ctx, alice.number, 24*time.Hour, op)
		if err != nil {
			t.Fatal(err)
		}
		if d := at.Sub(now()); d < 23*time.Hour || d > 24*time.Hour {
			t.Fatalf("the reset takes effect in %s", d)
		}
		// The SMS goes at once.
		waitFor(t, "the reset's SMS", func() bool {
			for _, m := range sim.Messages() {
				if m.To == alice.number && strings.Contains(m.Text, "Umeme support reset your PIN") {
					return true
				}
			}
			return false
		})
		if _, err := a.Wallet.SchedulePINReset(ctx, bob.number, 24*time.Hour, op); err != nil {
			t.Fatal(err)
		}
		if ok, err := a.Wallet.CancelPINReset(ctx, bob.number, wallet.Action{Operator: "support-2", Reason: "the owner did not ask"}); !ok || err != nil {
			t.Fatalf("cancel: %v %v", ok, err)
		}

		// A minute before: nothing changed.
		skew.Store(int64(at.Sub(time.Now()) - time.Minute))
		checkBalance(alice, "7391", "Balance: 10,000 sats")

		// After: the old PIN opens nothing, the dial asks for a new PIN.
		skew.Store(int64(at.Sub(time.Now()) + time.Minute))
		if _, err := a.Wallet.VerifyPIN(ctx, mustUser(t, a, alice.number), "7391"); !errors.Is(err, wallet.ErrPINResetDue) {
			t.Fatalf("the old PIN after the reset: %v", err)
		}
		expect(t, alice.dial(), "CON Your PIN was reset. Choose a new")
		expect(t, alice.press("8052"), "Enter the same PIN again")
		expect(t, alice.press("8053"), "did not match", "Choose a new")
		alice.press("8052")
		expect(t, alice.press("8052"), "END Your PIN has been changed.")
		checkBalance(alice, "7391", "Wrong PIN")
		checkBalance(alice, "8052", "Balance: 10,000 sats")
		waitFor(t, "the PIN-changed SMS", func() bool {
			for _, m := range sim.Messages() {
				if m.To == alice.number && strings.Contains(m.Text, "PIN was changed") {
					return true
				}
			}
			return false
		})
		// Bob's reset was cancelled: his PIN stands.
		checkBalance(bob, "5820", "Balance: 0 sats")

		rep, err := a.Wallet.Reconcile(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("reconcile: %+v %v", rep, err)
		}
		// A reset set behind the audit log's back is a violation.
		dbtest.RawExec(t, a.Config.DatabaseURL, "UPDATE users SET pin_reset_at = created_at")
		if rep, err := a.Wallet.Reconcile(ctx); err != nil || rep.OK() || len(rep.AuditViolations) == 0 {
			t.Fatalf("reconcile of an unaudited reset: %+v %v", rep.AuditViolations, err)
		}
	})
}
