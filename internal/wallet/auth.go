package wallet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Authorization proves that a user's PIN was verified a moment ago. Only
// VerifyPIN makes one, and every operation that moves a user's money out
// takes one, so no code path can move money without a correct PIN.
type Authorization struct {
	userID    int64
	accountID int64
	phone     string
	expires   time.Time
}

// UserID is the user the authorization is for.
func (a Authorization) UserID() int64 { return a.userID }

// Phone is the user's number.
func (a Authorization) Phone() string { return a.phone }

// OperatorAuthorization authorises spending from a user's account without
// the user's PIN, for the operator's own commands (server admin pay) and for
// nothing a user can reach.
func (w *Service) OperatorAuthorization(ctx context.Context, rawPhone string) (Authorization, error) {
	u, err := w.UserByPhone(ctx, rawPhone)
	if err != nil {
		return Authorization{}, err
	}
	var acc store.Account
	err = w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		acc, err = tx.AccountByUserID(ctx, u.ID)
		return err
	})
	if err != nil {
		return Authorization{}, err
	}
	return Authorization{userID: u.ID, accountID: acc.ID, phone: u.Phone, expires: w.now().Add(w.cfg.AuthorizationTTL)}, nil
}

// SealAuthorization turns an authorization into a token that a multi-step
// flow can keep server-side between steps (in a USSD session); only this
// process's key can open it, and it expires with the authorization.
func (w *Service) SealAuthorization(a Authorization) string {
	msg := fmt.Sprintf("%d.%d.%s.%d", a.userID, a.accountID, a.phone, a.expires.UnixNano())
	return msg + "." + w.authMAC(msg)
}

// OpenAuthorization reads a sealed authorization back; a forged, altered or
// expired token is refused.
func (w *Service) OpenAuthorization(token string) (Authorization, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || !hmac.Equal([]byte(token[i+1:]), []byte(w.authMAC(token[:i]))) {
		return Authorization{}, ErrWrongPIN
	}
	var a Authorization
	var expires int64
	parts := strings.Split(token[:i], ".")
	if len(parts) != 4 {
		return Authorization{}, ErrWrongPIN
	}
	var err1, err2, err3 error
	a.userID, err1 = strconv.ParseInt(parts[0], 10, 64)
	a.accountID, err2 = strconv.ParseInt(parts[1], 10, 64)
	a.phone = parts[2]
	expires, err3 = strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Authorization{}, ErrWrongPIN
	}
	a.expires = time.Unix(0, expires).UTC()
	if err := w.checkAuth(a); err != nil {
		return Authorization{}, err
	}
	return a, nil
}

func (w *Service) authMAC(msg string) string {
	m := hmac.New(sha256.New, w.authKey)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// SetPIN replaces the PIN of the authorised user (whose current PIN was just
// verified) with one prepared earlier, and tells the owner of the number by
// SMS.
func (w *Service) SetPIN(ctx context.Context, auth Authorization, next PreparedPIN) error {
	if err := w.checkAuth(auth); err != nil {
		return err
	}
	return w.changePIN(ctx, auth.userID, next)
}

// changePIN stores a new PIN and queues its notice in one transaction. The
// same prepared PIN applied twice (a repeated request: every prepared PIN
// has a salt of its own) changes nothing the second time and queues no
// second notice.
func (w *Service) changePIN(ctx context.Context, userID int64, next PreparedPIN) error {
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		now := w.now()
		u, err := tx.LockUser(ctx, userID)
		if err != nil {
			return err
		}
		if u.PINHash == string(next) {
			return nil
		}
		if err := tx.SetUserPIN(ctx, userID, string(next), store.UserActive, now); err != nil {
			return err
		}
		_, err = tx.InsertNotification(ctx, store.NewNotification{UserID: userID, Phone: u.Phone, Kind: store.NotifyPINChanged, Now: now})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknownUser
	}
	return err
}

