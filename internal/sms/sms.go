// Package sms is Umeme's port for sending text messages (invoices and
// receipts that do not fit a USSD screen, PIN and security notices) and
// its adapters: AT for Africa's Talking's bulk SMS API, and Log for
// development. The worker that drains the notification outbox sees only
// Sender, Result and *Error: a permanent error drops the message, a
// retryable one is tried again after Backoff, up to DefaultMaxAttempts.
//
// Secrets never appear in an error or a log line (the apiKey is a header
// and is never echoed), and phone numbers are masked to their last three
// digits.
package sms

import (
	"context"
	"fmt"
	"strings"

	"github.com/umeme-wallet/umeme/internal/redact"
)

// Sender sends one text to one number (E.164 with +).
type Sender interface {
	Send(ctx context.Context, m Message) (Result, error)
}

// Message is one text to one number. To is E.164 with its + (e.g.
// +254711222333); Text is what the recipient reads.
type Message struct {
	To, Text string
}

// Result is what the gateway did with a message it took. When Send returns
// a nil error, Sent is true: the gateway accepted the message for delivery
// (it may still fail on the network later; a delivery report tells).
// Otherwise the error is a *Error and Result is the zero value.
type Result struct {
	Sent bool
	// MessageID is the gateway's id of the message, which its delivery
	// reports carry. It may be empty if the gateway accepted the message
	// without naming it.
	MessageID string
	// Cost is the gateway's price text as it sent it ("KES 0.8000"). It is
	// for display and reconciliation only, never parsed into an amount.
	Cost string
	// StatusCode and Status are the gateway's per-recipient code and text
	// (101 "Success").
	StatusCode int
	Status     string
}

// maxTextBytes bounds one message's text. Africa's Talking concatenates
// long texts; this is only a guard against sending a mistake (a whole
// document) at per-segment cost.
const maxTextBytes = 1600

// validate refuses a message no gateway could deliver: those are
// permanent, whatever is tried later.
func validate(m Message) error {
	if !IsE164(m.To) {
		return &Error{Permanent: true, Reason: fmt.Sprintf("recipient %s is not an E.164 number with +", redact.Phone(m.To))}
	}
	if strings.TrimSpace(m.Text) == "" {
		return &Error{Permanent: true, Reason: "empty text"}
	}
	if len(m.Text) > maxTextBytes {
		return &Error{Permanent: true, Reason: fmt.Sprintf("text of %d bytes, more than %d", len(m.Text), maxTextBytes)}
	}
	return nil
}

// IsE164 reports a + followed by 8 to 15 digits, the first not 0: a
// number a gateway can text (the simulators check theirs with it too).
func IsE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	return strings.Trim(s[1:], "0123456789") == ""
}
