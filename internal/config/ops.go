package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Ops is the operator's controls: the liabilities watchdog and the delay
// of a PIN reset.
type Ops struct {
	// WatchdogEvery is how often the watchdog compares what users are owed
	// with what covers it (WATCHDOG_EVERY, default 1m).
	WatchdogEvery time.Duration
	// WatchdogMinRatio is the coverage (lnd's channels and on-chain wallet
	// plus the M-Pesa float, over the users' balances and holds) below
	// which payouts pause (WATCHDOG_MIN_RATIO, default 1: every sat owed
	// must be held; 0 turns the watchdog off).
	WatchdogMinRatio float64
	// MpesaFloatKES is the M-Pesa float the operator declares, whole
	// shillings (MPESA_FLOAT_KES, default 0), counted at the cached rate.
	MpesaFloatKES int64
	// PINResetDelay is how long an operator's PIN reset waits before it
	// takes effect (PIN_RESET_DELAY, default 24h).
	PINResetDelay time.Duration
	// Now is the wallet's and the menus' clock (nil: time.Now); tests set
	// it to wait out a delay without waiting. No setting reads it.
	Now func() time.Time
}

// DefaultOps is the operator's controls of a fresh install.
func DefaultOps() Ops {
	return Ops{WatchdogEvery: time.Minute, WatchdogMinRatio: 1, PINResetDelay: 24 * time.Hour}
}

func opsFromEnv(getenv func(string) string, o *Ops) error {
	var errs []error
	if v := getenv("WATCHDOG_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			errs = append(errs, fmt.Errorf("WATCHDOG_EVERY: %q is not a duration of 1s or more", v))
		}
		o.WatchdogEvery = d
	}
	if v := getenv("WATCHDOG_MIN_RATIO"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 100 || math.IsNaN(f) {
			errs = append(errs, fmt.Errorf("WATCHDOG_MIN_RATIO: %q is not a number of 0-100", v))
		}
		o.WatchdogMinRatio = f
	}
	if v := getenv("MPESA_FLOAT_KES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		// A trillion shillings is more than the M-Pesa float of anyone.
		if err != nil || n < 0 || n > 1_000_000_000_000 {
			errs = append(errs, fmt.Errorf("MPESA_FLOAT_KES: %q is not whole shillings of 0-10^12", v))
		}
		o.MpesaFloatKES = n
	}
	if v := getenv("PIN_RESET_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("PIN_RESET_DELAY: %q is not a duration", v))
		}
		o.PINResetDelay = d
	}
	return errors.Join(errs...)
}
