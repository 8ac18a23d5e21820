package app_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// logBuffer collects a server's log lines, written from its goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestGatewayTokenRequired: in production the server refuses to start
// without USSD_CALLBACK_TOKEN; development starts without one and says so
// in a warning; with a token, a request with a wrong or missing one gets
// 403, is logged without the token, and changes nothing (no account, no
// ended session), on every engine.
func TestGatewayTokenRequired(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		open := func(mutate func(*config.Config)) (*app.App, *logBuffer) {
			t.Helper()
			cfg := config.Default()
			cfg.DatabaseURL = dbtest.URL(t, engine)
			cfg.ListenAddr = "127.0.0.1:0"
			cfg.HopsPerMinute, cfg.PINsPerMinute = 0, 0
			mutate(&cfg)
			logs := &logBuffer{}
			a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			return a, logs
		}
		closeApp := func(a *app.App) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a.Close(ctx)
		}

		// Production (the default), no token: no start.
		a, _ := open(func(c *config.Config) {})
		err := a.Start()
		a.DB.Close()
		if err == nil || !strings.Contains(err.Error(), "USSD_CALLBACK_TOKEN") {
			t.Fatalf("production without a token started: %v", err)
		}
		if _, err := config.FromEnv(func(k string) string { return map[string]string{"APP_ENV": "staging"}[k] }); err == nil {
			t.Fatal("APP_ENV=staging was accepted")
		}
		// Settings that look safe but are not: a guessable token, an
		// allow-list that names nobody (read as "anyone"), and a proxy
		// range that trusts anyone's X-Forwarded-For.
		for _, env := range []map[string]string{
			{"USSD_CALLBACK_TOKEN": "1"}, {"USSD_CALLBACK_TOKEN": "                    "},
			{"USSD_CALLBACK_TOKEN": "x-long-enough-token-1", "USSD_ALLOWED_IPS": ","},
			{"USSD_CALLBACK_TOKEN": "x-long-enough-token-1", "TRUSTED_PROXIES": " "},
			{"USSD_CALLBACK_TOKEN": "x-long-enough-token-1", "TRUSTED_PROXIES": "0.0.0.0/0"},
			{"USSD_CALLBACK_TOKEN": "x-long-enough-token-1", "TRUSTED_PROXIES": "10.0.0.1,::/0"},
		} {
			c, err := config.FromEnv(func(k string) string { return env[k] })
			if err == nil {
				err = c.CheckServe()
			}
			if err == nil {
				t.Errorf("production accepted %v", env)
			}
		}
		if c, err := config.FromEnv(func(k string) string {
			return map[string]string{"USSD_CALLBACK_TOKEN": "x-long-enough-token-1", "TRUSTED_PROXIES": "10.0.0.0/8"}[k]
		}); err != nil || c.CheckServe() != nil {
			t.Errorf("a sound production setting was refused: %v", err)
		}

		// Development, no token: it starts, warns, and answers anyone.
		dev, devLogs := open(func(c *config.Config) { c.Environment = config.Development })
		if err := dev.Start(); err != nil {
			t.Fatal(err)
		}
		defer closeApp(dev)
		if !strings.Contains(devLogs.String(), "level=WARN") || !strings.Contains(devLogs.String(), "APP_ENV=development") {
			t.Fatalf("development started without a warning:\n%s", devLogs.String())
		}
		expect(t, newPhone(t, dev).dial(), "CON Welcome")

		// Production with a token: only the token opens the door.
		const secret = "gw-secret-7f3a-91c0d2"
		prod, prodLogs := open(func(c *config.Config) { c.USSDCallbackToken = secret })
		if err := prod.Start(); err != nil {
			t.Fatal(err)
		}
		defer closeApp(prod)
		stranger := newPhone(t, prod)
		hop := url.Values{"sessionId": {"ATUid_stranger"}, "phoneNumber": {stranger.number}, "networkCode": {"63902"},
			"serviceCode": {"*384*1234#"}, "text": {""}}
		for _, query := range []string{"", "?token=", "?token=WRONG-" + secret, "?token=" + secret[:len(secret)-1]} {
			for _, path := range []string{"/ussd", "/ussd/events"} {
				if status, _ := postForm(t, "http://"+prod.Addr()+path+query, hop); status != http.StatusForbidden {
					t.Errorf("POST %s%s: %d, want 403", path, query, status)
				}
			}
		}
		if _, err := prod.Wallet.UserByPhone(ctx, stranger.number); !errors.Is(err, wallet.ErrUnknownUser) {
			t.Fatalf("refused hops touched the number's account: %v", err)
		}
		// A live session is not ended by an event without the token.
		p := newPhone(t, prod)
		expect(t, p.dial(), "CON Welcome")
		expect(t, p.press("1"), "Choose a PIN")
		if status, _ := postForm(t, "http://"+prod.Addr()+"/ussd/events?token=nope", url.Values{"sessionId": {p.session},
			"status": {"Failed"}, "phoneNumber": {p.number}}); status != http.StatusForbidden {
			t.Fatalf("an event without the token: %d", status)
		}
		expect(t, p.press("7391"), "CON ", "again")
		if logs := prodLogs.String(); !strings.Contains(logs, "gateway request refused") || strings.Contains(logs, secret[4:]) {
			t.Fatalf("refusals not logged, or logged with the token:\n%s", logs)
		}

		// Development with a token still demands it.
		devToken, _ := open(func(c *config.Config) { c.Environment, c.USSDCallbackToken = config.Development, secret })
		if err := devToken.Start(); err != nil {
			t.Fatal(err)
		}
		defer closeApp(devToken)
		if status, _ := postForm(t, "http://"+devToken.Addr()+"/ussd", hop); status != http.StatusForbidden {
			t.Fatalf("development with a token answered a request without it: %d", status)
		}
	})
}
