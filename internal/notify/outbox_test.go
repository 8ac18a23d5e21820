package notify_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/notify"
	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/sms/atsim"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestSMSOutboxRetriesThenDelivers: each retryable failure (an HTTP 500,
// the statuses 500 and 502, an answer slower than the client waits, a
// dropped connection) leaves the row pending, due again after its backoff
// and not before, and the next attempt delivers it: one message accepted.
func TestSMSOutboxRetriesThenDelivers(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		sim, url := newSim(t)
		clk := newClock()
		o, _ := newOutbox(t, db, newAT(t, url), clk, func(c *notify.OutboxConfig) {
			c.Backoff = func(attempt int) time.Duration { return time.Duration(attempt) * time.Minute }
		})
		for name, failure := range map[string]atsim.Outcome{
			"http 500":   {HTTPStatus: http.StatusInternalServerError},
			"status 500": {StatusCode: atsim.StatusInternalServerError},
			"status 502": {StatusCode: atsim.StatusRejectedByGateway},
			"slow":       {Delay: 5 * time.Second},
			"dropped":    {Drop: true},
		} {
			to := storetest.Phone(t)
			id := queue(t, db, clk, to)[0]
			sim.Queue(failure)
			if got := drain(t, o); got.Retry != 1 || got.Sent != 0 {
				t.Fatalf("%s: first round %+v, want one retry", name, got)
			}
			n := notification(t, db, id)
			if n.Status != store.NotificationPending || n.Attempts != 1 || !n.NextAttemptAt.Equal(clk.Now().Add(time.Minute)) ||
				n.LastError == "" || n.ClaimToken != "" {
				t.Fatalf("%s: after the failure: %+v", name, n)
			}
			clk.Add(time.Minute - time.Second)
			if got := drain(t, o); got.Claimed != 0 {
				t.Fatalf("%s: retried before its backoff: %+v", name, got)
			}
			clk.Add(time.Second)
			if got := drain(t, o); got.Sent != 1 || got.Claimed != 1 {
				t.Fatalf("%s: second round %+v, want one sent", name, got)
			}
			n = notification(t, db, id)
			if n.Status != store.NotificationSent || n.Attempts != 2 || !strings.HasPrefix(n.MessageID, "ATXid_") {
				t.Fatalf("%s: after the retry: %+v", name, n)
			}
			if c := sim.Count(to); c != 1 {
				t.Fatalf("%s: %d messages accepted, want 1", name, c)
			}
		}
	})
}

// TestSMSOutboxPermanentFailureStops: a number that can never receive
// (403, 406, 409) is tried once and failed for good.
func TestSMSOutboxPermanentFailureStops(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		sim, url := newSim(t)
		clk := newClock()
		o, _ := newOutbox(t, db, newAT(t, url), clk, nil)
		for _, code := range []int{atsim.StatusInvalidPhoneNumber, atsim.StatusUserInBlacklist, atsim.StatusDoNotDisturbRejection} {
			before := len(sim.Requests())
			id := queue(t, db, clk, storetest.Phone(t))[0]
			sim.Queue(atsim.Outcome{StatusCode: code})
			if got := drain(t, o); got.Failed != 1 || got.Claimed != 1 {
				t.Fatalf("%d: %+v, want one failed", code, got)
			}
			clk.Add(24 * time.Hour)
			if got := drain(t, o); got.Claimed != 0 {
				t.Fatalf("%d: tried again: %+v", code, got)
			}
			n := notification(t, db, id)
			if n.Status != store.NotificationFailed || n.Attempts != 1 || !strings.Contains(n.LastError, fmt.Sprint(code)) {
				t.Fatalf("%d: %+v", code, n)
			}
			if tried := len(sim.Requests()) - before; tried != 1 {
				t.Fatalf("%d: %d requests, want 1", code, tried)
			}
		}
	})
}

// TestSMSOutboxGivesUpAfterMaxAttempts: a message that fails every time
// is tried MaxAttempts times, then failed for good.
func TestSMSOutboxGivesUpAfterMaxAttempts(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		sim, url := newSim(t)
		clk := newClock()
		o, _ := newOutbox(t, db, newAT(t, url), clk, func(c *notify.OutboxConfig) { c.MaxAttempts = 3 })
		id := queue(t, db, clk, storetest.Phone(t))[0]
		for range 5 {
			sim.Queue(atsim.Outcome{HTTPStatus: http.StatusServiceUnavailable})
		}
		got := drain(t, o)
		if got.Claimed != 3 || got.Retry != 2 || got.Failed != 1 {
			t.Fatalf("rounds %+v, want 3 claims: 2 retries, then failed", got)
		}
		n := notification(t, db, id)
		if n.Status != store.NotificationFailed || n.Attempts != 3 {
			t.Fatalf("%+v", n)
		}
		if r := len(sim.Requests()); r != 3 {
			t.Fatalf("%d requests, want 3", r)
		}
	})
}

