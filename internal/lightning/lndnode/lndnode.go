// Package lndnode adapts an lnd node, reached through lndclient, to the
// wallet's lightning.Node port.
package lndnode

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lightninglabs/lndclient"
	"github.com/lightningnetwork/lnd/invoices"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/lightningnetwork/lnd/lnwire"
	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	"github.com/lightningnetwork/lnd/zpay32"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/store"
)

// Config locates the node.
type Config struct {
	Address      string // host:port of lnd's gRPC
	TLSCertPath  string
	MacaroonPath string // admin macaroon
	Network      string // mainnet, testnet, signet, regtest, simnet
	// Timeout bounds connecting and each call.
	Timeout time.Duration
}

// Node is a connected lnd.
type Node struct {
	services *lndclient.GrpcLndServices
	timeout  time.Duration
}

var _ lightning.Node = (*Node)(nil)

// Connect dials lnd and checks its version and network (lndclient refuses
// an lnd built without the sub-servers it needs).
func Connect(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	s, err := lndclient.NewLndServices(&lndclient.LndServicesConfig{
		LndAddress:         cfg.Address,
		Network:            lndclient.Network(cfg.Network),
		CustomMacaroonPath: cfg.MacaroonPath,
		TLSPath:            cfg.TLSCertPath,
		CallerCtx:          ctx,
		RPCTimeout:         cfg.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: connect lnd: %v", lightning.ErrUnavailable, err)
	}
	return &Node{services: s, timeout: cfg.Timeout}, nil
}

// Close releases the connection.
func (n *Node) Close() { n.services.Close() }

// Identity implements lightning.Node.
func (n *Node) Identity(ctx context.Context) (string, error) {
	return hex.EncodeToString(n.services.NodePubkey[:]), nil
}

// CreateInvoice implements lightning.Node.
func (n *Node) CreateInvoice(ctx context.Context, req lightning.InvoiceRequest) (lightning.Invoice, error) {
	if req.AmountMsat <= 0 || req.AmountMsat > store.MaxMsat {
		return lightning.Invoice{}, fmt.Errorf("add invoice: %w: %d msat", store.ErrAmountRange, req.AmountMsat)
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	hash, pr, err := n.services.Client.AddInvoice(ctx, &invoicesrpc.AddInvoiceData{
		Memo: req.Memo, Value: lnwire.MilliSatoshi(req.AmountMsat), DescriptionHash: req.DescriptionHash,
		Expiry: int64(req.Expiry.Seconds()),
	})
	if err != nil {
		return lightning.Invoice{}, fmt.Errorf("%w: add invoice: %v", lightning.ErrUnavailable, err)
	}
	inv, err := n.services.Client.LookupInvoice(ctx, hash)
	if err != nil {
		return lightning.Invoice{}, fmt.Errorf("%w: lookup new invoice: %v", lightning.ErrUnavailable, err)
	}
	return lightning.Invoice{
		PaymentHash: hash.String(), PaymentRequest: pr, AddIndex: inv.AddIndex,
		ExpiresAt: inv.CreationDate.Add(req.Expiry).UTC(),
	}, nil
}

// LookupInvoice implements lightning.Node.
func (n *Node) LookupInvoice(ctx context.Context, hash string) (lightning.InvoiceUpdate, error) {
	h, err := lntypes.MakeHashFromStr(hash)
	if err != nil {
		return lightning.InvoiceUpdate{}, fmt.Errorf("lookup invoice: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	inv, err := n.services.Client.LookupInvoice(ctx, h)
	if err != nil {
		return lightning.InvoiceUpdate{}, fmt.Errorf("%w: lookup invoice: %v", lightning.ErrUnavailable, err)
	}
	return update(inv), nil
}

// SubscribeInvoices implements lightning.Node.
func (n *Node) SubscribeInvoices(ctx context.Context, addIndex uint64) (<-chan lightning.InvoiceUpdate, <-chan error, error) {
	in, errs, err := n.services.Client.SubscribeInvoices(ctx, lndclient.InvoiceSubscriptionRequest{AddIndex: addIndex})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: subscribe invoices: %v", lightning.ErrUnavailable, err)
	}
	out := make(chan lightning.InvoiceUpdate)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case inv, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- update(inv):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, errs, nil
}

func update(inv *lndclient.Invoice) lightning.InvoiceUpdate {
	st := lightning.InvoiceOpen
	switch inv.State {
	case invoices.ContractAccepted:
		st = lightning.InvoiceAccepted
	case invoices.ContractSettled:
		st = lightning.InvoiceSettled
	case invoices.ContractCanceled:
		st = lightning.InvoiceCanceled
	}
	return lightning.InvoiceUpdate{
		PaymentHash: inv.Hash.String(), State: st, AmountPaidMsat: lightning.MsatFromNode(uint64(inv.AmountPaid)),
		AddIndex: inv.AddIndex, SettleIndex: inv.SettleIndex,
	}
}

// CancelInvoice implements lightning.Node.
func (n *Node) CancelInvoice(ctx context.Context, hash string) error {
	h, err := lntypes.MakeHashFromStr(hash)
	if err != nil {
		return fmt.Errorf("cancel invoice: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	if err := n.services.Invoices.CancelInvoice(ctx, h); err != nil {
		return fmt.Errorf("cancel invoice: %w", err)
	}
	return nil
}

// DecodeInvoice implements lightning.Node. It decodes locally with lnd's
// zpay32 for the node's chain (an invoice of another network does not
// decode): lndclient's decoder drops the description hash, which a
// Lightning Address payment must check.
func (n *Node) DecodeInvoice(ctx context.Context, bolt11 string) (lightning.DecodedInvoice, error) {
	inv, err := zpay32.Decode(bolt11, n.services.ChainParams)
	if err != nil {
		return lightning.DecodedInvoice{}, fmt.Errorf("%w: %v", lightning.ErrInvalidInvoice, err)
	}
	d := lightning.DecodedInvoice{ExpiresAt: inv.Timestamp.Add(inv.Expiry()).UTC()}
	if inv.PaymentHash != nil {
		d.PaymentHash = hex.EncodeToString(inv.PaymentHash[:])
	}
	if inv.Destination != nil {
		d.Destination = hex.EncodeToString(inv.Destination.SerializeCompressed())
	}
	if inv.MilliSat != nil {
		if d.AmountMsat = lightning.MsatFromNode(uint64(*inv.MilliSat)); d.AmountMsat < 0 {
			return lightning.DecodedInvoice{}, fmt.Errorf("%w: amount of %d msat", lightning.ErrInvalidInvoice, uint64(*inv.MilliSat))
		}
	}
	if inv.Description != nil {
		d.Description = *inv.Description
	}
	if inv.DescriptionHash != nil {
		d.DescriptionHash = hex.EncodeToString(inv.DescriptionHash[:])
	}
	return d, nil
}

// PayInvoice implements lightning.Node. lnd's answers are read into the
// port's terms: "already paid" or "in transition" (AlreadyExists) is
// lightning.ErrPaymentExists, and an error lnd returns before any status
// of the payment, other than a transport failure or a timeout, is its
// refusal to start it (lightning.ErrPaymentRefused).
func (n *Node) PayInvoice(ctx context.Context, req lightning.PaymentRequest) (<-chan lightning.PaymentUpdate, <-chan error, error) {
	in, errs, err := n.services.Router.SendPayment(ctx, lndclient.SendPaymentRequest{
		Invoice: req.Invoice, MaxFeeMsat: lnwire.MilliSatoshi(req.FeeLimitMsat), Timeout: req.Timeout,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: send payment: %v", lightning.ErrUnavailable, err)
	}
	updates, out := payments(ctx, in, errs, true)
	return updates, out, nil
}

// TrackPayment implements lightning.Node.
func (n *Node) TrackPayment(ctx context.Context, hash string) (<-chan lightning.PaymentUpdate, <-chan error, error) {
	h, err := lntypes.MakeHashFromStr(hash)
	if err != nil {
		return nil, nil, fmt.Errorf("track payment: %w", err)
	}
	in, errs, err := n.services.Router.TrackPayment(ctx, h)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: track payment: %v", lightning.ErrUnavailable, err)
	}
	updates, out := payments(ctx, in, errs, false)
	return updates, out, nil
}

// listPage is how many invoices or payments one listing call asks for.
const listPage = 1000

// ListInvoices implements lightning.Node, a page at a time.
func (n *Node) ListInvoices(ctx context.Context) ([]lightning.InvoiceUpdate, error) {
	var out []lightning.InvoiceUpdate
	for offset := uint64(0); ; {
		resp, err := n.services.Client.ListInvoices(ctx, lndclient.ListInvoicesRequest{MaxInvoices: listPage, Offset: offset})
		if err != nil {
			return nil, fmt.Errorf("%w: list invoices: %v", lightning.ErrUnavailable, err)
		}
		for i := range resp.Invoices {
			out = append(out, update(&resp.Invoices[i]))
		}
		if len(resp.Invoices) < listPage {
			return out, nil
		}
		offset = resp.LastIndexOffset
	}
}

// LatestAddIndex implements lightning.Node: the newest invoice alone.
func (n *Node) LatestAddIndex(ctx context.Context) (uint64, error) {
	resp, err := n.services.Client.ListInvoices(ctx, lndclient.ListInvoicesRequest{MaxInvoices: 1, Reversed: true})
	if err != nil {
		return 0, fmt.Errorf("%w: list invoices: %v", lightning.ErrUnavailable, err)
	}
	if len(resp.Invoices) == 0 {
		return 0, nil
	}
	return resp.Invoices[0].AddIndex, nil
}

// ListPayments implements lightning.Node, a page at a time, unfinished and
// failed payments included.
func (n *Node) ListPayments(ctx context.Context) ([]lightning.PaymentRecord, error) {
	var out []lightning.PaymentRecord
	for offset := uint64(0); ; {
		resp, err := n.services.Client.ListPayments(ctx, lndclient.ListPaymentsRequest{MaxPayments: listPage, Offset: offset, IncludeIncomplete: true})
		if err != nil {
			return nil, fmt.Errorf("%w: list payments: %v", lightning.ErrUnavailable, err)
		}
		for _, p := range resp.Payments {
			r := lightning.PaymentRecord{PaymentHash: p.Hash.String(), State: lightning.PaymentInFlight, AmountMsat: lightning.MsatFromNode(uint64(p.Amount)), FeeMsat: lightning.MsatFromNode(uint64(p.Fee))}
			if p.Status != nil {
				switch p.Status.State {
				case lnrpc.Payment_SUCCEEDED:
					r.State = lightning.PaymentSucceeded
				case lnrpc.Payment_FAILED:
					r.State = lightning.PaymentFailed
				}
			}
			out = append(out, r)
		}
		if len(resp.Payments) < listPage {
			return out, nil
		}
		offset = resp.LastIndexOffset
	}
}

// payments turns lndclient's payment statuses and stream error into the
// port's updates and errors. For a send, an error before any status is
// lnd's answer to the request itself (see paymentError). On an error the
// updates channel is left open, so that a reader sees the error rather than
// the end of the stream.
func payments(ctx context.Context, in chan lndclient.PaymentStatus, errs chan error, send bool) (<-chan lightning.PaymentUpdate, <-chan error) {
	out := make(chan lightning.PaymentUpdate)
	outErr := make(chan error, 1)
	go func() {
		started := false
		for {
			select {
			case <-ctx.Done():
				return
			case err, ok := <-errs:
				if !ok {
					errs = nil // closed with the statuses at the stream's end
					continue
				}
				outErr <- paymentError(err, send && !started)
				return
			case st, ok := <-in:
				if !ok {
					close(out)
					return
				}
				started = true
				u := lightning.PaymentUpdate{State: lightning.PaymentInFlight, FeeMsat: lightning.MsatFromNode(uint64(st.Fee))}
				switch st.State {
				case lnrpc.Payment_SUCCEEDED:
					u.State = lightning.PaymentSucceeded
				case lnrpc.Payment_FAILED:
					u.State, u.Reason = lightning.PaymentFailed, st.FailureReason.String()
				}
				select {
				case out <- u:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, outErr
}

// paymentError reads an error of a payment stream. lndclient turns lnd's
// AlreadyExists (a payment of the hash exists) and NotFound (no payment of
// the hash) into lnd's own errors. preflight says no status came yet on a
// send: lnd's SendPaymentV2 checks the request (the invoice decodes for its
// chain, has not expired, carries a payment address, its final CLTV is
// within the limit, …) before it records the payment, and answers a failed
// check with a plain error (gRPC Unknown) or an InvalidArgument-class
// status. Those are refusals: nothing was sent. Transport failures and
// timeouts (Unavailable, DeadlineExceeded, Canceled, …) say nothing about
// the payment and stay as they are.
func paymentError(err error, preflight bool) error {
	switch {
	case errors.Is(err, paymentsdb.ErrAlreadyPaid):
		return fmt.Errorf("%w: %v", lightning.ErrPaymentExists, err)
	case errors.Is(err, paymentsdb.ErrPaymentNotInitiated), status.Code(err) == codes.NotFound:
		return fmt.Errorf("%w: %v", lightning.ErrPaymentNotFound, err)
	}
	if st, ok := status.FromError(err); ok && preflight {
		switch st.Code() {
		case codes.Unknown, codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
			return fmt.Errorf("%w: %s", lightning.ErrPaymentRefused, st.Message())
		}
	}
	return fmt.Errorf("payment stream: %w", err)
}

// Balances is what the node holds: the local side of its open channels and
// its confirmed on-chain wallet, in msat (for the liabilities watchdog).
func (n *Node) Balances(ctx context.Context) (channelMsat, onchainMsat int64, err error) {
	ch, err := n.services.Client.ChannelBalance(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("channel balance: %w", err)
	}
	wb, err := n.services.Client.WalletBalance(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("wallet balance: %w", err)
	}
	return int64(ch.Balance) * 1000, int64(wb.Confirmed) * 1000, nil
}
