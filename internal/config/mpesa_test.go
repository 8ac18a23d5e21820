package config

import (
	"strings"
	"testing"
	"time"
)

func mpesaEnv(over map[string]string) func(string) string {
	env := map[string]string{
		"MPESA_BASE_URL": "https://sandbox.safaricom.co.ke", "MPESA_CONSUMER_KEY": "key", "MPESA_CONSUMER_SECRET": "secret",
		"MPESA_SHORTCODE": "174379", "MPESA_PASSKEY": "passkey", "MPESA_B2C_SHORTCODE": "600000", "MPESA_INITIATOR_NAME": "testapi",
		"MPESA_INITIATOR_PASSWORD": "pw", "MPESA_CERT_PATH": "/etc/umeme/cert.pem", "MPESA_CALLBACK_URL": "https://wallet.example.org/cb",
		"MPESA_CALLBACK_TOKEN": "0123456789abcdef0123", "USSD_CALLBACK_TOKEN": "0123456789abcdef0123",
	}
	for k, v := range over {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// TestMpesaConfig: the rail reads its settings with safe defaults, and
// refuses to serve without what Daraja needs, with a short callback token,
// over plain http in production, or with a word Safaricom refuses in the
// callback URL.
func TestMpesaConfig(t *testing.T) {
	c, err := FromEnv(mpesaEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Mpesa.Enabled() || c.Mpesa.SpreadBps != 150 || c.Mpesa.QuoteTTL != 2*time.Minute || c.Mpesa.QueryAfter != 90*time.Second ||
		c.Rates.TTL != 30*time.Second || c.Rates.MaxAge != 5*time.Minute || c.Mpesa.TransactionType != "CustomerPayBillOnline" {
		t.Fatalf("defaults: %+v %+v", c.Mpesa, c.Rates)
	}
	if err := c.CheckServe(); err != nil {
		t.Fatalf("a complete configuration refused: %v", err)
	}
	for name, over := range map[string]map[string]string{
		"no passkey":       {"MPESA_PASSKEY": ""},
		"short token":      {"MPESA_CALLBACK_TOKEN": "short"},
		"plain http":       {"MPESA_CALLBACK_URL": "http://wallet.example.org/cb"},
		"refused word":     {"MPESA_CALLBACK_URL": "https://wallet.example.org/mpesa"},
		"min above max":    {"MPESA_MIN_KES": "500", "MPESA_MAX_KES": "100"},
		"query in the URL": {"MPESA_CALLBACK_URL": "https://query.example.org/cb"},
	} {
		c, err := FromEnv(mpesaEnv(over))
		if err == nil {
			err = c.CheckServe()
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, over := range map[string]map[string]string{
		"spread":     {"MPESA_SPREAD_BPS": "5000"},
		"amount":     {"MPESA_MAX_KES": "300000"},
		"fraction":   {"MPESA_MIN_KES": "10.5"},
		"quote ttl":  {"QUOTE_TTL": "-1m"},
		"allowed ip": {"MPESA_ALLOWED_IPS": "not-an-ip"},
	} {
		if _, err := FromEnv(mpesaEnv(over)); err == nil {
			t.Errorf("%s: a bad value was read", name)
		}
	}
	c, _ = FromEnv(mpesaEnv(map[string]string{"APP_ENV": "development", "MPESA_CALLBACK_URL": "http://127.0.0.1:8080/cb"}))
	if err := c.CheckServe(); err != nil {
		t.Errorf("development over http on loopback: %v", err)
	}
	c, _ = FromEnv(func(string) string { return "" })
	if c.Mpesa.Enabled() || !strings.Contains(c.DatabaseURL, "sqlite") {
		t.Errorf("no MPESA_BASE_URL must leave the rail off: %+v", c.Mpesa)
	}
}
