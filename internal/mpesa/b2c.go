package mpesa

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/umeme-wallet/umeme/internal/redact"
)

// B2C bounds (Daraja's documented limits).
const (
	MinB2CAmountKES  = 10
	MaxB2CAmountKES  = 250_000
	MaxRemarksLength = 100
)

// ack decodes an acknowledgement leniently (a code may come as a number).
type ack struct {
	ConversationID, OriginatorConversationID, ResponseCode, ResponseDescription flexText
}

func (a ack) reply() B2CReply {
	return B2CReply{
		ConversationID: string(a.ConversationID), OriginatorConversationID: string(a.OriginatorConversationID),
		ResponseCode: string(a.ResponseCode), ResponseDescription: string(a.ResponseDescription),
	}
}

// B2C pays a phone from the B2C shortcode.
type B2C struct {
	// OriginatorConversationID is our unique id of the payment (the
	// withdrawal's id): Daraja refuses a repeat, which makes it the
	// idempotency key.
	OriginatorConversationID string
	Phone                    string
	AmountKES                int64
	Remarks                  string // 1..100 characters
	Occasion                 string // optional, up to 100 characters
	ResultURL                string
	QueueTimeOutURL          string
}

// B2CReply is Daraja's acknowledgement of an asynchronous request (B2C or
// Transaction Status): accepted, nothing decided yet. The result comes to
// the ResultURL.
type B2CReply struct {
	ConversationID           string
	OriginatorConversationID string
	ResponseCode             string
	ResponseDescription      string
}

// B2C sends a payment. Its errors are of two kinds, and the difference is
// money: a definite refusal (an *APIError with a 4xx status, or a
// ResponseCode other than "0"; also anything refused before sending) means
// nothing will be paid; an error wrapping ErrOutcomeUnknown means the
// payment may still happen, and the caller must not refund on it.
func (c *Client) B2C(ctx context.Context, p B2C) (B2CReply, error) {
	if c.cfg.B2CShortCode == "" || c.cfg.InitiatorName == "" || c.credential == "" {
		return B2CReply{}, fmt.Errorf("b2c: %w: shortcode, initiator and certificate", ErrNotConfigured)
	}
	phone, err := NormalisePhone(p.Phone)
	if err != nil {
		return B2CReply{}, fmt.Errorf("b2c: %w", err)
	}
	switch {
	case p.OriginatorConversationID == "":
		return B2CReply{}, fmt.Errorf("b2c: %w: no OriginatorConversationID", ErrInvalidRequest)
	case p.AmountKES < MinB2CAmountKES || p.AmountKES > MaxB2CAmountKES:
		return B2CReply{}, fmt.Errorf("b2c: %w: amount %d KES outside %d..%d", ErrInvalidRequest, p.AmountKES, MinB2CAmountKES, MaxB2CAmountKES)
	case p.ResultURL == "" || p.QueueTimeOutURL == "":
		return B2CReply{}, fmt.Errorf("b2c: %w: ResultURL and QueueTimeOutURL are required", ErrInvalidRequest)
	}
	if err := checkRemarks(p.Remarks, p.Occasion); err != nil {
		return B2CReply{}, fmt.Errorf("b2c: %w", err)
	}
	req := map[string]any{
		"OriginatorConversationID": p.OriginatorConversationID,
		"InitiatorName":            c.cfg.InitiatorName,
		"SecurityCredential":       c.credential,
		"CommandID":                "BusinessPayment",
		"Amount":                   p.AmountKES,
		"PartyA":                   c.cfg.B2CShortCode,
		"PartyB":                   phone,
		"Remarks":                  p.Remarks,
		"QueueTimeOutURL":          p.QueueTimeOutURL,
		"ResultURL":                p.ResultURL,
		// Sic: Daraja's documented spelling.
		"Occassion": p.Occasion,
	}
	var a ack
	err = c.post(ctx, "/mpesa/b2c/v3/paymentrequest", req, &a)
	r := a.reply()
	if err == nil && r.ResponseCode != "0" {
		err = &APIError{HTTPStatus: 200, ErrorCode: clip(r.ResponseCode), ErrorMessage: clip(r.ResponseDescription)}
	}
	if err != nil {
		if outcomeUnknown(err) {
			return B2CReply{}, fmt.Errorf("b2c %s to %s: %w: %w", p.OriginatorConversationID, redact.Phone(phone), ErrOutcomeUnknown, err)
		}
		return B2CReply{}, fmt.Errorf("b2c %s to %s: %w", p.OriginatorConversationID, redact.Phone(phone), err)
	}
	return r, nil
}

