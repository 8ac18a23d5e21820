package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/gen/sqlitedb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func toSession(r sqlitedb.UssdSession) (store.Session, error) {
	buf, err := store.DecodeInputBuffer(r.InputBuffer)
	if err != nil {
		return store.Session{}, err
	}
	return store.Session{
		ID: r.ID, SessionID: r.SessionID, UserID: r.UserID.Int64, Phone: r.Phone, State: r.State, InputBuffer: buf,
		LastInput: sqlvalue.StrPtr(r.LastInput), LastResponse: sqlvalue.StrPtr(r.LastResponse), Hops: int(r.Hops), EndStatus: r.EndStatus.String,
		DurationMs: r.DurationMs.Int64, Active: r.Active, LastActivityAt: r.LastActivityAt.UTC(), CreatedAt: r.CreatedAt.UTC(),
		EndedAt: sqlvalue.TimePtr(r.EndedAt),
	}, nil
}

func (t *tx) UpsertSession(ctx context.Context, n store.NewSession) (store.Session, error) {
	// Most hops find their session: one read. Only the first hop writes,
	// and its insert gives way to a concurrent twin (the upsert), then the
	// row is read back.
	r, err := t.q.GetSessionForUpdate(ctx, n.SessionID)
	if err == nil {
		return toSession(r)
	}
	if err := interpret(err); !errors.Is(err, store.ErrNotFound) {
		return store.Session{}, fmt.Errorf("session: %w", err)
	}
	err = t.q.UpsertSession(ctx, sqlitedb.UpsertSessionParams{
		SessionID: n.SessionID, UserID: sqlvalue.NullInt(n.UserID), Phone: n.Phone, State: n.State, Now: n.Now.UTC(),
	})
	if err != nil {
		return store.Session{}, interpret(fmt.Errorf("upsert session: %w", err))
	}
	if r, err = t.q.GetSessionForUpdate(ctx, n.SessionID); err != nil {
		return store.Session{}, interpret(fmt.Errorf("session: %w", err))
	}
	return toSession(r)
}

func (t *tx) Session(ctx context.Context, sessionID string) (store.Session, error) {
	r, err := t.q.GetSession(ctx, sessionID)
	if err != nil {
		return store.Session{}, interpret(fmt.Errorf("session: %w", err))
	}
	return toSession(r)
}

func (t *tx) SessionWithUser(ctx context.Context, sessionID string) (store.Session, store.User, error) {
	r, err := t.q.GetSessionWithUser(ctx, sessionID)
	if err != nil {
		return store.Session{}, store.User{}, interpret(fmt.Errorf("session with user: %w", err))
	}
	sess, err := toSession(r.UssdSession)
	return sess, toUser(r.User), err
}

func (t *tx) AppendSessionInput(ctx context.Context, sessionID, key string, now time.Time) ([]string, error) {
	r, err := t.q.GetSessionForUpdate(ctx, sessionID)
	if err != nil {
		return nil, interpret(fmt.Errorf("session: %w", err))
	}
	buf, err := store.DecodeInputBuffer(r.InputBuffer)
	if err != nil {
		return nil, err
	}
	buf = append(buf, key)
	n, err := t.q.SetSessionInputBuffer(ctx, sqlitedb.SetSessionInputBufferParams{InputBuffer: store.EncodeInputBuffer(buf), Now: now.UTC(), SessionID: sessionID})
	if err := one(n, err, "append session input"); err != nil {
		return nil, err
	}
	return buf, nil
}

func (t *tx) SaveSessionHop(ctx context.Context, h store.SessionHop) error {
	n, err := t.q.SaveSessionHop(ctx, sqlitedb.SaveSessionHopParams{
		UserID: sqlvalue.NullInt(h.UserID), State: h.State, InputBuffer: store.EncodeInputBuffer(h.InputBuffer),
		LastInput: sql.NullString{String: h.LastInput, Valid: true}, LastResponse: sql.NullString{String: h.LastResponse, Valid: true},
		Now: h.Now.UTC(), SessionID: h.SessionID,
		Active: !h.End, EndedAt: endedAt(h),
	})
	return one(n, err, "save session hop")
}

// endedAt is when a hop closed its session, or NULL.
func endedAt(h store.SessionHop) sql.NullTime {
	if !h.End {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: h.Now.UTC(), Valid: true}
}

func (t *tx) EndSession(ctx context.Context, e store.SessionEnd) error {
	n, err := t.q.EndSession(ctx, sqlitedb.EndSessionParams{
		EndStatus: sqlvalue.NullString(e.Status), DurationMs: sql.NullInt64{Int64: e.DurationMs, Valid: true}, Hops: int64(e.Hops),
		Now: sql.NullTime{Time: e.Now.UTC(), Valid: true}, SessionID: e.SessionID,
	})
	return one(n, err, "end session")
}

func (t *tx) CloseIdleSessions(ctx context.Context, idleBefore, now time.Time) (int64, error) {
	n, err := t.q.CloseIdleSessions(ctx, sqlitedb.CloseIdleSessionsParams{Now: sql.NullTime{Time: now.UTC(), Valid: true}, IdleBefore: idleBefore.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("close idle sessions: %w", err))
	}
	return n, nil
}