// TestSMSOutboxGivesUpOnUnrecordedClaims: a row whose send started
// MaxAttempts times with no outcome ever recorded (a sender that crashes
// mid-send every time) is failed for good at its next claim, and not sent
// again. A claim whose send never started counts no attempt.
func TestSMSOutboxGivesUpOnUnrecordedClaims(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		sim, url := newSim(t)
		clk := newClock()
		o, _ := newOutbox(t, db, newAT(t, url), clk, func(c *notify.OutboxConfig) { c.MaxAttempts = 3 })
		id := queue(t, db, clk, storetest.Phone(t))[0]
		for i := range 4 {
			err := db.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
				token := fmt.Sprintf("crashed-%d", i)
				got, err := tx.ClaimNotifications(ctx, clk.Now(), clk.Now().Add(2*time.Minute), token, 10)
				if err != nil || i == 0 {
					return err // the first sender died before it started the send
				}
				if len(got) != 1 || got[0].Attempts != i-1 {
					t.Fatalf("claim %d: %+v", i, got)
				}
				// The send's lease ended a second ago: its sender died long since.
				ok, err := tx.StartNotificationAttempt(ctx, id, token, -time.Second)
				if err == nil && !ok {
					t.Fatalf("start %d refused", i)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(2 * time.Minute)
		}
		if got := drain(t, o); got.Failed != 1 || got.Claimed != 1 {
			t.Fatalf("%+v, want the row failed", got)
		}
		if n := notification(t, db, id); n.Status != store.NotificationFailed || n.Attempts != 3 || n.LeasedUntil != nil {
			t.Fatalf("%+v", n)
		}
		if r := len(sim.Requests()); r != 0 {
			t.Fatalf("%d requests, want none", r)
		}
	})
}

// TestInstancesSMSOutbox: three servers' outboxes, each on its own
// connection pool to one database, draining a few hundred rows at once,
// send each exactly once (counted at the simulator): a row is claimed
// under a lease by one sender, and only the claim's holder sends it and
// records it.
func TestInstancesSMSOutbox(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			senders(t, engine, store.IsolationDefault, 3)
		})
	}
}

