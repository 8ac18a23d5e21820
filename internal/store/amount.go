package store

import (
	"errors"
	"fmt"
)

// MaxMsat is the largest amount the ledger takes anywhere: all the bitcoin
// there will ever be (21 million BTC), in msat. At 2.1×10^18 it is under a
// quarter of int64's range, so an amount checked against it can be added to
// another without overflowing, and a balance that is not already beyond
// any real sum cannot be pushed past int64 by one entry. (SQLite stores an
// integer sum that overflows as REAL, silently; the other engines fail.)
const MaxMsat int64 = 21_000_000 * 100_000_000 * 1_000

// ErrAmountRange is an amount, or the result of adding amounts, outside
// what the ledger can hold.
var ErrAmountRange = errors.New("amount out of range")

// CheckMsat refuses an amount whose size exceeds MaxMsat (either sign).
func CheckMsat(v int64) error {
	if v < -MaxMsat || v > MaxMsat {
		return fmt.Errorf("%w: %d msat exceeds %d", ErrAmountRange, v, MaxMsat)
	}
	return nil
}

// AddMsat adds two amounts, refusing a sum that would overflow int64.
func AddMsat(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, fmt.Errorf("%w: %d + %d overflows", ErrAmountRange, a, b)
	}
	return s, nil
}