func (w *Service) checkAuth(a Authorization) error {
	if a.userID == 0 {
		return ErrWrongPIN
	}
	if !w.now().Before(a.expires) {
		return ErrAuthorizationExpired
	}
	return nil
}

// PreparedPIN is a PIN that passed the strength rules, already hashed: it
// lets a multi-step flow (enter, confirm) carry a new PIN between steps
// without ever holding it in clear.
type PreparedPIN string

// PreparePIN checks a new PIN's strength and hashes it.
func (w *Service) PreparePIN(pin string) (PreparedPIN, error) {
	if err := CheckPINStrength(pin); err != nil {
		return "", err
	}
	h, err := w.pins.hash(pin)
	return PreparedPIN(h), err
}

// MatchesPrepared reports whether pin is the one p was prepared from (the
// confirmation step of a flow).
func (w *Service) MatchesPrepared(pin string, p PreparedPIN) bool {
	ok, err := w.pins.check(pin, string(p))
	return err == nil && ok
}

// Register sets the first PIN of an unregistered user and activates the
// account.
func (w *Service) Register(ctx context.Context, userID int64, pin string) error {
	p, err := w.PreparePIN(pin)
	if err != nil {
		return err
	}
	return w.RegisterPrepared(ctx, userID, p)
}

// RegisterPrepared is Register with a PIN prepared earlier.
func (w *Service) RegisterPrepared(ctx context.Context, userID int64, p PreparedPIN) error {
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		u, err := tx.LockUser(ctx, userID)
		if err != nil {
			return err
		}
		if u.Status != store.UserUnregistered || u.PINHash != "" {
			return ErrAlreadyRegistered
		}
		return tx.SetUserPIN(ctx, userID, string(p), store.UserActive, w.now())
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknownUser
	}
	return err
}

// VerifyPIN checks a user's PIN. A wrong PIN counts towards the lockout,
// and MaxPINAttempts in a row lock the account for a time that doubles with
// each lockout; a right one clears the count. The argon2 work runs outside
// any transaction, so it holds no lock.
func (w *Service) VerifyPIN(ctx context.Context, userID int64, pin string) (Authorization, error) {
	var u store.User
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		u, err = tx.UserByID(ctx, userID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Authorization{}, ErrUnknownUser
	}
	if err != nil {
		return Authorization{}, err
	}
	return w.VerifyUserPIN(ctx, u, pin)
}

