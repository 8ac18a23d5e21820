// Package lndnode adapts an lnd node, reached through lndclient, to the
// wallet's lightning.Node port.
package lndnode

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/lightninglabs/lndclient"
	"github.com/lightningnetwork/lnd/invoices"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/lightningnetwork/lnd/lnwire"

	"github.com/umeme-wallet/umeme/internal/lightning"
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
		PaymentHash: inv.Hash.String(), State: st, AmountPaidMsat: int64(inv.AmountPaid),
		AddIndex: inv.AddIndex, SettleIndex: inv.SettleIndex,
	}
}
