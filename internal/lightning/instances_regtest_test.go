package lightning_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/lightning/lndnode"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// countingNode counts the calls that act on a payment, by invoice (sends)
// and by payment hash (tracks and cancels), across every server's node
// connection.
type countingNode struct {
	lightning.Node
	c *calls
}

type calls struct {
	mu                    sync.Mutex
	pays, tracks, cancels map[string]int
}

func newCalls() *calls {
	return &calls{pays: map[string]int{}, tracks: map[string]int{}, cancels: map[string]int{}}
}

func (c *calls) add(m map[string]int, k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m[k]++
}

func (c *calls) count(m map[string]int, k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m[k]
}

func (n countingNode) PayInvoice(ctx context.Context, req lightning.PaymentRequest) (<-chan lightning.PaymentUpdate, <-chan error, error) {
	n.c.add(n.c.pays, req.Invoice)
	return n.Node.PayInvoice(ctx, req)
}

func (n countingNode) TrackPayment(ctx context.Context, hash string) (<-chan lightning.PaymentUpdate, <-chan error, error) {
	n.c.add(n.c.tracks, hash)
	return n.Node.TrackPayment(ctx, hash)
}

func (n countingNode) CancelInvoice(ctx context.Context, hash string) error {
	n.c.add(n.c.cancels, hash)
	return n.Node.CancelInvoice(ctx, hash)
}

// server is one more server on the env's database and node: its own
// connection pool, wallet, node connection, payer and receiver, as
// another `server serve` process has.
type server struct {
	w     *wallet.Service
	payer *lightning.Payer
	recv  *lightning.Receiver
}

func (e *payEnv) servers(n int, c *calls) []*server {
	e.t.Helper()
	out := make([]*server, n)
	for i := range out {
		db, err := database.Open(e.ctx, e.dbURL, database.Options{})
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(func() { db.Close() })
		cfg := wallet.DefaultConfig()
		cfg.AuthorizationTTL = time.Hour
		w, err := wallet.New(e.ctx, db, cfg)
		if err != nil {
			e.t.Fatal(err)
		}
		node, err := lndnode.Connect(e.ctx, lndnode.Config{Address: e.net.Ours.RPC, TLSCertPath: e.net.Ours.TLSCertPath(),
			MacaroonPath: e.net.Ours.MacaroonPath(), Network: "regtest"})
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(node.Close)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		counted := countingNode{Node: node, c: c}
		s := &server{w: w, payer: &lightning.Payer{Node: counted, Wallet: w, Log: log}, recv: &lightning.Receiver{Node: counted, Wallet: w, Log: log}}
		e.t.Cleanup(s.payer.Wait)
		out[i] = s
	}
	return out
}