// senders is TestInstancesSMSOutbox with n senders on engine at iso.
func senders(t *testing.T, engine string, iso store.Isolation, n int) {
	t.Helper()
	url := dbtest.URL(t, engine)
	dbs := make([]database.DB, n)
	for i := range dbs {
		db, err := database.Open(ctxT(t), url, database.Options{Migrate: i == 0, Isolation: iso})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	sim, simURL := newSim(t)
	clk := newClock()
	const rows = 300
	numbers := make([]string, rows)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+25471%07d", i)
	}
	ids := queue(t, dbs[0], clk, numbers...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, db := range dbs {
		o, _ := newOutbox(t, db, newAT(t, simURL), clk, func(c *notify.OutboxConfig) { c.Batch, c.Poll = 20, 10*time.Millisecond })
		wg.Go(func() { o.Run(ctx) })
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	err := sim.WaitFor(wctx, rows)
	cancel()
	wg.Wait() // nothing is in flight once all have stopped
	if err != nil {
		t.Fatal(err)
	}
	if got := len(sim.Messages()); got != rows {
		t.Fatalf("%d messages accepted for %d rows", got, rows)
	}
	if got := len(sim.Requests()); got != rows {
		t.Fatalf("%d sends for %d rows", got, rows)
	}
	for _, to := range numbers {
		if c := sim.Count(to); c != 1 {
			t.Fatalf("%s got %d messages", to, c)
		}
	}
	for _, id := range ids {
		if n := notification(t, dbs[1], id); n.Status != store.NotificationSent || n.Attempts != 1 {
			t.Fatalf("row %d: %+v", id, n)
		}
	}
	for _, db := range dbs {
		dbtest.LogRetries(t, db, iso.String())
	}
}

// TestSerializableOutboxTwoSenders: the two senders at SERIALIZABLE on
// PostgreSQL, where the claims' range reads and the records' writes
// collide as serialization failures (SQLSTATE 40001) that are retried: each
// text is still sent exactly once and recorded once.
func TestSerializableOutboxTwoSenders(t *testing.T) {
	senders(t, "postgres", store.IsolationSerializable, 2)
}

// stallingSender passes the first pass sends to next, then blocks every
// later one until its context ends, saying so on stalled.
type stallingSender struct {
	next    sms.Sender
	pass    int
	mu      sync.Mutex
	calls   int
	stalled chan struct{}
}

func (s *stallingSender) Send(ctx context.Context, m sms.Message) (sms.Result, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if n <= s.pass {
		return s.next.Send(ctx, m)
	}
	if n == s.pass+1 {
		close(s.stalled)
	}
	<-ctx.Done()
	return sms.Result{}, &sms.Error{Reason: "stalled", Err: ctx.Err()}
}

// TestSMSOutboxKilledMidBatch: a sender stopped after it sent and recorded
// some of its batch hands back the rows it had not started, which another
// sender sends at once, and leaves the send it cut short leased on the
// database's clock: no one takes that row before the lease ends, not even
// a server whose clock is a day ahead, and after it it goes out once,
// while what was recorded as sent is never sent again. A message the
// gateway took but whose answer was lost (DropAfterAccept) is sent once
// more, and only once.
func TestSMSOutboxKilledMidBatch(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		sim, url := newSim(t)
		clk := newClock()
		const rows, pass = 10, 4
		// Long enough to check it holds, short enough to wait out.
		const lease = 5 * time.Second
		numbers := make([]string, rows)
		for i := range numbers {
			numbers[i] = fmt.Sprintf("+25472%07d", i)
		}
		ids := queue(t, db, clk, numbers...)
		stall := &stallingSender{next: newAT(t, url), pass: pass, stalled: make(chan struct{})}
		killed, _ := newOutbox(t, db, stall, clk, func(c *notify.OutboxConfig) { c.Concurrency, c.StopGrace, c.Lease = 1, 50*time.Millisecond, lease })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan notify.Tally, 1)
		go func() {
			got, err := killed.RunOnce(ctx)
			if err != nil {
				t.Error(err)
			}
			done <- got
		}()
		select {
		case <-stall.stalled:
		case <-time.After(30 * time.Second):
			t.Fatal("the sender never reached its fifth send")
		}
		cancel()
		var got notify.Tally
		select {
		case got = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the stopped round did not return")
		}
		if got.Claimed != rows || got.Sent != pass || got.Lost != 1 || got.Returned != rows-pass-1 {
			t.Fatalf("killed round %+v, want %d sent, one cut short and %d handed back", got, pass, rows-pass-1)
		}

		// A server a day ahead finds the handed-back rows due, not the one
		// whose send was cut short.
		var due []int64
		err := db.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			ahead := clk.Now().Add(24 * time.Hour)
			got, err := tx.ClaimNotifications(ctx, ahead, ahead, "probe", rows)
			due = due[:0]
			for _, n := range got {
				due = append(due, n.ID)
			}
			if err == nil && len(due) > 0 {
				_, err = tx.ReleaseNotifications(ctx, "probe", due, clk.Now())
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(due) != fmt.Sprint(ids[pass+1:]) {
			t.Fatalf("due after the kill: %v, want the rows not started %v", due, ids[pass+1:])
		}
		for i, id := range ids {
			n := notification(t, db, id)
			switch {
			case i < pass && n.Status == store.NotificationSent:
			case i == pass && n.Status == store.NotificationPending && n.Attempts == 1 && n.LeasedUntil != nil && n.ClaimToken != "":
			case i > pass && n.Status == store.NotificationPending && n.Attempts == 0 && n.LeasedUntil == nil && n.ClaimToken == "":
			default:
				t.Fatalf("row %d after the kill: %+v", i, n)
			}
		}

		// Another sender sends those at once; the first goes out but its
		// answer is lost: it is retried, and sent a second time.
		other, _ := newOutbox(t, db, newAT(t, url), clk, nil)
		sim.Queue(atsim.Outcome{DropAfterAccept: true})
		if got := drain(t, other); got.Sent != rows-pass-1 || got.Retry != 1 {
			t.Fatalf("the rows handed back: %+v, want %d sent after one retry", got, rows-pass-1)
		}
		// The one cut short goes out once its lease has ended.
		clk.Add(lease)
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := other.RunOnce(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if got.Claimed > 0 {
				if got.Sent != 1 {
					t.Fatalf("after the lease: %+v, want the row cut short sent", got)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the row cut short never came due")
			}
			time.Sleep(50 * time.Millisecond) // the database's clock passing the lease
		}
		twice := 0
		for i, to := range numbers {
			c := sim.Count(to)
			if c == 2 && i > pass {
				twice++ // the gateway took it, but the answer never came
			} else if c != 1 {
				t.Fatalf("row %d: %d messages", i, c)
			}
			if n := notification(t, db, ids[i]); n.Status != store.NotificationSent {
				t.Fatalf("row %d: %+v", i, n)
			}
		}
		if twice != 1 {
			t.Fatalf("%d rows sent twice, want the one whose answer was lost", twice)
		}
	})
}

// TestSMSOutboxSlowSendsShrinkTheBatch: a round that could not start all
// it claimed before its window closed hands the rest back at once (no
// attempt counted, due now, held by no one), and the next round claims no
// more than the sends it has timed can cover.
func TestSMSOutboxSlowSendsShrinkTheBatch(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		gw := &slowGateway{d: 300 * time.Millisecond, accepted: map[string]int{}}
		clk := newClock()
		o, _ := newOutbox(t, db, gw, clk, func(c *notify.OutboxConfig) { c.Batch, c.Concurrency, c.Lease = 20, 1, time.Second })
		numbers := make([]string, 20)
		for i := range numbers {
			numbers[i] = fmt.Sprintf("+25474%07d", i)
		}
		ids := queue(t, db, clk, numbers...)
		first, err := o.RunOnce(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		// 0.9 s of window at 0.3 s a send: three or four started.
		if first.Claimed != 20 || first.Sent < 2 || first.Sent > 4 || first.Returned != 20-first.Sent || first.Lost != 0 {
			t.Fatalf("first round %+v, want a few sent and the rest handed back", first)
		}
		for i, id := range ids[first.Sent:] {
			if n := notification(t, db, id); n.Status != store.NotificationPending || n.Attempts != 0 || n.ClaimToken != "" ||
				n.LeasedUntil != nil || n.NextAttemptAt.After(clk.Now()) {
				t.Fatalf("row %d handed back as %+v", first.Sent+i, n)
			}
		}
		second, err := o.RunOnce(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if second.Claimed < 1 || second.Claimed > 3 || second.Sent != second.Claimed {
			t.Fatalf("second round %+v, want no more claimed than 0.9 s of 0.3 s sends, all sent", second)
		}
	})
}

// TestSMSOutboxRefusesLeaseShorterThanSend: a lease whose window could cut
// a send short before the client's own timeout is refused.
func TestSMSOutboxRefusesLeaseShorterThanSend(t *testing.T) {
	base := notify.OutboxConfig{Store: dbtest.Open(t, "sqlite"), Sender: sms.NewLog(nil), Lease: 30 * time.Second}
	for timeout, ok := range map[time.Duration]bool{15 * time.Second: true, 27 * time.Second: true, 28 * time.Second: false} {
		cfg := base
		cfg.SendTimeout = timeout
		if _, err := notify.NewOutbox(cfg); (err == nil) != ok {
			t.Errorf("send timeout %s with a 30 s lease: %v", timeout, err)
		}
	}
}

// TestSMSOutboxRunWakes: Run sends a row queued while it waits as soon as
// it is woken, long before its poll, and returns when its context ends.
func TestSMSOutboxRunWakes(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		sim, url := newSim(t)
		clk := newClock()
		o, _ := newOutbox(t, db, newAT(t, url), clk, func(c *notify.OutboxConfig) { c.Poll = time.Hour })
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { o.Run(ctx); close(stopped) }()
		for i := range 3 {
			queue(t, db, clk, storetest.Phone(t))
			o.Wake()
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			err := sim.WaitFor(wctx, i+1)
			wcancel()
			if err != nil {
				t.Fatalf("woken run did not send within 10 s (poll is an hour): %v", err)
			}
		}
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	})
}

