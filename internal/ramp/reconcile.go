package ramp

import (
	"context"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// CheckDue asks Daraja about every open request whose check is due (a
// callback that has not come) and reports how many it asked about. Each
// check is first taken in the database (ClaimMpesaCheck), which moves the
// next one QueryAfter on: of several reconcilers on one database, in one
// server or several, only the one that took it asks, so a request is asked
// about once every QueryAfter until it is finished.
func (r *Ramp) CheckDue(ctx context.Context) (int, error) {
	now := r.now()
	due, err := r.Wallet.DueMpesaRequests(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	asked := 0
	for _, req := range due {
		// Due at the time of the claim: a callback may have asked for a
		// check at once (askNow) since the list was read.
		at := r.now()
		took, err := r.Wallet.ClaimMpesaCheck(ctx, req.TransactionID, at, at.Add(r.queryAfter()))
		if err != nil || !took {
			if err != nil {
				r.log().Error("mpesa reconciler", "transaction", req.TransactionID, "err", err)
			}
			continue // another reconciler asks, or the request is finished
		}
		asked++
		if err := r.ask(ctx, req); err != nil {
			r.log().Error("mpesa reconciler", "transaction", req.TransactionID, "err", err)
		}
	}
	return asked, nil
}

// Check asks Daraja about one request now, due or not (for an operator);
// the reconciler's next check of it comes QueryAfter later.
func (r *Ramp) Check(ctx context.Context, req store.MpesaRequest) error {
	if _, err := r.Wallet.ScheduleMpesaCheck(ctx, req.TransactionID, r.now().Add(r.queryAfter())); err != nil {
		return err
	}
	return r.ask(ctx, req)
}

// ask asks Daraja about a request whose next check is already scheduled.
func (r *Ramp) ask(ctx context.Context, req store.MpesaRequest) error {
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
