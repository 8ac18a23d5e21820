package wallet

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/umeme-wallet/umeme/internal/store"
)

// The operator's controls: a freeze (the account receives but sends
// nothing, on any channel), a PIN reset that takes effect after a delay,
// and a pause of the payouts that leave the operator's hands (Lightning
// payments to other nodes, M-Pesa withdrawals). Each operator action is
// recorded, in the same database transaction, in the hash-chained audit
// log that Reconcile verifies.

var (
	// ErrAccountFrozen refuses any sending from an account an operator
	// froze; it still receives.
	ErrAccountFrozen = errors.New("account frozen by the operator")
	// ErrPaused refuses, before anything is held, a Lightning payment to
	// another node or an M-Pesa withdrawal while payouts are paused (by
	// the liabilities watchdog or by hand): try again later.
	ErrPaused = errors.New("payouts temporarily paused")
	// ErrPINResetDue means the operator's PIN reset has taken effect: the
	// old PIN opens nothing and the user must choose a new one.
	ErrPINResetDue = errors.New("pin reset: choose a new pin")
	// ErrNoPINReset is a new PIN offered when no reset is due.
	ErrNoPINReset = errors.New("no pin reset due")
)

// Action is who did an operator action, and why; both are required.
type Action struct {
	Operator string
	Reason   string
}

func (a Action) check() error {
	switch {
	case a.Operator == "" || utf8.RuneCountInString(a.Operator) > 64:
		return errors.New("an operator name of 1-64 characters is required")
	case a.Reason == "" || utf8.RuneCountInString(a.Reason) > 400:
		return errors.New("a reason of 1-400 characters is required")
	}
	return nil
}

// checkSender refuses sending from a frozen account, or from one whose
// PIN reset has taken effect (the old PIN's authorizations open nothing
// either), inside the transaction that would move the money (a freeze or
// a reset committed before it is seen, whatever authorization the sender
// holds). It holds the sender's row (ShareLockUser) against Freeze and
// SchedulePINReset, which lock it: a freeze waits for a send that already
// checked, and a send waits for a freeze being written, so a send never
// commits after a freeze returned.
func (w *Service) checkSender(ctx context.Context, tx store.Tx, userID int64) error {
	u, err := tx.ShareLockUser(ctx, userID)
	if err != nil {
		return err
	}
	return senderError(store.MaySend(u, w.now()))
}

// senderError turns store.MaySend's refusals (also PostTransfer's) into
// the wallet's.
func senderError(err error) error {
	switch {
	case errors.Is(err, store.ErrSenderFrozen):
		return ErrAccountFrozen
	case errors.Is(err, store.ErrSenderPINResetDue):
		return ErrPINResetDue
	}
	return err
}

// checkPayout refuses a payout while payouts are paused.
func checkPayout(ctx context.Context, tx store.Tx) error {
	p, err := tx.ServicePause(ctx)
	if err != nil {
		return err
	}
	if p.Paused() {
		return ErrPaused
	}
	return nil
}

// MaySendOut refuses, with ErrAccountFrozen or ErrPaused, to send out a
// payment reserved earlier whose rail was never called (a crash between
// the reservation and the call, then a restart or a repeated request): a
// freeze or a pause decided since holds it too. Refused, it stays
// reserved; it goes once the control is lifted.
func (w *Service) MaySendOut(ctx context.Context, userID int64) error {
	return w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := w.checkSender(ctx, tx, userID); err != nil {
			return err
		}
		return checkPayout(ctx, tx)
	})
}

// audited runs fn and appends its audit row in one transaction. Two
// actions racing for the chain's head conflict on the row they both follow
// (prev_hash is unique): the loser runs again on the new head.
func (w *Service) audited(ctx context.Context, fn func(ctx context.Context, tx store.Tx, now time.Time) (store.AuditRow, error)) error {
	var err error
	for range 10 {
		err = w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			now := w.now().Truncate(time.Microsecond)
			row, err := fn(ctx, tx, now)
			if err != nil {
				return err
			}
			return appendAudit(ctx, tx, row, now)
		})
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return err
}

// appendAudit links a row to the chain's head and inserts it.
func appendAudit(ctx context.Context, tx store.Tx, row store.AuditRow, now time.Time) error {
	last, err := tx.LastAudit(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	row.PrevHash, row.CreatedAt = last.Hash, now
	row.Hash = store.AuditHash(row)
	_, err = tx.InsertAudit(ctx, row)
	return err
}

// operatorUser reads the user of a number for an operator action, locked.
func (w *Service) operatorUser(ctx context.Context, tx store.Tx, rawPhone string) (store.User, error) {
	phone, err := NormalizePhone(rawPhone, w.cfg.Region)
	if err != nil {
		return store.User{}, err
	}
	u, err := tx.UserByPhone(ctx, phone)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrUnknownUser
	}
	if err != nil {
		return store.User{}, err
	}
	return tx.LockUser(ctx, u.ID)
}

// Freeze stops an account from sending on every channel (it still
// receives); false when it was already frozen (nothing recorded).
func (w *Service) Freeze(ctx context.Context, rawPhone string, a Action) (bool, error) {
	return w.setFrozen(ctx, rawPhone, a, true)
}

