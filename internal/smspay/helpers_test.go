package smspay_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// regtestParams is the network the tests' node runs.
var regtestParams = &chaincfg.RegressionNetParams

// clock is a time the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one test's database, wallet and service.
type env struct {
	t     *testing.T
	ctx   context.Context
	db    database.DB
	w     *wallet.Service
	svc   *smspay.Service
	clock *clock
	// claims numbers the outbox reads (each claims at a later time, so
	// every pending row is due again).
	claims atomic.Int64
}

// newEnv makes the service over db with node (nil: the test sends no text
// that reaches the node), its clock at start.
func newEnv(t *testing.T, db database.DB, node lightning.Node, start time.Time, mutate func(*smspay.Service)) *env {
	t.Helper()
	ctx := context.Background()
	cfg := wallet.DefaultConfig()
	cfg.Argon2 = wallet.Argon2Params{Time: 1, Memory: 1024, Threads: 1}
	cfg.AuthorizationTTL = time.Hour
	w, err := wallet.New(ctx, db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("SMS_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	c := &clock{now: start}
	svc := &smspay.Service{Store: db, Wallet: w, Node: node, Log: log,
		Config: smspay.Config{Network: "regtest", Now: c.Now}}
	if node != nil {
		svc.Payer = &lightning.Payer{Node: node, Wallet: w, Log: log}
		svc.Addresses = &lightning.LNURLClient{Node: node, AllowPrivate: true, Timeout: 5 * time.Second}
		t.Cleanup(svc.Payer.Wait)
	}
	if mutate != nil {
		mutate(svc)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	return &env{t: t, ctx: ctx, db: db, w: w, svc: svc, clock: c}
}

// member is a registered user holding sats.
func (e *env) member(sats int64) wallet.User {
	e.t.Helper()
	u, _, err := e.w.EnsureUser(e.ctx, storetest.Phone(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.w.Register(e.ctx, u.ID, "7391"); err != nil {
		e.t.Fatal(err)
	}
	if sats > 0 {
		if _, err := e.w.Adjust(e.ctx, u.Phone, sats*1000, "test funding", "fund-"+u.Phone); err != nil {
			e.t.Fatal(err)
		}
	}
	u, err = e.w.UserByPhone(e.ctx, u.Phone)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// text sends a text from a number under a fresh gateway id.
func (e *env) text(from, body string) smspay.Result {
	e.t.Helper()
	return e.textAs(storetest.Token(e.t, 10), from, body)
}

// textAs sends a text under a given gateway id.
func (e *env) textAs(gatewayID, from, body string) smspay.Result {
	e.t.Helper()
	res, err := e.svc.Receive(e.ctx, smspay.Inbound{GatewayID: gatewayID, From: from, To: "21234", Text: body, Date: "2031-05-06 10:00:00"})
	if err != nil {
		e.t.Fatalf("receive %q from %s: %v", body, from, err)
	}
	return res
}

// inbound reads a text's row.
func (e *env) inbound(gatewayID string) store.InboundSMS {
	e.t.Helper()
	var m store.InboundSMS
	err := e.db.Autocommit(e.ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		m, err = tx.InboundSMSByGatewayID(ctx, gatewayID)
		return err
	})
	if err != nil {
		e.t.Fatalf("inbound %s: %v", gatewayID, err)
	}
	return m
}

// outbox lists every notification of the database still to send, as a
// sender would claim them (each call later than the last, past the lease
// the last one took).
func (e *env) outbox() []store.Notification {
	e.t.Helper()
	at := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(e.claims.Add(1)) * time.Hour)
	var out []store.Notification
	err := e.db.InTx(e.ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.ClaimNotifications(ctx, at, at.Add(time.Minute), "smspay-test", 1000)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// repliesTo lists the answers to texts waiting in the outbox for a
// number (the kinds smspay queues, not the wallet's own notices).
func (e *env) repliesTo(phone string) []store.Notification {
	e.t.Helper()
	var out []store.Notification
	for _, n := range e.outbox() {
		switch n.Kind {
		case store.NotifyPayRequest, store.NotifyPayRefused, store.NotifyRegisterFirst:
			if n.Phone == phone {
				out = append(out, n)
			}
		}
	}
	return out
}