// TestInstancesPayments: three servers on one database and one node re-
// attach to the pending payments at the same instant (after a crash): a
// payment reserved but never sent is sent once, by one of them; one in
// flight is tracked by one of them and settled or refunded once; a
// payment of our own invoice is cancelled on the node by one of them and
// settled once. Three servers paying one invoice under one key at once
// (a hop repeated through another server) send it once. Every payment
// ends once, lnd pays each invoice once, and the books balance.
func TestInstancesPayments(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newPayEnv(t, engine)
			c := newCalls()
			ss := e.servers(3, c)
			u, auth := e.member(100_000)
			payee, _ := e.member(0)

			// Reserved, never sent: a crash between the two.
			type unsent struct {
				t      store.Transaction
				bolt11 string
				hash   string
			}
			var reserved []unsent
			for i := range 3 {
				bolt11, hash := e.worldInvoice(int64(1_000 + i))
				reserved = append(reserved, unsent{e.reserve(auth, bolt11, fmt.Sprintf("inst-reserved-%d", i)), bolt11, hash})
			}
			// In flight, nobody following: one the world settles, one it cancels.
			settleBolt, settleHash, preimage := e.holdInvoice(2_000)
			toSettle := e.sendUnfollowed(auth, settleBolt, "inst-held-settled")
			cancelBolt, cancelHash, _ := e.holdInvoice(3_000)
			toCancel := e.sendUnfollowed(auth, cancelBolt, "inst-held-cancelled")
			e.waitAccepted(settleHash)
			e.waitAccepted(cancelHash)
			// Our own invoice, held from the payer, not yet cancelled on the node.
			own, err := e.recv.RequestInvoice(e.ctx, payee.ID, 4_000_000, "own")
			if err != nil {
				t.Fatal(err)
			}
			ownPay, err := e.w.ReserveOwnInvoice(e.ctx, auth, own.PaymentHash, "inst-own")
			if err != nil {
				t.Fatal(err)
			}

			dbtest.AtOnce(t, len(ss), func(i int) error { return ss[i].payer.Resume(e.ctx) })
			// One invoice, one key, paid through every server at once.
			twiceBolt, twiceHash := e.worldInvoice(5_000)
			dbtest.AtOnce(t, len(ss), func(i int) error {
				_, err := ss[i].payer.Pay(e.ctx, auth, twiceBolt, "inst-repeated-hop")
				return err
			})
			e.net.World.CLI("settleinvoice", preimage)
			e.net.World.CLI("cancelinvoice", cancelHash)
			for _, s := range ss {
				s.payer.Wait()
			}

			for i, r := range reserved {
				if p, tr := c.count(c.pays, r.bolt11), c.count(c.tracks, r.hash); p != 1 || tr != 1 {
					t.Errorf("reserved payment %d: sent %d times and tracked %d times, want once each", i, p, tr)
				}
				if got := e.transaction(r.t.ID); got.Status != store.StatusCompleted || succeededPayments(t, e.net, r.hash) != 1 {
					t.Errorf("reserved payment %d: %s", i, got.Status)
				}
			}
			for _, h := range []struct {
				what, bolt11, hash string
				id                 int64
				want               store.TransactionStatus
			}{
				{"settled in flight", settleBolt, settleHash, toSettle.ID, store.StatusCompleted},
				{"cancelled in flight", cancelBolt, cancelHash, toCancel.ID, store.StatusFailed},
			} {
				// The one send is the crashed server's (sendUnfollowed), not counted.
				if p, tr := c.count(c.pays, h.bolt11), c.count(c.tracks, h.hash); p != 0 || tr != 1 {
					t.Errorf("%s: sent %d times and tracked %d times after the crash, want 0 and 1", h.what, p, tr)
				}
				if got := e.transaction(h.id); got.Status != h.want {
					t.Errorf("%s: %s, want %s", h.what, got.Status, h.want)
				}
			}
			if n := c.count(c.cancels, own.PaymentHash); n != 1 {
				t.Errorf("own invoice cancelled on the node %d times, want once", n)
			}
			if got := e.transaction(ownPay.ID); got.Status != store.StatusCompleted || e.balance(payee.ID) != 4_000_000 {
				t.Errorf("own-invoice payment %s, payee holds %d", got.Status, e.balance(payee.ID))
			}
			if p := c.count(c.pays, twiceBolt); p != 1 || succeededPayments(t, e.net, twiceHash) != 1 {
				t.Errorf("one payment paid through three servers at once: sent %d times", p)
			}
			var spent int64
			for _, id := range []int64{reserved[0].t.ID, reserved[1].t.ID, reserved[2].t.ID, toSettle.ID, ownPay.ID} {
				got := e.transaction(id)
				spent += got.AmountMsat + got.FeeMsat
			}
			twice, err := e.w.PaymentByHash(e.ctx, twiceHash)
			if err != nil || twice.Status != store.StatusCompleted {
				t.Fatalf("the repeated payment: %+v %v", twice, err)
			}
			spent += twice.AmountMsat + twice.FeeMsat
			if b := e.balance(u.ID); b != 100_000_000-spent {
				t.Errorf("payer holds %d, want %d", b, 100_000_000-spent)
			}
			e.mustReconcile()
		})
	}
}

// TestInstancesInvoiceWatcher: three servers' invoice watchers follow one
// node at once; every invoice the world pays is credited once (the
// invoice row's guarded status change, one transaction row per hash),
// whichever watcher sees it first.
func TestInstancesInvoiceWatcher(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newPayEnv(t, engine)
			ss := e.servers(3, newCalls())
			var mu sync.Mutex
			credits := map[string]int{}
			ctx, cancel := context.WithCancel(e.ctx)
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			for _, s := range ss {
				s.recv.OnCredit = func(h string) {
					mu.Lock()
					defer mu.Unlock()
					credits[h]++
				}
				wg.Go(func() { s.recv.Watch(ctx) })
			}
			const n = 6
			users := make([]wallet.User, n)
			hashes := make([]string, n)
			for i := range users {
				users[i], _ = e.member(0)
				inv, err := ss[i%3].recv.RequestInvoice(e.ctx, users[i].ID, int64(1_000_000+i*1_000), "watched")
				if err != nil {
					t.Fatal(err)
				}
				hashes[i] = inv.PaymentHash
				e.net.World.CLI("payinvoice", "--force", inv.Invoice)
			}
			waitUntil(t, "every invoice credited", func() bool {
				for i, u := range users {
					if e.balance(u.ID) != int64(1_000_000+i*1_000) {
						return false
					}
				}
				return true
			})
			time.Sleep(time.Second) // let a late second credit show
			mu.Lock()
			defer mu.Unlock()
			for i, h := range hashes {
				if credits[h] != 1 {
					t.Errorf("invoice %d credited %d times, want once", i, credits[h])
				}
				if b := e.balance(users[i].ID); b != int64(1_000_000+i*1_000) {
					t.Errorf("user %d holds %d", i, b)
				}
			}
			e.mustReconcile()
		})
	}
}
