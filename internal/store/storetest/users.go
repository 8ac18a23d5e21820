package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testUsers: a user is created once per number, reads back by number, id
// and name, and keeps every update, including its PIN guard.
func testUsers(t *testing.T, s store.Store) {
	phone := Phone(t)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		created, err := tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "sw", Now: base})
		if err != nil || !created {
			t.Fatalf("first InsertUserIfAbsent: created=%v err=%v", created, err)
		}
		created, err = tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Now: base})
		if err != nil || created {
			t.Fatalf("second InsertUserIfAbsent: created=%v err=%v", created, err)
		}
		u, err := tx.UserByPhone(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		if u.Phone != phone || u.LightningName != phone[1:] || u.Language != "sw" || u.Status != store.UserUnregistered ||
			u.PINHash != "" || u.LockedUntil != nil || !u.CreatedAt.Equal(base) {
			t.Fatalf("user read back wrong: %+v", u)
		}
		locked, err := tx.LockUser(ctx, u.ID)
		if err != nil || locked.Phone != phone {
			t.Fatalf("LockUser: %+v %v", locked, err)
		}
		byID, err := tx.UserByID(ctx, u.ID)
		if err != nil || byID.Phone != phone {
			t.Fatalf("UserByID: %+v %v", byID, err)
		}
		byName, err := tx.UserByLightningName(ctx, phone[1:])
		if err != nil || byName.ID != u.ID {
			t.Fatalf("UserByLightningName: %+v %v", byName, err)
		}

		later := base.Add(time.Hour)
		if err := tx.SetUserPIN(ctx, u.ID, "argon2id$test", store.UserActive, later); err != nil {
			t.Fatal(err)
		}
		lock := base.Add(15 * time.Minute)
		if err := tx.SetUserPINGuard(ctx, store.PINGuard{UserID: u.ID, Failed: 3, Lockouts: 2, LockedUntil: &lock, Now: later}); err != nil {
			t.Fatal(err)
		}
		if err := tx.SetUserLanguage(ctx, u.ID, "en", later); err != nil {
			t.Fatal(err)
		}
		// An update that changes nothing still finds its row.
		if err := tx.SetUserLanguage(ctx, u.ID, "en", later); err != nil {
			t.Fatalf("no-op update: %v", err)
		}
		u, err = tx.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.PINHash != "argon2id$test" || u.Status != store.UserActive || u.FailedPINAttempts != 3 || u.LockoutCount != 2 ||
			u.LockedUntil == nil || !u.LockedUntil.Equal(lock) || u.Language != "en" || !u.UpdatedAt.Equal(later) {
			t.Fatalf("user updates read back wrong: %+v", u)
		}
		if err := tx.SetUserPINGuard(ctx, store.PINGuard{UserID: u.ID, Lockouts: 2, Now: later}); err != nil {
			t.Fatal(err)
		}
		if err := tx.SetUserStatus(ctx, u.ID, store.UserLocked, later); err != nil {
			t.Fatal(err)
		}
		u, _ = tx.UserByID(ctx, u.ID)
		if u.LockedUntil != nil || u.FailedPINAttempts != 0 || u.Status != store.UserLocked {
			t.Fatalf("guard clear/status: %+v", u)
		}
		return nil
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UserByPhone(ctx, Phone(t))
		mustKind(t, err, store.ErrNotFound, "unknown phone")
		_, err = tx.UserByLightningName(ctx, "nobody-"+Token(t, 4))
		mustKind(t, err, store.ErrNotFound, "unknown name")
		mustKind(t, tx.SetUserLanguage(ctx, -1, "en", base), store.ErrNotFound, "update of a missing user")
		return nil
	})
}

// testUserConstraints: numbers and lightning names are unique, a user has
// one account, and a refused insert leaves the store usable.
func testUserConstraints(t *testing.T, s store.Store) {
	phone := Phone(t)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base})
		return err
	})
	cases := []struct {
		name string
		u    store.NewUser
	}{
		{"duplicate phone", store.NewUser{Phone: phone, LightningName: "other-" + Token(t, 4), Language: "en", Status: store.UserActive, Now: base}},
		{"duplicate lightning name", store.NewUser{Phone: Phone(t), LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base}},
	}
	for _, c := range cases {
		err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertUser(ctx, c.u)
			return err
		})
		mustKind(t, err, store.ErrConflict, c.name)
	}
	// A constraint violation aborts only its own transaction; the store is
	// usable right after.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UserByPhone(ctx, phone)
		return err
	})
	// One account per user.
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		u, err := tx.UserByPhone(ctx, phone)
		if err != nil {
			return err
		}
		if _, err := tx.InsertUserAccount(ctx, u.ID, base); err != nil {
			return err
		}
		_, err = tx.InsertUserAccount(ctx, u.ID, base)
		return err
	})
	mustKind(t, err, store.ErrConflict, "second account for one user")
}
