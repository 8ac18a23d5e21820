package notify

import (
	"context"
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
	// SendTimeout is the longest one send can take (the client's own
	// timeout: sms.DefaultTimeout for the Africa's Talking adapter), when
	// known. Each send runs within the lease it takes as it starts, less a
	// tenth; NewOutbox refuses a Lease too short to see such a send
	// through, since a send cut short by its lease may have reached the
	// gateway, and goes out again after it.
	SendTimeout time.Duration
	// Now is the clock (default time.Now); Backoff the wait after the
	// n-th failed attempt (default sms.Backoff).
	Now     func() time.Time
	Backoff func(attempt int) time.Duration
}

// Outbox is the worker that drains the notification outbox: it claims due
// rows under a lease, renders and sends each through the Sender outside any
// transaction, and records each outcome with the lease's token. Two
// Outboxes on one database never send one row twice within a lease: the
// claim takes rows no other sender holds, a send starts only once its
// row's attempt is counted under the claim's token (a statement that
// fails if another sender has claimed the row since), and from then on the
// row is leased to that send on the database's clock, which every server
// reads alike (see StartNotificationAttempt), so a server whose clock runs
// ahead cannot take it. A crash between a send and its record sends that
// row again once the lease ends, which for a text is the lesser harm.
type Outbox struct {
	cfg  OutboxConfig
	log  *slog.Logger
	wake chan struct{}

	mu sync.Mutex
	// rowTime is how long a row has lately taken a worker, from the start
	// of its send to its record (a moving average; 0 before the first).
	rowTime time.Duration
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
	o := &Outbox{cfg: cfg, log: log, wake: make(chan struct{}, 1)}
	if cfg.SendTimeout > o.sendWindow() {
		return nil, fmt.Errorf("outbox: a lease of %s leaves a send %s, and one can take %s", cfg.Lease, o.sendWindow(), cfg.SendTimeout)
	}
	return o, nil
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
	// later), Failed (given up for good), Returned (not started before the
	// round's window closed or it was stopped: handed back, due at once,
	// no attempt counted), Lost (recorded by nobody: a send cut short, a
	// row another sender took, a record that failed; due again after the
	// lease).
	Claimed, Sent, Retry, Failed, Returned, Lost int
}

// RunOnce claims up to Batch due notifications (fewer when sends are
// slow: claimLimit), sends them (at most Concurrency at a time) and records
// each outcome. The claim and each record are transactions of their own;
// the sends happen outside any. A send starts only within the claim's
// window (sendWindow); the rows not started when it closes, or when ctx
// ends, are handed back at once. Once ctx ends the sends in flight have
// StopGrace to finish, and one cut short is left to its lease.
func (o *Outbox) RunOnce(ctx context.Context) (Tally, error) {
	// The window is a span of this process's monotonic clock from before
	// the claim, whatever Now says: the claim's lease, on Now's clock,
	// ends no sooner for a server whose clock agrees.
	claimed := time.Now()
	now := o.cfg.Now()
	token := store.NewToken()
	var rows []store.Notification
	err := o.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		rows, err = tx.ClaimNotifications(ctx, now, now.Add(o.cfg.Lease), token, o.claimLimit())
		return err
	})
	if err != nil {
		return Tally{}, fmt.Errorf("sms outbox: claim: %w", err)
	}
	tally := Tally{Claimed: len(rows)}
	if len(rows) == 0 {
		return tally, nil
	}
	window, closeWindow := context.WithDeadline(ctx, claimed.Add(o.sendWindow()))
	defer closeWindow()
	// stop ends the sends in flight StopGrace after ctx; each send is
	// bounded by its own lease besides.
	stop, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopping := context.AfterFunc(ctx, func() { time.AfterFunc(o.cfg.StopGrace, cancel) })
	defer stopping()
	work := make(chan store.Notification)
	results := make(chan result, len(rows))
	var wg sync.WaitGroup
	for range min(o.cfg.Concurrency, len(rows)) {
		wg.Go(func() {
			for n := range work {
				results <- result{id: n.ID, outcome: o.deliver(window, stop, n, token)}
			}
		})
	}
	var unstarted []int64
feed:
	for i, n := range rows {
		select {
		case work <- n:
		case <-window.Done():
			for _, r := range rows[i:] {
				unstarted = append(unstarted, r.ID)
			}
			break feed
		}
	}
	close(work)
	// Handed back now, not once the sends in flight have finished.
	o.handBack(ctx, token, unstarted, &tally)
	wg.Wait()
	close(results)
	var late []int64 // given to a worker as the window closed
	for r := range results {
		switch r.outcome {
		case outcomeSent:
			tally.Sent++
		case outcomeRetry:
			tally.Retry++
		case outcomeFailed:
			tally.Failed++
		case outcomeReturned:
			late = append(late, r.id)
		default:
			tally.Lost++
		}
	}
	o.handBack(ctx, token, late, &tally)
	return tally, nil
}

// result is what became of one row given to a worker.
type result struct {
	id      int64
	outcome outcome
}

// handBack releases the claimed rows of ids whose sends never started, so
// that they are due at once for any sender rather than after the lease; a
// row it could not release is left to the lease (Lost). It runs even once
// the round is stopped, as a record does.
func (o *Outbox) handBack(ctx context.Context, token string, ids []int64, tally *Tally) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var n int64
	err := o.cfg.Store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.ReleaseNotifications(ctx, token, ids, o.cfg.Now())
		return err
	})
	if err != nil {
		o.log.Error("sms outbox: unsent rows not handed back; due again after their lease", "rows", len(ids), "err", err)
		n = 0
	}
	tally.Returned += int(n)
	tally.Lost += len(ids) - int(n)
}

// sendWindow is how long after its claim a round may start sends, and how
// long after its start a send may run (its lease is taken as it starts):
// all but a tenth of the lease, so that a record is not late for a lease
// that has just passed to another sender. It is a duration, not a time of
// Now's clock, so that it holds whatever that clock says.
func (o *Outbox) sendWindow() time.Duration {
	return o.cfg.Lease - o.cfg.Lease/10
}

// claimLimit is how many rows a round claims: Batch, or fewer when sends
// are slow, as many as Concurrency workers can start within the window at
// the time a row has taken lately. A round that claims more only hands the
// rest back, and meanwhile no other sender may take them.
func (o *Outbox) claimLimit() int {
	o.mu.Lock()
	per := o.rowTime
	o.mu.Unlock()
	if per <= 0 {
		return o.cfg.Batch
	}
	perWorker := max(1, int(o.sendWindow()/per))
	return min(o.cfg.Batch, perWorker*o.cfg.Concurrency)
}

// observe adds the time one row took a worker to the moving average
// claimLimit reads.
func (o *Outbox) observe(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.rowTime <= 0 {
		o.rowTime = d
		return
	}
	o.rowTime += (d - o.rowTime) / 4
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
