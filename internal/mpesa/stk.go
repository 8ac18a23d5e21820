package mpesa

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/umeme-wallet/umeme/internal/redact"
)

// STK push bounds (Daraja's documented limits).
const (
	MinSTKAmountKES           = 1
	MaxSTKAmountKES           = 250_000
	MaxAccountReferenceLength = 12
	MaxDescriptionLength      = 13
)

// STKPush asks a phone to pay: M-Pesa shows the user a PIN prompt.
type STKPush struct {
	// Phone is the payer, in any form NormalisePhone accepts.
	Phone            string
	AmountKES        int64
	AccountReference string // at most 12 characters, shown to the user
	Description      string // at most 13 characters
	CallbackURL      string
}

// STKPushReply is Daraja's acceptance of a push: nothing is paid yet. The
// result comes later to the callback URL, matched by CheckoutRequestID.
type STKPushReply struct {
	MerchantRequestID   string
	CheckoutRequestID   string
	ResponseCode        string
	ResponseDescription string
	CustomerMessage     string
}

// STKPush sends a push. The amount, phone and lengths are checked before
// anything is sent. A ResponseCode other than "0" is an *APIError; a phone
// with a prompt already open is IsSubscriberLocked.
func (c *Client) STKPush(ctx context.Context, p STKPush) (STKPushReply, error) {
	if c.cfg.ShortCode == "" || c.cfg.PassKey == "" {
		return STKPushReply{}, fmt.Errorf("stk push: %w: shortcode and passkey", ErrNotConfigured)
	}
	phone, err := NormalisePhone(p.Phone)
	if err != nil {
		return STKPushReply{}, fmt.Errorf("stk push: %w", err)
	}
	if p.AmountKES < MinSTKAmountKES || p.AmountKES > MaxSTKAmountKES {
		return STKPushReply{}, fmt.Errorf("stk push: %w: amount %d KES outside %d..%d", ErrInvalidRequest, p.AmountKES, MinSTKAmountKES, MaxSTKAmountKES)
	}
	if n := utf8.RuneCountInString(p.AccountReference); n == 0 || n > MaxAccountReferenceLength {
		return STKPushReply{}, fmt.Errorf("stk push: %w: account reference of %d characters (1..%d)", ErrInvalidRequest, n, MaxAccountReferenceLength)
	}
	if n := utf8.RuneCountInString(p.Description); n == 0 || n > MaxDescriptionLength {
		return STKPushReply{}, fmt.Errorf("stk push: %w: description of %d characters (1..%d)", ErrInvalidRequest, n, MaxDescriptionLength)
	}
	if p.CallbackURL == "" {
		return STKPushReply{}, fmt.Errorf("stk push: %w: no callback URL", ErrInvalidRequest)
	}
	ts := Timestamp(c.now())
	req := map[string]any{
		"BusinessShortCode": c.cfg.ShortCode,
		"Password":          STKPassword(c.cfg.ShortCode, c.cfg.PassKey, ts),
		"Timestamp":         ts,
		"TransactionType":   c.cfg.TransactionType,
		"Amount":            p.AmountKES,
		"PartyA":            phone,
		"PartyB":            c.cfg.ShortCode,
		"PhoneNumber":       phone,
		"CallBackURL":       p.CallbackURL,
		"AccountReference":  p.AccountReference,
		"TransactionDesc":   p.Description,
	}
	var a struct {
		MerchantRequestID, CheckoutRequestID, ResponseCode, ResponseDescription, CustomerMessage flexText
	}
	err = c.post(ctx, "/mpesa/stkpush/v1/processrequest", req, &a)
	r := STKPushReply{
		MerchantRequestID: string(a.MerchantRequestID), CheckoutRequestID: string(a.CheckoutRequestID),
		ResponseCode: string(a.ResponseCode), ResponseDescription: string(a.ResponseDescription),
		CustomerMessage: string(a.CustomerMessage),
	}
	if err != nil {
		return STKPushReply{}, fmt.Errorf("stk push to %s: %w", redact.Phone(phone), err)
	}
	if r.ResponseCode != "0" {
		return STKPushReply{}, fmt.Errorf("stk push to %s: %w", redact.Phone(phone),
			&APIError{HTTPStatus: 200, ErrorCode: clip(r.ResponseCode), ErrorMessage: clip(r.ResponseDescription)})
	}
	if r.CheckoutRequestID == "" {
		return STKPushReply{}, fmt.Errorf("stk push to %s: accepted without a CheckoutRequestID", redact.Phone(phone))
	}
	return r, nil
}

// STKQueryReply is Daraja's answer on a push that has been decided:
// ResultCode 0 paid, anything else not paid (1 insufficient funds, 1032
// cancelled, 1037 unreachable, 1019 expired, 2001 wrong PIN, …).
type STKQueryReply struct {
	ResponseCode        string
	ResponseDescription string
	MerchantRequestID   string
	CheckoutRequestID   string
	ResultCode          int
	ResultDesc          string
}

// STKQuery asks how a push ended. A push still pending answers an error
// for which IsBeingProcessed is true.
func (c *Client) STKQuery(ctx context.Context, checkoutRequestID string) (STKQueryReply, error) {
	if c.cfg.ShortCode == "" || c.cfg.PassKey == "" {
		return STKQueryReply{}, fmt.Errorf("stk query: %w: shortcode and passkey", ErrNotConfigured)
	}
	if checkoutRequestID == "" {
		return STKQueryReply{}, fmt.Errorf("stk query: %w: no CheckoutRequestID", ErrInvalidRequest)
	}
	ts := Timestamp(c.now())
	req := map[string]any{
		"BusinessShortCode": c.cfg.ShortCode,
		"Password":          STKPassword(c.cfg.ShortCode, c.cfg.PassKey, ts),
		"Timestamp":         ts,
		"CheckoutRequestID": checkoutRequestID,
	}
	var r struct {
		ResponseCode        flexText
		ResponseDescription string
		MerchantRequestID   string
		CheckoutRequestID   string
		ResultCode          *flexInt
		ResultDesc          string
	}
	if err := c.post(ctx, "/mpesa/stkpushquery/v1/query", req, &r); err != nil {
		return STKQueryReply{}, fmt.Errorf("stk query %s: %w", checkoutRequestID, err)
	}
	if r.ResponseCode != "0" {
		return STKQueryReply{}, fmt.Errorf("stk query %s: %w", checkoutRequestID,
			&APIError{HTTPStatus: 200, ErrorCode: clip(string(r.ResponseCode)), ErrorMessage: clip(r.ResponseDescription)})
	}
	if r.ResultCode == nil {
		return STKQueryReply{}, fmt.Errorf("stk query %s: answer without ResultCode", checkoutRequestID)
	}
	return STKQueryReply{
		ResponseCode:        string(r.ResponseCode),
		ResponseDescription: r.ResponseDescription,
		MerchantRequestID:   r.MerchantRequestID,
		CheckoutRequestID:   r.CheckoutRequestID,
		ResultCode:          int(r.ResultCode.n),
		ResultDesc:          r.ResultDesc,
	}, nil
}
