package ramp

import (
	"context"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// CheckDue asks Daraja about every open request whose check is due (a
// callback that has not come) and reports how many it asked about. Each
// question is rescheduled before the next is due, so a request is asked
// about every QueryAfter until it is finished.
func (r *Ramp) CheckDue(ctx context.Context) (int, error) {
	due, err := r.Wallet.DueMpesaRequests(ctx, r.now(), 100)
	if err != nil {
		return 0, err
	}
	for _, req := range due {
		if err := r.Check(ctx, req); err != nil {
			r.log().Error("mpesa reconciler", "transaction", req.TransactionID, "err", err)
		}
	}
	return len(due), nil
}

// Check asks Daraja about one request now.
func (r *Ramp) Check(ctx context.Context, req store.MpesaRequest) error {
	if req.Kind == store.MpesaTopup {
		return r.checkTopup(ctx, req)
	}
	return r.checkWithdrawal(ctx, req)
}

// Run checks due requests every tick (at most QueryAfter apart) until ctx
// ends.
func (r *Ramp) Run(ctx context.Context, tick time.Duration) {
	if tick <= 0 || tick > r.queryAfter() {
		tick = r.queryAfter()
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := r.CheckDue(ctx); err != nil && ctx.Err() == nil {
			r.log().Error("mpesa reconciler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
