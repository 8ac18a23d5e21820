package store

import "time"

// MpesaKind says which way an M-Pesa request moves money.
type MpesaKind string

// The M-Pesa request kinds: a top-up is an STK push the user approves on
// the phone (KES in, bitcoin credited); a withdrawal is a B2C payment to
// the user's own number (bitcoin held, KES out).
const (
	MpesaTopup    MpesaKind = "topup"
	MpesaWithdraw MpesaKind = "withdraw"
)

// MpesaRequest is one request to Daraja beside its transaction (the row of
// mpesa_requests): what was asked, the ids that tie callbacks to it, and
// when the reconciler asks about it next.
type MpesaRequest struct {
	TransactionID int64
	Kind          MpesaKind
	// Phone is the M-Pesa number, in Daraja's form (2547XXXXXXXX).
	Phone string
	// AmountKES is whole shillings; RateMilliKESPerBTC and SpreadBps are the
	// quote the user accepted.
	AmountKES          int64
	RateMilliKESPerBTC int64
	SpreadBps          int
	// CheckoutRequestID is Daraja's id of an STK push;
	// OriginatorConversationID our own id of a B2C payment, ConversationID
	// Daraja's; each is unique across requests, as the receipt is.
	CheckoutRequestID        string
	OriginatorConversationID string
	ConversationID           string
	Receipt                  string
	ResultCode               string
	ResultDesc               string
	// Checks counts the reconciler's questions; NextCheckAt is when it asks
	// next, nil once the request is finished.
	Checks      int
	NextCheckAt *time.Time
	// SentAt is when the request was marked as about to leave for Daraja;
	// nil: it certainly never left.
	SentAt *time.Time
	// SentBy is the token of the call that marked it sent ("" when not
	// marked, or marked before tokens): only that call sends it.
	SentBy    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewMpesaRequest is what InsertMpesaRequest takes.
type NewMpesaRequest struct {
	TransactionID            int64
	Kind                     MpesaKind
	Phone                    string
	AmountKES                int64
	RateMilliKESPerBTC       int64
	SpreadBps                int
	OriginatorConversationID string
	// NextCheckAt is when the reconciler first asks Daraja if no callback
	// came by then.
	NextCheckAt time.Time
	Now         time.Time
}

// MpesaResult is a request's final answer from Daraja.
type MpesaResult struct {
	TransactionID int64
	// Receipt is M-Pesa's receipt number, "" when nothing was paid.
	Receipt    string
	ResultCode string
	ResultDesc string
	Now        time.Time
}
