package smspay_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/lightning/lndnode"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// sendCounter counts the payments sent to the node, by invoice, across
// every server's connection.
type sendCounter struct {
	lightning.Node
	mu    *sync.Mutex
	sends map[string]int
}

func (n sendCounter) PayInvoice(ctx context.Context, req lightning.PaymentRequest) (<-chan lightning.PaymentUpdate, <-chan error, error) {
	n.mu.Lock()
	n.sends[req.Invoice]++
	n.mu.Unlock()
	return n.Node.PayInvoice(ctx, req)
}

// TestInstancesSMSPay: three servers on one database and one node. A text
// whose callback reaches all three at once (the gateway retrying through
// a balancer) is recorded and answered once (the gateway id is unique);
// texts of a number without a wallet, one to each server at once, earn one
// "register first" (the reply's key is unique); a request approved through
// all three at once is paid once (its payment's idempotency key, the
// payment hash's one payment, and the payment's lease: one send to the
// node).
func TestInstancesSMSPay(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			net := network(t)
			net.WaitRoutable()
			url := dbtest.URL(t, engine)
			var mu sync.Mutex
			sends := map[string]int{}
			es := make([]*lnEnv, 3)
			for i := range es {
				db, err := database.Open(context.Background(), url, database.Options{Migrate: i == 0})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				node, err := lndnode.Connect(context.Background(), lndnode.Config{Address: net.Ours.RPC, TLSCertPath: net.Ours.TLSCertPath(),
					MacaroonPath: net.Ours.MacaroonPath(), Network: "regtest"})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(node.Close)
				counted := sendCounter{Node: node, mu: &mu, sends: sends}
				e := newEnv(t, db, counted, time.Now().UTC(), nil)
				es[i] = &lnEnv{env: e, net: net, node: node}
			}
			e := es[0]
			alice := e.member(100_000)
			bolt11, hash := e.worldInvoice(3000, "three")

			atOnce := func(fn func(e *lnEnv) error) {
				t.Helper()
				dbtest.AtOnce(t, len(es), func(i int) error { return fn(es[i]) })
			}

			gw := storetest.Token(t, 12)
			var mu2 sync.Mutex
			var requests []int64
			atOnce(func(e *lnEnv) error {
				res, err := e.svc.Receive(e.ctx, smspay.Inbound{GatewayID: gw, From: alice.Phone, To: "21234", Text: bolt11})
				if err == nil && res.Outcome != smspay.OutcomeDuplicate {
					mu2.Lock()
					requests = append(requests, res.RequestID)
					mu2.Unlock()
				}
				return err
			})
			if len(requests) != 1 || requests[0] == 0 {
				t.Fatalf("one text through three servers acted on %d times: %v", len(requests), requests)
			}
			if r := e.repliesTo(alice.Phone); len(r) != 1 || r[0].Kind != store.NotifyPayRequest {
				t.Fatalf("replies to one text through three servers: %+v", r)
			}

			stranger := storetest.Phone(t)
			atOnce(func(e *lnEnv) error {
				_, err := e.svc.Receive(e.ctx, smspay.Inbound{GatewayID: storetest.Token(t, 12), From: stranger, To: "21234", Text: "hello"})
				return err
			})
			if r := e.repliesTo(stranger); len(r) != 1 || r[0].Kind != store.NotifyRegisterFirst {
				t.Fatalf("replies to a stranger's three texts at once: %+v", r)
			}

			before := e.balance(alice)
			var paid []int64
			atOnce(func(e *lnEnv) error {
				_, p, err := e.svc.Approve(e.ctx, e.auth(alice), requests[0])
				switch {
				case errors.Is(err, smspay.ErrClosed):
					return nil
				case err != nil:
					return err
				}
				mu2.Lock()
				paid = append(paid, p.Transaction.ID)
				mu2.Unlock()
				return nil
			})
			for _, e := range es {
				e.svc.Payer.Wait()
			}
			for _, id := range paid[1:] {
				if id != paid[0] {
					t.Fatalf("two payments of one request: %v", paid)
				}
			}
			mu.Lock()
			n := sends[bolt11]
			mu.Unlock()
			if n != 1 {
				t.Fatalf("the request's invoice sent to the node %d times, want once", n)
			}
			got, err := e.w.Transaction(e.ctx, paid[0])
			if err != nil || got.Status != store.StatusCompleted {
				t.Fatalf("the payment: %+v %v", got, err)
			}
			if b := e.balance(alice); b != before-3_000_000-got.FeeMsat {
				t.Fatalf("alice holds %d after one payment of 3,000 sats with fee %d from %d", b, got.FeeMsat, before)
			}
			if st := e.invoiceState(hash); st != "SETTLED" {
				t.Fatalf("the world's invoice is %s", st)
			}
			rep, err := e.w.Reconcile(e.ctx)
			if err != nil || !rep.OK() {
				t.Fatalf("reconcile: %+v %v", rep, err)
			}
		})
	}
}
