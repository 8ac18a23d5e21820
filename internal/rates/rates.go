// Package rates knows what a bitcoin is worth in Kenyan shillings and turns
// that into M-Pesa quotes. It asks price sources over HTTP (or takes a fixed
// rate from the operator), keeps the median of their answers, caches it so a
// USSD hop never waits on an exchange, and refuses to quote from a rate that
// is too old.
//
// Money here is integers only: shillings are whole KES (int64), bitcoin is
// millisatoshi (int64), and a rate is thousandths of a shilling per bitcoin
// (int64). Prices are parsed from their decimal text, never through a float,
// and every conversion says which way it rounds and fails rather than wraps.
//
// Wiring, with the settings each piece reads: RATES_SOURCES through
// ParseSources into HTTPJSON providers (or KES_PER_BTC into Fixed), several
// of them under a Median, that under a Cache (RATES_TTL, RATES_MAX_AGE)
// whose Run keeps it fresh, and a Quoter (MPESA_SPREAD_BPS, QUOTE_TTL)
// reading the Cache. Reading the environment is left to internal/config.
package rates

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"
)

// Rate is the price of one bitcoin in thousandths of a shilling, exactly.
// BTC/KES is around 1.2e7 KES, so 1.2e10 here: int64 holds it with room to
// spare.
type Rate struct {
	// MilliKESPerBTC is the price of 1 BTC in 1/1000 KES.
	MilliKESPerBTC int64
	// At is when the price was learned; the cache measures its age from it.
	At time.Time
	// Source names where the price came from, for logs.
	Source string
}

// Errors of this package; the errors returned wrap them.
var (
	// ErrInvalidRate refuses a price that is not a plain positive decimal
	// inside the configured bounds.
	ErrInvalidRate = errors.New("invalid rate")
	// ErrInvalidAmount refuses a negative amount, a zero quote, or an
	// unknown rounding.
	ErrInvalidAmount = errors.New("invalid amount")
	// ErrOverflow refuses a conversion whose result does not fit an int64.
	ErrOverflow = errors.New("amount out of range")
	// ErrStale means no rate young enough to quote from is known: the
	// sources failed for longer than the cache's MaxAge, or never answered.
	ErrStale = errors.New("rate is stale")
)

// Default bounds of a believable price, in whole KES per BTC.
const (
	DefaultMinKESPerBTC int64 = 1_000
	DefaultMaxKESPerBTC int64 = 1_000_000_000_000
)

// Bounds are the least and greatest believable prices, in whole KES per
// BTC, inclusive. A zero field takes its default (DefaultMinKESPerBTC,
// DefaultMaxKESPerBTC): a source answering outside them is broken or lying,
// and its answer is refused rather than quoted.
type Bounds struct {
	MinKESPerBTC int64
	MaxKESPerBTC int64
}

// milli returns the bounds in 1/1000 KES per BTC, defaults applied.
func (b Bounds) milli() (lo, hi int64, err error) {
	lo, hi = b.MinKESPerBTC, b.MaxKESPerBTC
	if lo == 0 {
		lo = DefaultMinKESPerBTC
	}
	if hi == 0 {
		hi = DefaultMaxKESPerBTC
	}
	if lo < 1 || hi < lo || hi > math.MaxInt64/1000 {
		return 0, 0, fmt.Errorf("%w: bounds %d..%d KES/BTC", ErrInvalidRate, lo, hi)
	}
	return lo * 1000, hi * 1000, nil
}

// maxPriceLen bounds the text of a price: 64 characters is far more than any
// real price needs and keeps the big-number work tiny.
const maxPriceLen = 64

// maxExponent bounds the exponent of a price written like 1.2e7.
const maxExponent = 40

// ParseMilliKES reads a price of one bitcoin in KES, as a source writes it
// ("12345678", "12345678.91", or a JSON number such as 1.2345678e7), and
// returns it in thousandths of a shilling. The text is read as an exact
// decimal, never through a float. Digits past the third decimal are rounded
// to the nearest thousandth, halves up (an error below 1e-13 of the price).
// Signs, spaces, NaN, infinities, zero, and prices outside b are refused.
func ParseMilliKES(s string, b Bounds) (int64, error) {
	lo, hi, err := b.milli()
	if err != nil {
		return 0, err
	}
	v, err := parseDecimalMilli(s)
	if err != nil {
		return 0, err
	}
	if v.Sign() == 0 {
		return 0, fmt.Errorf("%w: %q is zero", ErrInvalidRate, s)
	}
	if v.Cmp(big.NewInt(lo)) < 0 || v.Cmp(big.NewInt(hi)) > 0 {
		return 0, fmt.Errorf("%w: %q KES/BTC is outside %d..%d", ErrInvalidRate, s, lo/1000, hi/1000)
	}
	return v.Int64(), nil
}

// parseDecimalMilli reads digits[.digits][e[+-]digits] and returns the value
// times 1000, rounded half up to an integer.
func parseDecimalMilli(s string) (*big.Int, error) {
	bad := func(why string) error {
		if len(s) > maxPriceLen {
			s = s[:maxPriceLen] + "…"
		}
		return fmt.Errorf("%w: %q: %s", ErrInvalidRate, s, why)
	}
	if s == "" {
		return nil, bad("empty")
	}
	if len(s) > maxPriceLen {
		return nil, bad("too long")
	}
	if s[0] == '-' {
		return nil, bad("negative")
	}
	mant, exp := s, 0
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			mant = s[:i]
			e, ok := parseExponent(s[i+1:])
			if !ok {
				return nil, bad("not a decimal number")
			}
			exp = e
			break
		}
	}
	intPart, frac := mant, ""
	for i := 0; i < len(mant); i++ {
		if mant[i] == '.' {
			intPart, frac = mant[:i], mant[i+1:]
			if frac == "" {
				return nil, bad("not a decimal number")
			}
			break
		}
	}
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return nil, bad("not a decimal number")
	}
	digits, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return nil, bad("not a decimal number")
	}
	// value = digits × 10^(exp − len(frac)); we want value × 1000.
	shift := exp - len(frac) + 3
	ten := big.NewInt(10)
	if shift >= 0 {
		return digits.Mul(digits, new(big.Int).Exp(ten, big.NewInt(int64(shift)), nil)), nil
	}
	div := new(big.Int).Exp(ten, big.NewInt(int64(-shift)), nil)
	q, r := new(big.Int).QuoRem(digits, div, new(big.Int))
	if r.Lsh(r, 1).Cmp(div) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	return q, nil
}

func parseExponent(s string) (int, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || len(s) > 3 || !allDigits(s) {
		return 0, false
	}
	e := 0
	for i := 0; i < len(s); i++ {
		e = e*10 + int(s[i]-'0')
	}
	if e > maxExponent {
		return 0, false
	}
	if neg {
		e = -e
	}
	return e, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
