package config

import (
	"strings"
	"testing"
	"time"
)

// TestSMSConfig: the SMS settings read with safe defaults, and the server
// refuses a gateway without its username or over plain http in production,
// a short callback token, a lease too short for a send and a malformed
// service code.
func TestSMSConfig(t *testing.T) {
	env := func(over map[string]string) func(string) string {
		e := map[string]string{"USSD_CALLBACK_TOKEN": "0123456789abcdef0123", "AT_API_KEY": "atsk_secret", "AT_USERNAME": "umeme",
			"SMS_CALLBACK_TOKEN": "fedcba9876543210fedc"}
		for k, v := range over {
			e[k] = v
		}
		return func(k string) string { return e[k] }
	}
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := c.SMS
	if !s.Enabled() || s.BaseURL != "https://api.africastalking.com" || s.MaxAttempts != 8 || s.Batch != 50 || s.Lease != 2*time.Minute ||
		s.InboundPerHour != 10 || s.RegisterRepliesPerDay != 500 || s.InboundNumber != "" || s.ServiceCode != "*384*1234#" {
		t.Fatalf("defaults: %+v", s)
	}
	if err := c.CheckServe(); err != nil {
		t.Fatalf("a complete configuration refused: %v", err)
	}
	c, err = FromEnv(env(map[string]string{"AT_API_KEY": "", "SMS_CALLBACK_TOKEN": ""}))
	if err != nil || c.SMS.Enabled() || c.CheckServe() != nil {
		t.Fatalf("no SMS settings must serve (texts are logged): %v %v", err, c.CheckServe())
	}
	for name, over := range map[string]map[string]string{
		"no username":      {"AT_USERNAME": ""},
		"http in prod":     {"AT_SMS_URL": "http://api.africastalking.com"},
		"short token":      {"SMS_CALLBACK_TOKEN": "short"},
		"short lease":      {"SMS_LEASE": "5s"},
		"bad service code": {"USSD_SERVICE_CODE": "384"},
		"bad number":       {"SMS_INBOUND_NUMBER": "UMEME"},
	} {
		c, err := FromEnv(env(over))
		if err == nil {
			err = c.CheckServe()
		}
		if err == nil {
			t.Errorf("%s: served", name)
		} else if strings.Contains(err.Error(), "atsk_secret") {
			t.Errorf("%s: the API key is in the error: %v", name, err)
		}
	}
	for name, v := range map[string]string{"SMS_MAX_ATTEMPTS": "0", "SMS_BATCH": "x", "SMS_POLL": "-1s", "SMS_REGISTER_REPLIES_PER_DAY": "0"} {
		if _, err := FromEnv(env(map[string]string{name: v})); err == nil {
			t.Errorf("%s=%s accepted", name, v)
		}
	}
	c, err = FromEnv(env(map[string]string{"SMS_REGISTER_REPLIES_PER_DAY": "50", "SMS_INBOUND_NUMBER": "+254711082000"}))
	if err != nil || c.CheckServe() != nil || c.SMS.RegisterRepliesPerDay != 50 || c.SMS.InboundNumber != "+254711082000" {
		t.Fatalf("the inbound settings: %+v %v %v", c.SMS, err, c.CheckServe())
	}
	c, _ = FromEnv(env(map[string]string{"APP_ENV": "development", "AT_SMS_URL": "http://127.0.0.1:9/"}))
	if err := c.CheckServe(); err != nil || c.SMS.BaseURL != "http://127.0.0.1:9" {
		t.Fatalf("development over http refused: %v %q", err, c.SMS.BaseURL)
	}
}
