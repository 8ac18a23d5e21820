// Package wallet owns every movement of money. Each operation runs in one
// explicit transaction of the store: it writes the user-facing transaction
// row, posts ledger entries that sum to zero (user accounts never go below
// zero, system accounts carry the other side), and queues the notifications
// the users should hear about, all or nothing. Operations that can be
// retried carry an idempotency key: the second call returns the first
// result and moves nothing.
package wallet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Config holds the wallet's limits, fees and PIN policy. Zero values take
// the defaults of DefaultConfig.
type Config struct {
	// Region reads national phone numbers (e.g. 0712…); default "KE".
	Region string
	// MinAmountMsat and MaxAmountMsat bound one operation.
	MinAmountMsat int64
	MaxAmountMsat int64
	// MaxBalanceMsat caps what a user account may hold (transfers to it are
	// refused above it; money that already arrived is always credited).
	MaxBalanceMsat int64
	// DailyLimitMsat caps what a user sends, pays and withdraws in one
	// calendar day of DayZone (a refund gives its amount back to the day it
	// was counted on, and to no other).
	DailyLimitMsat int64
	DayZone        *time.Location
	// FeeBasisPoints and FeeMinMsat price withdrawals and external
	// payments: max(min, amount × bps / 10 000), booked to the fees account.
	FeeBasisPoints int64
	FeeMinMsat     int64
	// TransferFeeBasisPoints and TransferFeeMinMsat price phone-to-phone
	// transfers; free by default.
	TransferFeeBasisPoints int64
	TransferFeeMinMsat     int64
	// MaxPINAttempts wrong PINs in a row lock the account for LockoutBase,
	// doubled on each further lockout up to LockoutMax.
	MaxPINAttempts int
	LockoutBase    time.Duration
	LockoutMax     time.Duration
	// AuthorizationTTL is how long a verified PIN authorises money movement.
	AuthorizationTTL time.Duration
	// Argon2 tunes the PIN hash; PINPepper is a server secret mixed into it.
	Argon2    Argon2Params
	PINPepper []byte
	// Now is the clock (tests move it); default time.Now.
	Now func() time.Time
}

