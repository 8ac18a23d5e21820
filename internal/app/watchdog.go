package app

import "github.com/umeme-wallet/umeme/internal/watchdog"

// openWatchdog makes the liabilities watchdog when there is a node to
// measure and WATCHDOG_MIN_RATIO is not 0: nil otherwise.
func (a *App) openWatchdog() *watchdog.Watchdog {
	o := a.Config.Ops
	if a.node == nil || o.WatchdogMinRatio <= 0 {
		return nil
	}
	return &watchdog.Watchdog{Wallet: a.Wallet, Node: a.node, FloatKES: o.MpesaFloatKES, Rate: rateShown{a.Rates},
		MinRatio: o.WatchdogMinRatio, Every: o.WatchdogEvery, Log: a.Log}
}