// TestSMSOutboxWokenByCommit: a wallet on WakeOnQueue's store wakes a
// sender that would otherwise wait an hour, as soon as a transfer commits;
// the receipt goes out at once.
func TestSMSOutboxWokenByCommit(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		sim, url := newSim(t)
		o, _ := newOutbox(t, db, newAT(t, url), newClock(), func(c *notify.OutboxConfig) { c.Poll, c.Now = time.Hour, time.Now })
		cfg := wallet.DefaultConfig()
		cfg.AuthorizationTTL = time.Hour
		w, err := wallet.New(ctxT(t), notify.WakeOnQueue(db, o), cfg)
		if err != nil {
			t.Fatal(err)
		}
		payer := newSubject(t, w, "en", 10_000*sat)
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { o.Run(ctx); close(stopped) }()
		defer func() { cancel(); <-stopped }()
		for i := range 3 {
			to := storetest.Phone(t)
			if _, err := w.Transfer(ctxT(t), payer.auth, to, 100*sat, fmt.Sprintf("woken-%d", i)); err != nil {
				t.Fatal(err)
			}
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			err := sim.WaitFor(wctx, i+1)
			wcancel()
			if err != nil {
				t.Fatalf("transfer %d: no receipt within 10 s of its commit (poll is an hour): %v", i, err)
			}
			if sim.Count(to) != 1 {
				t.Fatalf("transfer %d: the receipt went elsewhere", i)
			}
		}
	})
}
