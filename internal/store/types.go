package store

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// UserStatus is where a user stands: unregistered users hold funds sent to
// their number but have no PIN yet; locked users are frozen by an operator.
type UserStatus string

// The user statuses.
const (
	UserUnregistered UserStatus = "unregistered"
	UserActive       UserStatus = "active"
	UserLocked       UserStatus = "locked"
)

// User is a wallet holder, keyed by an E.164 phone number.
type User struct {
	ID                int64
	Phone             string
	LightningName     string
	LightningPubkey   string
	PINHash           string
	FailedPINAttempts int
	LockoutCount      int
	LockedUntil       *time.Time
	Language          string
	Status            UserStatus
	// FrozenAt is when an operator froze the account (nil: not frozen): it
	// receives, but sends nothing on any channel.
	FrozenAt *time.Time
	// PINResetAt is when an operator's PIN reset takes effect (nil: none
	// pending): from then on the old PIN opens nothing and the next dial
	// asks for a new one.
	PINResetAt *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// MaySend is the rule that lets a user send at now, written once for the
// wallet and for the routines that check it inside PostTransfer:
// ErrSenderFrozen while an operator's freeze holds, ErrSenderPINResetDue
// once an operator's PIN reset has taken effect (the old PIN's
// authorizations open nothing).
func MaySend(u User, now time.Time) error {
	switch {
	case u.FrozenAt != nil:
		return ErrSenderFrozen
	case PINResetDue(u, now):
		return ErrSenderPINResetDue
	}
	return nil
}

// PINResetDue reports whether an operator's PIN reset of u has taken
// effect at now.
func PINResetDue(u User, now time.Time) bool {
	return u.PINResetAt != nil && !now.Before(*u.PINResetAt)
}

// PINGuard is what SetUserPINGuard records of a user: wrong PINs in a row,
// lockouts so far, and the lock in force (nil: none).
type PINGuard struct {
	UserID      int64
	Failed      int
	Lockouts    int
	LockedUntil *time.Time
	Now         time.Time
}

// NewUser is what creating a user takes.
type NewUser struct {
	Phone         string
	LightningName string
	Language      string
	Status        UserStatus
	Now           time.Time
}

// SystemAccountCode names an account of the operator's side of the ledger.
type SystemAccountCode string

// The system accounts every database is created with.
const (
	// AccountLightning is the other side of money that enters or leaves
	// through the Lightning node.
	AccountLightning SystemAccountCode = "lightning"
	// AccountMpesa is the other side of money that enters or leaves through
	// the M-Pesa float.
	AccountMpesa SystemAccountCode = "mpesa"
	// AccountFees collects service fees.
	AccountFees SystemAccountCode = "fees"
	// AccountAdjustments is the other side of an operator's manual credits
	// and debits.
	AccountAdjustments SystemAccountCode = "adjustments"
	// AccountReserved holds the funds of payments and withdrawals whose
	// outcome is not yet known.
	AccountReserved SystemAccountCode = "reserved"
)

// Account is a ledger account with its cached balance and the day's sends.
type Account struct {
	ID          int64
	UserID      int64 // 0 for a system account
	Code        SystemAccountCode
	BalanceMsat int64
	// DayOutMsat is what the account sent out on day DayOutDay.
	DayOutMsat int64
	DayOutDay  int64
}

// IsSystem reports whether the account belongs to the operator.
func (a Account) IsSystem() bool { return a.Code != "" }

// UserAccount is a user's ids and balance, read together.
type UserAccount struct {
	UserID      int64
	UserStatus  UserStatus
	AccountID   int64
	BalanceMsat int64
}

// Entry is one leg of a posting: a signed amount on an account.
type Entry struct {
	AccountID  int64
	AmountMsat int64
	// DayOutMsat counts towards the account's daily sending limit on the
	// guard's day: positive for a send, negative to give back a refunded one
	// (which counts only if the counter is still on that day, and never
	// takes it below zero); 0 for most legs.
	DayOutMsat int64
}

// Guard holds the limits PostEntries enforces on user accounts.
type Guard struct {
	// MaxBalanceMsat caps what a credit may take a user account to.
	MaxBalanceMsat int64
	// Day is today's number (days since 1970-01-01 in the operator's time
	// zone) and DayLimitMsat what an account may send out in one day.
	Day          int64
	DayLimitMsat int64
}

// NoLimits is the guard for credits that must never be refused: money that
// already arrived, and holds going back to their owner.
var NoLimits = Guard{MaxBalanceMsat: 1<<63 - 1, DayLimitMsat: 1<<63 - 1}

// LedgerEntry is an entry as booked.
type LedgerEntry struct {
	ID            int64
	TransactionID int64
	AccountID     int64
	AmountMsat    int64
	// DayOutMsat is what the entry counted towards the daily limit of its
	// account, on day DayOutDay (see ApplyBalanceDelta for how a counter
	// takes it).
	DayOutMsat int64
	DayOutDay  int64
	// Seq, BalanceAfterMsat and Hash are the entry's place in its user
	// account's hash chain, the balance after it and its hash (see
	// ChainText); zero for an entry on a system account.
	Seq              int64
	BalanceAfterMsat int64
	Hash             string
	CreatedAt        time.Time
}

// TransactionType is the kind of operation a transaction records.
type TransactionType string

// The transaction types.
const (
	TypeSend       TransactionType = "send"
	TypeReceive    TransactionType = "receive"
	TypeInvoice    TransactionType = "invoice"
	TypeTopup      TransactionType = "topup"
	TypeWithdraw   TransactionType = "withdraw"
	TypePayment    TransactionType = "payment"
	TypeAdjustment TransactionType = "adjustment"
)

// Direction says whether a transaction adds to or takes from its user.
type Direction string

// The directions.
const (
	DirectionIn  Direction = "in"
	DirectionOut Direction = "out"
)

// TransactionStatus is where an operation stands.
type TransactionStatus string

// The transaction statuses.
const (
	StatusPending   TransactionStatus = "pending"
	StatusCompleted TransactionStatus = "completed"
	StatusFailed    TransactionStatus = "failed"
	StatusExpired   TransactionStatus = "expired"
)

// Finish is what FinishTransaction takes: the transaction moves from one
// status to another and gets its final amount and fee, only if it is still
// in From.
type Finish struct {
	ID         int64
	From, To   TransactionStatus
	AmountMsat int64
	FeeMsat    int64
	Now        time.Time
}

// Transaction is one row of the user-facing log.
type Transaction struct {
	ID                     int64
	UserID                 int64
	Type                   TransactionType
	Direction              Direction
	Status                 TransactionStatus
	AmountMsat             int64
	FeeMsat                int64
	Invoice                string
	PaymentHash            string
	MpesaReceipt           string
	MpesaCheckoutRequestID string
	MpesaConversationID    string
	CounterpartyPhone      string
	Description            string
	IdempotencyKey         string
	RelatedID              int64
	// HeldMsat is what a payment or withdrawal took from its user into the
	// reserved account when it was reserved (amount + service fee + fee
	// allowance); 0 for other types.
	HeldMsat  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewTransaction is what adding a transaction takes; empty strings and zero
// ids are stored as NULL.
type NewTransaction struct {
	UserID                 int64
	Type                   TransactionType
	Direction              Direction
	Status                 TransactionStatus
	AmountMsat             int64
	FeeMsat                int64
	Invoice                string
	PaymentHash            string
	MpesaReceipt           string
	MpesaCheckoutRequestID string
	MpesaConversationID    string
	CounterpartyPhone      string
	Description            string
	IdempotencyKey         string
	RelatedID              int64
	HeldMsat               int64
	Now                    time.Time
}

// NewTransfer is what InsertTransfer takes: the sender's "send" row gets
// IdempotencyKey, the recipient's "receive" row IdempotencyKey + "/receive".
type NewTransfer struct {
	SenderID       int64
	SenderPhone    string
	RecipientID    int64
	RecipientPhone string
	AmountMsat     int64
	FeeMsat        int64
	Description    string
	IdempotencyKey string
	Now            time.Time
}

// ReceiveKey is the idempotency key of the receiving row of a transfer.
func (t NewTransfer) ReceiveKey() string { return t.IdempotencyKey + "/receive" }

// InvoiceStatus is where an incoming Lightning invoice stands.
type InvoiceStatus string

// The invoice statuses.
const (
	InvoicePending   InvoiceStatus = "pending"
	InvoicePaid      InvoiceStatus = "paid"
	InvoiceExpired   InvoiceStatus = "expired"
	InvoiceCancelled InvoiceStatus = "cancelled"
)

// InvoiceOrigin says who asked for an invoice.
type InvoiceOrigin string

// The invoice origins.
const (
	// InvoiceByUser is an invoice the user asked for: it has a pending row
	// in the user's transactions from the start.
	InvoiceByUser InvoiceOrigin = "user"
	// InvoiceByAddress is an invoice an anonymous payer of a Lightning
	// Address asked for. It is recorded by the number it pays, with no user
	// (when the number has no account yet) and no transaction row until it
	// is paid; unpaid, it is deleted a while after it expires.
	InvoiceByAddress InvoiceOrigin = "address"
)

// Invoice is a Lightning invoice issued to a user.
type Invoice struct {
	ID int64
	// UserID is 0 for an unpaid address invoice of a number without an
	// account; Phone is set for every address invoice.
	UserID         int64
	Phone          string
	Origin         InvoiceOrigin
	TransactionID  int64
	Invoice        string
	PaymentHash    string
	AmountMsat     int64
	AmountPaidMsat int64
	Status         InvoiceStatus
	Description    string
	// PayerComment is the payer's LUD-12 comment on an address invoice.
	PayerComment string
	AddIndex     int64
	ExpiresAt    time.Time
	PaidAt       *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NewInvoice is what recording an invoice takes; a zero UserID or
// TransactionID and an empty Phone are stored as NULL, an empty Origin as
// InvoiceByUser.
type NewInvoice struct {
	UserID       int64
	Phone        string
	Origin       InvoiceOrigin
	PayerComment string
	// AddressName is the name an address invoice was asked for (a chosen
	// name or the number's digits): the unpaid-invoice cap counts per name.
	AddressName   string
	TransactionID int64
	Invoice       string
	PaymentHash   string
	AmountMsat    int64
	Description   string
	AddIndex      int64
	ExpiresAt     time.Time
	Now           time.Time
}

// Session is the server-side state of one USSD session.
type Session struct {
	ID             int64
	SessionID      string
	UserID         int64
	Phone          string
	State          string
	InputBuffer    []string
	LastInput      *string
	LastResponse   *string
	Hops           int
	EndStatus      string
	DurationMs     int64
	Active         bool
	LastActivityAt time.Time
	CreatedAt      time.Time
	EndedAt        *time.Time
}

// NewSession is what opening a session takes.
type NewSession struct {
	SessionID string
	UserID    int64
	Phone     string
	State     string
	Now       time.Time
}

// SessionHop is what one hop leaves behind.
type SessionHop struct {
	SessionID    string
	UserID       int64
	State        string
	InputBuffer  []string
	LastInput    string
	LastResponse string
	// End closes the session (the hop answered a final screen).
	End bool
	Now time.Time
}

// SessionEnd is the gateway's end-of-session report.
type SessionEnd struct {
	SessionID  string
	Status     string
	DurationMs int64
	Hops       int
	Now        time.Time
}

// ReconcileReport lists every violation of the ledger's invariants; an empty
// report means the books balance.
type ReconcileReport struct {
	// UnbalancedTransactions are transactions whose entries do not sum to zero.
	UnbalancedTransactions []Imbalance `json:"unbalanced_transactions"`
	// BalanceDrift are accounts whose cached balance is not their entries' sum.
	BalanceDrift []Drift `json:"balance_drift"`
	// NegativeUserAccounts are user accounts below zero.
	NegativeUserAccounts []Drift `json:"negative_user_accounts"`
	// ReservationMismatches are pending transactions that hold nothing on
	// the reserved account, or finished ones that still hold something.
	ReservationMismatches []Reservation `json:"reservation_mismatches"`
	// ShapeViolations are transactions whose entries are not what their
	// type, status, amount, fee and hold call for (see Shapes).
	ShapeViolations []ShapeViolation `json:"shape_violations"`
	// ChainBreaks are user accounts whose hash chain does not verify: an
	// entry was edited, inserted, moved or deleted behind the ledger's back.
	ChainBreaks []ChainBreak `json:"chain_breaks"`
	// DayCounterMismatches are user accounts whose daily counter is not
	// what their entries count.
	DayCounterMismatches []DayCounterMismatch `json:"day_counter_mismatches"`
	// AuditViolations are breaks of the operators' audit chain, and
	// operator states (a freeze, a pending PIN reset, a manual pause) that
	// no audit row accounts for.
	AuditViolations []AuditViolation `json:"audit_violations"`
	// TotalMsat is the sum of every cached balance; it must be zero.
	TotalMsat int64 `json:"total_msat"`
	// Lightning is the comparison with the Lightning node, when one was
	// made (server reconcile --lnd).
	Lightning *LightningReport `json:"lightning,omitempty"`
}

// OK reports whether the report found no violation.
func (r ReconcileReport) OK() bool {
	return len(r.UnbalancedTransactions) == 0 && len(r.BalanceDrift) == 0 &&
		len(r.NegativeUserAccounts) == 0 && len(r.ReservationMismatches) == 0 && r.TotalMsat == 0 &&
		len(r.ShapeViolations) == 0 && len(r.ChainBreaks) == 0 && len(r.DayCounterMismatches) == 0 &&
		len(r.AuditViolations) == 0 && (r.Lightning == nil || len(r.Lightning.Mismatches) == 0)
}

// Imbalance is a transaction whose entries sum to SumMsat instead of zero.
type Imbalance struct {
	TransactionID int64 `json:"transaction_id"`
	SumMsat       int64 `json:"sum_msat"`
}

// Drift is an account whose cached balance differs from its ledger.
type Drift struct {
	AccountID   int64 `json:"account_id"`
	BalanceMsat int64 `json:"balance_msat"`
	LedgerMsat  int64 `json:"ledger_msat"`
}

// Reservation is a transaction's hold on the reserved account.
type Reservation struct {
	TransactionID int64             `json:"transaction_id"`
	Status        TransactionStatus `json:"status"`
	HeldMsat      int64             `json:"held_msat"`
}

// ShapeViolation is a transaction whose entries do not fit any shape its
// type and status allow.
type ShapeViolation struct {
	TransactionID int64             `json:"transaction_id"`
	Type          TransactionType   `json:"type"`
	Status        TransactionStatus `json:"status"`
	Reason        string            `json:"reason"`
}

// ChainBreak is the first place where a user account's hash chain fails.
type ChainBreak struct {
	AccountID int64 `json:"account_id"`
	// EntryID is the entry at fault, 0 when the fault is a missing one or
	// the account's head.
	EntryID int64  `json:"entry_id"`
	Seq     int64  `json:"seq"`
	Reason  string `json:"reason"`
}

// DayCounterMismatch is a user account whose daily counter (CounterMsat
// sent on day CounterDay) is not what its entries count (LedgerMsat on day
// LedgerDay).
type DayCounterMismatch struct {
	AccountID   int64 `json:"account_id"`
	CounterDay  int64 `json:"counter_day"`
	CounterMsat int64 `json:"counter_msat"`
	LedgerDay   int64 `json:"ledger_day"`
	LedgerMsat  int64 `json:"ledger_msat"`
}

// LightningReport compares the Lightning account with the node: what the
// ledger says went out through the node net of what came in (the account's
// balance), what the node's own records say, and every payment hash on
// which the two disagree.
type LightningReport struct {
	LedgerMsat int64               `json:"ledger_msat"`
	NodeMsat   int64               `json:"node_msat"`
	Mismatches []LightningMismatch `json:"mismatches"`
}

// LightningMismatch is one payment hash on which the ledger and the node
// disagree.
type LightningMismatch struct {
	PaymentHash   string `json:"payment_hash"`
	TransactionID int64  `json:"transaction_id,omitempty"`
	// Kind is "invoice" (money in) or "payment" (money out).
	Kind       string `json:"kind"`
	LedgerMsat int64  `json:"ledger_msat"`
	NodeMsat   int64  `json:"node_msat"`
	Reason     string `json:"reason"`
}

// LightningMovement is an invoice or payment transaction as the ledger
// holds it, with what it moved on the Lightning account.
type LightningMovement struct {
	TransactionID int64
	Type          TransactionType
	Status        TransactionStatus
	PaymentHash   string
	AmountMsat    int64
	FeeMsat       int64
	// LightningMsat is the sum of its entries on the Lightning account.
	LightningMsat int64
}

// BalanceReason says which guard refused an entry.
type BalanceReason string

// The reasons PostEntries refuses an entry.
const (
	ReasonInsufficient BalanceReason = "insufficient balance"
	ReasonMaxBalance   BalanceReason = "maximum balance"
	ReasonDailyLimit   BalanceReason = "daily limit"
)

// BalanceError is returned by PostEntries when an entry would take a user
// account below zero, above the maximum balance or past the daily limit.
type BalanceError struct {
	AccountID  int64
	AmountMsat int64
	Reason     BalanceReason
}

func (e *BalanceError) Error() string {
	return fmt.Sprintf("account %d: entry of %d msat refused: %s", e.AccountID, e.AmountMsat, e.Reason)
}

// NotificationKind is what a notification tells its user.
type NotificationKind string

// The notification kinds.
const (
	NotifyReceived         NotificationKind = "received"
	NotifyPaymentSent      NotificationKind = "payment_sent"
	NotifyPaymentFailed    NotificationKind = "payment_failed"
	NotifyWithdrawalPaid   NotificationKind = "withdrawal_paid"
	NotifyWithdrawalFailed NotificationKind = "withdrawal_failed"
	NotifyTopupFailed      NotificationKind = "topup_failed"
	// NotifyTopupUnconfirmed tells a user whose top-up may have been
	// charged but could not be confirmed that nothing was credited, and to
	// bring the M-Pesa message to support.
	NotifyTopupUnconfirmed NotificationKind = "topup_unconfirmed"
	NotifyInvoice          NotificationKind = "invoice"
	// NotifyPINChanged and NotifyLockedOut tell the owner of a number
	// that its PIN changed or that wrong PINs locked the account.
	NotifyPINChanged NotificationKind = "pin_changed"
	NotifyLockedOut  NotificationKind = "locked_out"
	// NotifyPayRequest answers an invoice texted in: dial the service
	// code to approve paying AmountMsat to Counterparty (Body: the most
	// the fee can be, in msat, as decimal text).
	NotifyPayRequest NotificationKind = "pay_request"
	// NotifyPayRefused answers a text that cannot become a payment
	// request; Body is the reason (a PayRefused* code).
	NotifyPayRefused NotificationKind = "pay_refused"
	// NotifyRegisterFirst answers a text from a number with no account.
	NotifyRegisterFirst NotificationKind = "register_first"
	// NotifyPINReset tells the owner of a number at once that an operator
	// reset its PIN; Body is when the reset takes effect, as the user
	// reads it ("2006-01-02 15:04" in the wallet's zone).
	NotifyPINReset NotificationKind = "pin_reset"
)

// The reasons of a NotifyPayRefused, in its Body.
const (
	PayRefusedExpired    = "expired"     // the invoice has expired
	PayRefusedNetwork    = "network"     // for another network (testnet, mainnet...)
	PayRefusedAmountless = "amountless"  // no amount in the invoice
	PayRefusedPaid       = "paid"        // already paid or being paid
	PayRefusedInvalid    = "invalid"     // not an invoice or "pay address amount"
	PayRefusedAmount     = "amount"      // amount out of the allowed range
	PayRefusedAddress    = "address"     // the Lightning Address gave no invoice
	PayRefusedFlood      = "flood"       // too many texts from this number
	PayRefusedBusy       = "unavailable" // Lightning is down: text again later
)

// NotificationStatus is where a notification's delivery stands.
type NotificationStatus string

// The notification statuses.
const (
	NotificationPending NotificationStatus = "pending"
	NotificationSent    NotificationStatus = "sent"
	NotificationFailed  NotificationStatus = "failed"
)

// Notification is a message in the outbox.
type Notification struct {
	ID            int64
	UserID        int64
	Phone         string
	Kind          NotificationKind
	TransactionID int64
	AmountMsat    int64
	Counterparty  string
	Body          string
	Status        NotificationStatus
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
	SentAt        *time.Time
	// ClaimToken is the lease holder's while a sender holds the row.
	ClaimToken string
	// LeasedUntil is the end of the lease of the send in flight, on the
	// database's clock; nil while no send of the claim has started.
	LeasedUntil *time.Time
	// MessageID is the gateway's id of the sent message.
	MessageID string
	LastError string
	// Delivery* are the gateway's last delivery report; DeliveryFinal
	// once it says delivered or failed for good.
	DeliveryStatus  string
	DeliveryFailure string
	DeliveryRetries int
	DeliveryFinal   bool
	DeliveredAt     *time.Time
}

// DeliveryReport is the gateway's word on a sent message.
type DeliveryReport struct {
	MessageID     string
	Status        string
	FailureReason string
	RetryCount    int
	// Final: delivered, or failed for good; a later interim report does
	// not overwrite it.
	Final bool
	Now   time.Time
}

// InboundSMS is a text that reached the service's number.
type InboundSMS struct {
	ID         int64
	GatewayID  string
	Phone      string
	UserID     int64
	Text       string
	Outcome    string
	ReplyKey   string
	ReceivedAt time.Time
}

// NewInboundSMS is what recording a text takes.
type NewInboundSMS struct {
	GatewayID  string
	Phone      string
	UserID     int64
	Text       string
	Outcome    string
	ReceivedAt time.Time
}

// PaymentRequestStatus is where an invoice texted in stands.
type PaymentRequestStatus string

// The payment request statuses.
const (
	PaymentRequestPending    PaymentRequestStatus = "pending"
	PaymentRequestApproved   PaymentRequestStatus = "approved"
	PaymentRequestRejected   PaymentRequestStatus = "rejected"
	PaymentRequestSuperseded PaymentRequestStatus = "superseded"
)

// PaymentRequest is an invoice a user texted in, waiting for approval.
type PaymentRequest struct {
	ID            int64
	UserID        int64
	InboundID     int64
	Invoice       string
	PaymentHash   string
	AmountMsat    int64
	Payee         string
	Status        PaymentRequestStatus
	TransactionID int64
	ExpiresAt     time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// NewPaymentRequest is what storing a payment request takes.
type NewPaymentRequest struct {
	UserID      int64
	InboundID   int64
	Invoice     string
	PaymentHash string
	AmountMsat  int64
	Payee       string
	ExpiresAt   time.Time
	Now         time.Time
}

// NewNotification is what queuing a notification takes.
type NewNotification struct {
	UserID        int64
	Phone         string
	Kind          NotificationKind
	TransactionID int64
	AmountMsat    int64
	Counterparty  string
	// Body is free text for kinds that carry it: the BOLT11 string of an
	// invoice, the payer's comment on a receipt (LUD-12).
	Body string
	Now  time.Time
}

// Clip cuts s to at most n bytes without splitting a UTF-8 character, for
// free text bound for a column of limited width.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Backlog is how much of something waits, and since when: the pending
// transactions of one type, or the texts in the outbox (Type empty).
type Backlog struct {
	Type   TransactionType
	Count  int64
	Oldest time.Time // zero when Count is 0
}

// PoolStats is the use of a store's connection pool.
type PoolStats struct {
	// MaxOpen is the pool's cap; Open the connections open, InUse of them
	// busy, Idle of them waiting for work.
	MaxOpen, Open, InUse, Idle int
	// WaitCount and WaitDuration add up the waits for a free connection
	// since the store was opened.
	WaitCount    int64
	WaitDuration time.Duration
}

// Add is the use of two pools taken as one.
func (p PoolStats) Add(o PoolStats) PoolStats {
	return PoolStats{
		MaxOpen: p.MaxOpen + o.MaxOpen, Open: p.Open + o.Open, InUse: p.InUse + o.InUse, Idle: p.Idle + o.Idle,
		WaitCount: p.WaitCount + o.WaitCount, WaitDuration: p.WaitDuration + o.WaitDuration,
	}
}
