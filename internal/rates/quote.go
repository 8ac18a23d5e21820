package rates

import (
	"context"
	"fmt"
	"math/big"
	"time"
)

// Defaults and limits of Quoter.
const (
	DefaultQuoteTTL = 2 * time.Minute
	// MaxSpreadBps is the largest spread (MPESA_SPREAD_BPS) accepted: 20 %.
	MaxSpreadBps = 2000
)

// RateSource is anything that tells the current rate: a Cache in
// production, so quotes come only from a rate younger than its MaxAge.
type RateSource interface {
	Rate(ctx context.Context) (Rate, error)
}

// Side is which way a quote moves money.
type Side string

// The two sides of an M-Pesa quote.
const (
	// SideBuy: the user pays shillings by M-Pesa and receives bitcoin.
	SideBuy Side = "buy"
	// SideSell: the user sends bitcoin and receives shillings by M-Pesa.
	SideSell Side = "sell"
)

// Quote is a price offered to a user: KES whole shillings against Msat
// millisatoshi, good until ExpiresAt.
type Quote struct {
	Side Side
	KES  int64
	// Msat is what the user receives (buy) or is debited (sell).
	Msat int64
	// Rate is the market rate the quote was made from, before the spread.
	Rate      Rate
	SpreadBps int
	// EffectiveMilliKESPerBTC is the rate the user gets, spread included,
	// for display: rounded up for a buy and down for a sell, so it never
	// looks better for the user than Msat is.
	EffectiveMilliKESPerBTC int64
	// FeeMsat is what the spread is worth in msat, for display: the msat
	// at the market rate (rounded as Msat is) minus Msat for a buy, Msat
	// minus it for a sell. Never negative.
	FeeMsat   int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Valid reports whether the quote may still be accepted at now.
func (q Quote) Valid(now time.Time) bool {
	return q.Msat > 0 && q.KES > 0 && now.Before(q.ExpiresAt)
}

// Quoter makes M-Pesa quotes from a rate and the operator's spread.
type Quoter struct {
	Rates RateSource
	// SpreadBps (MPESA_SPREAD_BPS, 0..MaxSpreadBps) makes the user's rate
	// worse on both sides; it is the operator's margin.
	SpreadBps int
	// TTL (QUOTE_TTL) is how long a quote stays valid; zero means
	// DefaultQuoteTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Buy quotes kes shillings paid by M-Pesa for bitcoin: Msat is kes at the
// market rate × (1 + spread), rounded down, so the user never gets a msat
// more than the quote's rate gives.
func (q *Quoter) Buy(ctx context.Context, kes int64) (Quote, error) {
	return q.quote(ctx, SideBuy, kes)
}

// Sell quotes kes shillings paid out by M-Pesa for bitcoin: Msat, the
// amount debited, is kes at the market rate × (1 − spread), rounded up.
func (q *Quoter) Sell(ctx context.Context, kes int64) (Quote, error) {
	return q.quote(ctx, SideSell, kes)
}

func (q *Quoter) quote(ctx context.Context, side Side, kes int64) (Quote, error) {
	if kes <= 0 {
		return Quote{}, fmt.Errorf("quote %s: %w: %d KES", side, ErrInvalidAmount, kes)
	}
	if q.SpreadBps < 0 || q.SpreadBps > MaxSpreadBps {
		return Quote{}, fmt.Errorf("quote %s: spread %d bps outside 0..%d", side, q.SpreadBps, MaxSpreadBps)
	}
	r, err := q.Rates.Rate(ctx)
	if err != nil {
		return Quote{}, fmt.Errorf("quote %s: %w", side, err)
	}
	msat, err := QuoteMsat(side, kes, r, q.SpreadBps)
	if err != nil {
		return Quote{}, fmt.Errorf("quote %s: %w", side, err)
	}
	if msat == 0 {
		return Quote{}, fmt.Errorf("quote %s: %w: %d KES is worth no msat", side, ErrInvalidAmount, kes)
	}
	var eff, fee int64
	if side == SideBuy {
		eff, err = spreadRate(r.MilliKESPerBTC, 10_000+int64(q.SpreadBps), RoundUp)
		if err == nil {
			var market int64
			market, err = MsatForKES(kes, r, RoundDown)
			fee = market - msat
		}
	} else {
		eff, err = spreadRate(r.MilliKESPerBTC, 10_000-int64(q.SpreadBps), RoundDown)
		if err == nil {
			var market int64
			market, err = MsatForKES(kes, r, RoundUp)
			fee = msat - market
		}
	}
	if err != nil {
		return Quote{}, fmt.Errorf("quote %s: %w", side, err)
	}
	ttl := q.TTL
	if ttl <= 0 {
		ttl = DefaultQuoteTTL
	}
	created := now(q.Now)
	return Quote{
		Side: side, KES: kes, Msat: msat, Rate: r, SpreadBps: q.SpreadBps,
		EffectiveMilliKESPerBTC: eff, FeeMsat: fee,
		CreatedAt: created, ExpiresAt: created.Add(ttl),
	}, nil
}

// QuoteMsat is the msat of a quote, exactly, from the market rate and the
// spread, so a stored quote can be checked against its rate and spread:
//
//	buy:  ⌊kes × 10^14 × 10000 / (rate × (10000 + spreadBps))⌋
//	sell: ⌈kes × 10^14 × 10000 / (rate × (10000 − spreadBps))⌉
//
// with rate in thousandths of a shilling per BTC. kes must be ≥ 0 and
// spreadBps within 0..MaxSpreadBps; a result past int64 is ErrOverflow.
func QuoteMsat(side Side, kes int64, r Rate, spreadBps int) (int64, error) {
	if kes < 0 {
		return 0, fmt.Errorf("%w: %d KES is negative", ErrInvalidAmount, kes)
	}
	if r.MilliKESPerBTC <= 0 {
		return 0, fmt.Errorf("%w: %d milli-KES/BTC", ErrInvalidRate, r.MilliKESPerBTC)
	}
	if spreadBps < 0 || spreadBps > MaxSpreadBps {
		return 0, fmt.Errorf("%w: spread %d bps outside 0..%d", ErrInvalidAmount, spreadBps, MaxSpreadBps)
	}
	var factor int64
	var round Rounding
	switch side {
	case SideBuy:
		factor, round = 10_000+int64(spreadBps), RoundDown
	case SideSell:
		factor, round = 10_000-int64(spreadBps), RoundUp
	default:
		return 0, fmt.Errorf("%w: side %q", ErrInvalidAmount, side)
	}
	n := new(big.Int).Mul(big.NewInt(kes), big.NewInt(milliPerMsatScale))
	n.Mul(n, big.NewInt(10_000))
	d := new(big.Int).Mul(big.NewInt(r.MilliKESPerBTC), big.NewInt(factor))
	return divRound(n, d, round)
}

// spreadRate is milli × factor / 10000, rounded as round says.
func spreadRate(milli, factor int64, round Rounding) (int64, error) {
	n := new(big.Int).Mul(big.NewInt(milli), big.NewInt(factor))
	return divRound(n, big.NewInt(10_000), round)
}
