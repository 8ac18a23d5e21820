package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/sms/atsim"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

const (
	smsUser, smsKey = "umeme", "atsk_app_test_key_0123"
	smsToken        = "sms-callback-token-0123456789"
)

// smsApp opens a development server whose texts go to a fresh Africa's
// Talking simulator and which serves the SMS callbacks under smsToken.
// The caller closes it (once).
func smsApp(t *testing.T, engine string) (*app.App, *atsim.Sim, *logBuffer) {
	t.Helper()
	return smsAppWith(t, engine, nil)
}

// smsAppWith is smsApp with mutate applied to the settings.
func smsAppWith(t *testing.T, engine string, mutate func(*config.Config)) (*app.App, *atsim.Sim, *logBuffer) {
	t.Helper()
	sim := atsim.New(atsim.Config{Username: smsUser, APIKey: smsKey})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	cfg := config.Default()
	cfg.Environment = config.Development // the simulator is plain http
	cfg.DatabaseURL = dbtest.URL(t, engine)
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.HopsPerMinute, cfg.PINsPerMinute = 0, 0
	cfg.USSDCallbackToken = "e2e-gateway-token"
	cfg.SMS.BaseURL, cfg.SMS.Username, cfg.SMS.APIKey = srv.URL, smsUser, smsKey
	cfg.SMS.CallbackToken, cfg.SMS.Poll = smsToken, 20*time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &logBuffer{}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	sim.SetDeliveryURL("http://" + a.Addr() + "/sms/" + smsToken + "/delivery")
	return a, sim, logs
}

// TestSMSAppDeliversAndRecordsReports: through the USSD menus a user sends
// to another (the confirming hop repeated by the gateway), changes her PIN
// (the last hop repeated too), and the other locks himself out; the server
// texts each of them once per event through the simulator, and records
// the delivery reports the simulator posts to its callback: an interim
// one, a final one that a later interim one does not overwrite, a repeat.
// A report with a wrong token is a 404 and records nothing. Stopping the
// server stops the sender.
func TestSMSAppDeliversAndRecordsReports(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		a, sim, logs := smsApp(t, engine)
		closed := false
		stop := func() {
			if closed {
				return
			}
			closed = true
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := a.Close(cctx); err != nil {
				t.Errorf("close: %v", err)
			}
		}
		defer stop()
		if strings.Contains(logs.String(), "texts are logged") {
			t.Fatal("warned of the log sender with AT_API_KEY set")
		}

		alice, bob := newPhone(t, a), newPhone(t, a)
		register(t, alice, "7391")
		register(t, bob, "5820")
		fund(t, a, alice, 5000)
		expect(t, alice.send(bob.number, "1500", "7391"), "END Sent 1,500 sats")
		alice.again()

		alice.press(menuItem(t, alice.dial(), "Settings"))
		alice.press("1")
		alice.press("7391")
		alice.press("2846")
		expect(t, alice.press("2846"), "END ")
		alice.again()

		bob.dial()
		bob.press("3")
		bob.press("1111")
		bob.press("2222")
		expect(t, bob.press("3333"), "END Too many wrong PINs")

		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := sim.WaitFor(wctx, 3); err != nil {
			t.Fatal(err)
		}

		// The receipt's notification, and its message at the gateway.
		u, err := a.Wallet.UserByPhone(ctx, alice.number)
		if err != nil {
			t.Fatal(err)
		}
		hist, err := a.Wallet.History(ctx, u.ID, 0, 10)
		if err != nil || len(hist) == 0 || hist[0].Type != store.TypeSend {
			t.Fatalf("history %+v %v", hist, err)
		}
		receipt := func() store.Notification {
			t.Helper()
			var n []store.Notification
			err := a.DB.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				n, err = tx.NotificationsOf(ctx, hist[0].ID)
				return err
			})
			if err != nil || len(n) != 1 {
				t.Fatalf("notifications of the transfer: %+v %v", n, err)
			}
			return n[0]
		}
		// The record follows the gateway's answer: wait for it.
		for deadline := time.Now().Add(10 * time.Second); receipt().Status != store.NotificationSent; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the receipt was not recorded as sent: %+v", receipt())
			}
		}
		n := receipt()
		if n.MessageID == "" || n.Phone != bob.number {
			t.Fatalf("receipt %+v", n)
		}

		// A wrong token: 404, nothing recorded.
		base := "http://" + a.Addr()
		report := url.Values{"id": {n.MessageID}, "status": {"Failed"}, "phoneNumber": {bob.number}, "failureReason": {"UserInBlacklist"}, "retryCount": {"0"}}
		for _, tok := range []string{"wrong-token-0123456789", smsToken[:len(smsToken)-1], smsToken + "x"} {
			resp, err := http.PostForm(base+"/sms/"+tok+"/delivery", report)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("token %q: HTTP %d, want 404", tok, resp.StatusCode)
			}
		}
		if got := receipt(); got.DeliveryStatus != "" {
			t.Fatalf("a report with a wrong token was recorded: %+v", got)
		}

		// Interim, final, a late interim one, the final one again.
		for _, step := range []struct {
			status     string
			wantStatus string
			wantFinal  bool
		}{
			{"Buffered", "Buffered", false},
			{"Success", "Success", true},
			{"Sent", "Success", true},
			{"Success", "Success", true},
		} {
			if err := sim.Deliver(ctx, n.MessageID, step.status, ""); err != nil {
				t.Fatalf("report %s: %v", step.status, err)
			}
			if got := receipt(); got.DeliveryStatus != step.wantStatus || got.DeliveryFinal != step.wantFinal || got.DeliveredAt == nil {
				t.Fatalf("after %s: %+v", step.status, got)
			}
		}
		// A report of a message nobody sent is answered OK.
		if status, body := postForm(t, base+"/sms/"+smsToken+"/delivery", url.Values{"id": {"ATXid_unknown"}, "status": {"Success"}}); status != http.StatusOK || body != "OK" {
			t.Fatalf("unknown id: HTTP %d %q", status, body)
		}
		for _, r := range sim.Reports() {
			if r.HTTPStatus != http.StatusOK {
				t.Fatalf("a report was answered %+v", r)
			}
		}

		// Once stopped, nothing is in flight: count what went out.
		stop()
		texts := map[string][]string{}
		for _, m := range sim.Messages() {
			texts[m.To] = append(texts[m.To], m.Text)
		}
		if got := texts[alice.number]; len(got) != 1 || !strings.Contains(got[0], "PIN was changed") {
			t.Errorf("alice's texts: %q", got)
		}
		if got := texts[bob.number]; len(got) != 2 || !strings.Contains(strings.Join(got, "|"), "You received 1,500 sats from ") ||
			!strings.Contains(strings.Join(got, "|"), "Balance: 1,500 sats") || !strings.Contains(strings.Join(got, "|"), "Too many wrong PINs") {
			t.Errorf("bob's texts: %q", got)
		}
		if len(sim.Messages()) != 3 {
			t.Errorf("%d texts, want 3: %q", len(sim.Messages()), texts)
		}
		for _, p := range []*phone{alice, bob} {
			if strings.Contains(logs.String(), strings.TrimPrefix(p.number, "+")) {
				t.Errorf("the log shows %s's whole number", wallet.MaskPhone(p.number))
			}
		}
		if strings.Contains(logs.String(), smsKey) {
			t.Error("the log shows the apiKey")
		}
	})
}

