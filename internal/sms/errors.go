package sms

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error is a message the gateway did not take. Permanent says whether any
// later attempt could succeed: a bad or blacklisted number will never
// receive, while an outage, a rate limit or a low balance pass. Every
// error AT.Send and Log.Send return is an *Error.
type Error struct {
	// Permanent: do not try this message again.
	Permanent bool
	// Operator: an operator must act (credentials, sender id, an answer
	// the adapter does not know) before a retry can succeed. Such errors
	// are retryable, never permanent: the message itself is fine.
	Operator bool
	// StatusCode and Status are Africa's Talking's per-recipient code and
	// text (403 "InvalidPhoneNumber"), when the answer had them.
	StatusCode int
	Status     string
	// HTTPStatus is the gateway's HTTP answer, 0 when none came.
	HTTPStatus int
	// Reason says what happened in words; it never holds a secret or a
	// whole phone number.
	Reason string
	// Err is the transport failure underneath, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("sms: ")
	if e.Permanent {
		b.WriteString("permanent: ")
	} else {
		b.WriteString("retryable: ")
	}
	b.WriteString(e.Reason)
	if e.StatusCode != 0 || e.Status != "" {
		fmt.Fprintf(&b, " (status %d %s)", e.StatusCode, e.Status)
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports an error after which the message must not be sent
// again. Only a *Error can be permanent: anything else (a cancelled
// context, a bug) leaves the message to be tried again.
func Permanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// NeedsOperator reports an error that no retry will cure until an
// operator acts (wrong apiKey or username, a sender id not approved, an
// answer the adapter does not know): worth an alert, not only a retry.
func NeedsOperator(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Operator
}

// Africa's Talking per-recipient status codes.
const (
	StatusProcessed             = 100
	StatusSent                  = 101
	StatusQueued                = 102
	StatusRiskHold              = 401
	StatusInvalidSenderID       = 402
	StatusInvalidPhoneNumber    = 403
	StatusUnsupportedNumberType = 404
	StatusInsufficientBalance   = 405
	StatusUserInBlacklist       = 406
	StatusCouldNotRoute         = 407
	StatusDoNotDisturbRejection = 409
	StatusInternalServerError   = 500
	StatusGatewayError          = 501
	StatusRejectedByGateway     = 502
)

// class is what a status code means for the message.
type class int

const (
	classSent class = iota
	classPermanent
	classRetryable
	classOperator // retryable, and an operator must look
)

// statusInfo is each known code's name (as Africa's Talking spells its
// status text) and class.
var statusInfo = map[int]struct {
	name  string
	class class
}{
	StatusProcessed:             {"Processed", classSent},
	StatusSent:                  {"Success", classSent},
	StatusQueued:                {"Queued", classSent},
	StatusRiskHold:              {"RiskHold", classRetryable},
	StatusInvalidSenderID:       {"InvalidSenderId", classOperator},
	StatusInvalidPhoneNumber:    {"InvalidPhoneNumber", classPermanent},
	StatusUnsupportedNumberType: {"UnsupportedNumberType", classPermanent},
	StatusInsufficientBalance:   {"InsufficientBalance", classRetryable},
	StatusUserInBlacklist:       {"UserInBlacklist", classPermanent},
	StatusCouldNotRoute:         {"CouldNotRoute", classRetryable},
	StatusDoNotDisturbRejection: {"DoNotDisturbRejection", classPermanent},
	StatusInternalServerError:   {"InternalServerError", classRetryable},
	StatusGatewayError:          {"GatewayError", classRetryable},
	StatusRejectedByGateway:     {"RejectedByGateway", classRetryable},
}

// classify is a status code's class; an unknown code is the operator's.
func classify(code int) class {
	if i, ok := statusInfo[code]; ok {
		return i.class
	}
	return classOperator
}

// codeByName finds a code from its status text, for an answer that gave
// the text without the number.
func codeByName(name string) (int, bool) {
	for code, i := range statusInfo {
		if strings.EqualFold(i.name, name) {
			return code, true
		}
	}
	return 0, false
}

// StatusName is Africa's Talking's status text of a code, "" if unknown.
func StatusName(code int) string { return statusInfo[code].name }

// clip bounds a string taken from an answer before it goes into an error
// or a log.
func clip(s string) string {
	const max = 200
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	return clipBytes(s, max) + "..."
}

// clipBytes is the longest prefix of s of at most n bytes that does not
// split a UTF-8 character.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
