package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SMS is the Africa's Talking SMS settings: the outbox's sender, delivery
// reports and texts to the service's number. SMS goes out through the
// gateway when AT_API_KEY is set; without it every message is logged
// instead (development). The callbacks are served only when
// SMS_CALLBACK_TOKEN is set. The API key is never logged.
type SMS struct {
	// BaseURL is AT's API host: https://api.africastalking.com live,
	// https://api.sandbox.africastalking.com with Username "sandbox".
	BaseURL  string
	Username string
	APIKey   string
	// From is the sender id or short code texts come from (optional).
	From string
	// CallbackToken is the secret path segment of the delivery-report and
	// incoming-message callbacks (/sms/{token}/delivery|inbound).
	CallbackToken string
	// MaxAttempts bounds the tries of one message; Batch is how many the
	// sender claims at once, Lease how long it holds them, Poll how often
	// it looks for due ones.
	MaxAttempts int
	Batch       int
	Lease       time.Duration
	Poll        time.Duration
	// InboundPerHour is how many texts one number may send the service in
	// an hour before the rest are ignored.
	InboundPerHour int
	// RegisterRepliesPerDay caps the "register first" replies of a day to
	// all numbers together: each costs the operator an SMS, and any number
	// of the region may text in.
	RegisterRepliesPerDay int
	// InboundNumber is the service's number or short code as the gateway
	// reports texts sent to it: a text to another is not answered (empty:
	// any).
	InboundNumber string
	// ServiceCode is the USSD code users dial, named in SMS replies.
	ServiceCode string
}

// Enabled reports whether texts go out through Africa's Talking.
func (s SMS) Enabled() bool { return s.APIKey != "" }

func defaultSMS() SMS {
	return SMS{BaseURL: "https://api.africastalking.com", MaxAttempts: 8, Batch: 50, Lease: 2 * time.Minute,
		Poll: time.Second, InboundPerHour: 10, RegisterRepliesPerDay: 500, ServiceCode: "*384*1234#"}
}

// smsFromEnv reads the SMS settings.
func smsFromEnv(getenv func(string) string, s *SMS) error {
	var errs []error
	for name, dst := range map[string]*string{
		"AT_SMS_URL": &s.BaseURL, "AT_USERNAME": &s.Username, "AT_API_KEY": &s.APIKey, "AT_SMS_FROM": &s.From,
		"SMS_CALLBACK_TOKEN": &s.CallbackToken, "USSD_SERVICE_CODE": &s.ServiceCode, "SMS_INBOUND_NUMBER": &s.InboundNumber,
	} {
		if v := getenv(name); v != "" {
			*dst = strings.TrimSpace(v)
		}
	}
	s.BaseURL = strings.TrimRight(s.BaseURL, "/")
	for name, b := range map[string]struct {
		dst      *int
		min, max int
	}{
		"SMS_MAX_ATTEMPTS": {&s.MaxAttempts, 1, 100}, "SMS_BATCH": {&s.Batch, 1, 1000}, "SMS_INBOUND_PER_HOUR": {&s.InboundPerHour, 1, 1000},
		"SMS_REGISTER_REPLIES_PER_DAY": {&s.RegisterRepliesPerDay, 1, 100_000},
	} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < b.min || n > b.max {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number from %d to %d", name, v, b.min, b.max))
				continue
			}
			*b.dst = n
		}
	}
	for name, dst := range map[string]*time.Duration{"SMS_LEASE": &s.Lease, "SMS_POLL": &s.Poll} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a positive duration", name, v))
				continue
			}
			*dst = d
		}
	}
	return errors.Join(errs...)
}

// check refuses SMS settings that cannot work or are not safe: a gateway
// needs its username and an https URL outside development; the callbacks
// that record delivery and take texts in, when served, need a long secret
// token (they are not signed); a lease shorter than a send could
// take would let a second sender send the same message.
func (s SMS) check(development bool) error {
	var errs []error
	if s.Enabled() {
		if s.Username == "" {
			errs = append(errs, errors.New("AT_USERNAME is not set (AT_API_KEY turns SMS on)"))
		}
		if u, err := url.Parse(s.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(development && u.Scheme == "http")) {
			errs = append(errs, fmt.Errorf("AT_SMS_URL: %q is not an https URL", s.BaseURL))
		}
	}
	if s.CallbackToken != "" && len(s.CallbackToken) < MinCallbackToken {
		errs = append(errs, fmt.Errorf("SMS_CALLBACK_TOKEN must be at least %d random characters: the gateway's SMS callbacks are not signed", MinCallbackToken))
	}
	if s.Lease < 30*time.Second {
		errs = append(errs, fmt.Errorf("SMS_LEASE: %s is shorter than a send can take (30s at least)", s.Lease))
	}
	if !strings.HasPrefix(s.ServiceCode, "*") || !strings.HasSuffix(s.ServiceCode, "#") || len(s.ServiceCode) > 20 {
		errs = append(errs, fmt.Errorf("USSD_SERVICE_CODE: %q is not a code like *384*1234#", s.ServiceCode))
	}
	if s.RegisterRepliesPerDay < 1 {
		errs = append(errs, fmt.Errorf("SMS_REGISTER_REPLIES_PER_DAY: %d is not a whole number from 1", s.RegisterRepliesPerDay))
	}
	if n := strings.TrimPrefix(s.InboundNumber, "+"); s.InboundNumber != "" && (len(n) < 3 || len(n) > 15 || strings.Trim(n, "0123456789") != "") {
		errs = append(errs, fmt.Errorf("SMS_INBOUND_NUMBER: %q is not a short code or a number (digits, maybe after a plus)", s.InboundNumber))
	}
	return errors.Join(errs...)
}
