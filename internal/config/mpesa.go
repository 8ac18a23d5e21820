package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Mpesa is the M-Pesa rail's settings (Safaricom Daraja). The rail is on
// when MPESA_BASE_URL is set; its secrets are never logged.
type Mpesa struct {
	BaseURL                        string
	ConsumerKey, ConsumerSecret    string
	ShortCode, PassKey             string
	TransactionType                string
	B2CShortCode                   string
	InitiatorName                  string
	InitiatorPassword              string
	CertPath                       string
	CallbackURL, CallbackToken     string
	AllowedIPs                     []netip.Prefix
	MinKES, MaxKES, MinWithdrawKES int64
	// SpreadBps is the operator's margin on the rate; QuoteTTL how long a
	// quote holds; QueryAfter how long a request waits for its callback
	// before Daraja is asked (and then between questions).
	SpreadBps  int
	QuoteTTL   time.Duration
	QueryAfter time.Duration
}

// Rates is where BTC/KES comes from: a fixed KES_PER_BTC, or RATES_SOURCES
// (URL|path entries), cached for TTL and refused past MaxAge.
type Rates struct {
	Sources string
	TTL     time.Duration
	MaxAge  time.Duration
}

// Enabled reports whether the M-Pesa rail is configured.
func (m Mpesa) Enabled() bool { return m.BaseURL != "" }

func defaultMpesa() Mpesa {
	return Mpesa{TransactionType: "CustomerPayBillOnline", MinKES: 10, MaxKES: 150_000, MinWithdrawKES: 10,
		SpreadBps: 150, QuoteTTL: 2 * time.Minute, QueryAfter: 90 * time.Second}
}

func defaultRates() Rates { return Rates{TTL: 30 * time.Second, MaxAge: 5 * time.Minute} }

// mpesaFromEnv reads the M-Pesa and rates settings.
func mpesaFromEnv(getenv func(string) string, m *Mpesa, r *Rates) error {
	var errs []error
	strs := map[string]*string{
		"MPESA_BASE_URL": &m.BaseURL, "MPESA_CONSUMER_KEY": &m.ConsumerKey, "MPESA_CONSUMER_SECRET": &m.ConsumerSecret,
		"MPESA_SHORTCODE": &m.ShortCode, "MPESA_PASSKEY": &m.PassKey, "MPESA_TRANSACTION_TYPE": &m.TransactionType,
		"MPESA_B2C_SHORTCODE": &m.B2CShortCode, "MPESA_INITIATOR_NAME": &m.InitiatorName,
		"MPESA_INITIATOR_PASSWORD": &m.InitiatorPassword, "MPESA_CERT_PATH": &m.CertPath,
		"MPESA_CALLBACK_URL": &m.CallbackURL, "MPESA_CALLBACK_TOKEN": &m.CallbackToken, "RATES_SOURCES": &r.Sources,
	}
	for name, dst := range strs {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	for name, dst := range map[string]*int64{"MPESA_MIN_KES": &m.MinKES, "MPESA_MAX_KES": &m.MaxKES, "MPESA_MIN_WITHDRAW_KES": &m.MinWithdrawKES} {
		if v := getenv(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 || n > 250_000 {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number of shillings from 1 to 250,000 (Daraja's bounds)", name, v))
				continue
			}
			*dst = n
		}
	}
	if v := getenv("MPESA_SPREAD_BPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 2_000 {
			errs = append(errs, fmt.Errorf("MPESA_SPREAD_BPS: %q is not 0-2000 basis points", v))
		} else {
			m.SpreadBps = n
		}
	}
	for name, dst := range map[string]*time.Duration{"QUOTE_TTL": &m.QuoteTTL, "MPESA_QUERY_AFTER": &m.QueryAfter, "RATES_TTL": &r.TTL, "RATES_MAX_AGE": &r.MaxAge} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a positive duration", name, v))
				continue
			}
			*dst = d
		}
	}
	if v := getenv("MPESA_ALLOWED_IPS"); v != "" {
		p, err := ParsePrefixes(v)
		if err == nil && len(p) == 0 {
			err = errors.New("names no address")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("MPESA_ALLOWED_IPS: %w", err))
		}
		m.AllowedIPs = p
	}
	return errors.Join(errs...)
}

// check refuses an M-Pesa rail that cannot work or is not safe: every
// Daraja setting present, amounts in order, and a callback reached only
// through a long secret token, on a URL Safaricom accepts (https outside
// development, none of the words it refuses).
func (m Mpesa) check(development bool) error {
	if !m.Enabled() {
		return nil
	}
	var errs []error
	for name, v := range map[string]string{
		"MPESA_CONSUMER_KEY": m.ConsumerKey, "MPESA_CONSUMER_SECRET": m.ConsumerSecret, "MPESA_SHORTCODE": m.ShortCode,
		"MPESA_PASSKEY": m.PassKey, "MPESA_B2C_SHORTCODE": m.B2CShortCode, "MPESA_INITIATOR_NAME": m.InitiatorName,
		"MPESA_INITIATOR_PASSWORD": m.InitiatorPassword, "MPESA_CERT_PATH": m.CertPath, "MPESA_CALLBACK_URL": m.CallbackURL,
	} {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("%s is not set (MPESA_BASE_URL turns M-Pesa on)", name))
		}
	}
	if m.MinWithdrawKES < 10 {
		errs = append(errs, fmt.Errorf("MPESA_MIN_WITHDRAW_KES: Daraja pays no less than KES 10"))
	}
	if m.MinKES > m.MaxKES || m.MinWithdrawKES > m.MaxKES {
		errs = append(errs, fmt.Errorf("MPESA_MIN_KES/MPESA_MIN_WITHDRAW_KES above MPESA_MAX_KES"))
	}
	if len(strings.TrimSpace(m.CallbackToken)) < MinCallbackToken {
		errs = append(errs, fmt.Errorf("MPESA_CALLBACK_TOKEN must be at least %d random characters: Daraja's callbacks are not signed", MinCallbackToken))
	}
	if u, err := url.Parse(m.CallbackURL); m.CallbackURL != "" && (err != nil || u.Host == "" || (u.Scheme != "https" && !development)) {
		errs = append(errs, fmt.Errorf("MPESA_CALLBACK_URL: %q is not an https URL", m.CallbackURL))
	}
	lower := strings.ToLower(m.CallbackURL)
	for _, word := range []string{"mpesa", "m-pesa", "safaricom", "exe", "cmd", "sql", "query"} {
		if strings.Contains(lower, word) {
			errs = append(errs, fmt.Errorf("MPESA_CALLBACK_URL: Safaricom refuses callback URLs with %q in them", word))
		}
	}
	return errors.Join(errs...)
}
