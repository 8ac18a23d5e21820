package notify_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/notify"
	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/sms/atsim"
	"github.com/umeme-wallet/umeme/internal/store"
)

const atUser, atKey = "umeme", "atsk_outbox_test_key"

// clock is a settable clock for the outbox; it starts at a whole second so
// that every engine stores its times exactly.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newSim serves a fresh Africa's Talking simulator over loopback HTTP.
func newSim(t *testing.T) (*atsim.Sim, string) {
	t.Helper()
	sim := atsim.New(atsim.Config{Username: atUser, APIKey: atKey})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	return sim, srv.URL
}

// newAT is the real adapter pointed at the simulator, with a short
// timeout so that a slow answer fails fast.
func newAT(t *testing.T, url string) *sms.AT {
	t.Helper()
	at, err := sms.NewAT(sms.Config{BaseURL: url, Username: atUser, APIKey: atKey, Timeout: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// logBuffer collects log lines written from many goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newOutbox is an outbox on s through sender, on clk, with no wait
// between attempts unless mutate sets one; its debug log goes to the
// returned buffer.
func newOutbox(t *testing.T, s store.Store, sender sms.Sender, clk *clock, mutate func(*notify.OutboxConfig)) (*notify.Outbox, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := notify.OutboxConfig{Store: s, Sender: sender, Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Batch: 50, Lease: 2 * time.Minute, MaxAttempts: 8, ServiceCode: "*384*1234#", Now: clk.Now,
		Backoff: func(int) time.Duration { return 0 }}
	if mutate != nil {
		mutate(&cfg)
	}
	o, err := notify.NewOutbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o, logs
}

// drain runs rounds until one claims nothing, and sums them.
func drain(t *testing.T, o *notify.Outbox) notify.Tally {
	t.Helper()
	var sum notify.Tally
	for range 100 {
		got, err := o.RunOnce(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if got.Claimed == 0 {
			return sum
		}
		sum.Claimed += got.Claimed
		sum.Sent += got.Sent
		sum.Retry += got.Retry
		sum.Failed += got.Failed
		sum.Returned += got.Returned
		sum.Lost += got.Lost
	}
	t.Fatal("the outbox never ran dry")
	return sum
}

// queue inserts one notification per number, due at clk's now, and
// returns their ids in order.
func queue(t *testing.T, s store.Store, clk *clock, numbers ...string) []int64 {
	t.Helper()
	ids := make([]int64, 0, len(numbers))
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		ids = ids[:0]
		for _, to := range numbers {
			id, err := tx.InsertNotification(ctx, store.NewNotification{Phone: to, Kind: store.NotifyPINChanged, Now: clk.Now()})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// notification reads one row back.
func notification(t *testing.T, s store.Store, id int64) store.Notification {
	t.Helper()
	var n store.Notification
	err := s.Autocommit(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.Notification(ctx, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
