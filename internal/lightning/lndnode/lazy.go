package lndnode

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/lightning"
)

// Lazy is a lightning.Node that connects in the background and keeps
// trying, so the server starts (and answers "try later") while lnd is down.
// Until connected every call fails with lightning.ErrUnavailable.
type Lazy struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	node      *Node
	connected chan struct{}
}

var _ lightning.Node = (*Lazy)(nil)

// Dial starts connecting in the background until ctx ends.
func Dial(ctx context.Context, cfg Config, log *slog.Logger) *Lazy {
	l := &Lazy{cfg: cfg, log: log, connected: make(chan struct{})}
	go l.connect(ctx)
	return l
}

func (l *Lazy) connect(ctx context.Context) {
	backoff := time.Second
	for {
		n, err := Connect(ctx, l.cfg)
		if err == nil {
			l.mu.Lock()
			l.node = n
			l.mu.Unlock()
			close(l.connected)
			l.log.Info("connected to lnd", "address", l.cfg.Address)
			return
		}
		l.log.Warn("lnd unreachable; retrying", "address", l.cfg.Address, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// Connected is closed once the node is connected.
func (l *Lazy) Connected() <-chan struct{} { return l.connected }

func (l *Lazy) get() (*Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.node == nil {
		return nil, lightning.ErrUnavailable
	}
	return l.node, nil
}

// Ping checks that the node answers (for /readyz).
func (l *Lazy) Ping(ctx context.Context) error {
	n, err := l.get()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := n.services.Client.GetInfo(ctx); err != nil {
		return lightning.ErrUnavailable
	}
	return nil
}

// Close releases the connection, if any.
func (l *Lazy) Close() {
	if n, err := l.get(); err == nil {
		n.Close()
	}
}

// Identity implements lightning.Node.
func (l *Lazy) Identity(ctx context.Context) (string, error) {
	n, err := l.get()
	if err != nil {
		return "", err
	}
	return n.Identity(ctx)
}

// CreateInvoice implements lightning.Node.
func (l *Lazy) CreateInvoice(ctx context.Context, req lightning.InvoiceRequest) (lightning.Invoice, error) {
	n, err := l.get()
	if err != nil {
		return lightning.Invoice{}, err
	}
	return n.CreateInvoice(ctx, req)
}

// LookupInvoice implements lightning.Node.
func (l *Lazy) LookupInvoice(ctx context.Context, hash string) (lightning.InvoiceUpdate, error) {
	n, err := l.get()
	if err != nil {
		return lightning.InvoiceUpdate{}, err
	}
	return n.LookupInvoice(ctx, hash)
}

// SubscribeInvoices implements lightning.Node.
func (l *Lazy) SubscribeInvoices(ctx context.Context, addIndex uint64) (<-chan lightning.InvoiceUpdate, <-chan error, error) {
	n, err := l.get()
	if err != nil {
		return nil, nil, err
	}
	return n.SubscribeInvoices(ctx, addIndex)
}

// CancelInvoice implements lightning.Node.
func (l *Lazy) CancelInvoice(ctx context.Context, hash string) error {
	n, err := l.get()
	if err != nil {
		return err
	}
	return n.CancelInvoice(ctx, hash)
}

// DecodeInvoice implements lightning.Node.
func (l *Lazy) DecodeInvoice(ctx context.Context, bolt11 string) (lightning.DecodedInvoice, error) {
	n, err := l.get()
	if err != nil {
		return lightning.DecodedInvoice{}, err
	}
	return n.DecodeInvoice(ctx, bolt11)
}

// PayInvoice implements lightning.Node.
func (l *Lazy) PayInvoice(ctx context.Context, req lightning.PaymentRequest) (<-chan lightning.PaymentUpdate, <-chan error, error) {
	n, err := l.get()
	if err != nil {
		return nil, nil, err
	}
	return n.PayInvoice(ctx, req)
}

// TrackPayment implements lightning.Node.
func (l *Lazy) TrackPayment(ctx context.Context, hash string) (<-chan lightning.PaymentUpdate, <-chan error, error) {
	n, err := l.get()
	if err != nil {
		return nil, nil, err
	}
	return n.TrackPayment(ctx, hash)
}

// ListInvoices implements lightning.Node.
func (l *Lazy) ListInvoices(ctx context.Context) ([]lightning.InvoiceUpdate, error) {
	n, err := l.get()
	if err != nil {
		return nil, err
	}
	return n.ListInvoices(ctx)
}

// LatestAddIndex implements lightning.Node.
func (l *Lazy) LatestAddIndex(ctx context.Context) (uint64, error) {
	n, err := l.get()
	if err != nil {
		return 0, err
	}
	return n.LatestAddIndex(ctx)
}

// ListPayments implements lightning.Node.
func (l *Lazy) ListPayments(ctx context.Context) ([]lightning.PaymentRecord, error) {
	n, err := l.get()
	if err != nil {
		return nil, err
	}
	return n.ListPayments(ctx)
}

// Balances is Node.Balances once connected.
func (l *Lazy) Balances(ctx context.Context) (channelMsat, onchainMsat int64, err error) {
	n, err := l.get()
	if err != nil {
		return 0, 0, err
	}
	return n.Balances(ctx)
}
