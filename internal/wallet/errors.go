package wallet

import (
	"errors"
	"fmt"
	"time"
)

// The wallet's domain errors. Every failure a user or operator can cause
// comes out as one of these (test with errors.Is); anything else is an
// internal error.
var (
	ErrInsufficientBalance = errors.New("insufficient balance")
	ErrLimitExceeded       = errors.New("limit exceeded")
	ErrAccountLocked       = errors.New("account locked")
	ErrWrongPIN            = errors.New("wrong pin")
	ErrUnknownUser         = errors.New("unknown user")
	ErrSelfTransfer        = errors.New("cannot send to yourself")
	ErrInvalidAmount       = errors.New("invalid amount")
	ErrInvalidPhone        = errors.New("invalid phone number")
	ErrWeakPIN             = errors.New("pin too weak or malformed")
	ErrNotRegistered       = errors.New("account not registered")
	ErrAlreadyRegistered   = errors.New("account already registered")
	ErrNotFound            = errors.New("not found")
	// ErrUnknownAddress is a Lightning Address name that pays nobody: a
	// chosen name nobody holds, or a malformed one.
	ErrUnknownAddress = errors.New("unknown lightning address")
	// ErrInvalidName, ErrNameReserved, ErrNameTaken and ErrTooManyNames
	// refuse a name a user chose for their Lightning Address.
	ErrInvalidName  = errors.New("invalid lightning address name")
	ErrNameReserved = errors.New("lightning address name reserved")
	ErrNameTaken    = errors.New("lightning address name taken")
	ErrTooManyNames = errors.New("too many lightning address names")
	// ErrIdempotencyMismatch means a retried request reused the key of a
	// different operation.
	ErrIdempotencyMismatch = errors.New("idempotency key reused for a different operation")
	// ErrAuthorizationExpired means the PIN was verified too long ago.
	ErrAuthorizationExpired = errors.New("pin verification expired")
	// ErrInvoiceAlreadyPaid means another payment of the same invoice
	// (payment hash) is pending or completed, or an outside payer already
	// paid our own invoice: nothing was held for this attempt.
	ErrInvoiceAlreadyPaid = errors.New("invoice already paid or being paid")
	// ErrOutcomeUnknown means the database lost the answer to an
	// operation's commit and neither it nor a read afterwards could tell
	// whether it happened: the user must look (the balance, the history)
	// before trying again, never be told it failed.
	ErrOutcomeUnknown = errors.New("the outcome could not be confirmed")
)

// LimitError says which limit refused an operation.
type LimitError struct {
	Limit    string // "min", "max", "balance" or "daily"
	CapMsat  int64  // the limit
	WantMsat int64  // what the operation needed
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("limit exceeded: %s limit %d msat, operation needs %d msat", e.Limit, e.CapMsat, e.WantMsat)
}

// Is makes errors.Is(err, ErrLimitExceeded) true, and ErrInvalidAmount for
// the per-transaction bounds.
func (e *LimitError) Is(target error) bool {
	return target == ErrLimitExceeded || (target == ErrInvalidAmount && (e.Limit == "min" || e.Limit == "max"))
}

// PINError is a refused PIN check: a wrong PIN with the attempts left, or a
// locked account with the time it unlocks.
type PINError struct {
	Remaining   int
	LockedUntil time.Time // zero unless locked
}

func (e *PINError) Error() string {
	if !e.LockedUntil.IsZero() {
		return fmt.Sprintf("account locked until %s", e.LockedUntil.Format(time.RFC3339))
	}
	return fmt.Sprintf("wrong pin, %d attempts left", e.Remaining)
}

// Is makes errors.Is(err, ErrWrongPIN) or errors.Is(err, ErrAccountLocked) true.
func (e *PINError) Is(target error) bool {
	if target == ErrAccountLocked {
		return !e.LockedUntil.IsZero()
	}
	return target == ErrWrongPIN
}