// DefaultConfig is the configuration a fresh install runs with.
func DefaultConfig() Config {
	return Config{
		Region:           "KE",
		MinAmountMsat:    1_000,              // 1 sat
		MaxAmountMsat:    5_000_000 * 1_000,  // 5M sat
		MaxBalanceMsat:   20_000_000 * 1_000, // 20M sat
		DailyLimitMsat:   10_000_000 * 1_000, // 10M sat
		FeeBasisPoints:   100,                // 1%
		FeeMinMsat:       10_000,             // 10 sat
		MaxPINAttempts:   3,
		LockoutBase:      15 * time.Minute,
		LockoutMax:       24 * time.Hour,
		AuthorizationTTL: 2 * time.Minute,
		DayZone:          time.FixedZone("EAT", 3*60*60), // Kenya, no daylight saving
		Argon2:           DefaultArgon2,
		Now:              time.Now,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Region == "" {
		c.Region = d.Region
	}
	if c.MinAmountMsat <= 0 {
		c.MinAmountMsat = d.MinAmountMsat
	}
	if c.MaxAmountMsat <= 0 {
		c.MaxAmountMsat = d.MaxAmountMsat
	}
	if c.MaxBalanceMsat <= 0 {
		c.MaxBalanceMsat = d.MaxBalanceMsat
	}
	if c.DailyLimitMsat <= 0 {
		c.DailyLimitMsat = d.DailyLimitMsat
	}
	if c.DayZone == nil {
		c.DayZone = d.DayZone
	}
	if c.MaxPINAttempts <= 0 {
		c.MaxPINAttempts = d.MaxPINAttempts
	}
	if c.LockoutBase <= 0 {
		c.LockoutBase = d.LockoutBase
	}
	if c.LockoutMax <= 0 {
		c.LockoutMax = d.LockoutMax
	}
	if c.AuthorizationTTL <= 0 {
		c.AuthorizationTTL = d.AuthorizationTTL
	}
	if c.Argon2.Time == 0 || c.Argon2.Memory == 0 || c.Argon2.Threads == 0 {
		c.Argon2 = d.Argon2
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}

// Service is the wallet.
type Service struct {
	store store.Store
	cfg   Config
	pins  pinHasher
	sys   systemAccounts
	// directory caches the accounts of phone numbers for the transfer path.
	directory *directory
	// authKey seals authorizations kept between the steps of a flow.
	authKey []byte
}

// systemAccounts are the ids of the operator's accounts, read once.
type systemAccounts struct {
	lightning, mpesa, fees, adjustments, reserved int64
}

func (a systemAccounts) byCode(code store.SystemAccountCode) int64 {
	switch code {
	case store.AccountLightning:
		return a.lightning
	case store.AccountMpesa:
		return a.mpesa
	case store.AccountFees:
		return a.fees
	case store.AccountAdjustments:
		return a.adjustments
	case store.AccountReserved:
		return a.reserved
	}
	return 0
}

// New returns the wallet over a migrated store.
func New(ctx context.Context, s store.Store, cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &Service{store: s, cfg: cfg, pins: pinHasher{params: cfg.Argon2, pepper: cfg.PINPepper}, directory: newDirectory(100_000)}
	// A key of this process's own: a sealed authorization lives minutes,
	// so it need not survive a restart.
	w.authKey = make([]byte, 32)
	if _, err := rand.Read(w.authKey); err != nil {
		return nil, fmt.Errorf("wallet: key: %w", err)
	}
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, a := range []struct {
			code store.SystemAccountCode
			id   *int64
		}{
			{store.AccountLightning, &w.sys.lightning}, {store.AccountMpesa, &w.sys.mpesa}, {store.AccountFees, &w.sys.fees},
			{store.AccountAdjustments, &w.sys.adjustments}, {store.AccountReserved, &w.sys.reserved},
		} {
			acc, err := tx.SystemAccount(ctx, a.code)
			if err != nil {
				return err
			}
			*a.id = acc.ID
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("wallet: system accounts: %w", err)
	}
	return w, nil
}

// Config returns the configuration in force.
func (w *Service) Config() Config { return w.cfg }

func (w *Service) now() time.Time { return w.cfg.Now().UTC() }

// User is a wallet holder as the rest of the application sees it.
type User = store.User

// EnsureUser returns the user of a phone number, creating it (unregistered,
// with an empty account) if it does not exist; created says which.
func (w *Service) EnsureUser(ctx context.Context, rawPhone string) (User, bool, error) {
	phone, err := NormalizePhone(rawPhone, w.cfg.Region)
	if err != nil {
		return User{}, false, err
	}
	var u User
	var created bool
	err = w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		u, created, err = ensureUser(ctx, tx, phone, w.now())
		return err
	})
	if err != nil {
		return User{}, false, fmt.Errorf("ensure user: %w", err)
	}
	return u, created, nil
}

// ensureUser creates the user and its account together, so every user has
// exactly one account.
func ensureUser(ctx context.Context, tx store.Tx, phone string, now time.Time) (User, bool, error) {
	created, err := tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: phone, LightningName: LightningName(phone), Language: "en", Now: now})
	if err != nil {
		return User{}, false, err
	}
	u, err := tx.UserByPhone(ctx, phone)
	if err != nil {
		return User{}, false, err
	}
	if created {
		if _, err := tx.InsertUserAccount(ctx, u.ID, now); err != nil {
			return User{}, false, err
		}
	}
	return u, created, nil
}

// ensureAccount is ensureUser with the user's account.
func ensureAccount(ctx context.Context, tx store.Tx, phone string, now time.Time) (User, store.Account, error) {
	u, _, err := ensureUser(ctx, tx, phone, now)
	if err != nil {
		return User{}, store.Account{}, err
	}
	acc, err := tx.AccountByUserID(ctx, u.ID)
	return u, acc, err
}

