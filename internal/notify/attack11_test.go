package notify_test

// Attack review of issue 11 (branch attack11): each test here demonstrates
// a hole in the outbox as merged, and fails until it is fixed. The comment
// above each names the hole and its severity (HIGH = money or secrets,
// MEDIUM = harm to users or cost, LOW).

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/notify"
	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/store"
)

// slowGateway takes each message the moment it is called, as a gateway
// that accepts a message and then answers late does, and answers after d
// (or gives up when ctx ends first, as the real adapter does).
type slowGateway struct {
	d        time.Duration
	mu       sync.Mutex
	accepted map[string]int // messages taken, by number
	n        int
}

func (g *slowGateway) Send(ctx context.Context, m sms.Message) (sms.Result, error) {
	g.mu.Lock()
	g.accepted[m.To]++
	g.n++
	id := fmt.Sprintf("slow-%d", g.n)
	g.mu.Unlock()
	t := time.NewTimer(g.d)
	defer t.Stop()
	select {
	case <-t.C:
		return sms.Result{Sent: true, MessageID: id, StatusCode: sms.StatusSent, Status: "Success"}, nil
	case <-ctx.Done():
		return sms.Result{}, &sms.Error{Reason: "no answer from Africa's Talking", Err: ctx.Err()}
	}
}

func (g *slowGateway) count(to string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.accepted[to]
}

// TestAttackSMSOutboxSlowGatewayDropsUnsent — HOLE (MEDIUM, lost texts and
// duplicates): a round claims Batch rows under one lease, counts an
// attempt on every row it claims, and sends them Concurrency at a time
// within 90% of the lease. When the gateway answers slowly (the defaults
// — Batch 50, Concurrency 4, Lease 2 min — cover a batch only while a send
// takes under about 8.6 s; the adapter waits up to 15 s), the rows at the
// tail of each batch are claimed and never tried, and each such claim
// burns an attempt: after MaxAttempts claims a row is failed for good
// ("claimed more times than SMS_MAX_ATTEMPTS") without having been sent
// once — an invoice a user asked for, a receipt, a lockout notice, lost.
// Meanwhile the send in flight when the window closes is cut short after
// the gateway took it, and goes out again next lease.
//
// Scaled down: Batch 12, Concurrency 1, Lease 1 s (a window of 0.9 s),
// MaxAttempts 3, a gateway that answers in 0.4 s.
// Fix: count an attempt when a send starts, not at the claim; give back
// (next_attempt_at = now, attempts unchanged) the rows a round did not
// start before its window closed; and/or claim no more rows than the lease
// can cover (Concurrency × lease / expected send time).
func TestAttackSMSOutboxSlowGatewayDropsUnsent(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		gw := &slowGateway{d: 400 * time.Millisecond, accepted: map[string]int{}}
		clk := newClock()
		const lease = time.Second
		o, _ := newOutbox(t, db, gw, clk, func(c *notify.OutboxConfig) {
			c.Batch, c.Concurrency, c.Lease, c.MaxAttempts, c.StopGrace = 12, 1, lease, 3, 50*time.Millisecond
		})
		const rows = 12
		numbers := make([]string, rows)
		for i := range numbers {
			numbers[i] = fmt.Sprintf("+25473%07d", i)
		}
		ids := queue(t, db, clk, numbers...)
		for round := 0; ; round++ {
			if round == 20 {
				t.Fatal("the outbox never ran dry")
			}
			got, err := o.RunOnce(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if got.Claimed == 0 {
				break
			}
			clk.Add(lease) // every row the round left is due again
		}
		var neverSent, twice []int
		for i, id := range ids {
			n := notification(t, db, id)
			switch c := gw.count(numbers[i]); {
			case c == 0 && n.Status == store.NotificationFailed:
				neverSent = append(neverSent, i)
			case c > 1:
				twice = append(twice, i)
			}
		}
		if len(neverSent) > 0 {
			t.Errorf("rows %v were given up without ever being sent (the gateway was only slow)", neverSent)
		}
		if len(twice) > 0 {
			t.Errorf("rows %v went out more than once", twice)
		}
	})
}

// gatedSender holds each send until released, saying on started that it
// has the message.
type gatedSender struct {
	started chan struct{}
	release chan struct{}
	mu      sync.Mutex
	sent    int
}

