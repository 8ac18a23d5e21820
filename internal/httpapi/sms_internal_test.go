package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
)

// countingReports and countingTexts count what the SMS callbacks hand on.
type countingReports struct{ n int }

func (c *countingReports) RecordDelivery(context.Context, store.DeliveryReport) (bool, error) {
	c.n++
	return true, nil
}

type countingTexts struct{ n int }

func (c *countingTexts) Accept(context.Context, smspay.Inbound) error {
	c.n++
	return nil
}

// TestSMSCallbackAllowedIPs: with USSD_ALLOWED_IPS, the SMS callbacks
// take reports and texts only from the listed clients (a trusted proxy's
// X-Forwarded-For read as for /ussd); a wrong token is still a 404 first,
// and without the setting any client is taken.
func TestSMSCallbackAllowedIPs(t *testing.T) {
	allowed, err := config.ParsePrefixes("196.201.214.0/24")
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := config.ParsePrefixes("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	const token = "fedcba9876543210fedc"
	for _, c := range []struct {
		name, peer, forwarded, token string
		open                         bool // no allow-list
		want                         int
	}{
		{"allowed peer", "196.201.214.9:4000", "", token, false, http.StatusOK},
		{"stranger", "203.0.113.5:4000", "", token, false, http.StatusForbidden},
		{"stranger claiming an allowed address", "203.0.113.5:4000", "196.201.214.9", token, false, http.StatusForbidden},
		{"allowed client through a trusted proxy", "10.1.2.3:4000", "196.201.214.9", token, false, http.StatusOK},
		{"stranger through a trusted proxy", "10.1.2.3:4000", "203.0.113.5", token, false, http.StatusForbidden},
		{"wrong token from an allowed peer", "196.201.214.9:4000", "", "wrong-token-wrong-token", false, http.StatusNotFound},
		{"wrong token from a stranger", "203.0.113.5:4000", "", "wrong-token-wrong-token", false, http.StatusNotFound},
		{"no allow-list", "203.0.113.5:4000", "", token, true, http.StatusOK},
	} {
		for _, path := range []string{"delivery", "inbound"} {
			reports, texts := &countingReports{}, &countingTexts{}
			s := &Server{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AllowedIPs: allowed, TrustedProxies: proxies,
				SMS: &SMSRoutes{Token: token, Reports: reports, Inbound: texts}}
			if c.open {
				s.AllowedIPs = nil
			}
			form := url.Values{"id": {"ATXid_1"}, "status": {"Success"}, "from": {"+254712345678"}, "text": {"hi"}}
			r := httptest.NewRequest(http.MethodPost, "/sms/"+c.token+"/"+path, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.RemoteAddr = c.peer
			if c.forwarded != "" {
				r.Header.Set("X-Forwarded-For", c.forwarded)
			}
			w := httptest.NewRecorder()
			s.Routes().ServeHTTP(w, r)
			handed := reports.n + texts.n
			if w.Code != c.want || (c.want == http.StatusOK) != (handed == 1) {
				t.Errorf("%s, %s: %d with %d handed on, want %d", c.name, path, w.Code, handed, c.want)
			}
		}
	}
}