// UserByPhone finds a user by any written form of the number.
func (w *Service) UserByPhone(ctx context.Context, rawPhone string) (User, error) {
	phone, err := NormalizePhone(rawPhone, w.cfg.Region)
	if err != nil {
		return User{}, err
	}
	var u User
	err = w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		u, err = tx.UserByPhone(ctx, phone)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrUnknownUser
	}
	return u, err
}

// UserExists reports whether a number has an account (registered or not).
func (w *Service) UserExists(ctx context.Context, rawPhone string) (bool, error) {
	_, err := w.UserByPhone(ctx, rawPhone)
	if errors.Is(err, ErrUnknownUser) {
		return false, nil
	}
	return err == nil, err
}

// Balance returns a user's spendable balance in msat.
func (w *Service) Balance(ctx context.Context, userID int64) (int64, error) {
	var bal int64
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		a, err := tx.AccountByUserID(ctx, userID)
		bal = a.BalanceMsat
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, ErrUnknownUser
	}
	return bal, err
}

// SetLanguage saves a user's language ("en" or "sw").
func (w *Service) SetLanguage(ctx context.Context, userID int64, lang string) error {
	if lang != "en" && lang != "sw" {
		return fmt.Errorf("unsupported language %q", lang)
	}
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.SetUserLanguage(ctx, userID, lang, w.now())
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknownUser
	}
	return err
}

// History lists a user's latest transactions, newest first; pass the
// smallest id of a page as beforeID for the next one (0 for the first).
func (w *Service) History(ctx context.Context, userID, beforeID int64, limit int) ([]store.Transaction, error) {
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	var out []store.Transaction
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.LatestTransactions(ctx, userID, beforeID, limit)
		return err
	})
	return out, err
}

// checkAmount enforces the per-operation bounds.
func (w *Service) checkAmount(amount int64) error {
	if amount <= 0 {
		return fmt.Errorf("%w: %d msat", ErrInvalidAmount, amount)
	}
	if amount < w.cfg.MinAmountMsat {
		return &LimitError{Limit: "min", CapMsat: w.cfg.MinAmountMsat, WantMsat: amount}
	}
	if amount > w.cfg.MaxAmountMsat {
		return &LimitError{Limit: "max", CapMsat: w.cfg.MaxAmountMsat, WantMsat: amount}
	}
	return nil
}

// guard is the limits a posting at now enforces on user accounts.
func (w *Service) guard(now time.Time) store.Guard {
	return store.Guard{MaxBalanceMsat: w.cfg.MaxBalanceMsat, Day: w.Day(now), DayLimitMsat: w.cfg.DailyLimitMsat}
}