func (g *gatedSender) Send(ctx context.Context, m sms.Message) (sms.Result, error) {
	g.mu.Lock()
	g.sent++
	g.mu.Unlock()
	g.started <- struct{}{}
	select {
	case <-g.release:
		return sms.Result{Sent: true, MessageID: "gated-1", StatusCode: sms.StatusSent}, nil
	case <-ctx.Done():
		return sms.Result{}, &sms.Error{Reason: "released too late", Err: ctx.Err()}
	}
}

// countingSender takes every message at once.
type countingSender struct {
	mu   sync.Mutex
	sent int
}

func (c *countingSender) Send(ctx context.Context, m sms.Message) (sms.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent++
	return sms.Result{Sent: true, MessageID: fmt.Sprintf("count-%d", c.sent), StatusCode: sms.StatusSent}, nil
}

// TestAttackSMSOutboxClockSkewSendsTwice — HOLE (LOW, duplicates): the
// lease is a time of the claiming server's clock (next_attempt_at = its
// now + Lease), and another server compares it with its own clock. Two
// servers on one database whose clocks differ by more than the lease (a
// host whose NTP stopped) both send the same row: the fast one takes a row
// the slow one is sending right now.
//
// Reproduce: server A claims and is sending; server B, 3 minutes ahead
// with a 2-minute lease, runs a round.
// Fix: take times for leases from the database (now() / CURRENT_TIMESTAMP
// in the claim and record queries), or compare leases only with the
// database's clock.
func TestAttackSMSOutboxClockSkewSendsTwice(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		slow, fast := newClock(), newClock()
		fast.Add(3 * time.Minute)
		gate := &gatedSender{started: make(chan struct{}, 1), release: make(chan struct{})}
		a, _ := newOutbox(t, db, gate, slow, nil)
		counting := &countingSender{}
		b, _ := newOutbox(t, db, counting, fast, nil)
		queue(t, db, slow, "+254711000111")

		done := make(chan error, 1)
		go func() {
			_, err := a.RunOnce(ctxT(t))
			done <- err
		}()
		select {
		case <-gate.started:
		case err := <-done:
			t.Fatalf("server A's round ended before it sent: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("server A never sent")
		}
		if _, err := b.RunOnce(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		close(gate.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if total := gate.sent + counting.sent; total != 1 {
			t.Fatalf("one notification sent %d times by two servers whose clocks differ by 3 minutes", total)
		}
	})
}

// sameIDSender takes every message under one message id, as a gateway
// that reuses ids would.
type sameIDSender struct{}

func (sameIDSender) Send(ctx context.Context, m sms.Message) (sms.Result, error) {
	return sms.Result{Sent: true, MessageID: "ATXid_reused", StatusCode: sms.StatusSent}, nil
}

// TestAttackSMSOutboxReusedMessageIDSharesReport — HOLE (LOW): a message
// id the gateway gives twice keeps its first delivery record ("ON CONFLICT
// DO NOTHING"), and both notifications then read that one record: the
// second message shows the first one's report ("Success") and its own
// report ("Failed") can never be recorded, since the shared record is
// already final.
//
// Reproduce: two messages under one id; "Success" for the first, then
// "Failed".
// Fix: key sms_deliveries by (message_id, notification_id), or refuse a
// reused id at record time (log it and record the message without one).
func TestAttackSMSOutboxReusedMessageIDSharesReport(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		clk := newClock()
		o, _ := newOutbox(t, db, sameIDSender{}, clk, nil)
		ids := queue(t, db, clk, "+254711000222")
		if got := drain(t, o); got.Sent != 1 {
			t.Fatalf("first: %+v", got)
		}
		if ok, err := o.RecordDelivery(ctxT(t), store.DeliveryReport{MessageID: "ATXid_reused", Status: "Success", Final: true, Now: clk.Now()}); err != nil || !ok {
			t.Fatalf("first report: %v %v", ok, err)
		}
		ids = append(ids, queue(t, db, clk, "+254711000333")...)
		if got := drain(t, o); got.Sent != 1 {
			t.Fatalf("second: %+v", got)
		}
		if _, err := o.RecordDelivery(ctxT(t), store.DeliveryReport{MessageID: "ATXid_reused", Status: "Failed", FailureReason: "AbsentSubscriber",
			Final: true, Now: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		if n := notification(t, db, ids[1]); n.DeliveryStatus != "Failed" {
			t.Fatalf("the second message, reported Failed, reads as %q (the first message's report)", n.DeliveryStatus)
		}
	})
}
