package smspay_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/lightning/lndnode"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// lnEnv is an env whose service decodes and pays with our node of the
// shared regtest network.
type lnEnv struct {
	*env
	net  *regtest.Network
	node *lndnode.Node
	recv *lightning.Receiver
}

func newLNEnv(t *testing.T, engine string) *lnEnv {
	t.Helper()
	net := network(t)
	net.WaitRoutable()
	node, err := lndnode.Connect(context.Background(), lndnode.Config{Address: net.Ours.RPC, TLSCertPath: net.Ours.TLSCertPath(),
		MacaroonPath: net.Ours.MacaroonPath(), Network: "regtest"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	// The tests send one number many texts: no flood here.
	e := newEnv(t, dbtest.Open(t, engine), node, time.Now().UTC(), func(s *smspay.Service) { s.Config.PerHour = 1000 })
	return &lnEnv{env: e, net: net, node: node, recv: &lightning.Receiver{Node: node, Wallet: e.w, Log: e.svc.Log}}
}

// worldInvoice is an invoice of the world node; sats 0 makes it amountless.
func (e *lnEnv) worldInvoice(sats int64, memo string) (bolt11, hash string) {
	e.t.Helper()
	var inv struct {
		PaymentRequest string `json:"payment_request"`
		Hash           string `json:"r_hash"`
	}
	e.net.World.CLIJSON(&inv, "addinvoice", "--amt", strconv.FormatInt(sats, 10), "--memo", memo)
	return inv.PaymentRequest, inv.Hash
}

// holdInvoice is a hold invoice of the world: a payment of it stays in
// flight until the world settles or cancels it.
func (e *lnEnv) holdInvoice(sats int64) (bolt11, hash string) {
	e.t.Helper()
	p := make([]byte, 32)
	rand.Read(p)
	h := sha256.Sum256(p)
	var hold struct {
		PaymentRequest string `json:"payment_request"`
	}
	e.net.World.CLIJSON(&hold, "addholdinvoice", hex.EncodeToString(h[:]), "--amt", strconv.FormatInt(sats, 10))
	return hold.PaymentRequest, hex.EncodeToString(h[:])
}

// invoiceState is an invoice's state on the world node (OPEN, ACCEPTED,
// SETTLED, CANCELED).
func (e *lnEnv) invoiceState(hash string) string {
	e.t.Helper()
	var inv struct {
		State string `json:"state"`
	}
	e.net.World.CLIJSON(&inv, "lookupinvoice", hash)
	return inv.State
}

// pay pays an invoice for a member with their PIN and waits for the
// payment's outcome.
func (e *lnEnv) pay(u wallet.User, bolt11, key string) store.Transaction {
	e.t.Helper()
	auth := e.auth(u)
	p, err := e.svc.Payer.Pay(e.ctx, auth, bolt11, key)
	if err != nil {
		e.t.Fatalf("pay: %v", err)
	}
	e.svc.Payer.Wait()
	t, err := e.w.Transaction(e.ctx, p.Transaction.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

func (e *lnEnv) auth(u wallet.User) wallet.Authorization {
	e.t.Helper()
	auth, err := e.w.VerifyPIN(e.ctx, u.ID, "7391")
	if err != nil {
		e.t.Fatal(err)
	}
	return auth
}

// lnurlShop serves a Lightning Address shop@127.0.0.1:port whose invoices
// the world node issues.
func (e *lnEnv) lnurlShop() string {
	e.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	host := l.Addr().String()
	metadata := `[["text/plain","shop at the corner"]]`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/lnurlp/shop", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(lightning.PayRequest{Tag: "payRequest", Callback: "http://" + host + "/cb", MinSendable: 1000, //nolint:errcheck
			MaxSendable: 10_000_000_000, Metadata: metadata})
	})
	mux.HandleFunc("GET /cb", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.Sum256([]byte(metadata))
		out, err := e.net.World.TryCLI("addinvoice", "--amt_msat", r.URL.Query().Get("amount"), "--description_hash", hex.EncodeToString(h[:]))
		var inv struct {
			PaymentRequest string `json:"payment_request"`
		}
		if err != nil || json.Unmarshal(out, &inv) != nil {
			fmt.Fprintf(w, `{"status":"ERROR","reason":"no invoice"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"pr": inv.PaymentRequest, "routes": []any{}}) //nolint:errcheck
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l) //nolint:errcheck // ends with Close
	e.t.Cleanup(func() { srv.Close() })
	return "shop@" + host
}

// TestSMSRefusals: through the node of the regtest network, each text
// that can never become a payment is refused with its reason, recorded
// with it, and answered once; those that can become requests, with the
// payee and the fee limit the reply names.
func TestSMSRefusals(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			e := newLNEnv(t, engine)
			alice, bob := e.member(100_000), e.member(100_000)
			now := e.clock.Now()

			paid, paidHash := e.worldInvoice(2000, "paid already")
			if got := e.pay(bob, paid, "bob-pays-"+paidHash); got.Status != store.StatusCompleted {
				t.Fatalf("bob's payment: %+v", got)
			}
			held, heldHash := e.holdInvoice(2000)
			// Bob's payment stays in flight until the world cancels it
			// (before the payer's clean-up waits for its outcome).
			t.Cleanup(func() { e.net.World.TryCLI("cancelinvoice", heldHash) }) //nolint:errcheck // cancelled already
			if _, err := e.svc.Payer.Pay(e.ctx, e.auth(bob), held, "bob-holds-"+heldHash); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "bob's payment to reach the world", func() bool { return e.invoiceState(heldHash) == "ACCEPTED" })
			amountless, _ := e.worldInvoice(0, "any amount")
			corrupt, _ := e.worldInvoice(1000, "corrupt")
			corrupt = corrupt[:len(corrupt)-8] + strings.Map(func(r rune) rune {
				if r == 'q' {
					return 'p'
				}
				return 'q'
			}, corrupt[len(corrupt)-8:len(corrupt)-7]) + corrupt[len(corrupt)-7:]
			aliceOwn, err := e.recv.RequestInvoice(e.ctx, alice.ID, 3_000_000, "alice asks")
			if err != nil {
				t.Fatal(err)
			}
			maxSats := e.w.Config().MaxAmountMsat / 1000

			for _, c := range []struct {
				name, text, reason string
				amountMsat         int64
				counterparty       string
			}{
				{"garbage", "please send me 500", store.PayRefusedInvalid, 0, ""},
				{"not bech32", "lnbcrt1" + strings.Repeat("b", 60), store.PayRefusedInvalid, 0, ""},
				{"checksum", corrupt, store.PayRefusedInvalid, 0, ""},
				{"expired", smspay.CraftInvoice(t, regtestParams, 5000, now.Add(-2*time.Hour), time.Hour), store.PayRefusedExpired, 0, ""},
				{"expiring within the minute", smspay.CraftInvoice(t, regtestParams, 5000, now.Add(-time.Hour+30*time.Second), time.Hour), store.PayRefusedExpired, 0, ""},
				{"testnet", smspay.CraftInvoice(t, &chaincfg.TestNet3Params, 5000, now, time.Hour), store.PayRefusedNetwork, 0, ""},
				{"mainnet, upper case", "lightning:" + strings.ToUpper(smspay.CraftInvoice(t, &chaincfg.MainNetParams, 5000, now, time.Hour)), store.PayRefusedNetwork, 0, ""},
				{"signet", "pay " + smspay.CraftInvoice(t, &chaincfg.SigNetParams, 5000, now, time.Hour), store.PayRefusedNetwork, 0, ""},
				{"amountless", amountless, store.PayRefusedAmountless, 0, ""},
				{"amountless, crafted", smspay.CraftInvoice(t, regtestParams, 0, now, time.Hour), store.PayRefusedAmountless, 0, ""},
				{"over the maximum", smspay.CraftInvoice(t, regtestParams, maxSats+1, now, time.Hour), store.PayRefusedAmount, (maxSats + 1) * 1000, ""},
				{"address over the maximum", fmt.Sprintf("pay shop@example.com %d", maxSats+1), store.PayRefusedAmount, (maxSats + 1) * 1000, ""},
				{"paid by another user", paid, store.PayRefusedPaid, 0, ""},
				{"being paid by another user", held, store.PayRefusedPaid, 0, ""},
				{"the sender's own invoice", aliceOwn.Invoice, store.PayRefusedInvalid, 0, ""},
				{"an address that answers nothing", "pay nobody@127.0.0.1:1 5000", store.PayRefusedAddress, 0, "nobody@127.0.0.1:1"},
			} {
				res := e.text(alice.Phone, c.text)
				if res.Outcome != "refused:"+c.reason || res.RequestID != 0 || res.NotificationID == 0 {
					t.Fatalf("%s: %+v, want refused:%s", c.name, res, c.reason)
				}
				n := e.notification(res.NotificationID)
				if n.Kind != store.NotifyPayRefused || n.Body != c.reason || n.AmountMsat != c.amountMsat || n.Counterparty != c.counterparty ||
					n.Phone != alice.Phone || n.UserID != alice.ID {
					t.Fatalf("%s: reply %+v", c.name, n)
				}
			}
			if _, ok, err := e.svc.Open(e.ctx, alice.ID); ok || err != nil {
				t.Fatalf("a refused text left a request open: %v", err)
			}

			// What can be paid becomes a request: another node's invoice
			// (the node is the payee, its description a quoted note), a
			// Lightning Address, and another user's invoice of our node
			// (their number).
			coffee, coffeeHash := e.worldInvoice(5000, "Coffee\nat Java")
			world, err := e.node.DecodeInvoice(e.ctx, coffee)
			if err != nil {
				t.Fatal(err)
			}
			shop := e.lnurlShop()
			bobs, err := e.recv.RequestInvoice(e.ctx, bob.ID, 3_000_000, "bob asks")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name, text, payee, hash string
				amountMsat              int64
			}{
				{"a world invoice", "  Pay LIGHTNING:" + strings.ToUpper(coffee) + " ", "node " + world.Destination[:8] + ` "Coffee at Java"`, coffeeHash, 5_000_000},
				{"a lightning address", "pay " + strings.ToUpper(shop) + " 2,500", shop, "", 2_500_000},
				{"another user's invoice of our node", bobs.Invoice, bob.Phone, bobs.PaymentHash, 3_000_000},
			} {
				gw := storetest.Token(t, 10)
				res := e.textAs(gw, alice.Phone, c.text)
				if res.Outcome != smspay.OutcomeRequest || res.RequestID == 0 || res.NotificationID == 0 {
					t.Fatalf("%s: %+v", c.name, res)
				}
				r, ok, err := e.svc.Open(e.ctx, alice.ID)
				if err != nil || !ok || r.ID != res.RequestID {
					t.Fatalf("%s: open request %+v %v %v", c.name, r, ok, err)
				}
				dec, err := e.node.DecodeInvoice(e.ctx, r.Invoice)
				if err != nil {
					t.Fatal(err)
				}
				if r.AmountMsat != c.amountMsat || r.Payee != c.payee || r.Status != store.PaymentRequestPending || r.UserID != alice.ID ||
					r.PaymentHash != dec.PaymentHash || (c.hash != "" && r.PaymentHash != c.hash) || !r.ExpiresAt.Equal(dec.ExpiresAt) {
					t.Fatalf("%s: request %+v", c.name, r)
				}
				n := e.notification(res.NotificationID)
				if n.Kind != store.NotifyPayRequest || n.AmountMsat != c.amountMsat || n.Counterparty != c.payee ||
					n.Body != strconv.FormatInt(e.svc.FeeLimit(c.amountMsat), 10) || n.Phone != alice.Phone {
					t.Fatalf("%s: reply %+v", c.name, n)
				}
				if m := e.inbound(gw); m.Outcome != smspay.OutcomeRequest {
					t.Fatalf("%s: recorded as %+v", c.name, m)
				}
			}
			// Every text had exactly one answer.
			if answers := len(e.repliesTo(alice.Phone)); answers != 19 {
				t.Fatalf("%d answers to 19 texts", answers)
			}

			e.net.World.CLI("cancelinvoice", heldHash)
			e.svc.Payer.Wait()
		})
	}
}

// TestSMSApprove: a request is paid once, by its user only, however many
// times it is approved, at once or again; a rejected one cannot be
// approved; a refusal of the wallet leaves the request open.
func TestSMSApprove(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			e := newLNEnv(t, engine)
			alice, bob, poor := e.member(100_000), e.member(100_000), e.member(10)

			bolt11, hash := e.worldInvoice(7000, "seven")
			res := e.text(alice.Phone, bolt11)
			if res.Outcome != smspay.OutcomeRequest {
				t.Fatalf("text: %+v", res)
			}
			if _, _, err := e.svc.Approve(e.ctx, e.auth(bob), res.RequestID); !errors.Is(err, smspay.ErrClosed) {
				t.Fatalf("bob approved alice's request: %v", err)
			}
			if err := e.svc.Reject(e.ctx, bob.ID, res.RequestID); !errors.Is(err, smspay.ErrClosed) {
				t.Fatalf("bob rejected alice's request: %v", err)
			}
			before := e.balance(alice)
			auth := e.auth(alice)
			var wg sync.WaitGroup
			ids := make(chan int64, 4)
			for range 4 {
				wg.Go(func() {
					_, p, err := e.svc.Approve(e.ctx, auth, res.RequestID)
					switch {
					case errors.Is(err, smspay.ErrClosed):
					case err != nil:
						t.Errorf("approve: %v", err)
					default:
						ids <- p.Transaction.ID
					}
				})
			}
			wg.Wait()
			close(ids)
			var txID int64
			for id := range ids {
				if txID != 0 && id != txID {
					t.Fatalf("two payments of one request: %d and %d", txID, id)
				}
				txID = id
			}
			e.svc.Payer.Wait()
			paid, err := e.w.Transaction(e.ctx, txID)
			if err != nil || paid.Status != store.StatusCompleted || paid.IdempotencyKey != smspay.Key(res.RequestID) {
				t.Fatalf("the payment: %+v %v", paid, err)
			}
			if got := e.balance(alice); got != before-7_000_000-paid.FeeMsat || paid.FeeMsat < e.w.ServiceFee(7_000_000) {
				t.Fatalf("alice's balance %d after paying 7,000 sats with fee %d from %d", got, paid.FeeMsat, before)
			}
			if st := e.invoiceState(hash); st != "SETTLED" {
				t.Fatalf("the world's invoice is %s", st)
			}
			r := e.request(res.RequestID)
			if r.Status != store.PaymentRequestApproved || r.TransactionID != txID {
				t.Fatalf("request after approval: %+v", r)
			}
			if _, _, err := e.svc.Approve(e.ctx, auth, res.RequestID); !errors.Is(err, smspay.ErrClosed) {
				t.Fatalf("a second approval: %v", err)
			}
			if again := e.text(alice.Phone, bolt11); again.Outcome != "refused:"+store.PayRefusedPaid {
				t.Fatalf("the paid invoice texted again: %+v", again)
			}

			// Rejected, then approved: nothing is paid.
			other, otherHash := e.worldInvoice(1000, "one")
			res = e.text(alice.Phone, other)
			if err := e.svc.Reject(e.ctx, alice.ID, res.RequestID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.svc.Approve(e.ctx, auth, res.RequestID); !errors.Is(err, smspay.ErrClosed) {
				t.Fatalf("a rejected request approved: %v", err)
			}
			if r := e.request(res.RequestID); r.Status != store.PaymentRequestRejected || r.TransactionID != 0 {
				t.Fatalf("rejected request: %+v", r)
			}
			if _, err := e.w.PaymentByHash(e.ctx, otherHash); !errors.Is(err, wallet.ErrNotFound) {
				t.Fatalf("a rejected request was paid: %v", err)
			}

			// Too poor: refused, and still open for after a top-up.
			big, _ := e.worldInvoice(5000, "too much")
			res = e.text(poor.Phone, big)
			if _, _, err := e.svc.Approve(e.ctx, e.auth(poor), res.RequestID); !errors.Is(err, wallet.ErrInsufficientBalance) {
				t.Fatalf("approval beyond the balance: %v", err)
			}
			if r, ok, err := e.svc.Open(e.ctx, poor.ID); err != nil || !ok || r.ID != res.RequestID {
				t.Fatalf("the request did not stay open: %+v %v %v", r, ok, err)
			}
			rep, err := e.w.Reconcile(e.ctx)
			if err != nil || !rep.OK() {
				t.Fatalf("reconcile: %+v %v", rep, err)
			}
		})
	}
}

func (e *lnEnv) balance(u wallet.User) int64 {
	e.t.Helper()
	b, err := e.w.Balance(e.ctx, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) notification(id int64) store.Notification {
	e.t.Helper()
	var n store.Notification
	err := e.db.Autocommit(e.ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.Notification(ctx, id)
		return err
	})
	if err != nil {
		e.t.Fatalf("notification %d: %v", id, err)
	}
	return n
}

func (e *env) request(id int64) store.PaymentRequest {
	e.t.Helper()
	var r store.PaymentRequest
	err := e.db.Autocommit(e.ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		r, err = tx.PaymentRequest(ctx, id)
		return err
	})
	if err != nil {
		e.t.Fatalf("payment request %d: %v", id, err)
	}
	return r
}

// waitUntil polls what only polling can see (a node's state), for a
// minute at most.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
