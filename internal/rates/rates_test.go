package rates

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestRatesParseMilliKES(t *testing.T) {
	t.Parallel()
	ok := []struct {
		in   string
		want int64
	}{
		{"12345678", 12_345_678_000},
		{"12345678.91", 12_345_678_910},
		{"12345678.912", 12_345_678_912},
		{"12345678.91000", 12_345_678_910}, // trailing zeros past the third decimal
		{"12345678.9125", 12_345_678_913},  // halves round up
		{"12345678.91249", 12_345_678_912}, // below half rounds down
		{"12345678.912999999999", 12_345_678_913},
		{"1.2345678e7", 12_345_678_000}, // a JSON number in exponent form
		{"1.2345678E+7", 12_345_678_000},
		{"12345678912e-3", 12_345_678_912},
		{"0012000000", 12_000_000_000},
		{"1000", 1_000_000},                      // the default floor, inclusive
		{"1000000000000", 1_000_000_000_000_000}, // the default ceiling, inclusive
	}
	for _, c := range ok {
		got, err := ParseMilliKES(c.in, Bounds{})
		if err != nil || got != c.want {
			t.Errorf("ParseMilliKES(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, why string }{
		{"", "empty"},
		{"-12345678", "negative"},
		{"-0", "negative"},
		{"0", "zero"},
		{"0.000", "zero"},
		{"0.0004", "zero"}, // rounds to zero thousandths
		{"999.999", "outside"},
		{"1000000000000.001", "outside"},
		{"9999999999999999999999999999999999999999", "outside"},
		{"1e40", "outside"},
		{"1e41", "not a decimal"},
		{"1e999", "not a decimal"},
		{strings.Repeat("1", 65), "too long"},
		{"NaN", "not a decimal"},
		{"Infinity", "not a decimal"},
		{"+12345678", "not a decimal"},
		{" 12345678", "not a decimal"},
		{"12,345,678", "not a decimal"},
		{"12345678.", "not a decimal"},
		{".5", "not a decimal"},
		{"1e", "not a decimal"},
		{"1e+", "not a decimal"},
		{"0x10", "not a decimal"},
		{"1/2", "not a decimal"},
		{"12345678.9.1", "not a decimal"},
	}
	for _, c := range bad {
		got, err := ParseMilliKES(c.in, Bounds{})
		if !errors.Is(err, ErrInvalidRate) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("ParseMilliKES(%q) = %d, %v; want ErrInvalidRate saying %q", c.in, got, err, c.why)
		}
	}
}

func TestRatesParseMilliKESBounds(t *testing.T) {
	t.Parallel()
	b := Bounds{MinKESPerBTC: 1_000_000, MaxKESPerBTC: 100_000_000}
	for in, okWant := range map[string]bool{
		"999999.999": false, "1000000": true, "12000000": true, "100000000": true, "100000000.001": false,
	} {
		_, err := ParseMilliKES(in, b)
		if (err == nil) != okWant {
			t.Errorf("ParseMilliKES(%q, %+v) error %v, want ok=%v", in, b, err, okWant)
		}
	}
	for _, b := range []Bounds{{MinKESPerBTC: 10, MaxKESPerBTC: 5}, {MinKESPerBTC: -1}, {MaxKESPerBTC: math.MaxInt64}} {
		if _, err := ParseMilliKES("12000000", b); !errors.Is(err, ErrInvalidRate) {
			t.Errorf("bounds %+v accepted: %v", b, err)
		}
	}
}

func TestRatesConversions(t *testing.T) {
	t.Parallel()
	r := Rate{MilliKESPerBTC: 12_000_000_000} // KES 12,000,000 per BTC
	cases := []struct {
		name     string
		f        func(int64, Rate, Rounding) (int64, error)
		in       int64
		r        Rate
		down, up int64
	}{
		{"1 KES", MsatForKES, 1, r, 8333, 8334},
		{"12 KES exact", MsatForKES, 12, r, 100_000, 100_000},
		{"0 KES", MsatForKES, 0, r, 0, 0},
		{"1 BTC", KESForMsat, 100_000_000_000, Rate{MilliKESPerBTC: 12_000_000_001}, 12_000_000, 12_000_001},
		{"1 msat", KESForMsat, 1, r, 0, 1},
		{"exact KES", KESForMsat, 100_000, r, 12, 12},
		// At 10^14 milli-KES/BTC one shilling is one msat: the int64 edge.
		{"max KES", MsatForKES, math.MaxInt64, Rate{MilliKESPerBTC: 100_000_000_000_000}, math.MaxInt64, math.MaxInt64},
		{"max msat", KESForMsat, math.MaxInt64, Rate{MilliKESPerBTC: 100_000_000_000_000}, math.MaxInt64, math.MaxInt64},
		{"max KES at max rate", MsatForKES, math.MaxInt64, Rate{MilliKESPerBTC: math.MaxInt64}, 100_000_000_000_000, 100_000_000_000_000},
	}
	for _, c := range cases {
		down, err1 := c.f(c.in, c.r, RoundDown)
		up, err2 := c.f(c.in, c.r, RoundUp)
		if err1 != nil || err2 != nil || down != c.down || up != c.up {
			t.Errorf("%s: down %d, %v; up %d, %v; want %d, %d", c.name, down, err1, up, err2, c.down, c.up)
		}
	}

	overflow := []struct {
		name string
		f    func(int64, Rate, Rounding) (int64, error)
		in   int64
		r    Rate
	}{
		{"max KES one milli below the edge", MsatForKES, math.MaxInt64, Rate{MilliKESPerBTC: 100_000_000_000_000 - 1}},
		{"max KES at 1 milli", MsatForKES, math.MaxInt64, Rate{MilliKESPerBTC: 1}},
		{"max msat at max rate", KESForMsat, math.MaxInt64, Rate{MilliKESPerBTC: math.MaxInt64}},
		{"max msat one milli above the edge", KESForMsat, math.MaxInt64, Rate{MilliKESPerBTC: 100_000_000_000_001}},
	}
	for _, c := range overflow {
		for _, round := range []Rounding{RoundDown, RoundUp} {
			got, err := c.f(c.in, c.r, round)
			if !errors.Is(err, ErrOverflow) {
				t.Errorf("%s (%v) = %d, %v; want ErrOverflow", c.name, round, got, err)
			}
		}
	}

	// A quotient of exactly MaxInt64 with a remainder fits rounded down
	// and overflows rounded up.
	n := new(big.Int).Lsh(big.NewInt(math.MaxInt64), 1)
	n.Add(n, big.NewInt(1))
	if got, err := divRound(n, big.NewInt(2), RoundDown); err != nil || got != math.MaxInt64 {
		t.Errorf("divRound down at the edge = %d, %v", got, err)
	}
	if got, err := divRound(n, big.NewInt(2), RoundUp); !errors.Is(err, ErrOverflow) {
		t.Errorf("divRound up past the edge = %d, %v; want ErrOverflow", got, err)
	}

	for _, c := range []struct {
		name string
		err  error
		f    func() (int64, error)
	}{
		{"negative KES", ErrInvalidAmount, func() (int64, error) { return MsatForKES(-1, r, RoundDown) }},
		{"negative msat", ErrInvalidAmount, func() (int64, error) { return KESForMsat(-1, r, RoundUp) }},
		{"min int64", ErrInvalidAmount, func() (int64, error) { return MsatForKES(math.MinInt64, r, RoundUp) }},
		{"zero rate", ErrInvalidRate, func() (int64, error) { return MsatForKES(1, Rate{}, RoundDown) }},
		{"negative rate", ErrInvalidRate, func() (int64, error) { return KESForMsat(1, Rate{MilliKESPerBTC: -5}, RoundDown) }},
		{"no rounding", ErrInvalidAmount, func() (int64, error) { return MsatForKES(1, r, 0) }},
		{"bad rounding", ErrInvalidAmount, func() (int64, error) { return KESForMsat(1, r, 7) }},
	} {
		if got, err := c.f(); !errors.Is(err, c.err) {
			t.Errorf("%s = %d, %v; want %v", c.name, got, err, c.err)
		}
	}
}

// TestRatesConversionsAgainstRationals checks the rounding of many values
// against an independent exact computation.
func TestRatesConversionsAgainstRationals(t *testing.T) {
	t.Parallel()
	rates := []int64{1, 7, 12_345_678_901, 12_000_000_000, 999_999_999_999_999}
	amounts := []int64{0, 1, 9, 10, 99, 1_000, 250_000, 123_456_789, 1 << 40}
	for _, m := range rates {
		for _, a := range amounts {
			for _, dir := range []struct {
				f   func(int64, Rate, Rounding) (int64, error)
				num *big.Rat
			}{
				{MsatForKES, new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(a), big.NewInt(100_000_000_000_000)), big.NewInt(m))},
				{KESForMsat, new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(a), big.NewInt(m)), big.NewInt(100_000_000_000_000))},
			} {
				floor := new(big.Int).Quo(dir.num.Num(), dir.num.Denom())
				ceil := new(big.Int).Set(floor)
				if !dir.num.IsInt() {
					ceil.Add(ceil, big.NewInt(1))
				}
				for _, c := range []struct {
					round Rounding
					want  *big.Int
				}{{RoundDown, floor}, {RoundUp, ceil}} {
					got, err := dir.f(a, Rate{MilliKESPerBTC: m}, c.round)
					if !c.want.IsInt64() {
						if !errors.Is(err, ErrOverflow) {
							t.Errorf("amount %d rate %d %v = %d, %v; want ErrOverflow", a, m, c.round, got, err)
						}
						continue
					}
					if err != nil || got != c.want.Int64() {
						t.Errorf("amount %d rate %d %v = %d, %v; want %s", a, m, c.round, got, err, c.want)
					}
				}
			}
		}
	}
}

func TestRatesFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]string{
		0: "KES 0", 7: "KES 7", 999: "KES 999", 1000: "KES 1,000", 1234: "KES 1,234",
		123456: "KES 123,456", 1234567: "KES 1,234,567", -1234: "KES -1,234", -12: "KES -12",
		math.MaxInt64: "KES 9,223,372,036,854,775,807",
		math.MinInt64: "KES -9,223,372,036,854,775,808",
	} {
		if got := FormatKES(in); got != want {
			t.Errorf("FormatKES(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int64]string{
		12_345_678_500: "1 BTC = KES 12,345,679",
		12_345_678_499: "1 BTC = KES 12,345,678",
		12_000_000_000: "1 BTC = KES 12,000,000",
		math.MaxInt64:  "1 BTC = KES 9,223,372,036,854,776",
	} {
		got := FormatRate(Rate{MilliKESPerBTC: in})
		if got != want || len(got) > 182 {
			t.Errorf("FormatRate(%d) = %q, want %q", in, got, want)
		}
	}
}
