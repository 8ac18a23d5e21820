package mpesa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Daraja error codes the client acts on.
const (
	// codeInvalidToken is Daraja's "Invalid Access Token".
	codeInvalidToken = "404.001.03"
	// codeBusy is shared by "Unable to lock subscriber" (an STK push to a
	// phone with a prompt open) and "The transaction is being processed"
	// (an STK query of a pending push).
	codeBusy = "500.001.1001"
)

// ErrOutcomeUnknown marks a B2C call whose fate is not known: the request
// may have reached Daraja (the connection dropped or timed out after
// sending, a 5xx answer, an unreadable answer, or a duplicate
// OriginatorConversationID). Money may have been paid: never refund on it;
// ask TransactionStatus, or wait for the result callback.
var ErrOutcomeUnknown = errors.New("mpesa: outcome unknown")

// ErrNotConfigured refuses a call whose part of Config (STK or B2C) is
// missing.
var ErrNotConfigured = errors.New("mpesa: not configured")

// ErrInvalidRequest refuses a request the client will not send (an amount
// out of range, a bad phone number, a field too long).
var ErrInvalidRequest = errors.New("mpesa: invalid request")

// APIError is an answer of Daraja that refuses a call: an HTTP error with
// Daraja's error body, or a 200 whose ResponseCode is not "0" (then
// ErrorCode is that ResponseCode). It never carries the request.
type APIError struct {
	HTTPStatus   int
	RequestID    string
	ErrorCode    string
	ErrorMessage string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mpesa: daraja HTTP %d", e.HTTPStatus)
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, " %s", e.ErrorCode)
	}
	if e.ErrorMessage != "" {
		fmt.Fprintf(&b, ": %s", e.ErrorMessage)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request %s)", e.RequestID)
	}
	return b.String()
}

// apiError reads Daraja's error body; anything else (a proxy's HTML page)
// becomes the HTTP status text, never the body itself.
func apiError(status int, body []byte) *APIError {
	var r struct {
		RequestID           string `json:"requestId"`
		ErrorCode           string `json:"errorCode"`
		ErrorMessage        string `json:"errorMessage"`
		ResponseCode        string `json:"ResponseCode"`
		ResponseDescription string `json:"ResponseDescription"`
	}
	e := &APIError{HTTPStatus: status}
	if json.Unmarshal(body, &r) == nil {
		e.RequestID = clip(r.RequestID)
		e.ErrorCode = clip(r.ErrorCode)
		e.ErrorMessage = clip(r.ErrorMessage)
		if e.ErrorCode == "" && r.ResponseCode != "" {
			e.ErrorCode, e.ErrorMessage = clip(r.ResponseCode), clip(r.ResponseDescription)
		}
	}
	if e.ErrorMessage == "" {
		e.ErrorMessage = http.StatusText(status)
	}
	return e
}

// clip bounds a string taken from an answer before it goes into an error.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// transportError is a call that got no HTTP answer, or an unreadable one.
// sent is false only when the connection was never made, so the request
// cannot have reached Daraja.
type transportError struct {
	err  error
	sent bool
}

func (e *transportError) Error() string { return "mpesa: transport: " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Retryable reports whether the same call may simply be made again later:
// transport errors (unless the caller cancelled), 429, and 5xx answers
// other than the definite refusals (code 500.001.1001: subscriber locked,
// or still being processed). 4xx answers and refused ResponseCodes are
// definite. An ErrOutcomeUnknown error is not retryable: its B2C may have
// been paid, so ask TransactionStatus first.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, context.Canceled) {
		return false
	}
	var te *transportError
	if errors.As(err, &te) {
		return true
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch {
		case ae.HTTPStatus == http.StatusTooManyRequests:
			return true
		case ae.HTTPStatus >= 500:
			return ae.ErrorCode != codeBusy
		}
	}
	return false
}

// IsSubscriberLocked reports Daraja's "Unable to lock subscriber": an STK
// prompt is already open on that phone. Nothing was sent; the user may
// try again in a minute or two.
func IsSubscriberLocked(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.ErrorCode == codeBusy &&
		strings.Contains(strings.ToLower(ae.ErrorMessage), "lock")
}

// IsBeingProcessed reports Daraja's answer to an STK query of a push still
// pending ("The transaction is being processed"): ask again later.
func IsBeingProcessed(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.ErrorCode == codeBusy &&
		!strings.Contains(strings.ToLower(ae.ErrorMessage), "lock")
}

// IsDuplicate reports a refusal of a repeated OriginatorConversationID: a
// request with that id was made before, and its outcome is the one that
// counts.
func IsDuplicate(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.HTTPStatus == http.StatusConflict ||
		strings.Contains(strings.ToLower(ae.ErrorMessage), "duplicate"))
}
