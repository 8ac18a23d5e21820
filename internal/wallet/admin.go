package wallet

import (
	"context"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Adjust books an operator's manual credit (amount > 0) or debit (amount < 0)
// against the adjustments account, with the reason on the transaction. A
// debit never takes the account below zero, and a credit never above the
// balance cap. The key makes a repeated command a no-op.
func (w *Service) Adjust(ctx context.Context, rawPhone string, amount int64, reason, key string) (store.Transaction, error) {
	return w.adjust(ctx, rawPhone, amount, Action{Reason: reason}, key)
}

// OperatorAdjust is Adjust by an operator (server admin credit|debit): the
// audit log records it with the operator and the reason, in the same
// transaction as the posting.
func (w *Service) OperatorAdjust(ctx context.Context, rawPhone string, amount int64, a Action, key string) (store.Transaction, error) {
	if err := a.check(); err != nil {
		return store.Transaction{}, err
	}
	return w.adjust(ctx, rawPhone, amount, a, key)
}

// adjust books the adjustment, and its audit row when a names an operator.
func (w *Service) adjust(ctx context.Context, rawPhone string, amount int64, a Action, key string) (store.Transaction, error) {
	reason := a.Reason
	phone, err := NormalizePhone(rawPhone, w.cfg.Region)
	if err != nil {
		return store.Transaction{}, err
	}
	if amount == 0 {
		return store.Transaction{}, fmt.Errorf("%w: zero adjustment", ErrInvalidAmount)
	}
	// Bounded before it is negated or posted.
	if amount < -store.MaxMsat || amount > store.MaxMsat {
		return store.Transaction{}, fmt.Errorf("%w: adjustment of %d msat exceeds %d", ErrInvalidAmount, amount, store.MaxMsat)
	}
	if reason == "" {
		return store.Transaction{}, fmt.Errorf("adjust: a reason is required")
	}
	dir, abs := store.DirectionIn, amount
	if amount < 0 {
		dir, abs = store.DirectionOut, -amount
	}
	same := func(t store.Transaction) bool {
		return t.Type == store.TypeAdjustment && t.Direction == dir && t.AmountMsat == abs
	}
	return w.idempotent(ctx, key, same, func() (store.Transaction, error) {
		var row store.Transaction
		err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			now := w.now().Truncate(time.Microsecond)
			u, acc, err := ensureAccount(ctx, tx, phone, now)
			if err != nil {
				return err
			}
			row = store.Transaction{
				UserID: u.ID, Type: store.TypeAdjustment, Direction: dir, Status: store.StatusCompleted, AmountMsat: abs,
				Description: reason, IdempotencyKey: key, CreatedAt: now, UpdatedAt: now,
			}
			if row.ID, err = tx.InsertTransaction(ctx, newTransaction(row)); err != nil {
				return err
			}
			entries := []store.Entry{{AccountID: w.sys.adjustments, AmountMsat: -amount}, {AccountID: acc.ID, AmountMsat: amount}}
			// The normal guard: an operator's credit obeys the balance cap
			// like any other (a debit carries no day's sends).
			if err := w.mapBalanceError(tx.PostEntries(ctx, row.ID, entries, w.guard(now), now)); err != nil || a.Operator == "" {
				return err
			}
			return appendAudit(ctx, tx, store.AuditRow{Operator: a.Operator, Action: map[store.Direction]string{store.DirectionIn: store.AuditCredit,
				store.DirectionOut: store.AuditDebit}[dir], UserID: u.ID, Reason: reason, Detail: fmt.Sprintf("transaction %d, %d msat", row.ID, abs)}, now)
		})
		if err != nil {
			return store.Transaction{}, fmt.Errorf("adjust: %w", err)
		}
		return row, nil
	})
}

// Reconcile checks the whole ledger, in one snapshot while postings go on:
// every transaction's entries sum to zero and have the shape its type,
// status, amount, fee and hold call for (store.Shapes); every cached balance
// equals its entries; no user balance is negative; the reserved account
// holds money only for pending operations; every user account's hash chain
// verifies and its daily counter is what its entries count; the operators'
// audit log verifies and accounts for every freeze, pending PIN reset and
// manual pause.
func (w *Service) Reconcile(ctx context.Context) (store.ReconcileReport, error) {
	var rep store.ReconcileReport
	err := w.store.Snapshot(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if rep, err = tx.Reconcile(ctx); err != nil {
			return err
		}
		rep.AuditViolations, err = store.CheckAudit(ctx, tx)
		return err
	})
	return rep, err
}

// LightningLedger is the ledger's side of a comparison with the node, read
// in one snapshot: the Lightning account's balance (what went out through
// the node net of what came in), and every invoice and payment transaction
// that carries a payment hash, with what it moved on that account.
func (w *Service) LightningLedger(ctx context.Context) (int64, []store.LightningMovement, error) {
	var balance int64
	var out []store.LightningMovement
	err := w.store.Snapshot(ctx, func(ctx context.Context, tx store.Tx) error {
		a, err := tx.AccountByID(ctx, w.sys.lightning)
		if err != nil {
			return err
		}
		balance = a.BalanceMsat
		for after := int64(0); ; {
			page, err := tx.LightningMovements(ctx, after, 5000)
			if err != nil {
				return err
			}
			out = append(out, page...)
			if len(page) < 5000 {
				return nil
			}
			after = page[len(page)-1].TransactionID
		}
	})
	if err != nil {
		return 0, nil, fmt.Errorf("lightning ledger: %w", err)
	}
	return balance, out, nil
}