// Day numbers the calendar day of DayZone that t falls on (days since
// 1970-01-01), the day the daily limit counts by.
func (w *Service) Day(t time.Time) int64 {
	y, m, d := t.In(w.cfg.DayZone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// unlimited is the guard for credits that must never be refused (money that
// already arrived, holds going back to their owner); it keeps today's
// number so that a refund gives back to the right day.
func (w *Service) unlimited(now time.Time) store.Guard {
	g := store.NoLimits
	g.Day = w.guard(now).Day
	return g
}

// fee prices an amount at bps basis points with a minimum, rounding up.
func fee(amount, bps, minimum int64) int64 {
	if bps <= 0 && minimum <= 0 {
		return 0
	}
	var f int64
	if bps > 0 && amount > math.MaxInt64/bps {
		f = amount / 10_000 * bps // cannot overflow, and large enough to round
	} else {
		f = (amount*bps + 9_999) / 10_000
	}
	return max(f, minimum)
}

// ServiceFee is what a withdrawal or external payment of amount costs.
func (w *Service) ServiceFee(amount int64) int64 {
	return fee(amount, w.cfg.FeeBasisPoints, w.cfg.FeeMinMsat)
}

// TransferFee is what a phone-to-phone transfer of amount costs.
func (w *Service) TransferFee(amount int64) int64 {
	return fee(amount, w.cfg.TransferFeeBasisPoints, w.cfg.TransferFeeMinMsat)
}

// mapBalanceError turns the store's refusal into the wallet's error.
func (w *Service) mapBalanceError(err error) error {
	var be *store.BalanceError
	if !errors.As(err, &be) {
		return err
	}
	switch be.Reason {
	case store.ReasonInsufficient:
		return ErrInsufficientBalance
	case store.ReasonMaxBalance:
		return &LimitError{Limit: "balance", CapMsat: w.cfg.MaxBalanceMsat, WantMsat: be.AmountMsat}
	default:
		return &LimitError{Limit: "daily", CapMsat: w.cfg.DailyLimitMsat, WantMsat: -be.AmountMsat}
	}
}

// replay looks up the transaction a key already produced, for a retried
// request; same says whether it is the same operation.
func (w *Service) replay(ctx context.Context, key string, same func(store.Transaction) bool) (store.Transaction, error) {
	var t store.Transaction
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		t, err = tx.TransactionByIdempotencyKey(ctx, key)
		return err
	})
	if err != nil {
		return store.Transaction{}, err
	}
	if !same(t) {
		return store.Transaction{}, ErrIdempotencyMismatch
	}
	return t, nil
}

// idempotent runs op; when it fails because its idempotency key is taken,
// it returns the transaction that key produced instead.
func (w *Service) idempotent(ctx context.Context, key string, same func(store.Transaction) bool, op func() (store.Transaction, error)) (store.Transaction, error) {
	t, _, err := w.idempotentFresh(ctx, key, same, op)
	return t, err
}

// idempotentFresh is idempotent that also says whether the transaction may
// be this call's own: op wrote it, or op's commit went unanswered and the
// key was then found (written by op, or by a twin request with the same
// key racing it). A caller that sends it to a rail afterwards must make
// that step once-only (an M-Pesa request is marked sent once), so that of
// two twins one sends. A replay of a key taken before is never fresh.
func (w *Service) idempotentFresh(ctx context.Context, key string, same func(store.Transaction) bool, op func() (store.Transaction, error)) (store.Transaction, bool, error) {
	if key == "" {
		return store.Transaction{}, false, errors.New("an idempotency key is required")
	}
	t, err := op()
	switch {
	case err == nil:
		return t, true, nil
	case errors.Is(err, store.ErrConflict):
		if prev, rerr := w.replay(ctx, key, same); rerr == nil || errors.Is(rerr, ErrIdempotencyMismatch) {
			return prev, false, rerr
		}
	case errors.Is(err, store.ErrCommitUnanswered), errors.Is(err, store.ErrOutcomeUnknown):
		t, err := w.outcome(ctx, key, same, err)
		return t, err == nil, err
	}
	return t, false, err
}

// OutcomeTimeout bounds the read that learns what an unanswered commit
// did; the caller's deadline has usually passed by then (see
// store.SettleTimeout).
const OutcomeTimeout = time.Second

// outcome learns what a transaction whose commit was not answered did, by
// its idempotency key, on a context of its own: the transaction it wrote
// if it committed; err, if the store settled it and nothing was written
// (it never will be: nothing moved); ErrOutcomeUnknown if neither can be
// told.
func (w *Service) outcome(ctx context.Context, key string, same func(store.Transaction) bool, err error) (store.Transaction, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), OutcomeTimeout)
	defer cancel()
	t, rerr := w.replay(rctx, key, same)
	switch {
	case rerr == nil:
		return t, nil
	case errors.Is(rerr, store.ErrNotFound) && errors.Is(err, store.ErrCommitUnanswered):
		return store.Transaction{}, err
	case errors.Is(rerr, ErrIdempotencyMismatch):
		return store.Transaction{}, rerr
	}
	return store.Transaction{}, fmt.Errorf("%w: %w (reading it: %v)", ErrOutcomeUnknown, err, rerr)
}
