package mysqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/gen/mysqldb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) SetUserFrozen(ctx context.Context, id int64, frozenAt *time.Time, now time.Time) error {
	n, err := t.q.SetUserFrozen(ctx, mysqldb.SetUserFrozenParams{FrozenAt: sqlvalue.NullTime(frozenAt), Now: now.UTC(), ID: id})
	return sqlvalue.One(n, err, fmt.Sprintf("freeze user %d", id), interpret)
}

func (t *tx) SetUserPINReset(ctx context.Context, id int64, at *time.Time, now time.Time) error {
	n, err := t.q.SetUserPINReset(ctx, mysqldb.SetUserPINResetParams{PinResetAt: sqlvalue.NullTime(at), Now: now.UTC(), ID: id})
	return sqlvalue.One(n, err, fmt.Sprintf("pin reset of user %d", id), interpret)
}

func (t *tx) FlaggedUsers(ctx context.Context) ([]store.User, error) {
	rows, err := t.q.ListFlaggedUsers(ctx)
	if err != nil {
		return nil, interpret(fmt.Errorf("flagged users: %w", err))
	}
	out := make([]store.User, len(rows))
	for i, r := range rows {
		out[i] = toUser(r)
	}
	return out, nil
}

func (t *tx) ServicePause(ctx context.Context) (store.ServicePause, error) {
	r, err := t.q.GetServicePause(ctx)
	if err != nil {
		return store.ServicePause{}, interpret(fmt.Errorf("service pause: %w", err))
	}
	return store.ServicePause{Auto: r.AutoPaused, AutoReason: r.AutoReason, Manual: r.ManualPaused, ManualReason: r.ManualReason,
		Operator: r.Operator, UpdatedAt: r.UpdatedAt.UTC()}, nil
}

func (t *tx) SetAutoPause(ctx context.Context, paused bool, reason string, now time.Time) (bool, error) {
	n, err := t.q.SetAutoPause(ctx, mysqldb.SetAutoPauseParams{Paused: paused, Reason: reason, Now: now.UTC()})
	if err != nil {
		return false, interpret(fmt.Errorf("set auto pause: %w", err))
	}
	return n == 1, nil
}

func (t *tx) SetManualPause(ctx context.Context, paused bool, reason, operator string, now time.Time) (bool, error) {
	n, err := t.q.SetManualPause(ctx, mysqldb.SetManualPauseParams{Paused: paused, Reason: reason, Operator: operator, Now: now.UTC()})
	if err != nil {
		return false, interpret(fmt.Errorf("set manual pause: %w", err))
	}
	return n == 1, nil
}

func toAudit(r mysqldb.AdminAudit) store.AuditRow {
	return store.AuditRow{ID: r.ID, Operator: r.Operator, Action: r.Action, UserID: r.UserID.Int64, Reason: r.Reason, Detail: r.Detail,
		PrevHash: r.PrevHash, Hash: r.Hash, CreatedAt: r.CreatedAt.UTC()}
}

func (t *tx) InsertAudit(ctx context.Context, a store.AuditRow) (int64, error) {
	id, err := t.q.InsertAudit(ctx, mysqldb.InsertAuditParams{Operator: a.Operator, Action: a.Action, UserID: sqlvalue.NullInt(a.UserID), Reason: a.Reason,
		Detail: a.Detail, PrevHash: a.PrevHash, Hash: a.Hash, CreatedAt: a.CreatedAt.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert audit: %w", err))
	}
	return id, nil
}

func (t *tx) LastAudit(ctx context.Context) (store.AuditRow, error) {
	r, err := t.q.LastAudit(ctx)
	if err != nil {
		return store.AuditRow{}, interpret(fmt.Errorf("last audit: %w", err))
	}
	return toAudit(r), nil
}

func (t *tx) AuditRows(ctx context.Context, afterID int64, limit int) ([]store.AuditRow, error) {
	rows, err := t.q.ListAudit(ctx, mysqldb.ListAuditParams{AfterID: afterID, Limit: sqlvalue.Int32(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("audit rows: %w", err))
	}
	out := make([]store.AuditRow, len(rows))
	for i, r := range rows {
		out[i] = toAudit(r)
	}
	return out, nil
}

func (t *tx) UserAudit(ctx context.Context, userID int64, limit int) ([]store.AuditRow, error) {
	rows, err := t.q.ListUserAudit(ctx, mysqldb.ListUserAuditParams{UserID: sqlvalue.NullInt(userID), Limit: sqlvalue.Int32(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("user audit: %w", err))
	}
	out := make([]store.AuditRow, len(rows))
	for i, r := range rows {
		out[i] = toAudit(r)
	}
	return out, nil
}

func (t *tx) UserLiabilities(ctx context.Context) (int64, error) {
	n, err := t.q.UserLiabilities(ctx)
	if err != nil {
		return 0, interpret(fmt.Errorf("user liabilities: %w", err))
	}
	return n, nil
}

func (t *tx) OpenSessions(ctx context.Context, phone string) ([]store.Session, error) {
	rows, err := t.q.ListOpenSessions(ctx, phone)
	if err != nil {
		return nil, interpret(fmt.Errorf("open sessions: %w", err))
	}
	out := make([]store.Session, 0, len(rows))
	for _, r := range rows {
		s, err := toSession(r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
