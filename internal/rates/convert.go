package rates

import (
	"fmt"
	"math/big"
)

// Rounding says which way a conversion rounds a result that is not whole.
// The zero value is not a rounding: every caller chooses, since the right
// way depends on who the rounding must favour.
type Rounding int

// The two roundings. Amounts are never negative, so down is towards zero.
const (
	RoundDown Rounding = iota + 1
	RoundUp
)

func (r Rounding) String() string {
	switch r {
	case RoundDown:
		return "down"
	case RoundUp:
		return "up"
	}
	return fmt.Sprintf("Rounding(%d)", int(r))
}

// msatPerBTC × 1000 (the rate's thousandths of a shilling): msat = kes ×
// milliPerMsatScale / MilliKESPerBTC.
const milliPerMsatScale = 100_000_000_000 * 1000

// MsatForKES returns how many millisatoshi kes whole shillings buy at r:
// kes × 10^14 / r.MilliKESPerBTC, rounded as round says. The arithmetic is
// exact (arbitrary precision); a result past int64 is ErrOverflow, a
// negative kes or a rate that is not positive is an error.
func MsatForKES(kes int64, r Rate, round Rounding) (int64, error) {
	if kes < 0 {
		return 0, fmt.Errorf("%w: %d KES is negative", ErrInvalidAmount, kes)
	}
	if r.MilliKESPerBTC <= 0 {
		return 0, fmt.Errorf("%w: %d milli-KES/BTC", ErrInvalidRate, r.MilliKESPerBTC)
	}
	n := new(big.Int).Mul(big.NewInt(kes), big.NewInt(milliPerMsatScale))
	return divRound(n, big.NewInt(r.MilliKESPerBTC), round)
}

// KESForMsat returns how many whole shillings msat millisatoshi are worth at
// r: msat × r.MilliKESPerBTC / 10^14, rounded as round says. The arithmetic
// is exact; a result past int64 is ErrOverflow, a negative msat or a rate
// that is not positive is an error.
func KESForMsat(msat int64, r Rate, round Rounding) (int64, error) {
	if msat < 0 {
		return 0, fmt.Errorf("%w: %d msat is negative", ErrInvalidAmount, msat)
	}
	if r.MilliKESPerBTC <= 0 {
		return 0, fmt.Errorf("%w: %d milli-KES/BTC", ErrInvalidRate, r.MilliKESPerBTC)
	}
	n := new(big.Int).Mul(big.NewInt(msat), big.NewInt(r.MilliKESPerBTC))
	return divRound(n, big.NewInt(milliPerMsatScale), round)
}

// divRound returns n / d for n ≥ 0 and d > 0, rounded as round says, or
// ErrOverflow if it does not fit an int64.
func divRound(n, d *big.Int, round Rounding) (int64, error) {
	if round != RoundDown && round != RoundUp {
		return 0, fmt.Errorf("%w: rounding %v", ErrInvalidAmount, round)
	}
	q, rem := new(big.Int).QuoRem(n, d, new(big.Int))
	if round == RoundUp && rem.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%w: %s does not fit 64 bits", ErrOverflow, q)
	}
	return q.Int64(), nil
}