// Unfreeze lets a frozen account send again; false when it was not frozen.
func (w *Service) Unfreeze(ctx context.Context, rawPhone string, a Action) (bool, error) {
	return w.setFrozen(ctx, rawPhone, a, false)
}

// errNoChange ends an operator action that would change nothing: nothing
// is recorded.
var errNoChange = errors.New("no change")

// changedBy is what an operator action that may change nothing reports.
func changedBy(err error) (bool, error) {
	if errors.Is(err, errNoChange) {
		return false, nil
	}
	return err == nil, err
}

func (w *Service) setFrozen(ctx context.Context, rawPhone string, a Action, frozen bool) (bool, error) {
	if err := a.check(); err != nil {
		return false, err
	}
	err := w.audited(ctx, func(ctx context.Context, tx store.Tx, now time.Time) (store.AuditRow, error) {
		u, err := w.operatorUser(ctx, tx, rawPhone)
		if err != nil {
			return store.AuditRow{}, err
		}
		if (u.FrozenAt != nil) == frozen {
			return store.AuditRow{}, errNoChange
		}
		action, at := store.AuditUnfreeze, (*time.Time)(nil)
		if frozen {
			action, at = store.AuditFreeze, &now
		}
		if err := tx.SetUserFrozen(ctx, u.ID, at, now); err != nil {
			return store.AuditRow{}, err
		}
		return store.AuditRow{Operator: a.Operator, Action: action, UserID: u.ID, Reason: a.Reason}, nil
	})
	return changedBy(err)
}

// SchedulePINReset resets a user's PIN after delay: the user is told by SMS
// at once, in the same transaction, so that the owner of a number whose
// thief asked support for a reset hears of it while the old PIN still
// holds and can have it cancelled (CancelPINReset) or the account frozen.
// Until the reset takes effect nothing changes (the old PIN keeps working);
// from then on the old PIN opens nothing, and the next dial asks for a new
// PIN (CompletePINReset). It returns when the reset takes effect.
func (w *Service) SchedulePINReset(ctx context.Context, rawPhone string, delay time.Duration, a Action) (time.Time, error) {
	if err := a.check(); err != nil {
		return time.Time{}, err
	}
	if delay < 0 {
		return time.Time{}, errors.New("pin reset: negative delay")
	}
	var at time.Time
	err := w.audited(ctx, func(ctx context.Context, tx store.Tx, now time.Time) (store.AuditRow, error) {
		u, err := w.operatorUser(ctx, tx, rawPhone)
		if err != nil {
			return store.AuditRow{}, err
		}
		if u.Status == store.UserUnregistered || u.PINHash == "" {
			return store.AuditRow{}, ErrNotRegistered
		}
		at = now.Add(delay)
		if err := tx.SetUserPINReset(ctx, u.ID, &at, now); err != nil {
			return store.AuditRow{}, err
		}
		if _, err := tx.InsertNotification(ctx, store.NewNotification{UserID: u.ID, Phone: u.Phone, Kind: store.NotifyPINReset,
			Body: at.In(w.cfg.DayZone).Format("2006-01-02 15:04"), Now: now}); err != nil {
			return store.AuditRow{}, err
		}
		return store.AuditRow{Operator: a.Operator, Action: store.AuditPINReset, UserID: u.ID, Reason: a.Reason,
			Detail: "takes effect " + at.UTC().Format(time.RFC3339)}, nil
	})
	return at, err
}

// CancelPINReset withdraws a pending PIN reset; false when none was pending.
func (w *Service) CancelPINReset(ctx context.Context, rawPhone string, a Action) (bool, error) {
	if err := a.check(); err != nil {
		return false, err
	}
	err := w.audited(ctx, func(ctx context.Context, tx store.Tx, now time.Time) (store.AuditRow, error) {
		u, err := w.operatorUser(ctx, tx, rawPhone)
		if err != nil {
			return store.AuditRow{}, err
		}
		if u.PINResetAt == nil {
			return store.AuditRow{}, errNoChange
		}
		if err := tx.SetUserPINReset(ctx, u.ID, nil, now); err != nil {
			return store.AuditRow{}, err
		}
		return store.AuditRow{Operator: a.Operator, Action: store.AuditPINResetCancel, UserID: u.ID, Reason: a.Reason}, nil
	})
	return changedBy(err)
}

// PINResetDue reports whether a user must choose a new PIN before anything
// else: an operator's reset has taken effect.
func (w *Service) PINResetDue(u store.User) bool {
	return store.PINResetDue(u, w.now())
}