// VerifyUserPIN is VerifyPIN of a user the caller has just read (a USSD hop
// reads its user with its session): the hash is checked against that row,
// and the row is read again after the hash, so a PIN changed, a lockout or
// a freeze in between is seen as VerifyPIN sees it.
//
// A right PIN of a user with nothing to clear (no failures, no lockout)
// writes nothing, so it needs no lock: one plain read of the user with its
// account, after the hash, shows the PIN and the state the authorization
// is given on (a lockout or change committed after that read is ordered
// after the check, as it would be after the lock). Every other case counts
// or clears under the user's row lock.
func (w *Service) VerifyUserPIN(ctx context.Context, u User, pin string) (Authorization, error) {
	userID := u.ID
	if err := w.usable(u); err != nil {
		return Authorization{}, err
	}
	match, err := w.pins.check(pin, u.PINHash)
	if err != nil {
		return Authorization{}, fmt.Errorf("verify pin: %w", err)
	}
	if match && pinGuardClear(u) {
		var cur User
		var accountID int64
		err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			cur, accountID, err = tx.UserWithAccountID(ctx, userID)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return Authorization{}, ErrUnknownUser
		}
		if err != nil {
			return Authorization{}, err
		}
		if cur.PINHash == u.PINHash && pinGuardClear(cur) && w.usable(cur) == nil {
			return Authorization{userID: userID, accountID: accountID, phone: cur.Phone, expires: w.now().Add(w.cfg.AuthorizationTTL)}, nil
		}
		// Something changed during the hash: decide under the lock.
	}
	var auth Authorization
	var refused error // a domain refusal, committed with the failure count
	err = w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		now := w.now()
		refused = nil
		cur, err := tx.LockUser(ctx, userID)
		if err != nil {
			return err
		}
		if cur.PINHash != u.PINHash {
			return errPINChanged
		}
		if err := w.usable(cur); err != nil {
			refused = err
			return nil
		}
		if !match {
			failed, lockouts := cur.FailedPINAttempts+1, cur.LockoutCount
			var until *time.Time
			if failed >= w.cfg.MaxPINAttempts {
				t := now.Add(w.lockoutFor(lockouts))
				until, failed, lockouts = &t, 0, lockouts+1
			}
			if until == nil {
				refused = &PINError{Remaining: w.cfg.MaxPINAttempts - failed}
				return tx.SetUserPINGuard(ctx, store.PINGuard{UserID: userID, Failed: failed, Lockouts: lockouts, Now: now})
			}
			refused = &PINError{LockedUntil: *until}
			if err := tx.SetUserPINGuard(ctx, store.PINGuard{UserID: userID, Failed: failed, Lockouts: lockouts, LockedUntil: until, Now: now}); err != nil {
				return err
			}
			// The owner hears of a lockout at once: it may be someone
			// else guessing. A locked account takes no guesses (usable
			// refuses them above), so one lockout is one notice.
			_, err := tx.InsertNotification(ctx, store.NewNotification{UserID: userID, Phone: cur.Phone, Kind: store.NotifyLockedOut, Now: now})
			return err
		}
		if !pinGuardClear(cur) {
			if err := tx.SetUserPINGuard(ctx, store.PINGuard{UserID: userID, Now: now}); err != nil {
				return err
			}
		}
		acc, err := tx.AccountByUserID(ctx, userID)
		if err != nil {
			return err
		}
		auth = Authorization{userID: userID, accountID: acc.ID, phone: cur.Phone, expires: now.Add(w.cfg.AuthorizationTTL)}
		return nil
	})
	if errors.Is(err, errPINChanged) {
		// The PIN changed between reading the hash and locking the user:
		// check again against the new one.
		return w.VerifyPIN(ctx, userID, pin)
	}
	if err != nil {
		return Authorization{}, err
	}
	if refused != nil {
		return Authorization{}, refused
	}
	return auth, nil
}

var errPINChanged = errors.New("pin changed during verification")

// pinGuardClear: a user with no PIN failures counted and no lockout, whom a
// right PIN leaves as it is.
func pinGuardClear(u User) bool {
	return u.FailedPINAttempts == 0 && u.LockoutCount == 0 && u.LockedUntil == nil
}

// lockoutFor is the lock time after a user's n-th earlier lockout.
func (w *Service) lockoutFor(n int) time.Duration {
	d := w.cfg.LockoutBase
	for i := 0; i < n && d < w.cfg.LockoutMax; i++ {
		d *= 2
	}
	return min(d, w.cfg.LockoutMax)
}

// usable refuses users that cannot act: unregistered, frozen or locked out.
func (w *Service) usable(u store.User) error {
	switch {
	case u.Status == store.UserUnregistered || u.PINHash == "":
		return ErrNotRegistered
	case u.Status == store.UserLocked:
		return ErrAccountLocked
	case u.LockedUntil != nil && w.now().Before(*u.LockedUntil):
		return &PINError{LockedUntil: *u.LockedUntil}
	case w.PINResetDue(u):
		return ErrPINResetDue
	}
	return nil
}

// ChangePIN replaces a user's PIN; the current one must be given.
func (w *Service) ChangePIN(ctx context.Context, userID int64, current, next string) error {
	p, err := w.PreparePIN(next)
	if err != nil {
		return err
	}
	return w.ChangePINPrepared(ctx, userID, current, p)
}

// ChangePINPrepared is ChangePIN with the new PIN prepared earlier.
func (w *Service) ChangePINPrepared(ctx context.Context, userID int64, current string, next PreparedPIN) error {
	if _, err := w.VerifyPIN(ctx, userID, current); err != nil {
		return err
	}
	return w.changePIN(ctx, userID, next)
}
