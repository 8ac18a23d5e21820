package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/gen/postgresdb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) InsertUserIfAbsent(ctx context.Context, u store.NewUser) (bool, error) {
	n, err := t.q.InsertUserIfAbsent(ctx, postgresdb.InsertUserIfAbsentParams{
		Phone: u.Phone, LightningName: u.LightningName, Language: u.Language, Now: u.Now.UTC(),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("insert user: %w", err))
	}
	return n == 1, nil
}

func (t *tx) InsertUser(ctx context.Context, u store.NewUser) (int64, error) {
	id, err := t.q.InsertUser(ctx, postgresdb.InsertUserParams{
		Phone: u.Phone, LightningName: u.LightningName, Language: u.Language, Status: string(u.Status), Now: u.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert user: %w", err))
	}
	return id, nil
}

func toUser(r postgresdb.User) store.User {
	return store.User{
		ID: r.ID, Phone: r.Phone, LightningName: r.LightningName, LightningPubkey: str(r.LightningPubkey),
		PINHash: str(r.PinHash), FailedPINAttempts: int(r.FailedPinAttempts), LockoutCount: int(r.LockoutCount),
		LockedUntil: timePtr(r.LockedUntil), Language: r.Language, Status: store.UserStatus(r.Status),
		FrozenAt: timePtr(r.FrozenAt), PINResetAt: timePtr(r.PinResetAt),
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
	n, err := t.q.SetUserPIN(ctx, postgresdb.SetUserPINParams{PinHash: nullString(pinHash), Status: string(status), Now: now.UTC(), ID: id})
	return one(n, err, "set user pin")
}

func (t *tx) SetUserPINGuard(ctx context.Context, g store.PINGuard) error {
	n, err := t.q.SetUserPINGuard(ctx, postgresdb.SetUserPINGuardParams{
		FailedPinAttempts: sqlvalue.Int32(g.Failed), LockoutCount: sqlvalue.Int32(g.Lockouts), LockedUntil: nullTime(g.LockedUntil), Now: g.Now.UTC(), ID: g.UserID,
	})
	return one(n, err, "set user pin guard")
}

func (t *tx) SetUserLanguage(ctx context.Context, id int64, lang string, now time.Time) error {
	n, err := t.q.SetUserLanguage(ctx, postgresdb.SetUserLanguageParams{Language: lang, Now: now.UTC(), ID: id})
	return one(n, err, "set user language")
}

func (t *tx) SetUserStatus(ctx context.Context, id int64, status store.UserStatus, now time.Time) error {
	n, err := t.q.SetUserStatus(ctx, postgresdb.SetUserStatusParams{Status: string(status), Now: now.UTC(), ID: id})
	return one(n, err, "set user status")
}

func (t *tx) InsertLightningName(ctx context.Context, userID int64, name string, now time.Time) error {
	err := t.q.InsertLightningName(ctx, postgresdb.InsertLightningNameParams{Name: name, UserID: userID, Now: now.UTC()})
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
	n, err := t.q.SetUserLightningName(ctx, postgresdb.SetUserLightningNameParams{LightningName: name, Now: now.UTC(), ID: id})
	return one(n, err, "set user lightning name")
}
