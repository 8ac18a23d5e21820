package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/umeme-wallet/umeme/internal/mpesa"
	"github.com/umeme-wallet/umeme/internal/ramp"
	"github.com/umeme-wallet/umeme/internal/rates"
	"github.com/umeme-wallet/umeme/internal/ussd"
)

// openRates makes the BTC/KES rate source the settings name: the median
// of RATES_SOURCES, or the fixed KES_PER_BTC, cached and refused when
// stale; nil when neither is set.
func (a *App) openRates() (*rates.Cache, error) {
	cfg := a.Config
	var p rates.Provider
	switch {
	case cfg.Rates.Sources != "":
		sources, err := rates.ParseSources(cfg.Rates.Sources)
		if err != nil {
			return nil, fmt.Errorf("RATES_SOURCES: %w", err)
		}
		m := &rates.Median{Observe: func(r rates.Report) { a.Log.Debug("rates", "report", r.String()) }}
		for _, s := range sources {
			h := s.HTTPJSON(cfg.Development())
			if err := h.Check(); err != nil {
				return nil, fmt.Errorf("RATES_SOURCES: %w", err)
			}
			m.Providers = append(m.Providers, h)
		}
		p = m
	case cfg.KESPerBTC != "":
		f, err := rates.Fixed(cfg.KESPerBTC)
		if err != nil {
			return nil, fmt.Errorf("KES_PER_BTC: %w", err)
		}
		p = f
	default:
		return nil, nil
	}
	return &rates.Cache{Provider: p, TTL: cfg.Rates.TTL, MaxAge: cfg.Rates.MaxAge}, nil
}

// openMpesa makes the M-Pesa rail when MPESA_BASE_URL is set: the Daraja
// client, the ramp and the menus' view of it. It needs a rate source.
func (a *App) openMpesa(r *rates.Cache) (*ussd.Mpesa, error) {
	m := a.Config.Mpesa
	if !m.Enabled() {
		return nil, nil
	}
	if r == nil {
		return nil, errors.New("M-Pesa needs a price of bitcoin: set RATES_SOURCES or KES_PER_BTC")
	}
	cert, err := os.ReadFile(m.CertPath)
	if err != nil {
		return nil, fmt.Errorf("MPESA_CERT_PATH: %w", err)
	}
	client, err := mpesa.New(mpesa.Config{BaseURL: m.BaseURL, ConsumerKey: m.ConsumerKey, ConsumerSecret: m.ConsumerSecret,
		ShortCode: m.ShortCode, PassKey: m.PassKey, TransactionType: m.TransactionType, B2CShortCode: m.B2CShortCode,
		InitiatorName: m.InitiatorName, InitiatorPassword: m.InitiatorPassword, CertPEM: cert})
	if err != nil {
		return nil, err
	}
	// The Daraja calls a hop leaves running past its deadline are rails
	// work: Close waits for them before closing the database.
	a.Ramp = &ramp.Ramp{Wallet: a.Wallet, Daraja: ramp.Client{C: client}, Log: a.Log, Work: &a.rails,
		Config: ramp.Config{CallbackBase: callbackBase(m.CallbackURL, m.CallbackToken), QueryAfter: m.QueryAfter}}
	return &ussd.Mpesa{Ramp: a.Ramp, Quoter: &rates.Quoter{Rates: r, SpreadBps: m.SpreadBps, TTL: m.QuoteTTL},
		MinKES: m.MinKES, MaxKES: m.MaxKES, MinWithdrawKES: m.MinWithdrawKES}, nil
}

// callbackBase is where Daraja calls back: the public URL, then /cb/ and
// the secret token (the routes of internal/httpapi/mpesa.go).
func callbackBase(publicURL, token string) string {
	for len(publicURL) > 0 && publicURL[len(publicURL)-1] == '/' {
		publicURL = publicURL[:len(publicURL)-1]
	}
	return publicURL + "/cb/" + token
}

// rateShown is the rate balances are shown in shillings with: the cached
// rate, never one that is stale, never waiting long on a source.
type rateShown struct{ c *rates.Cache }

func (r rateShown) KESPerBTC() (float64, bool) {
	if r.c == nil {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	rate, err := r.c.Rate(ctx)
	if err != nil {
		return 0, false
	}
	return float64(rate.MilliKESPerBTC) / 1000, true
}
