// Package watchdog compares, every minute, what the users are owed (the
// ledger: their balances and the holds of their pending operations) with
// what covers it: the Lightning node's channel local balance and confirmed
// on-chain wallet, plus the M-Pesa float the operator declares, counted at
// the cached rate. Below the configured ratio it pauses the payouts that
// leave the operator's hands (Lightning payments to other nodes, M-Pesa
// withdrawals) in the database, so that every server on it pauses; above
// it again it lifts its own pause (never the operator's). A check whose
// coverage cannot be measured (the node unreachable) changes nothing.
package watchdog

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Node is what the watchdog reads of the Lightning node.
type Node interface {
	Balances(ctx context.Context) (channelMsat, onchainMsat int64, err error)
}

// Rate is the BTC/KES price the float is counted at (false: none fresh).
type Rate interface {
	KESPerBTC() (float64, bool)
}

// Watchdog is the liabilities watchdog of one server.
type Watchdog struct {
	Wallet *wallet.Service
	Node   Node
	// FloatKES is the declared M-Pesa float; Rate counts it in msat (no
	// fresh rate: the float counts as nothing, which can only pause).
	FloatKES int64
	Rate     Rate
	// MinRatio is the coverage below which payouts pause.
	MinRatio float64
	// Every is the time between checks (default a minute).
	Every time.Duration
	Log   *slog.Logger

	mu    sync.Mutex
	state State
}

// State is the last check, for metrics (the obs helper's /metrics reads it).
type State struct {
	// Paused is whether payouts are paused (by the watchdog or by hand);
	// Auto and Manual say by whom.
	Paused, Auto, Manual bool
	// Ratio is coverage over liabilities (+Inf when nothing is owed).
	Ratio                               float64
	LiabilitiesMsat, CoverageMsat       int64
	ChannelMsat, OnchainMsat, FloatMsat int64
	CheckedAt                           time.Time
	// Err is why the last check could not measure the coverage ("" when it could).
	Err string
}

// State returns the last check's figures.
func (w *Watchdog) State() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// Run checks at once and then every Every until ctx ends.
func (w *Watchdog) Run(ctx context.Context) {
	every := w.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.Log.Warn("watchdog: coverage not measured; pause state unchanged", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check measures once, pauses or resumes, and returns the figures.
func (w *Watchdog) Check(ctx context.Context) (State, error) {
	s := State{CheckedAt: time.Now().UTC()}
	var err error
	if s.LiabilitiesMsat, err = w.Wallet.Liabilities(ctx); err != nil {
		return w.failed(s, fmt.Errorf("liabilities: %w", err))
	}
	if w.Node != nil {
		if s.ChannelMsat, s.OnchainMsat, err = w.Node.Balances(ctx); err != nil {
			return w.failed(s, fmt.Errorf("lnd: %w", err))
		}
	}
	s.FloatMsat = w.floatMsat()
	s.CoverageMsat = s.ChannelMsat + s.OnchainMsat + s.FloatMsat
	s.Ratio = math.Inf(1)
	if s.LiabilitiesMsat > 0 {
		s.Ratio = float64(s.CoverageMsat) / float64(s.LiabilitiesMsat)
	}
	low := s.Ratio < w.MinRatio
	reason := fmt.Sprintf("coverage %.4f of liabilities (minimum %.4f)", s.Ratio, w.MinRatio)
	changed, err := w.Wallet.SetAutoPause(ctx, low, reason)
	if err != nil {
		return w.failed(s, fmt.Errorf("set pause: %w", err))
	}
	attrs := []any{"ratio", s.Ratio, "min_ratio", w.MinRatio, "liabilities_msat", s.LiabilitiesMsat, "coverage_msat", s.CoverageMsat,
		"channel_msat", s.ChannelMsat, "onchain_msat", s.OnchainMsat, "mpesa_float_msat", s.FloatMsat}
	switch {
	case changed && low:
		w.Log.Error("ALERT watchdog: liabilities not covered; outgoing Lightning payments and M-Pesa withdrawals paused", attrs...)
	case changed:
		w.Log.Warn("watchdog: liabilities covered again; outgoing Lightning payments and M-Pesa withdrawals resumed", attrs...)
	}
	p, err := w.Wallet.PauseState(ctx)
	if err != nil {
		return w.failed(s, fmt.Errorf("pause state: %w", err))
	}
	s.Paused, s.Auto, s.Manual = p.Paused(), p.Auto, p.Manual
	w.mu.Lock()
	w.state = s
	w.mu.Unlock()
	return s, nil
}

// failed records a check that could not measure: the figures it has, the
// pause as it was.
func (w *Watchdog) failed(s State, err error) (State, error) {
	w.mu.Lock()
	prev := w.state
	s.Paused, s.Auto, s.Manual, s.Ratio, s.Err = prev.Paused, prev.Auto, prev.Manual, prev.Ratio, err.Error()
	w.state = s
	w.mu.Unlock()
	return s, err
}

// floatMsat is the declared float in msat at the cached rate: KES × 10^11
// / (KES per BTC), rounded down.
func (w *Watchdog) floatMsat() int64 {
	if w.FloatKES <= 0 || w.Rate == nil {
		return 0
	}
	rate, ok := w.Rate.KESPerBTC()
	if !ok || rate <= 0 {
		return 0
	}
	q := new(big.Float).Quo(new(big.Float).SetInt64(w.FloatKES), big.NewFloat(rate))
	q.Mul(q, big.NewFloat(1e11))
	n, _ := q.Int64()
	return n
}
