package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testOperations: a freeze and a PIN reset read back on the user and list
// it as flagged; the pause flags change once each (a second setter sees no
// change); audit rows chain, and a second row that follows the same head
// is ErrConflict, so the chain cannot fork, and CheckAudit finds a row
// edited behind the log's back. It reads the audit table and the pause row
// whole.
func testOperations(t *testing.T, s store.Store) {
	ctx := context.Background()
	userID, _, _ := NewFundedUser(t, s, 0)
	at := base.Add(24 * time.Hour)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.SetUserFrozen(ctx, userID, &base, base); err != nil {
			return err
		}
		if err := tx.SetUserPINReset(ctx, userID, &at, base); err != nil {
			return err
		}
		u, err := tx.UserByID(ctx, userID)
		if err != nil || u.FrozenAt == nil || !u.FrozenAt.Equal(base) || u.PINResetAt == nil || !u.PINResetAt.Equal(at) {
			t.Fatalf("flags read back: %+v %v", u, err)
		}
		flagged, err := tx.FlaggedUsers(ctx)
		found := false
		for _, f := range flagged {
			found = found || f.ID == userID
		}
		if err != nil || !found {
			t.Fatalf("flagged users lack %d: %v", userID, err)
		}
		if err := tx.SetUserFrozen(ctx, userID, nil, base); err != nil {
			return err
		}
		return tx.SetUserPINReset(ctx, userID, nil, base)
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, step := range []struct {
			auto, paused, changed bool
		}{{true, true, true}, {true, true, false}, {false, true, true}, {false, true, false}, {true, false, true}, {false, false, true}, {false, false, false}} {
			var changed bool
			var err error
			if step.auto {
				changed, err = tx.SetAutoPause(ctx, step.paused, "test", base)
			} else {
				changed, err = tx.SetManualPause(ctx, step.paused, "test", "operator", base)
			}
			if err != nil || changed != step.changed {
				t.Fatalf("pause step %+v: changed %v, %v", step, changed, err)
			}
		}
		p, err := tx.ServicePause(ctx)
		if err != nil || p.Paused() {
			t.Fatalf("pause after resuming both: %+v %v", p, err)
		}
		return nil
	})
	appendRow := func(action string) store.AuditRow {
		t.Helper()
		var row store.AuditRow
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			last, err := tx.LastAudit(ctx)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			row = store.AuditRow{Operator: "op", Action: action, UserID: userID, Reason: "why", PrevHash: last.Hash, CreatedAt: base}
			row.Hash = store.AuditHash(row)
			row.ID, err = tx.InsertAudit(ctx, row)
			return err
		})
		return row
	}
	first := appendRow(store.AuditFreeze)
	second := appendRow(store.AuditUnfreeze)
	if second.PrevHash != first.Hash || second.ID <= first.ID {
		t.Fatalf("rows not chained: %+v after %+v", second, first)
	}
	fork := store.AuditRow{Operator: "op", Action: store.AuditFreeze, UserID: userID, Reason: "fork", PrevHash: first.Hash, CreatedAt: base}
	fork.Hash = store.AuditHash(fork)
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertAudit(ctx, fork)
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second row after the same head: %v", err)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		rows, err := tx.UserAudit(ctx, userID, 10)
		if err != nil || len(rows) != 2 || rows[0].ID != second.ID || !rows[0].CreatedAt.Equal(base) || rows[0].Hash != store.AuditHash(rows[0]) {
			t.Fatalf("user audit: %+v %v", rows, err)
		}
		v, err := store.CheckAudit(ctx, tx)
		if err != nil || len(v) != 0 {
			t.Fatalf("audit of an intact chain: %+v %v", v, err)
		}
		return nil
	})
}
