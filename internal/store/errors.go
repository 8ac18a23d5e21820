package store

import "errors"

// The kinds of failure an adapter normalises driver errors into. Callers
// test for them with errors.Is; the driver's own error stays wrapped inside.
var (
	// ErrNotFound means the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint refused the write.
	ErrConflict = errors.New("conflict")
	// ErrRetryable means the transaction lost a race the engine could not
	// serialise (deadlock, serialization failure, lock timeout, SQLite busy)
	// and may succeed when run again from the start.
	ErrRetryable = errors.New("retryable")
	// ErrUnavailable means the database, or the node of it this server
	// talks to, cannot serve now (a Galera node cut off from the primary
	// component answers 1047): nothing was written, and the operation may
	// be tried again later, not counted as failed.
	ErrUnavailable = errors.New("database unavailable")
	// ErrPaymentHashTaken means the write would give a payment hash a
	// second pending or completed outgoing payment. It comes wrapped in an
	// ErrConflict, so code that handles any conflict (an idempotency key
	// replay) still sees one, and errors.Is tells the two apart.
	ErrPaymentHashTaken = errors.New("payment hash already has a pending or completed payment")
	// ErrSenderFrozen and ErrSenderPINResetDue are Tx.PostTransfer
	// refusing a sender that may not send: an operator froze the account,
	// or reset its PIN and the reset has taken effect. Nothing moved.
	ErrSenderFrozen      = errors.New("the sender's account is frozen")
	ErrSenderPINResetDue = errors.New("the sender's PIN reset is due")
	// ErrCommitUnanswered means InTx sent the COMMIT and its answer never
	// came (the caller's deadline cut it, or the connection was lost), and
	// the adapter then ended the server's session for certain: the
	// transaction has committed or never will, and reading what it wrote
	// (its idempotency key) tells which. Until that read, the caller must
	// not say it failed.
	ErrCommitUnanswered = errors.New("the commit's answer was lost")
	// ErrOutcomeUnknown is ErrCommitUnanswered where the adapter could not
	// end the server's session either (the database did not answer): the
	// transaction may still commit later. A read that finds nothing proves
	// nothing.
	ErrOutcomeUnknown = errors.New("the transaction's outcome is unknown")
)

// Error is a driver error classified into one of the kinds above.
type Error struct {
	Kind error // ErrNotFound, ErrConflict, ErrRetryable, ErrUnavailable, ErrCommitUnanswered or ErrOutcomeUnknown
	Err  error // the driver's error
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Err.Error() }

// Unwrap returns the driver's error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrConflict) and the like true.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Classify wraps err in an *Error of the given kind.
func Classify(kind, err error) error { return &Error{Kind: kind, Err: err} }
