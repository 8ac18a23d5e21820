package atsim

import "time"

// Africa's Talking per-recipient status codes (see internal/sms for what
// each means to a sender).
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

var statusNames = map[int]string{
	StatusProcessed:             "Processed",
	StatusSent:                  "Success",
	StatusQueued:                "Queued",
	StatusRiskHold:              "RiskHold",
	StatusInvalidSenderID:       "InvalidSenderId",
	StatusInvalidPhoneNumber:    "InvalidPhoneNumber",
	StatusUnsupportedNumberType: "UnsupportedNumberType",
	StatusInsufficientBalance:   "InsufficientBalance",
	StatusUserInBlacklist:       "UserInBlacklist",
	StatusCouldNotRoute:         "CouldNotRoute",
	StatusDoNotDisturbRejection: "DoNotDisturbRejection",
	StatusInternalServerError:   "InternalServerError",
	StatusGatewayError:          "GatewayError",
	StatusRejectedByGateway:     "RejectedByGateway",
}

// StatusName is the status text of a code ("Success" for 101), or
// "Unknown" for a code the API does not use, which a script may still
// send to see how a client copes.
func StatusName(code int) string {
	if n, ok := statusNames[code]; ok {
		return n
	}
	return "Unknown"
}

// Outcome is what the gateway does with one request. The zero value is
// the normal case: every valid number accepted (101 Success), an invalid
// one refused (403).
type Outcome struct {
	// StatusCode, when not 0, is every recipient's status. 100-102 accept
	// the message; any other code refuses it (messageId "None").
	StatusCode int `json:"statusCode,omitempty"`
	// HTTPStatus, when not 0, is the answer's status: a non-2xx one is
	// answered as a plain-text error with nothing accepted; a 2xx one
	// replaces the usual 201.
	HTTPStatus int `json:"httpStatus,omitempty"`
	// Delay holds the answer back (JSON: nanoseconds). A client that
	// gives up meanwhile leaves nothing accepted.
	Delay time.Duration `json:"delay,omitempty"`
	// Drop closes the connection without an answer and without accepting
	// anything.
	Drop bool `json:"drop,omitempty"`
	// DropAfterAccept accepts the message (it counts, and is delivered),
	// then closes the connection unanswered: sent, but the answer lost.
	DropAfterAccept bool `json:"dropAfterAccept,omitempty"`
	// StringStatusCode writes statusCode as a JSON string ("101").
	StringStatusCode bool `json:"stringStatusCode,omitempty"`
	// NoRecipients answers an empty Recipients list with the Message
	// "InvalidSenderId", as the API does for a sender id it refuses;
	// nothing is accepted.
	NoRecipients bool `json:"noRecipients,omitempty"`
	// RawBody, when set, is answered as it is (text/plain) with
	// HTTPStatus or 201, and nothing is accepted: a broken gateway or
	// proxy.
	RawBody string `json:"rawBody,omitempty"`
}

// next takes the outcome of a request: the queue's first, or the default.
func (s *Sim) next() Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return Outcome{}
	}
	o := s.queue[0]
	s.queue = s.queue[1:]
	return o
}

// Queue appends outcomes for the next requests, one per request, in
// order; once the queue is empty, requests get the zero Outcome.
func (s *Sim) Queue(o ...Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, o...)
}
