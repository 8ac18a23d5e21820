package rates

import (
	"context"
	"errors"
	"math"
	"math/big"
	"testing"
	"time"
)

func newQuoter(t *testing.T, milli int64, spread int) (*Quoter, *fakeClock, *fakeProvider) {
	t.Helper()
	clk := newFakeClock()
	p := fixed("fake", milli)
	p.now = clk.Now
	return &Quoter{Rates: p, SpreadBps: spread, Now: clk.Now}, clk, p
}

func TestRatesQuoteNoSpread(t *testing.T) {
	t.Parallel()
	q, clk, _ := newQuoter(t, base, 0)
	buy, err := q.Buy(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	// KES 1,000 at KES 12,000,000/BTC is 8,333,333.33… msat.
	if buy.Side != SideBuy || buy.KES != 1000 || buy.Msat != 8_333_333 || buy.FeeMsat != 0 ||
		buy.EffectiveMilliKESPerBTC != base || buy.Rate.MilliKESPerBTC != base || buy.SpreadBps != 0 {
		t.Errorf("buy %+v", buy)
	}
	sell, err := q.Sell(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if sell.Side != SideSell || sell.Msat != 8_333_334 || sell.FeeMsat != 0 || sell.EffectiveMilliKESPerBTC != base {
		t.Errorf("sell %+v", sell)
	}
	if !buy.CreatedAt.Equal(clk.Now()) || !buy.ExpiresAt.Equal(clk.Now().Add(DefaultQuoteTTL)) {
		t.Errorf("buy times %v .. %v", buy.CreatedAt, buy.ExpiresAt)
	}
}

func TestRatesQuoteSpread(t *testing.T) {
	t.Parallel()
	q, _, _ := newQuoter(t, base, 150)
	buy, err := q.Buy(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	// ⌊10^21 / (1.2e10 × 10150)⌋ = ⌊8,210,180.62…⌋; the market gives 8,333,333.
	if buy.Msat != 8_210_180 || buy.EffectiveMilliKESPerBTC != 12_180_000_000 || buy.FeeMsat != 8_333_333-8_210_180 {
		t.Errorf("buy %+v", buy)
	}
	sell, err := q.Sell(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	// ⌈10^21 / (1.2e10 × 9850)⌉ = ⌈8,460,236.88…⌉; the market asks 8,333,334.
	if sell.Msat != 8_460_237 || sell.EffectiveMilliKESPerBTC != 11_820_000_000 || sell.FeeMsat != 8_460_237-8_333_334 {
		t.Errorf("sell %+v", sell)
	}

	// A rate that the spread does not divide: the displayed effective
	// rate rounds against the user.
	q, _, _ = newQuoter(t, 12_345_678_901, 150)
	buy, err1 := q.Buy(context.Background(), 1000)
	sell, err2 := q.Sell(context.Background(), 1000)
	if err1 != nil || err2 != nil || buy.Msat != 7_980_295 || buy.EffectiveMilliKESPerBTC != 12_530_864_085 ||
		sell.Msat != 8_223_351 || sell.EffectiveMilliKESPerBTC != 12_160_493_717 ||
		buy.FeeMsat != 8_100_000-7_980_295 || sell.FeeMsat != 8_223_351-8_100_001 {
		t.Errorf("buy %+v, %v; sell %+v, %v", buy, err1, sell, err2)
	}
}

// TestRatesQuoteRounding checks many quotes against an exact rational
// computation: a buy never gives a msat more, a sell never debits one less.
func TestRatesQuoteRounding(t *testing.T) {
	t.Parallel()
	for _, milli := range []int64{1_000_000, 12_000_000_000, 12_345_678_901, 999_999_999_999_999} {
		for _, spread := range []int{0, 1, 150, 333, 2000} {
			q, _, _ := newQuoter(t, milli, spread)
			for _, kes := range []int64{1, 7, 10, 99, 1234, 250_000, 9_999_999} {
				for _, side := range []Side{SideBuy, SideSell} {
					factor := int64(10_000 + spread)
					if side == SideSell {
						factor = int64(10_000 - spread)
					}
					exact := new(big.Rat).SetFrac(
						new(big.Int).Mul(big.NewInt(kes), new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)),
						new(big.Int).Mul(big.NewInt(milli), big.NewInt(factor)))
					var got Quote
					var err error
					if side == SideBuy {
						got, err = q.Buy(context.Background(), kes)
					} else {
						got, err = q.Sell(context.Background(), kes)
					}
					floor := new(big.Int).Quo(exact.Num(), exact.Denom())
					want := new(big.Int).Set(floor)
					if side == SideSell && !exact.IsInt() {
						want.Add(want, big.NewInt(1))
					}
					if want.Sign() == 0 {
						if !errors.Is(err, ErrInvalidAmount) {
							t.Errorf("%s %d KES at %d, %d bps: %+v, %v; want a zero-msat refusal", side, kes, milli, spread, got, err)
						}
						continue
					}
					if err != nil || big.NewInt(got.Msat).Cmp(want) != 0 || got.FeeMsat < 0 {
						t.Errorf("%s %d KES at %d, %d bps: %+v, %v; want %s msat", side, kes, milli, spread, got, err, want)
						continue
					}
					if m, err := QuoteMsat(side, kes, got.Rate, got.SpreadBps); err != nil || m != got.Msat {
						t.Errorf("QuoteMsat disagrees with the quote: %d, %v", m, err)
					}
					// The displayed rate never looks better than the msat.
					atEff, _ := MsatForKES(kes, Rate{MilliKESPerBTC: got.EffectiveMilliKESPerBTC}, RoundDown)
					if side == SideBuy && atEff > got.Msat {
						t.Errorf("buy %d KES at %d, %d bps: %d msat but the effective rate shows %d", kes, milli, spread, got.Msat, atEff)
					}
					if side == SideSell && atEff < got.Msat-1 {
						t.Errorf("sell %d KES at %d, %d bps: %d msat but the effective rate shows %d", kes, milli, spread, got.Msat, atEff)
					}
				}
			}
		}
	}
}

func TestRatesQuoteExpiry(t *testing.T) {
	t.Parallel()
	q, clk, _ := newQuoter(t, base, 150)
	q.TTL = time.Minute
	qt, err := q.Buy(context.Background(), 500)
	if err != nil {
		t.Fatal(err)
	}
	if !qt.ExpiresAt.Equal(qt.CreatedAt.Add(time.Minute)) {
		t.Errorf("expires %v, created %v", qt.ExpiresAt, qt.CreatedAt)
	}
	if !qt.Valid(clk.Now()) || !qt.Valid(qt.ExpiresAt.Add(-time.Nanosecond)) {
		t.Error("a fresh quote is not valid")
	}
	if qt.Valid(qt.ExpiresAt) || qt.Valid(qt.ExpiresAt.Add(time.Hour)) {
		t.Error("an expired quote is valid")
	}
	if (Quote{}).Valid(clk.Now()) || (Quote{KES: 1, ExpiresAt: clk.Now().Add(time.Hour)}).Valid(clk.Now()) {
		t.Error("an empty quote is valid")
	}
}

func TestRatesQuoteRefusals(t *testing.T) {
	t.Parallel()
	q, _, p := newQuoter(t, base, 150)
	for _, kes := range []int64{0, -1, math.MinInt64} {
		if qt, err := q.Buy(context.Background(), kes); !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("buy %d KES = %+v, %v", kes, qt, err)
		}
		if qt, err := q.Sell(context.Background(), kes); !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("sell %d KES = %+v, %v", kes, qt, err)
		}
	}
	if qt, err := q.Buy(context.Background(), math.MaxInt64); !errors.Is(err, ErrOverflow) {
		t.Errorf("buy max KES = %+v, %v", qt, err)
	}
	for _, spread := range []int{-1, 2001} {
		q.SpreadBps = spread
		if qt, err := q.Buy(context.Background(), 100); err == nil {
			t.Errorf("spread %d accepted: %+v", spread, qt)
		}
		if _, err := QuoteMsat(SideBuy, 100, Rate{MilliKESPerBTC: base}, spread); !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("QuoteMsat spread %d: %v", spread, err)
		}
	}
	q.SpreadBps = 2000
	if _, err := q.Sell(context.Background(), 100); err != nil {
		t.Errorf("the largest spread: %v", err)
	}
	if _, err := QuoteMsat("hold", 100, Rate{MilliKESPerBTC: base}, 0); !errors.Is(err, ErrInvalidAmount) {
		t.Errorf("unknown side: %v", err)
	}

	// No quote from a stale rate.
	p.set(0, ErrStale)
	if qt, err := q.Buy(context.Background(), 100); !errors.Is(err, ErrStale) {
		t.Errorf("stale rate quoted: %+v, %v", qt, err)
	}
	p.set(0, nil)
	if qt, err := q.Buy(context.Background(), 100); !errors.Is(err, ErrInvalidRate) {
		t.Errorf("zero rate quoted: %+v, %v", qt, err)
	}

	// One shilling at KES 10^12/BTC is 0.1 msat: a buy gives nothing and
	// is refused; a sell rounds up to 1 msat.
	q, _, _ = newQuoter(t, 1_000_000_000_000_000, 0)
	if qt, err := q.Buy(context.Background(), 1); !errors.Is(err, ErrInvalidAmount) {
		t.Errorf("zero-msat buy = %+v, %v", qt, err)
	}
	if qt, err := q.Sell(context.Background(), 1); err != nil || qt.Msat != 1 {
		t.Errorf("1 KES sell = %+v, %v", qt, err)
	}
}

// TestRatesQuoteThroughCache quotes from a Fixed rate behind a Cache, as
// the server would wire them.
func TestRatesQuoteThroughCache(t *testing.T) {
	t.Parallel()
	f, err := Fixed(" 12000000.50 ")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "12,000,000", "-1", "0", "1e13"} {
		if _, err := Fixed(bad); !errors.Is(err, ErrInvalidRate) {
			t.Errorf("Fixed(%q): %v", bad, err)
		}
	}
	q := &Quoter{Rates: &Cache{Provider: f}, SpreadBps: 100}
	qt, err := q.Buy(context.Background(), 100)
	if err != nil || qt.Rate.MilliKESPerBTC != 12_000_000_500 || qt.Rate.Source != "fixed" || !qt.Valid(time.Now()) {
		t.Errorf("quote %+v, %v", qt, err)
	}
}
