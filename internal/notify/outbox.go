package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/store"
)

// Outbox defaults, for the fields of OutboxConfig left zero.
const (
	DefaultBatch       = 50
	DefaultLease       = 2 * time.Minute
	DefaultPoll        = time.Second
	DefaultConcurrency = 4
	DefaultStopGrace   = 5 * time.Second
)

// OutboxConfig is what the sender needs.
type OutboxConfig struct {
	Store  store.Store
	Sender sms.Sender
	Log    *slog.Logger
	// Batch is how many due notifications one round claims (default
	// DefaultBatch), Lease how long it holds them (DefaultLease): a row a
	// round claimed but never recorded is due again once its lease ends,
	// for this sender or another.
	Batch int
	Lease time.Duration
	// MaxAttempts bounds the tries of one message (default
	// sms.DefaultMaxAttempts).
	MaxAttempts int
	// Poll is how long Run waits after a round that found nothing, unless
	// woken first (default DefaultPoll).
	Poll time.Duration
	// ServiceCode is the USSD code texts tell the user to dial.
	ServiceCode string
	// Concurrency bounds the sends of one round in flight at once
	// (default DefaultConcurrency).
	Concurrency int
	// StopGrace is how long the sends in flight may still finish, and be
	// recorded, once the round's context ends (default DefaultStopGrace):
	// a send cut short leaves its row to the lease, and sends it again
	// after the lease if the gateway had taken it.
	StopGrace time.Duration
	// Now is the clock (default time.Now); Backoff the wait after the
	// n-th failed attempt (default sms.Backoff).
	Now     func() time.Time
	Backoff func(attempt int) time.Duration
}

// Outbox is the worker that drains the notification outbox: it claims due
// rows under a lease, renders and sends each through the Sender outside any
// transaction, and records each outcome with the lease's token. Two
// Outboxes on one database never send one row twice within a lease: the
// claim takes rows no other sender holds, and only the holder of the
// lease records an outcome. A crash between a send and its record sends
// that row again once the lease ends, which for a text is the lesser harm.
type Outbox struct {
	cfg  OutboxConfig
	log  *slog.Logger
	wake chan struct{}
}

// NewOutbox returns the sender; cfg.Store and cfg.Sender are required.
func NewOutbox(cfg OutboxConfig) (*Outbox, error) {
	if cfg.Store == nil || cfg.Sender == nil {
		return nil, errors.New("outbox: a store and a sender are required")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = sms.DefaultMaxAttempts
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = DefaultStopGrace
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Backoff == nil {
		cfg.Backoff = sms.Backoff
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Outbox{cfg: cfg, log: log, wake: make(chan struct{}, 1)}, nil
}

// Wake tells Run that a notification was just queued, so that it looks
// now rather than at the end of its poll. It never blocks.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run sends due notifications until ctx ends: a round, then, when the
// round found nothing (or failed), a wait of Poll or until Wake, whichever
// comes first. A round that found rows is followed at once by another.
func (o *Outbox) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		tally, err := o.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			o.log.Error("sms outbox: round failed", "err", err)
		}
		if err == nil && tally.Claimed > 0 {
			continue
		}
		t.Reset(o.cfg.Poll)
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-t.C:
		}
	}
}

// Tally is what one round did.
type Tally struct {
	// Claimed rows; of them Sent (the gateway took them), Retry (due again
	// later), Failed (given up for good), Lost (recorded by nobody: the
	// lease ran out, or the round was stopped; due again after the lease).
	Claimed, Sent, Retry, Failed, Lost int
}

// RunOnce claims up to Batch due notifications, sends them (at most
// Concurrency at a time) and records each outcome. The claim and each
// record are transactions of their own; the sends happen outside any.
// Once ctx ends no further send starts; those in flight have StopGrace to
// finish, and one cut short is left to its lease.
func (o *Outbox) RunOnce(ctx context.Context) (Tally, error) {
	now := o.cfg.Now()
	leaseUntil := now.Add(o.cfg.Lease)
	token, err := claimToken()
	if err != nil {
		return Tally{}, err
	}
	var rows []store.Notification
	err = o.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		rows, err = tx.ClaimNotifications(ctx, now, leaseUntil, token, o.cfg.Batch)
		return err
	})
	if err != nil {
		return Tally{}, fmt.Errorf("sms outbox: claim: %w", err)
	}
	tally := Tally{Claimed: len(rows)}
	if len(rows) == 0 {
		return tally, nil
	}
	// No send runs past the lease (after it another sender may hold the
	// row), nor much past the end of ctx.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.sendWindow())
	defer cancel()
	stopping := context.AfterFunc(ctx, func() { time.AfterFunc(o.cfg.StopGrace, cancel) })
	defer stopping()
	work := make(chan store.Notification)
	outcomes := make(chan outcome, len(rows))
	var wg sync.WaitGroup
	for range min(o.cfg.Concurrency, len(rows)) {
		wg.Go(func() {
			for n := range work {
				outcomes <- o.deliver(ctx, sendCtx, n, token)
			}
		})
	}
	for _, n := range rows {
		if ctx.Err() != nil || sendCtx.Err() != nil {
			outcomes <- outcomeLost
			continue
		}
		work <- n
	}
	close(work)
	wg.Wait()
	close(outcomes)
	for oc := range outcomes {
		switch oc {
		case outcomeSent:
			tally.Sent++
		case outcomeRetry:
			tally.Retry++
		case outcomeFailed:
			tally.Failed++
		default:
			tally.Lost++
		}
	}
	return tally, nil
}

// sendWindow is how long after its claim a round may send: all but a
// tenth of the lease, so that a record is not late for a lease that has
// just passed to another sender. It is a duration, not a time of Now's
// clock, so that it holds whatever that clock says.
func (o *Outbox) sendWindow() time.Duration {
	return o.cfg.Lease - o.cfg.Lease/10
}

// claimToken is a fresh random lease token.
func claimToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sms outbox: token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// RecordDelivery records the gateway's delivery report against the sent
// message it names; false when none matches, or when the message's report
// is already final (a late or repeated report changes nothing).
func (o *Outbox) RecordDelivery(ctx context.Context, r store.DeliveryReport) (bool, error) {
	var ok bool
	err := o.cfg.Store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		ok, err = tx.RecordDeliveryReport(ctx, r)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record delivery report: %w", err)
	}
	return ok, nil
}
