// Package lightning is the wallet's port to a Lightning node, in the
// wallet's own terms, and the services built on it: issuing invoices for
// users and crediting them when paid. The node itself is reached through an
// adapter (lndnode, over lndclient); nothing here imports lnd.
package lightning

import (
	"context"
	"errors"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Node is what the wallet needs of a Lightning node.
type Node interface {
	// Identity is the node's public key, hex.
	Identity(ctx context.Context) (string, error)
	// CreateInvoice issues an invoice.
	CreateInvoice(ctx context.Context, req InvoiceRequest) (Invoice, error)
	// LookupInvoice reads an invoice's current state by payment hash (hex).
	LookupInvoice(ctx context.Context, hash string) (InvoiceUpdate, error)
	// SubscribeInvoices streams invoices added after addIndex (their
	// current state first, so missed settlements replay) and every change
	// after that, until ctx ends or the stream fails.
	SubscribeInvoices(ctx context.Context, addIndex uint64) (<-chan InvoiceUpdate, <-chan error, error)
	// CancelInvoice cancels an open invoice of the node, so that it can no
	// longer be paid.
	CancelInvoice(ctx context.Context, hash string) error
	// DecodeInvoice parses a BOLT11 string; the node refuses one for
	// another network.
	DecodeInvoice(ctx context.Context, bolt11 string) (DecodedInvoice, error)
	// PayInvoice sends a payment and streams its progress until a final
	// state, ctx's end or a stream failure (which says nothing about the
	// payment's outcome). Two errors on the stream are definite:
	// ErrPaymentRefused (nothing was sent) and ErrPaymentExists (the node
	// has a payment of that hash already).
	PayInvoice(ctx context.Context, req PaymentRequest) (<-chan PaymentUpdate, <-chan error, error)
	// TrackPayment re-attaches to a payment by hash; ErrPaymentNotFound if
	// the node never started it.
	TrackPayment(ctx context.Context, hash string) (<-chan PaymentUpdate, <-chan error, error)
	// ListInvoices lists every invoice of the node, in every state (for
	// reconciliation: it reads them all).
	ListInvoices(ctx context.Context) ([]InvoiceUpdate, error)
	// LatestAddIndex is the add index of the node's newest invoice (0 when
	// it has none), for the watcher's lag.
	LatestAddIndex(ctx context.Context) (uint64, error)
	// ListPayments lists every outgoing payment of the node, finished or
	// not (for reconciliation: it reads them all).
	ListPayments(ctx context.Context) ([]PaymentRecord, error)
}

// PaymentRecord is an outgoing payment as the node records it.
type PaymentRecord struct {
	PaymentHash string
	State       PaymentState
	// AmountMsat is what the payee got, FeeMsat what the routes charged.
	AmountMsat int64
	FeeMsat    int64
}

// DecodedInvoice is what a BOLT11 string says.
type DecodedInvoice struct {
	PaymentHash string
	Destination string // payee's public key, hex
	AmountMsat  int64
	ExpiresAt   time.Time
	Description string
	// DescriptionHash is hex, empty when the invoice has none.
	DescriptionHash string
}

// PaymentRequest is a payment to send.
type PaymentRequest struct {
	Invoice      string
	FeeLimitMsat int64
	Timeout      time.Duration
}

// PaymentState is where an outgoing payment stands.
type PaymentState int

// The payment states. Only Succeeded and Failed are final.
const (
	PaymentInFlight PaymentState = iota
	PaymentSucceeded
	PaymentFailed
)

// PaymentUpdate is a payment's progress.
type PaymentUpdate struct {
	State   PaymentState
	FeeMsat int64
	Reason  string // why it failed
}

// The node's answers about a payment that the payer acts on.
var (
	// ErrPaymentNotFound means the node has no payment with that hash.
	ErrPaymentNotFound = errors.New("payment not found")
	// ErrPaymentRefused means the node refused to start a payment: a check
	// before anything is sent failed (no payment address, invoice expired,
	// final CLTV over the limit, …). The error carries the node's reason.
	ErrPaymentRefused = errors.New("payment refused by the node")
	// ErrPaymentExists means the node already has a payment of that hash,
	// in flight or succeeded, and will not start another.
	ErrPaymentExists = errors.New("the node already has a payment of this hash")
)

// InvoiceRequest is an invoice to issue.
type InvoiceRequest struct {
	AmountMsat int64
	// Memo is the description; DescriptionHash, when set, replaces it.
	Memo            string
	DescriptionHash []byte
	Expiry          time.Duration
}

// Invoice is an issued invoice.
type Invoice struct {
	PaymentHash    string // hex
	PaymentRequest string // BOLT11
	AddIndex       uint64
	ExpiresAt      time.Time
}

// InvoiceState is where an invoice stands on the node.
type InvoiceState int

// The states the wallet distinguishes.
const (
	InvoiceOpen InvoiceState = iota
	InvoiceAccepted
	InvoiceSettled
	InvoiceCanceled
)

// InvoiceUpdate is an invoice's state as the node reports it.
type InvoiceUpdate struct {
	PaymentHash    string
	State          InvoiceState
	AmountPaidMsat int64
	AddIndex       uint64
	SettleIndex    uint64
}

// ErrInvalidInvoice means a BOLT11 string the node would not pay.
var ErrInvalidInvoice = errors.New("invalid invoice")

// ErrUnavailable means the node cannot be reached now.
var ErrUnavailable = errors.New("lightning node unavailable")

// MsatFromNode converts an amount the node reports (unsigned msat) into the
// wallet's signed msat. One beyond store.MaxMsat is no real amount (more
// than all the bitcoin there is, or a negative number wrapped around): it
// comes out as -1, which the wallet refuses, so an invoice is not credited
// and a payment stays reserved.
func MsatFromNode(v uint64) int64 {
	if v > uint64(store.MaxMsat) {
		return -1
	}
	return int64(v)
}