// outcomeUnknown tells whether a failed B2C may still have reached Daraja:
// a transport error once the connection was made (even a timeout or the
// caller's cancellation: the bytes may be out), any 5xx (a gateway may have
// passed the request on before failing), and a duplicate id (the first
// request's outcome is what counts).
func outcomeUnknown(err error) bool {
	var oe *oauthError
	if errors.As(err, &oe) {
		return false
	}
	var te *transportError
	if errors.As(err, &te) {
		return te.sent
	}
	if IsDuplicate(err) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.HTTPStatus >= 500
}

func checkRemarks(remarks, occasion string) error {
	if n := utf8.RuneCountInString(remarks); n == 0 || n > MaxRemarksLength {
		return fmt.Errorf("%w: remarks of %d characters (1..%d)", ErrInvalidRequest, n, MaxRemarksLength)
	}
	if n := utf8.RuneCountInString(occasion); n > MaxRemarksLength {
		return fmt.Errorf("%w: occasion of %d characters (max %d)", ErrInvalidRequest, n, MaxRemarksLength)
	}
	return nil
}

// TransactionStatus asks about an earlier B2C, by its
// OriginatorConversationID or its M-Pesa TransactionID (receipt). Daraja
// only acknowledges here; the answer comes later to ResultURL in the
// {"Result":{…}} shape that ParseResult reads (ResultParameters with
// ReceiptNo, Amount, TransactionStatus and others). The query is for the
// B2C shortcode (PartyA, IdentifierType 4).
type TransactionStatus struct {
	OriginatorConversationID string
	TransactionID            string // optional
	ResultURL                string
	QueueTimeOutURL          string
	Remarks                  string
	Occasion                 string
}

// TransactionStatus sends a Transaction Status query. The query is
// read-only at M-Pesa, so every failure of it may simply be retried.
func (c *Client) TransactionStatus(ctx context.Context, q TransactionStatus) (B2CReply, error) {
	if c.cfg.B2CShortCode == "" || c.cfg.InitiatorName == "" || c.credential == "" {
		return B2CReply{}, fmt.Errorf("transaction status: %w: shortcode, initiator and certificate", ErrNotConfigured)
	}
	if q.OriginatorConversationID == "" && q.TransactionID == "" {
		return B2CReply{}, fmt.Errorf("transaction status: %w: OriginatorConversationID or TransactionID is required", ErrInvalidRequest)
	}
	if q.ResultURL == "" || q.QueueTimeOutURL == "" {
		return B2CReply{}, fmt.Errorf("transaction status: %w: ResultURL and QueueTimeOutURL are required", ErrInvalidRequest)
	}
	if err := checkRemarks(q.Remarks, q.Occasion); err != nil {
		return B2CReply{}, fmt.Errorf("transaction status: %w", err)
	}
	req := map[string]any{
		"Initiator":          c.cfg.InitiatorName,
		"SecurityCredential": c.credential,
		"CommandID":          "TransactionStatusQuery",
		"TransactionID":      q.TransactionID,
		// The B2C's own id: Daraja names this field OriginalConversationID
		// (OriginatorConversationID would be this query's own id).
		"OriginalConversationID": q.OriginatorConversationID,
		"PartyA":                 c.cfg.B2CShortCode,
		"IdentifierType":         "4",
		"ResultURL":              q.ResultURL,
		"QueueTimeOutURL":        q.QueueTimeOutURL,
		"Remarks":                q.Remarks,
		"Occasion":               q.Occasion,
	}
	var a ack
	err := c.post(ctx, "/mpesa/transactionstatus/v1/query", req, &a)
	r := a.reply()
	if err == nil && r.ResponseCode != "0" {
		err = &APIError{HTTPStatus: 200, ErrorCode: clip(r.ResponseCode), ErrorMessage: clip(r.ResponseDescription)}
	}
	if err != nil {
		return B2CReply{}, fmt.Errorf("transaction status %s: %w", q.OriginatorConversationID+q.TransactionID, err)
	}
	return r, nil
}
