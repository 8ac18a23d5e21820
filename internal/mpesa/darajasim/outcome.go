package darajasim

import "time"

// Result codes M-Pesa reports, as the simulator uses them.
const (
	ResultPaid               = 0
	ResultInsufficientFunds  = 1
	ResultRuleLimited        = 17   // same amount to the same number within 2 minutes
	ResultExpired            = 1019 // the prompt expired
	ResultCancelled          = 1032 // the user cancelled the prompt
	ResultUnreachable        = 1037 // no answer from the phone
	ResultInitiatorInvalid   = 2001 // wrong PIN (STK); wrong initiator credential (B2C)
	ResultUnsupportedReceive = 2040 // B2C: the receiver cannot be paid this way
	ResultNotFound           = 2032 // Transaction Status: no such transaction (simulator's choice)
)

var resultDesc = map[int]string{
	ResultPaid:               "The service request is processed successfully.",
	ResultInsufficientFunds:  "The balance is insufficient for the transaction.",
	ResultRuleLimited:        "Rule limited.",
	ResultExpired:            "Transaction has expired",
	ResultCancelled:          "Request cancelled by user",
	ResultUnreachable:        "DS timeout user cannot be reached",
	ResultInitiatorInvalid:   "The initiator information is invalid.",
	ResultUnsupportedReceive: "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service.",
	ResultNotFound:           "The transaction does not exist.",
}

func describe(code int) string {
	if d, ok := resultDesc[code]; ok {
		return d
	}
	return "The service request failed."
}

// Delivery is how the result of a request reaches the caller.
type Delivery int

const (
	// DeliverOnce decides at once and posts one callback.
	DeliverOnce Delivery = iota
	// DeliverTwice decides at once and posts the same callback twice.
	DeliverTwice
	// DeliverLate decides and posts after Config.LateDelay (or Flush);
	// until then the request is pending.
	DeliverLate
	// DeliverNone decides at once and posts nothing: only a query tells.
	DeliverNone
	// DeliverManual (STK only) holds the prompt until Approve, Cancel,
	// WrongPIN or Ignore is called, as a person at a phone would.
	DeliverManual
	// DeliverQueueTimeout (B2C only) posts a time-out to QueueTimeOutURL
	// at once, then decides the payment (by ResultCode) after LateDelay,
	// with no result callback: only Transaction Status tells.
	DeliverQueueTimeout
)

// STKOutcome is what happens to one STK push: its ResultCode (0 paid) and
// how the callback is delivered. The zero value pays with one callback.
type STKOutcome struct {
	ResultCode int
	Delivery   Delivery
	Answer     Answer
}

// B2COutcome is what happens to one B2C payment: its ResultCode (0 paid)
// and how the result is delivered. The zero value pays with one callback.
type B2COutcome struct {
	ResultCode int
	Delivery   Delivery
	Answer     Answer
}

// Answer is how Daraja answers the request itself. The zero value accepts
// it at once.
type Answer struct {
	// After holds the answer this long: a slow Daraja. The request is
	// taken on (or refused) when it arrives; only its answer waits, and a
	// callback is not held behind it (Daraja's may overtake its answer).
	After time.Duration
	// Refuse refuses the request in Daraja's error shape (HTTP 400,
	// 400.002.02) instead of accepting it: nothing is taken on, no
	// callback comes, and a B2C's OriginatorConversationID stays unused.
	Refuse bool
}

// choice is the default, per-phone and queued outcomes of one kind.
type choice[T any] struct {
	def   T
	phone map[string]T
	queue []T
}

// next takes the outcome of a request to phone. Called with s.mu held.
func (c *choice[T]) next(phone string) T {
	if len(c.queue) > 0 {
		o := c.queue[0]
		c.queue = c.queue[1:]
		return o
	}
	if o, ok := c.phone[phone]; ok {
		return o
	}
	return c.def
}

// SetSTKDefault sets the outcome of STK pushes with no other choice.
func (s *Sim) SetSTKDefault(o STKOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stkOut.def = o
}

// SetSTKForPhone sets the outcome of pushes to one phone (2547… form).
func (s *Sim) SetSTKForPhone(phone string, o STKOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stkOut.phone[phone] = o
}

// QueueSTK appends outcomes for the next pushes, whatever their phone.
func (s *Sim) QueueSTK(o ...STKOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stkOut.queue = append(s.stkOut.queue, o...)
}

// SetB2CDefault sets the outcome of B2C payments with no other choice.
func (s *Sim) SetB2CDefault(o B2COutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b2cOut.def = o
}

// SetB2CForPhone sets the outcome of payments to one phone (2547… form).
func (s *Sim) SetB2CForPhone(phone string, o B2COutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b2cOut.phone[phone] = o
}

// QueueB2C appends outcomes for the next payments, whatever their phone.
func (s *Sim) QueueB2C(o ...B2COutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b2cOut.queue = append(s.b2cOut.queue, o...)
}
