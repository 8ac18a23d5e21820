package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/umeme-wallet/umeme/internal/store"
)

// structural lists the violations that no posting through PostEntries can
// cause, whatever its transaction row says: the checks below share the
// database with others whose rows are made up (a "send" that only moves
// test money), so Shapes reports those, and only these stay empty.
func structural(rep store.ReconcileReport) string {
	if len(rep.UnbalancedTransactions)+len(rep.BalanceDrift)+len(rep.NegativeUserAccounts)+len(rep.ReservationMismatches)+
		len(rep.ChainBreaks)+len(rep.DayCounterMismatches) == 0 && rep.TotalMsat == 0 {
		return ""
	}
	return fmt.Sprintf("%+v", rep)
}

// testReconcile: the books of the whole database balance after every other
// check, and Reconcile reports a pending transaction that holds nothing and
// a finished one that still holds funds, but not one that holds what its
// row says.
func testReconcile(t *testing.T, s store.Store) {
	reconcile := func() store.ReconcileReport {
		var rep store.ReconcileReport
		err := s.Snapshot(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			var err error
			rep, err = tx.Reconcile(ctx)
			return err
		})
		if err != nil {
			t.Fatalf("reconcile: %v", err)
		}
		return rep
	}
	if why := structural(reconcile()); why != "" {
		t.Fatalf("books do not balance: %s", why)
	}
	// A pending transaction that holds nothing on the reserved account, and
	// one holding funds after it finished, are both reported; a pending one
	// that holds what its row says is not.
	userID, acc, _ := NewFundedUser(t, s, 1000)
	var pendingEmpty, finishedHolding, pendingRight int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		reserved, err := tx.SystemAccount(ctx, store.AccountReserved)
		if err != nil {
			return err
		}
		if finishedHolding, err = tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeWithdraw, store.StatusFailed, 500, base)); err != nil {
			return err
		}
		if err := tx.PostEntries(ctx, finishedHolding, []store.Entry{{AccountID: acc, AmountMsat: -500}, {AccountID: reserved.ID, AmountMsat: 500}}, store.NoLimits, base); err != nil {
			return err
		}
		if pendingEmpty, err = tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeWithdraw, store.StatusPending, 200, base)); err != nil {
			return err
		}
		if err := tx.PostEntries(ctx, pendingEmpty, []store.Entry{{AccountID: acc, AmountMsat: -200}, {AccountID: reserved.ID, AmountMsat: 200}}, store.NoLimits, base); err != nil {
			return err
		}
		if err := tx.PostEntries(ctx, pendingEmpty, []store.Entry{{AccountID: reserved.ID, AmountMsat: -200}, {AccountID: acc, AmountMsat: 200}}, store.NoLimits, base); err != nil {
			return err
		}
		right := newTxn(t, userID, store.TypeWithdraw, store.StatusPending, 100, base)
		right.HeldMsat, right.FeeMsat = 150, 50
		if pendingRight, err = tx.InsertTransaction(ctx, right); err != nil {
			return err
		}
		return tx.PostEntries(ctx, pendingRight, []store.Entry{{AccountID: acc, AmountMsat: -150, DayOutMsat: 100}, {AccountID: reserved.ID, AmountMsat: 150}}, store.Guard{MaxBalanceMsat: 1 << 62, Day: 1, DayLimitMsat: 1 << 62}, base)
	})
	rep := reconcile()
	held := map[int64]bool{}
	for _, r := range rep.ReservationMismatches {
		held[r.TransactionID] = true
	}
	shaped := map[int64]string{}
	for _, v := range rep.ShapeViolations {
		shaped[v.TransactionID] = v.Reason
	}
	if !held[pendingEmpty] || !held[finishedHolding] || len(rep.UnbalancedTransactions) != 0 || len(rep.BalanceDrift) != 0 {
		t.Fatalf("reconcile missed a reservation mismatch: %+v", rep)
	}
	if shaped[pendingEmpty] == "" || shaped[finishedHolding] == "" || shaped[pendingRight] != "" || held[pendingRight] {
		t.Fatalf("shapes of the withdrawals: %v", shaped)
	}
	// Undo, so the shared database reconciles for later tests.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		reserved, _ := tx.SystemAccount(ctx, store.AccountReserved)
		if _, err := tx.FinishTransaction(ctx, store.Finish{ID: pendingEmpty, From: store.StatusPending, To: store.StatusFailed, AmountMsat: 200, FeeMsat: 0, Now: base}); err != nil {
			return err
		}
		if _, err := tx.FinishTransaction(ctx, store.Finish{ID: pendingRight, From: store.StatusPending, To: store.StatusFailed, AmountMsat: 100, FeeMsat: 0, Now: base}); err != nil {
			return err
		}
		if err := tx.PostEntries(ctx, pendingRight, []store.Entry{{AccountID: reserved.ID, AmountMsat: -150}, {AccountID: acc, AmountMsat: 150}}, store.NoLimits, base); err != nil {
			return err
		}
		return tx.PostEntries(ctx, finishedHolding, []store.Entry{{AccountID: reserved.ID, AmountMsat: -500}, {AccountID: acc, AmountMsat: 500}}, store.NoLimits, base)
	})
	if why := structural(reconcile()); why != "" {
		t.Fatalf("after the undo: %s", why)
	}
}
