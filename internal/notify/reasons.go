package notify

import (
	"strings"

	"github.com/umeme-wallet/umeme/internal/store"
)

// paymentReasons maps the reasons a failed payment's notification carries
// to what the text says. They are the node's failure reasons (lnd's
// PaymentFailureReason names, as internal/lightning/lndnode passes them)
// and internal/lightning's own (pay.go, resolve.go). The rest, among them
// lnd's FAILURE_REASON_ERROR and the node's refusals to start a payment
// ("payment refused by the node: ..."), are told as a payment that could
// not be completed: their words are the node's, not the user's.
var paymentReasons = map[string]key{
	"FAILURE_REASON_TIMEOUT":                         kWhyTimeout,
	"FAILURE_REASON_NO_ROUTE":                        kWhyNoRoute,
	"FAILURE_REASON_INCORRECT_PAYMENT_DETAILS":       kWhyRefused,
	"FAILURE_REASON_INSUFFICIENT_BALANCE":            kWhyNoLiquidity, // the node's channels, not the user's balance
	"FAILURE_REASON_CANCELED":                        kWhyCancelled,
	"invoice expired before the payment was sent":    kWhyExpired,
	"paid from outside before it could be cancelled": kWhyAlreadyPaid,
	"the invoice is no longer payable":               kWhyAlreadyPaid,
}

// topupReasons maps a failed top-up's result code (Daraja's ResultCode, or
// internal/ramp's "refused" and "unsent" for a push Daraja never took) to
// what the text says; other codes are told as a purchase that did not go
// through.
var topupReasons = map[string]key{
	"1032":    kWhyMpesaCancelled, // the user cancelled the prompt
	"1037":    kWhyMpesaTimeout,   // no answer from the phone
	"1019":    kWhyMpesaTimeout,   // the prompt expired
	"2001":    kWhyMpesaPIN,       // wrong M-Pesa PIN
	"1":       kWhyMpesaFunds,     // the M-Pesa balance is too low
	"1001":    kWhyMpesaBusy,      // another prompt is open on the phone
	"refused": kWhyMpesaUnsent,
	"unsent":  kWhyMpesaUnsent,
}

// refusedReasons maps a NotifyPayRefused reason to its text, each saying
// what to do next; an unknown reason gets kRefusedOther.
var refusedReasons = map[string]key{
	store.PayRefusedExpired:    kRefusedExpired,
	store.PayRefusedNetwork:    kRefusedNetwork,
	store.PayRefusedAmountless: kRefusedAmountless,
	store.PayRefusedPaid:       kRefusedPaid,
	store.PayRefusedInvalid:    kRefusedInvalid,
	store.PayRefusedAmount:     kRefusedAmount,
	store.PayRefusedAddress:    kRefusedAddress,
	store.PayRefusedFlood:      kRefusedFlood,
	store.PayRefusedBusy:       kRefusedBusy,
}

// reason looks a notification's Body up in one of the maps above.
func reason(m map[string]key, body string) (key, bool) {
	k, ok := m[strings.TrimSpace(body)]
	return k, ok
}
