package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testSessions: a session is created once, keeps its input, records each
// hop, closes on a final screen and ends with the gateway's report; once a
// hop recorded its user, the session reads with that user in one statement.
// A user reads with its account's id the same way.
func testSessions(t *testing.T, s store.Store) {
	userID, accountID, phone := NewFundedUser(t, s, 0)
	sid := "ATUid_" + Token(t, 12)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		sess, err := tx.UpsertSession(ctx, store.NewSession{SessionID: sid, Phone: phone, State: "welcome", Now: base})
		if err != nil {
			return err
		}
		if sess.SessionID != sid || sess.State != "welcome" || !sess.Active || len(sess.InputBuffer) != 0 || sess.LastInput != nil ||
			sess.Hops != 0 || !sess.LastActivityAt.Equal(base) {
			t.Fatalf("new session: %+v", sess)
		}
		again, err := tx.UpsertSession(ctx, store.NewSession{SessionID: sid, Phone: phone, State: "ignored", Now: base.Add(time.Second)})
		if err != nil {
			return err
		}
		if again.ID != sess.ID || again.State != "welcome" || !again.LastActivityAt.Equal(base) {
			t.Fatalf("second upsert: %+v", again)
		}
		_, _, err = tx.SessionWithUser(ctx, sid)
		mustKind(t, err, store.ErrNotFound, "session without a user yet")
		buf, err := tx.AppendSessionInput(ctx, sid, "1", base.Add(2*time.Second))
		if err != nil {
			return err
		}
		buf, err = tx.AppendSessionInput(ctx, sid, "07*12#", base.Add(2*time.Second))
		if err != nil || len(buf) != 2 || buf[1] != "07*12#" {
			t.Fatalf("AppendSessionInput: %v %v", buf, err)
		}
		err = tx.SaveSessionHop(ctx, store.SessionHop{SessionID: sid, UserID: userID, State: "menu", InputBuffer: []string{"1", "2"},
			LastInput: "1*2", LastResponse: "CON Menu\n1. Send", Now: base.Add(3 * time.Second)})
		if err != nil {
			return err
		}
		got, err := tx.Session(ctx, sid)
		if err != nil {
			return err
		}
		if got.UserID != userID || got.State != "menu" || len(got.InputBuffer) != 2 || got.InputBuffer[1] != "2" ||
			got.LastInput == nil || *got.LastInput != "1*2" || got.LastResponse == nil || *got.LastResponse != "CON Menu\n1. Send" || got.Hops != 1 {
			t.Fatalf("after hop: %+v", got)
		}
		withUser, u, err := tx.SessionWithUser(ctx, sid)
		if err != nil {
			return err
		}
		if withUser.ID != got.ID || withUser.State != "menu" || withUser.LastInput == nil || *withUser.LastInput != "1*2" ||
			withUser.Hops != 1 || u.ID != userID || u.Phone != phone || u.Status != store.UserActive {
			t.Fatalf("SessionWithUser: %+v %+v", withUser, u)
		}
		u, acc, err := tx.UserWithAccountID(ctx, userID)
		if err != nil || u.ID != userID || u.Phone != phone || acc != accountID {
			t.Fatalf("UserWithAccountID: %+v %d %v", u, acc, err)
		}
		_, _, err = tx.UserWithAccountID(ctx, userID+1_000_000)
		mustKind(t, err, store.ErrNotFound, "UserWithAccountID of no user")
		// A hop that answers a final screen closes the session itself.
		if err := tx.SaveSessionHop(ctx, store.SessionHop{SessionID: sid, UserID: userID, State: "done", LastInput: "x", LastResponse: "END bye",
			End: true, Now: base.Add(4 * time.Second)}); err != nil {
			return err
		}
		if got, _ := tx.Session(ctx, sid); got.Active || got.EndedAt == nil || !got.EndedAt.Equal(base.Add(4*time.Second)) || got.Hops != 2 {
			t.Fatalf("a final hop did not close the session: %+v", got)
		}
		if err := tx.EndSession(ctx, store.SessionEnd{SessionID: sid, Status: "Success", DurationMs: 12_345, Hops: 4, Now: base.Add(time.Minute)}); err != nil {
			return err
		}
		got, _ = tx.Session(ctx, sid)
		if got.Active || got.EndStatus != "Success" || got.DurationMs != 12_345 || got.Hops != 4 || got.EndedAt == nil {
			t.Fatalf("ended session: %+v", got)
		}
		_, err = tx.Session(ctx, "missing-"+Token(t, 4))
		mustKind(t, err, store.ErrNotFound, "unknown session")
		_, _, err = tx.SessionWithUser(ctx, "missing-"+Token(t, 4))
		mustKind(t, err, store.ErrNotFound, "SessionWithUser of an unknown session")
		mustKind(t, tx.EndSession(ctx, store.SessionEnd{SessionID: "missing", Now: base}), store.ErrNotFound, "end unknown session")
		return nil
	})
}

// testIdleSessionCleanup: CloseIdleSessions closes the sessions idle since
// before the cut-off and leaves the fresher ones open.
func testIdleSessionCleanup(t *testing.T, s store.Store) {
	phone := Phone(t)
	idle, fresh := "idle_"+Token(t, 8), "fresh_"+Token(t, 8)
	cutoff := base.Add(-time.Minute)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.UpsertSession(ctx, store.NewSession{SessionID: idle, Phone: phone, State: "menu", Now: cutoff.Add(-time.Second)}); err != nil {
			return err
		}
		_, err := tx.UpsertSession(ctx, store.NewSession{SessionID: fresh, Phone: phone, State: "menu", Now: cutoff.Add(time.Second)})
		return err
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.CloseIdleSessions(ctx, cutoff, base)
		if err != nil || n < 1 {
			t.Fatalf("CloseIdleSessions: %d %v", n, err)
		}
		a, _ := tx.Session(ctx, idle)
		b, _ := tx.Session(ctx, fresh)
		if a.Active || a.EndedAt == nil || !b.Active {
			t.Fatalf("idle=%+v fresh=%+v", a, b)
		}
		return nil
	})
}
