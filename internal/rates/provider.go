package rates

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Provider tells the current price of a bitcoin in shillings. Name is short
// and safe to log: it never carries a secret (an API key in a URL's query).
type Provider interface {
	Rate(ctx context.Context) (Rate, error)
	Name() string
}

// FixedRate is a rate the operator set by hand (KES_PER_BTC): it never
// changes and never goes stale.
type FixedRate struct {
	milli int64
	// Now stamps the rate's At; nil means time.Now.
	Now func() time.Time
}

// Fixed returns the provider of a rate written in whole or decimal KES per
// BTC ("12000000" or "12000000.50"), as KES_PER_BTC holds it. Surrounding
// spaces are ignored; the text is otherwise read as ParseMilliKES reads it,
// within the default bounds.
func Fixed(kesPerBTC string) (*FixedRate, error) {
	m, err := ParseMilliKES(strings.TrimSpace(kesPerBTC), Bounds{})
	if err != nil {
		return nil, fmt.Errorf("fixed rate: %w", err)
	}
	return &FixedRate{milli: m}, nil
}

// Rate returns the fixed rate, stamped now.
func (f *FixedRate) Rate(context.Context) (Rate, error) {
	return Rate{MilliKESPerBTC: f.milli, At: now(f.Now), Source: f.Name()}, nil
}

// Name is "fixed".
func (f *FixedRate) Name() string { return "fixed" }

func now(f func() time.Time) time.Time {
	if f != nil {
		return f()
	}
	return time.Now()
}
