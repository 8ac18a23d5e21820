package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/ussd"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestGatewayAllowedIPs: with USSD_ALLOWED_IPS, /ussd and /ussd/events
// answer only the listed clients. X-Forwarded-For is ignored from an
// untrusted peer and honoured from a trusted proxy, taking the right-most
// address that is not itself a trusted proxy; IPv4-mapped peers count as
// IPv4. The token is still required of allowed clients.
func TestGatewayAllowedIPs(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t, "sqlite")
	wcfg := wallet.DefaultConfig()
	wcfg.Argon2 = wallet.Argon2Params{Time: 1, Memory: 64, Threads: 1}
	w, err := wallet.New(ctx, db, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The settings as an operator writes them: CIDRs, single addresses,
	// an IPv4-mapped range.
	allowed, err := config.ParsePrefixes("196.201.214.0/24, 2001:db8::/32,198.51.100.7, ::ffff:192.0.2.0/120")
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := config.ParsePrefixes("10.0.0.0/8,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0"} {
		if _, err := config.ParsePrefixes(bad); err == nil {
			t.Errorf("%q was read as addresses", bad)
		}
	}
	s := &Server{DB: db, USSD: ussd.New(ussd.Config{Domain: "umeme.test"}, w, db, log), Log: log, CallbackToken: "tok",
		AllowedIPs: allowed, TrustedProxies: proxies}
	handler := s.Routes()

	const gateway, stranger = "196.201.214.7", "203.0.113.9"
	for i, c := range []struct {
		name   string
		peer   string
		xff    []string
		client string // what clientIP must say
		ok     bool
	}{
		{"allowed peer", gateway + ":40000", nil, gateway, true},
		{"other peer", stranger + ":40000", nil, stranger, false},
		{"untrusted peer claiming the gateway", stranger + ":40000", []string{gateway}, stranger, false},
		{"allowed peer with a forwarded header", gateway + ":40000", []string{stranger}, gateway, true},
		{"trusted proxy for the gateway", "10.1.1.1:443", []string{gateway}, gateway, true},
		{"a chain of trusted proxies", "10.1.1.1:443", []string{gateway + ", 10.2.2.2"}, gateway, true},
		{"a spoofed left-hand entry", "10.1.1.1:443", []string{gateway + ", " + stranger}, stranger, false},
		{"headers split over lines", "10.1.1.1:443", []string{gateway, "10.3.3.3"}, gateway, true},
		{"trusted proxy without the header", "10.1.1.1:443", nil, "10.1.1.1", false},
		{"trusted proxy forwarding garbage", "10.1.1.1:443", []string{"not-an-address"}, "invalid IP", false},
		{"IPv4-mapped peer", "[::ffff:" + gateway + "]:40000", nil, gateway, true},
		{"IPv6 peer", "[2001:db8::5]:40000", nil, "2001:db8::5", true},
		{"a single allowed address", "198.51.100.7:1", nil, "198.51.100.7", true},
		{"next to a single allowed address", "198.51.100.8:1", nil, "198.51.100.8", false},
		{"in a range written IPv4-mapped", "192.0.2.200:1", nil, "192.0.2.200", true},
		{"IPv6 proxy for a mapped gateway", "[fd00::1]:443", []string{"::ffff:" + gateway}, gateway, true},
	} {
		for _, path := range []string{"/ussd", "/ussd/events"} {
			form := url.Values{"sessionId": {fmt.Sprintf("s%d", i)}, "phoneNumber": {fmt.Sprintf("+254711000%03d", i)},
				"networkCode": {"63902"}, "serviceCode": {"*384*1234#"}, "text": {""}}
			req := httptest.NewRequest(http.MethodPost, path+"?token=tok", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.RemoteAddr = c.peer
			for _, h := range c.xff {
				req.Header.Add("X-Forwarded-For", h)
			}
			if got := s.clientIP(req).String(); got != c.client {
				t.Errorf("%s: client %s, want %s", c.name, got, c.client)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if (rec.Code != http.StatusForbidden) != c.ok {
				t.Errorf("%s %s: status %d %q", c.name, path, rec.Code, rec.Body.String())
			}
		}
	}

	// An allowed client still needs the token.
	req := httptest.NewRequest(http.MethodPost, "/ussd", strings.NewReader("sessionId=x&phoneNumber=%2B254711000999&text="))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = gateway + ":40000"
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("an allowed client without the token: %d", rec.Code)
	}
}
