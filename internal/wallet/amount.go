package wallet

import (
	"fmt"

	"github.com/umeme-wallet/umeme/internal/store"
)

// MaxSats is the largest whole number of sats any amount may be: all the
// bitcoin there will ever be (store.MaxMsat).
const MaxSats = store.MaxMsat / 1_000

// MsatFromSats converts a whole number of sats, as an operator or a user
// types it, into msat. It refuses a number that is not positive or exceeds
// MaxSats before multiplying, so the product cannot overflow.
func MsatFromSats(sats int64) (int64, error) {
	if sats <= 0 || sats > MaxSats {
		return 0, fmt.Errorf("%w: %d sats is outside 1-%d", ErrInvalidAmount, sats, MaxSats)
	}
	return sats * 1_000, nil
}

// checkMsat refuses an amount that is not positive or beyond any real sum
// (store.MaxMsat): what a rail reports, before any arithmetic on it.
func checkMsat(what string, v int64) error {
	if v <= 0 || v > store.MaxMsat {
		return fmt.Errorf("%w: %s of %d msat is outside 1-%d", ErrInvalidAmount, what, v, store.MaxMsat)
	}
	return nil
}

// validate refuses limits and fees that would let the wallet's own
// arithmetic overflow: limits in 1-MaxMsat, minimum fees in 0-MaxMsat,
// rates in 0-10 000 basis points.
func (c Config) validate() error {
	in := func(v, lo, hi int64) bool { return v >= lo && v <= hi }
	switch {
	case !in(c.MinAmountMsat, 1, store.MaxMsat), !in(c.MaxAmountMsat, 1, store.MaxMsat),
		!in(c.MaxBalanceMsat, 1, store.MaxMsat), !in(c.DailyLimitMsat, 1, store.MaxMsat):
		return fmt.Errorf("wallet: a limit is outside 1-%d msat", store.MaxMsat)
	case !in(c.FeeMinMsat, 0, store.MaxMsat), !in(c.TransferFeeMinMsat, 0, store.MaxMsat):
		return fmt.Errorf("wallet: a minimum fee is outside 0-%d msat", store.MaxMsat)
	case !in(c.FeeBasisPoints, 0, 10_000), !in(c.TransferFeeBasisPoints, 0, 10_000):
		return fmt.Errorf("wallet: a fee rate is outside 0-10000 basis points")
	}
	return nil
}
