package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/gen/sqlitedb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) InsertUserIfAbsent(ctx context.Context, u store.NewUser) (bool, error) {
	n, err := t.q.InsertUserIfAbsent(ctx, sqlitedb.InsertUserIfAbsentParams{
		Phone: u.Phone, LightningName: u.LightningName, Language: u.Language, Now: u.Now.UTC(),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("insert user: %w", err))
	}
	return n == 1, nil
}

func (t *tx) InsertUser(ctx context.Context, u store.NewUser) (int64, error) {
	id, err := t.q.InsertUser(ctx, sqlitedb.InsertUserParams{
		Phone: u.Phone, LightningName: u.LightningName, Language: u.Language, Status: string(u.Status), Now: u.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert user: %w", err))
	}
	return id, nil
}

func toUser(r sqlitedb.User) store.User {
	return store.User{
		ID: r.ID, Phone: r.Phone, LightningName: r.LightningName, LightningPubkey: r.LightningPubkey.String,
		PINHash: r.PinHash.String, FailedPINAttempts: int(r.FailedPinAttempts), LockoutCount: int(r.LockoutCount),
		LockedUntil: sqlvalue.TimePtr(r.LockedUntil), Language: r.Language, Status: store.UserStatus(r.Status),
		FrozenAt: sqlvalue.TimePtr(r.FrozenAt), PINResetAt: sqlvalue.TimePtr(r.PinResetAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (t *tx) UserByID(ctx context.Context, id int64) (store.User, error) {
	r, err := t.q.GetUserByID(ctx, id)
	if err != nil {
		return store.User{}, interpret(fmt.Errorf("user %d: %w", id, err))
	}
	return toUser(r), nil
}

func (t *tx) UserWithAccountID(ctx context.Context, id int64) (store.User, int64, error) {
	r, err := t.q.GetUserWithAccountID(ctx, id)
	if err != nil {
		return store.User{}, 0, interpret(fmt.Errorf("user %d with account: %w", id, err))
	}
	return toUser(r.User), r.AccountID, nil
}

func (t *tx) ShareLockUser(ctx context.Context, id int64) (store.User, error) {
	r, err := t.q.GetUserByIDForShare(ctx, id)
	if err != nil {
		return store.User{}, interpret(fmt.Errorf("share-lock user %d: %w", id, err))
	}
	return toUser(r), nil
}

func (t *tx) LockUser(ctx context.Context, id int64) (store.User, error) {
	r, err := t.q.GetUserByIDForUpdate(ctx, id)
	if err != nil {
		return store.User{}, interpret(fmt.Errorf("lock user %d: %w", id, err))
	}
	return toUser(r), nil
}

func (t *tx) UserByPhone(ctx context.Context, phone string) (store.User, error) {
	r, err := t.q.GetUserByPhone(ctx, phone)
	if err != nil {
		return store.User{}, interpret(fmt.Errorf("user by phone: %w", err))
	}
	return toUser(r), nil
}

func (t *tx) UserByLightningName(ctx context.Context, name string) (store.User, error) {
	r, err := t.q.GetUserByLightningName(ctx, name)
	if err != nil {
		return store.User{}, interpret(fmt.Errorf("user by lightning name: %w", err))
	}
	return toUser(r), nil
}

func (t *tx) SetUserPIN(ctx context.Context, id int64, pinHash string, status store.UserStatus, now time.Time) error {
	n, err := t.q.SetUserPIN(ctx, sqlitedb.SetUserPINParams{PinHash: sqlvalue.NullString(pinHash), Status: string(status), Now: now.UTC(), ID: id})
	return one(n, err, "set user pin")
}

func (t *tx) SetUserPINGuard(ctx context.Context, g store.PINGuard) error {
	n, err := t.q.SetUserPINGuard(ctx, sqlitedb.SetUserPINGuardParams{
		FailedPinAttempts: int64(g.Failed), LockoutCount: int64(g.Lockouts), LockedUntil: sqlvalue.NullTime(g.LockedUntil), Now: g.Now.UTC(), ID: g.UserID,
	})
	return one(n, err, "set user pin guard")
}

func (t *tx) SetUserLanguage(ctx context.Context, id int64, lang string, now time.Time) error {
	n, err := t.q.SetUserLanguage(ctx, sqlitedb.SetUserLanguageParams{Language: lang, Now: now.UTC(), ID: id})
	return one(n, err, "set user language")
}

func (t *tx) SetUserStatus(ctx context.Context, id int64, status store.UserStatus, now time.Time) error {
	n, err := t.q.SetUserStatus(ctx, sqlitedb.SetUserStatusParams{Status: string(status), Now: now.UTC(), ID: id})
	return one(n, err, "set user status")
}

func (t *tx) InsertLightningName(ctx context.Context, userID int64, name string, now time.Time) error {
	err := t.q.InsertLightningName(ctx, sqlitedb.InsertLightningNameParams{Name: name, UserID: userID, Now: now.UTC()})
	if err != nil {
		return interpret(fmt.Errorf("insert lightning name: %w", err))
	}
	return nil
}

func (t *tx) LightningNameOwner(ctx context.Context, name string) (int64, error) {
	id, err := t.q.GetLightningNameOwner(ctx, name)
	if err != nil {
		return 0, interpret(fmt.Errorf("lightning name owner: %w", err))
	}
	return id, nil
}

func (t *tx) CountLightningNames(ctx context.Context, userID int64) (int64, error) {
	n, err := t.q.CountLightningNames(ctx, userID)
	if err != nil {
		return 0, interpret(fmt.Errorf("count lightning names: %w", err))
	}
	return n, nil
}

func (t *tx) SetUserLightningName(ctx context.Context, id int64, name string, now time.Time) error {
	n, err := t.q.SetUserLightningName(ctx, sqlitedb.SetUserLightningNameParams{LightningName: name, Now: now.UTC(), ID: id})
	return one(n, err, "set user lightning name")
}
