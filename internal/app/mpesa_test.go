package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/rates"
	"github.com/umeme-wallet/umeme/internal/store"
)

// menuItem finds the number of a main-menu item on a screen.
func menuItem(t *testing.T, screen, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(\d+)\. ` + regexp.QuoteMeta(label)).FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no %q on %q", label, screen)
	}
	return m[1]
}

// TestMpesaUSSDJourney: a user buys twice and sells once through the USSD
// menus against the Daraja simulator; the server is stopped between the
// STK pushes and their outcome, and after the restart one top-up is
// finished by its (late) callback and the other, whose callback never
// comes, by the reconciler's STK query; the withdrawal is paid; reconcile
// passes.
func TestMpesaUSSDJourney(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		cfg, sim := mpesaConfig(t, engine)
		start := func() *app.App {
			t.Helper()
			a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Start(); err != nil {
				t.Fatal(err)
			}
			return a
		}
		stop := func(a *app.App) {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			a.Close(cctx)
		}
		a := start()
		alice, bob := newPhone(t, a), newPhone(t, a)
		register(t, alice, "7391")
		register(t, bob, "7391")
		buy := func(p *phone, kes, want string) {
			t.Helper()
			item := menuItem(t, p.dial(), "Buy with M-Pesa")
			expect(t, p.press(item), "Amount in KES")
			expect(t, p.press(kes), "Pay KES "+kes+" for ", "Price holds", "1. Confirm")
			expect(t, p.press("1"), "END ", want)
		}
		sim.QueueSTK(darajasim.STKOutcome{Delivery: darajasim.DeliverLate}, darajasim.STKOutcome{Delivery: darajasim.DeliverNone})
		buy(alice, "500", "enter your M-Pesa PIN to pay KES 500")
		// One prompt per phone at a time: a second is refused, and fails.
		buy(alice, "300", "already open on your phone")
		buy(bob, "200", "enter your M-Pesa PIN to pay KES 200")
		if b := balance(t, a, alice) + balance(t, a, bob); b != 0 {
			t.Fatalf("balances %d before M-Pesa confirmed anything", b)
		}
		stop(a)

		// M-Pesa decides while the server is down; the first push's
		// callback comes after the restart, the second's never.
		a = start()
		defer stop(a)
		sim.Flush()
		deadline := time.Now().Add(20 * time.Second)
		for {
			open, err := a.Wallet.DueMpesaRequests(ctx, time.Now().Add(time.Hour), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(open) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d top-ups still open 20 s after the restart", len(open))
			}
			time.Sleep(100 * time.Millisecond)
		}
		var credited int64
		for _, p := range []*phone{alice, bob} {
			statuses, sum := "", int64(0)
			for _, h := range historyOf(t, a, p, 10) {
				if h.Type == store.TypeTopup {
					statuses += string(h.Status) + " "
					if h.Status == store.StatusCompleted {
						sum += h.AmountMsat
					}
				}
			}
			want := "completed "
			if p == alice {
				want, credited = "failed completed ", sum // newest first
			}
			if statuses != want || sum == 0 || balance(t, a, p) != sum/1000 {
				t.Fatalf("top-ups %q (want %q), %d msat credited, balance %d sats", statuses, want, sum, balance(t, a, p))
			}
		}
		u, err := a.Wallet.UserByPhone(ctx, alice.number)
		if err != nil {
			t.Fatal(err)
		}
		var hist []store.Transaction

		item := menuItem(t, alice.dial(), "Sell to M-Pesa")
		expect(t, alice.press(item), "Amount in KES")
		expect(t, alice.press("100"), "Get KES 100 on M-Pesa for ", "1. Confirm")
		expect(t, alice.press("1"), "PIN")
		expect(t, alice.press("7391"), "END ", "KES 100 is on its way")
		deadline = time.Now().Add(10 * time.Second)
		for {
			hist, _ = a.Wallet.History(ctx, u.ID, 1<<62, 1)
			if len(hist) == 1 && hist[0].Type == store.TypeWithdraw && hist[0].Status == store.StatusCompleted {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("withdrawal: %+v", hist)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := balance(t, a, alice); got >= credited/1000 {
			t.Fatalf("balance %d after selling, was %d", got, credited/1000)
		}
		rep, err := a.Wallet.Reconcile(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("reconcile: %v %+v", err, rep)
		}
	})
}

// mpesaConfig is a development server's configuration with M-Pesa against
// a fresh Daraja simulator, on a fixed loopback address (a restarted
// server comes back where Daraja calls), and a fixed rate.
func mpesaConfig(t *testing.T, engine string) (config.Config, *darajasim.Sim) {
	t.Helper()
	sim, err := darajasim.New(darajasim.Config{ConsumerKey: "k", ConsumerSecret: "s", ShortCode: "174379", PassKey: "p",
		B2CShortCode: "600000", InitiatorName: "i", InitiatorPassword: "ip", LateDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); simSrv.Close() })
	certPath := filepath.Join(t.TempDir(), "daraja.pem")
	if err := os.WriteFile(certPath, sim.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	// The server comes back on the same address, where Daraja calls.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := config.Default()
	cfg.Environment = config.Development
	cfg.DatabaseURL = dbtest.URL(t, engine)
	cfg.ListenAddr = addr
	cfg.HopsPerMinute, cfg.PINsPerMinute = 0, 0
	cfg.USSDCallbackToken = "e2e-gateway-token"
	cfg.KESPerBTC = "12000000"
	cfg.Mpesa.BaseURL, cfg.Mpesa.ConsumerKey, cfg.Mpesa.ConsumerSecret = simSrv.URL, "k", "s"
	cfg.Mpesa.ShortCode, cfg.Mpesa.PassKey, cfg.Mpesa.B2CShortCode = "174379", "p", "600000"
	cfg.Mpesa.InitiatorName, cfg.Mpesa.InitiatorPassword, cfg.Mpesa.CertPath = "i", "ip", certPath
	cfg.Mpesa.CallbackURL, cfg.Mpesa.CallbackToken = "http://"+addr, "e2e-daraja-token-0123456789"
	cfg.Mpesa.QueryAfter = time.Second
	return cfg, sim
}

// TestMpesaQuotesFromRateSources: quotes come from RATES_SOURCES, the
// median of the exchanges with the one more than 1 % away dropped; while
// no source answers, Buy ends with "prices are not available" and starts
// nothing.
func TestMpesaQuotesFromRateSources(t *testing.T) {
	ctx := context.Background()
	cfg, _ := mpesaConfig(t, "sqlite")
	var mu sync.Mutex
	down := false
	ticker := func(price string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if down {
				http.Error(w, "down", http.StatusBadGateway)
				return
			}
			fmt.Fprintf(w, `{"data":{"rates":{"KES":%q}}}`, price)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	a1, a2, out := ticker("12000000"), ticker("12060000"), ticker("13000000")
	cfg.KESPerBTC = ""
	cfg.Rates.Sources = a1.URL + "|data.rates.KES," + a2.URL + "|data.rates.KES," + out.URL + "|data.rates.KES"
	// Bounds wide enough that a loaded machine still fetches in time.
	cfg.Rates.TTL, cfg.Rates.MaxAge = 500*time.Millisecond, 2*time.Second
	a := startAppWith(t, cfg)
	alice := newPhone(t, a)
	register(t, alice, "7391")
	// The average of the two that agree: KES 12,030,000 per bitcoin.
	want, err := rates.QuoteMsat(rates.SideBuy, 500, rates.Rate{MilliKESPerBTC: 12_030_000_000}, cfg.Mpesa.SpreadBps)
	if err != nil {
		t.Fatal(err)
	}
	item := menuItem(t, alice.dial(), "Buy with M-Pesa")
	alice.press(item)
	expect(t, alice.press("500"), fmt.Sprintf("Pay KES 500 for %s sats?", groupDigits(want/1000)))

	mu.Lock()
	down = true
	mu.Unlock()
	time.Sleep(2500 * time.Millisecond) // past RATES_MAX_AGE
	item = menuItem(t, alice.dial(), "Buy with M-Pesa")
	alice.press(item)
	expect(t, alice.press("500"), "END ", "Prices are not available right now. Nothing was charged.")
	u, err := a.Wallet.UserByPhone(ctx, alice.number)
	if err != nil {
		t.Fatal(err)
	}
	if hist, _ := a.Wallet.History(ctx, u.ID, 1<<62, 10); len(hist) != 0 {
		t.Fatalf("stale rates started something: %+v", hist)
	}
}

// groupDigits writes n with thousands separators, as the screens do.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