// CompletePINReset sets the PIN a user chose after an operator's reset
// took effect, clears the reset, the wrong-PIN count and any lockout, and
// tells the owner by SMS; ErrNoPINReset when no reset is due (then nothing
// changes). The completion is recorded in the audit log as the user's.
func (w *Service) CompletePINReset(ctx context.Context, userID int64, next PreparedPIN) error {
	err := w.audited(ctx, func(ctx context.Context, tx store.Tx, now time.Time) (store.AuditRow, error) {
		u, err := tx.LockUser(ctx, userID)
		if err != nil {
			return store.AuditRow{}, err
		}
		if u.PINResetAt == nil || now.Before(*u.PINResetAt) {
			return store.AuditRow{}, ErrNoPINReset
		}
		if err := tx.SetUserPIN(ctx, userID, string(next), u.Status, now); err != nil {
			return store.AuditRow{}, err
		}
		if err := tx.SetUserPINGuard(ctx, store.PINGuard{UserID: userID, Now: now}); err != nil {
			return store.AuditRow{}, err
		}
		if err := tx.SetUserPINReset(ctx, userID, nil, now); err != nil {
			return store.AuditRow{}, err
		}
		if _, err := tx.InsertNotification(ctx, store.NewNotification{UserID: userID, Phone: u.Phone, Kind: store.NotifyPINChanged, Now: now}); err != nil {
			return store.AuditRow{}, err
		}
		return store.AuditRow{Operator: "user", Action: store.AuditPINResetDone, UserID: userID, Reason: "new PIN chosen at the phone"}, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknownUser
	}
	return err
}

// Pause pauses payouts by hand (server admin pause): the watchdog never
// lifts it. False when already paused by hand.
func (w *Service) Pause(ctx context.Context, a Action) (bool, error) {
	return w.setManualPause(ctx, a, true)
}

// Resume lifts the operator's pause; a pause of the watchdog stays until
// the coverage is back. False when not paused by hand.
func (w *Service) Resume(ctx context.Context, a Action) (bool, error) {
	return w.setManualPause(ctx, a, false)
}

func (w *Service) setManualPause(ctx context.Context, a Action, paused bool) (bool, error) {
	if err := a.check(); err != nil {
		return false, err
	}
	err := w.audited(ctx, func(ctx context.Context, tx store.Tx, now time.Time) (store.AuditRow, error) {
		changed, err := tx.SetManualPause(ctx, paused, a.Reason, a.Operator, now)
		if err != nil {
			return store.AuditRow{}, err
		}
		if !changed {
			return store.AuditRow{}, errNoChange
		}
		action := store.AuditResume
		if paused {
			action = store.AuditPause
		}
		return store.AuditRow{Operator: a.Operator, Action: action, Reason: a.Reason}, nil
	})
	return changedBy(err)
}

// SetAutoPause sets the watchdog's pause; it reports whether this call
// changed it (of several servers on one database, one does).
func (w *Service) SetAutoPause(ctx context.Context, paused bool, reason string) (bool, error) {
	var changed bool
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		changed, err = tx.SetAutoPause(ctx, paused, reason, w.now())
		return err
	})
	return changed, err
}

// PauseState reads whether payouts are paused, and by whom.
func (w *Service) PauseState(ctx context.Context) (store.ServicePause, error) {
	var p store.ServicePause
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		p, err = tx.ServicePause(ctx)
		return err
	})
	return p, err
}

// Liabilities is what the users are owed, in msat: their balances and the
// holds of their pending operations.
func (w *Service) Liabilities(ctx context.Context) (int64, error) {
	var n int64
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.UserLiabilities(ctx)
		return err
	})
	return n, err
}

// UserReport is what an operator sees of one user (server admin user).
type UserReport struct {
	User    store.User
	Account store.Account
	// SentTodayMsat is what the user sent today (the daily limit's count)
	// of DailyLimitMsat.
	SentTodayMsat, DailyLimitMsat int64
	Latest                        []store.Transaction
	Pending                       []store.Transaction
	Sessions                      []store.Session
	Audit                         []store.AuditRow
}

// UserReport reads a user's state for the operator, in one snapshot.
func (w *Service) UserReport(ctx context.Context, rawPhone string, latest int) (UserReport, error) {
	phone, err := NormalizePhone(rawPhone, w.cfg.Region)
	if err != nil {
		return UserReport{}, err
	}
	r := UserReport{DailyLimitMsat: w.cfg.DailyLimitMsat}
	err = w.store.Snapshot(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if r.User, err = tx.UserByPhone(ctx, phone); err != nil {
			return err
		}
		if r.Account, err = tx.AccountByUserID(ctx, r.User.ID); err != nil {
			return err
		}
		if r.Account.DayOutDay == w.Day(w.now()) {
			r.SentTodayMsat = r.Account.DayOutMsat
		}
		// Pending operations are among the newest: a payment or
		// withdrawal is finished within minutes to hours.
		recent, err := tx.LatestTransactions(ctx, r.User.ID, 0, max(latest, 200))
		if err != nil {
			return err
		}
		for i, t := range recent {
			if i < latest {
				r.Latest = append(r.Latest, t)
			}
			if t.Status == store.StatusPending {
				r.Pending = append(r.Pending, t)
			}
		}
		if r.Sessions, err = tx.OpenSessions(ctx, phone); err != nil {
			return err
		}
		r.Audit, err = tx.UserAudit(ctx, r.User.ID, 10)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return UserReport{}, ErrUnknownUser
	}
	if err != nil {
		return UserReport{}, fmt.Errorf("user report: %w", err)
	}
	return r, nil
}