// TestSMSAppWithoutGateway: without AT_API_KEY the server says at start
// that texts are only logged, and the outbox still drains (each text
// logged, not sent); without SMS_CALLBACK_TOKEN there is no SMS callback.
func TestSMSAppWithoutGateway(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		logs := &logBuffer{}
		cfg := config.Default()
		cfg.DatabaseURL = dbtest.URL(t, engine)
		cfg.ListenAddr = "127.0.0.1:0"
		cfg.HopsPerMinute, cfg.PINsPerMinute = 0, 0
		cfg.USSDCallbackToken = "e2e-gateway-token"
		cfg.SMS.Poll = 20 * time.Millisecond
		a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			a.Close(cctx)
		})
		if !strings.Contains(logs.String(), `level=WARN msg="SMS: no AT_API_KEY, texts are logged, not sent"`) {
			t.Fatalf("no warning at start:\n%s", logs.String())
		}
		alice := newPhone(t, a)
		register(t, alice, "7391")
		u, err := a.Wallet.UserByPhone(ctx, alice.number)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Wallet.ChangePIN(ctx, u.ID, "7391", "2846"); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "sms: not sent (log sender)"); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the PIN notice was not logged:\n%s", logs.String())
			}
		}
		if strings.Contains(logs.String(), strings.TrimPrefix(alice.number, "+")) {
			t.Error("the log shows the whole number")
		}
		if status, _ := postForm(t, "http://"+a.Addr()+"/sms/anything-at-all-0123/delivery", url.Values{"id": {"x"}, "status": {"Success"}}); status != http.StatusNotFound {
			t.Fatalf("SMS callback without SMS_CALLBACK_TOKEN: HTTP %d", status)
		}
	})
}
