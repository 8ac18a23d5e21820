package lightning_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/fleet"
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/lightning/lndnode"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// payEnv is what a payment test needs: the shared network, a connection to
// our node, a fresh database of one engine and a wallet, a payer and a
// receiver over them.
type payEnv struct {
	t     *testing.T
	ctx   context.Context
	net   *regtest.Network
	node  *lndnode.Node
	dbURL string
	db    database.DB
	w     *wallet.Service
	payer *lightning.Payer
	recv  *lightning.Receiver
}

func newPayEnv(t *testing.T, engine string) *payEnv {
	t.Helper()
	net := network(t)
	// The network waits for a route from the world to us only.
	waitRoutable(t, net)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	node, err := lndnode.Connect(ctx, lndnode.Config{Address: net.Ours.RPC, TLSCertPath: net.Ours.TLSCertPath(),
		MacaroonPath: net.Ours.MacaroonPath(), Network: "regtest"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	dbURL := dbtest.URL(t, engine)
	db, err := database.Open(ctx, dbURL, database.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := wallet.DefaultConfig()
	cfg.AuthorizationTTL = time.Hour
	w, err := wallet.New(ctx, db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The payer's log goes to stderr with PAY_TEST_LOG set; else it is
	// kept, and its end shown if the test fails.
	var logOut io.Writer = os.Stderr
	if os.Getenv("PAY_TEST_LOG") == "" {
		kept := &syncBuffer{}
		logOut = kept
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("the end of the payer's log:\n%s", fleet.TailLines(kept.String(), 40))
			}
		})
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	e := &payEnv{t: t, ctx: ctx, net: net, node: node, dbURL: dbURL, db: db, w: w,
		payer: &lightning.Payer{Node: node, Wallet: w, Log: log}, recv: &lightning.Receiver{Node: node, Wallet: w, Log: log}}
	t.Cleanup(e.payer.Wait)
	return e
}

// member is a registered user holding sats, with a PIN authorization.
func (e *payEnv) member(sats int64) (wallet.User, wallet.Authorization) {
	e.t.Helper()
	m, _, err := e.w.EnsureUser(e.ctx, storetest.Phone(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.w.Register(e.ctx, m.ID, "7391"); err != nil {
		e.t.Fatal(err)
	}
	if sats > 0 {
		if _, err := e.w.Adjust(e.ctx, m.Phone, sats*1000, "regtest funding", "fund-"+m.Phone); err != nil {
			e.t.Fatal(err)
		}
	}
	auth, err := e.w.VerifyPIN(e.ctx, m.ID, "7391")
	if err != nil {
		e.t.Fatal(err)
	}
	return m, auth
}

func (e *payEnv) balance(userID int64) int64 {
	e.t.Helper()
	return balance(e.t, e.w, userID)
}

// worldInvoice is an invoice of the world node.
func (e *payEnv) worldInvoice(sats int64) (bolt11, hash string) {
	e.t.Helper()
	var inv struct {
		PaymentRequest string `json:"payment_request"`
		Hash           string `json:"r_hash"`
	}
	e.net.World.CLIJSON(&inv, "addinvoice", "--amt", fmt.Sprint(sats))
	return inv.PaymentRequest, inv.Hash
}

// holdInvoice is a hold invoice of the world: a payment of it stays in
// flight until the world settles it with the preimage or cancels it.
func (e *payEnv) holdInvoice(sats int64) (bolt11, hash, preimage string) {
	e.t.Helper()
	p := make([]byte, 32)
	rand.Read(p)
	h := sha256.Sum256(p)
	var hold struct {
		PaymentRequest string `json:"payment_request"`
	}
	e.net.World.CLIJSON(&hold, "addholdinvoice", hex.EncodeToString(h[:]), "--amt", fmt.Sprint(sats))
	return hold.PaymentRequest, hex.EncodeToString(h[:]), hex.EncodeToString(p)
}

// waitAccepted waits until a payment of a world hold invoice is in flight.
func (e *payEnv) waitAccepted(hash string) {
	e.t.Helper()
	waitUntil(e.t, "the held payment to reach the world", func() bool {
		out, err := e.net.World.TryCLI("lookupinvoice", hash)
		return err == nil && strings.Contains(string(out), `"ACCEPTED"`)
	})
}

// invoiceState is an invoice's state on a node (OPEN, SETTLED, CANCELED…).
func invoiceState(t *testing.T, l *regtest.LND, hash string) string {
	t.Helper()
	var inv struct {
		State string `json:"state"`
	}
	l.CLIJSON(&inv, "lookupinvoice", hash)
	return inv.State
}

// succeededPayments counts our node's succeeded payments of a hash.
func succeededPayments(t *testing.T, net *regtest.Network, hash string) int {
	t.Helper()
	var list struct {
		Payments []struct {
			Hash   string `json:"payment_hash"`
			Status string `json:"status"`
		} `json:"payments"`
	}
	net.Ours.CLIJSON(&list, "listpayments", "--include_incomplete")
	n := 0
	for _, p := range list.Payments {
		if p.Hash == hash && p.Status == "SUCCEEDED" {
			n++
		}
	}
	return n
}

// craftInvoice signs an invoice of an unknown node with a fresh key: lnd
// decodes it, but fields that lnd's own invoices always carry right can be
// left out or set wrong. It always has an amount, a description and an
// expiry of an hour from at.
func craftInvoice(t *testing.T, sats int64, at time.Time, opts ...func(*zpay32.Invoice)) (bolt11, hash string) {
	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	var h [32]byte
	rand.Read(h[:])
	opts = append([]func(*zpay32.Invoice){zpay32.Amount(lnwire.MilliSatoshi(sats * 1000)), zpay32.Description("crafted"),
		zpay32.Expiry(time.Hour)}, opts...)
	inv, err := zpay32.NewInvoice(&chaincfg.RegressionNetParams, h, at, opts...)
	if err != nil {
		t.Fatal(err)
	}
	bolt11, err = inv.Encode(zpay32.MessageSigner{SignCompact: func(msg []byte) ([]byte, error) {
		return ecdsa.SignCompact(key, chainhash.HashB(msg), true), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return bolt11, hex.EncodeToString(h[:])
}

// withPaymentAddr gives a crafted invoice a payment address, as every
// invoice lnd pays must have.
func withPaymentAddr() func(*zpay32.Invoice) {
	var addr [32]byte
	rand.Read(addr[:])
	return zpay32.PaymentAddr(addr)
}

var serverOnce struct {
	sync.Once
	bin string
}

// serverBinary builds cmd/server once for the package's tests; it is
// removed with the shared network, when every test has run.
func serverBinary(t *testing.T) string {
	t.Helper()
	serverOnce.Do(func() {
		dir, err := os.MkdirTemp("", "umeme-server-")
		if err != nil {
			t.Fatal(err)
		}
		regtest.AtSharedEnd(func() { os.RemoveAll(dir) })
		serverOnce.bin = fleet.Build(t, dir)
	})
	if serverOnce.bin == "" {
		t.Fatal("the server did not build")
	}
	return serverOnce.bin
}

// server runs one command of the server binary against the env's database
// and our node, returning its output and error.
func (e *payEnv) server(extraEnv []string, args ...string) (string, error) {
	e.t.Helper()
	cmd := exec.Command(serverBinary(e.t), args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+e.dbURL, "LND_ADDRESS="+e.net.Ours.RPC, "LND_TLS_CERT_PATH="+e.net.Ours.TLSCertPath(),
		"LND_MACAROON_PATH="+e.net.Ours.MacaroonPath(), "LND_NETWORK=regtest", "PIN_PEPPER=regtest")
	cmd.Env = append(cmd.Env, extraEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// sendUnfollowed reserves a payment and hands it to the node with nobody
// following it afterwards, as a server that crashed after sending leaves it.
func (e *payEnv) sendUnfollowed(auth wallet.Authorization, bolt11, key string) store.Transaction {
	e.t.Helper()
	t := e.reserve(auth, bolt11, key)
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	updates, errs, err := e.node.PayInvoice(ctx, lightning.PaymentRequest{Invoice: bolt11, FeeLimitMsat: lightning.FeeLimit(t.AmountMsat), Timeout: time.Minute})
	if err != nil {
		e.t.Fatal(err)
	}
	select {
	case u := <-updates:
		if u.State != lightning.PaymentInFlight {
			e.t.Fatalf("the payment did not stay in flight: %+v", u)
		}
	case err := <-errs:
		e.t.Fatalf("send: %v", err)
	}
	return t
}

// reserve holds funds for an invoice without calling the node, as a crash
// between the reservation and the call leaves a payment.
func (e *payEnv) reserve(auth wallet.Authorization, bolt11, key string) store.Transaction {
	e.t.Helper()
	inv, err := e.node.DecodeInvoice(e.ctx, bolt11)
	if err != nil {
		e.t.Fatal(err)
	}
	t, err := e.w.Reserve(e.ctx, auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: inv.AmountMsat,
		AllowanceMsat: lightning.FeeLimit(inv.AmountMsat), Invoice: bolt11, PaymentHash: inv.PaymentHash, IdempotencyKey: key})
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

func (e *payEnv) transaction(id int64) store.Transaction {
	e.t.Helper()
	got, err := e.w.Transaction(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func (e *payEnv) mustReconcile() {
	e.t.Helper()
	rep, err := e.w.Reconcile(e.ctx)
	if err != nil || !rep.OK() {
		e.t.Fatalf("reconcile: %+v %v", rep, err)
	}
}

// TestOneInvoicePaidOnce: two users paying one world invoice at once make
// lnd pay it once and charge one of them; the other is refused with
// nothing held. `server admin pay` run twice for one invoice pays once.
// lnd's "already exists" for the payment that owns the hash is followed to
// its outcome, not taken as unknown.
func TestOneInvoicePaidOnce(t *testing.T) {
	e := newPayEnv(t, "mysql")

	t.Run("TwoUsersOneInvoice", func(t *testing.T) {
		bolt11, hash := e.worldInvoice(20_000)
		users := make([]wallet.User, 2)
		auths := make([]wallet.Authorization, 2)
		for i := range users {
			users[i], auths[i] = e.member(100_000)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		payments := make([]lightning.Payment, 2)
		errs := make([]error, 2)
		for i := range users {
			wg.Go(func() {
				<-start
				payments[i], errs[i] = e.payer.Pay(e.ctx, auths[i], bolt11, fmt.Sprintf("one-invoice-%d", i))
			})
		}
		close(start)
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won < 0:
				won = i
			case err == nil:
				t.Fatalf("both users' payments were accepted: %+v", payments)
			case !errors.Is(err, wallet.ErrInvoiceAlreadyPaid):
				t.Fatalf("user %d: %v, want ErrInvoiceAlreadyPaid", i, err)
			}
		}
		if won < 0 {
			t.Fatalf("neither payment was accepted: %v", errs)
		}
		lost := 1 - won
		if b := e.balance(users[lost].ID); b != 100_000_000 {
			t.Fatalf("the refused user holds %d: something was held", b)
		}
		e.payer.Wait()
		got := e.transaction(payments[won].Transaction.ID)
		if got.Status != store.StatusCompleted {
			t.Fatalf("the accepted payment: %+v", got)
		}
		if b := e.balance(users[won].ID); b != 100_000_000-20_000_000-got.FeeMsat {
			t.Fatalf("the payer holds %d, want one charge of amount and fee %d", b, got.FeeMsat)
		}
		if b := e.balance(users[lost].ID); b != 100_000_000 {
			t.Fatalf("the refused user was charged: %d", b)
		}
		if n := succeededPayments(t, e.net, hash); n != 1 {
			t.Fatalf("lnd made %d payments of the invoice", n)
		}
		if owner, err := e.w.PaymentByHash(e.ctx, hash); err != nil || owner.ID != got.ID {
			t.Fatalf("owner of the hash: %+v %v", owner, err)
		}
		if rows, _ := e.w.History(e.ctx, users[lost].ID, 0, 10); len(rows) != 1 || rows[0].Type != store.TypeAdjustment {
			t.Fatalf("the refused user's history: %+v", rows)
		}
		e.mustReconcile()
	})

	t.Run("AdminPayTwice", func(t *testing.T) {
		bolt11, hash := e.worldInvoice(15_000)
		u, _ := e.member(100_000)
		out, err := e.server(nil, "admin", "pay", "--phone", u.Phone, "--invoice", bolt11, "--key", "admin-1")
		if err != nil || !strings.Contains(out, "completed") {
			t.Fatalf("first admin pay: %v\n%s", err, out)
		}
		after := e.balance(u.ID)
		if after >= 100_000_000-15_000_000 {
			t.Fatalf("the first admin pay charged nothing: %d", after)
		}
		out, err = e.server(nil, "admin", "pay", "--phone", u.Phone, "--invoice", bolt11, "--key", "admin-2")
		if err == nil || !strings.Contains(out, "invoice already paid or being paid") {
			t.Fatalf("second admin pay with another key: %v\n%s", err, out)
		}
		// The first key repeated replays its result.
		out, err = e.server(nil, "admin", "pay", "--phone", u.Phone, "--invoice", bolt11, "--key", "admin-1")
		if err != nil || !strings.Contains(out, "completed") {
			t.Fatalf("admin pay repeated with its key: %v\n%s", err, out)
		}
		if b := e.balance(u.ID); b != after {
			t.Fatalf("balance %d after the repeats, want %d", b, after)
		}
		if n := succeededPayments(t, e.net, hash); n != 1 {
			t.Fatalf("lnd made %d payments of the invoice", n)
		}
		e.mustReconcile()
	})

	t.Run("AlreadyExistsTracksTheOwner", func(t *testing.T) {
		bolt11, hash, preimage := e.holdInvoice(12_000)
		u, auth := e.member(100_000)
		p, err := e.payer.Pay(e.ctx, auth, bolt11, "held-owner")
		if err != nil {
			t.Fatal(err)
		}
		e.waitAccepted(hash)
		// Another process (a second payer) repeats the request with the
		// same key: lnd answers that the hash is in flight, and the payment
		// owns the hash, so it follows it.
		var log syncBuffer
		other := &lightning.Payer{Node: e.node, Wallet: e.w, Log: slog.New(slog.NewTextHandler(&log, nil))}
		again, err := other.Pay(e.ctx, auth, bolt11, "held-owner")
		if err != nil || again.Transaction.ID != p.Transaction.ID {
			t.Fatalf("repeat: %+v %v", again, err)
		}
		e.net.World.CLI("settleinvoice", preimage)
		e.payer.Wait()
		other.Wait()
		got := e.transaction(p.Transaction.ID)
		if got.Status != store.StatusCompleted {
			t.Fatalf("payment after settlement: %+v", got)
		}
		if strings.Contains(log.String(), "outcome unknown") {
			t.Fatalf("the second payer took lnd's answer for an unknown outcome:\n%s", log.String())
		}
		if b := e.balance(u.ID); b != 100_000_000-12_000_000-got.FeeMsat {
			t.Fatalf("balance %d, want one charge", b)
		}
		e.mustReconcile()
	})
}

// TestRefusedPaymentRefunded: a payment lnd refuses to start is refunded at
// once with lnd's reason, and a pending payment whose invoice expired and
// that lnd never saw is refunded by Resume (no longer re-sent forever).
func TestRefusedPaymentRefunded(t *testing.T) {
	e := newPayEnv(t, "sqlite")
	for _, c := range []struct {
		name   string
		opts   []func(*zpay32.Invoice)
		reason string
	}{
		{"NoPaymentAddress", nil, "payment address"},
		{"FinalCLTVOverLimit", []func(*zpay32.Invoice){withPaymentAddr(), zpay32.CLTVExpiry(5000)}, "cltv"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, auth := e.member(50_000)
			bolt11, _ := craftInvoice(t, 8_000, time.Now(), c.opts...)
			p, err := e.payer.Pay(e.ctx, auth, bolt11, "refused-"+c.name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Transaction.Status != store.StatusPending {
				t.Fatalf("payment: %+v", p.Transaction)
			}
			e.payer.Wait()
			got := e.transaction(p.Transaction.ID)
			if got.Status != store.StatusFailed || got.FeeMsat != 0 {
				t.Fatalf("a payment lnd refused: %+v", got)
			}
			if b := e.balance(u.ID); b != 50_000_000 {
				t.Fatalf("refund left %d, want the whole 50,000 sats", b)
			}
			var notes []store.Notification
			err = e.db.InTx(e.ctx, func(ctx context.Context, tx store.Tx) error {
				notes, err = tx.NotificationsOf(ctx, got.ID)
				return err
			})
			if err != nil || len(notes) != 1 || notes[0].Kind != store.NotifyPaymentFailed || !strings.Contains(strings.ToLower(notes[0].Body), c.reason) {
				t.Fatalf("the user was not told lnd's reason (%q): %+v %v", c.reason, notes, err)
			}
			e.mustReconcile()
		})
	}

	t.Run("ExpiredNeverSent", func(t *testing.T) {
		u, auth := e.member(50_000)
		bolt11, hash := craftInvoice(t, 9_000, time.Now().Add(-2*time.Hour), withPaymentAddr())
		// Reserved, then the server died before calling lnd; the invoice
		// expired meanwhile.
		pending := e.reserve(auth, bolt11, "expired-never-sent")
		if err := e.payer.Resume(e.ctx); err != nil {
			t.Fatal(err)
		}
		e.payer.Wait()
		got := e.transaction(pending.ID)
		if got.Status != store.StatusFailed {
			t.Fatalf("a never-sent payment of an expired invoice: %+v", got)
		}
		if b := e.balance(u.ID); b != 50_000_000 {
			t.Fatalf("refund left %d", b)
		}
		// It keeps the hash: whatever the node says of it is about this
		// payment only.
		if owner, err := e.w.PaymentByHash(e.ctx, hash); err != nil || owner.ID != pending.ID {
			t.Fatalf("the refunded payment no longer owns the hash: %+v %v", owner, err)
		}
		e.mustReconcile()
	})
}

// TestAdminPaymentResolve drives `server admin payment show|resolve`
// against a real lnd: a payment in flight is shown and not resolved, one
// lnd settled is settled with its fee, one lnd failed is refunded, one lnd
// never started is refunded only once its invoice expired, and nothing
// changes while lnd is unreachable.
func TestAdminPaymentResolve(t *testing.T) {
	e := newPayEnv(t, "postgres")
	u, auth := e.member(200_000)
	id := func(t store.Transaction) string { return fmt.Sprint(t.ID) }

	// In flight, then settled by the world.
	bolt11, hash, preimage := e.holdInvoice(20_000)
	held := e.sendUnfollowed(auth, bolt11, "resolve-held")
	e.waitAccepted(hash)
	out, err := e.server(nil, "admin", "payment", "show", "--id", id(held))
	if err != nil || !strings.Contains(out, "pending") || !strings.Contains(out, "lnd: in flight") {
		t.Fatalf("show of a payment in flight: %v\n%s", err, out)
	}
	before := e.balance(u.ID)
	out, err = e.server(nil, "admin", "payment", "resolve", "--id", id(held))
	if err == nil || !strings.Contains(out, "payment in flight") {
		t.Fatalf("resolve of a payment in flight: %v\n%s", err, out)
	}
	if got := e.transaction(held.ID); got.Status != store.StatusPending || e.balance(u.ID) != before {
		t.Fatalf("resolve in flight changed something: %+v", got)
	}
	e.net.World.CLI("settleinvoice", preimage)
	waitUntil(t, "lnd to see the payment succeed", func() bool { return succeededPayments(t, e.net, hash) == 1 })
	out, err = e.server(nil, "admin", "payment", "resolve", "--id", id(held))
	if err != nil || !strings.Contains(out, "resolved: completed") {
		t.Fatalf("resolve of a succeeded payment: %v\n%s", err, out)
	}
	got := e.transaction(held.ID)
	routing := got.FeeMsat - e.w.ServiceFee(20_000_000)
	if got.Status != store.StatusCompleted || routing < 0 || e.balance(u.ID) != 200_000_000-20_000_000-got.FeeMsat {
		t.Fatalf("after resolve: %+v, balance %d", got, e.balance(u.ID))
	}
	out, err = e.server(nil, "admin", "payment", "show", "--id", id(held))
	if err != nil || !strings.Contains(out, "completed") || !strings.Contains(out, "lnd: succeeded") {
		t.Fatalf("show of a settled payment: %v\n%s", err, out)
	}

	// In flight, then failed by the world.
	bolt11, hash, _ = e.holdInvoice(7_000)
	failed := e.sendUnfollowed(auth, bolt11, "resolve-failed")
	e.waitAccepted(hash)
	before = e.balance(u.ID)
	e.net.World.CLI("cancelinvoice", hash)
	waitUntil(t, "lnd to see the payment fail", func() bool {
		out, err := e.server(nil, "admin", "payment", "show", "--id", id(failed))
		return err == nil && strings.Contains(out, "lnd: failed")
	})
	out, err = e.server(nil, "admin", "payment", "resolve", "--id", id(failed))
	if err != nil || !strings.Contains(out, "resolved: failed") {
		t.Fatalf("resolve of a failed payment: %v\n%s", err, out)
	}
	if b := e.balance(u.ID); b != before+failed.AmountMsat+failed.FeeMsat+lightning.FeeLimit(failed.AmountMsat) {
		t.Fatalf("the failed payment's hold was not returned: %d", b)
	}

	// Never started: refused while its invoice can be paid, refunded once
	// it has expired.
	live, _ := e.worldInvoice(3_000)
	unsent := e.reserve(auth, live, "resolve-unsent")
	out, err = e.server(nil, "admin", "payment", "resolve", "--id", id(unsent))
	if err == nil || !strings.Contains(out, "no record") || e.transaction(unsent.ID).Status != store.StatusPending {
		t.Fatalf("resolve of a live payment lnd never started: %v\n%s", err, out)
	}
	old, _ := craftInvoice(t, 4_000, time.Now().Add(-2*time.Hour), withPaymentAddr())
	expired := e.reserve(auth, old, "resolve-expired")
	out, err = e.server(nil, "admin", "payment", "resolve", "--id", id(expired))
	if err != nil || !strings.Contains(out, "resolved: failed") {
		t.Fatalf("resolve of an expired payment lnd never started: %v\n%s", err, out)
	}

	// lnd unreachable: nothing changes.
	out, err = e.server([]string{"LND_ADDRESS=127.0.0.1:1"}, "admin", "payment", "resolve", "--id", id(unsent), "--wait", "2s")
	if err == nil || !strings.Contains(out, "nothing changed") || e.transaction(unsent.ID).Status != store.StatusPending {
		t.Fatalf("resolve while lnd is unreachable: %v\n%s", err, out)
	}
	out, err = e.server([]string{"LND_ADDRESS=127.0.0.1:1"}, "admin", "payment", "show", "--id", id(unsent), "--wait", "2s")
	if err != nil || !strings.Contains(out, "lnd: unreachable") {
		t.Fatalf("show while lnd is unreachable: %v\n%s", err, out)
	}
	e.mustReconcile()
}

// TestOwnInvoicePaidOnceInside: paying one of our own invoices never loses
// an outside payment. When an outside payer settled it on lnd first, the
// inside attempt is refused and released and the watcher credits the
// payee; an attempt that is not funded cancels nothing; and an inside
// payment settles in the ledger only once lnd confirms the cancel.
func TestOwnInvoicePaidOnceInside(t *testing.T) {
	e := newPayEnv(t, "sqlite")
	watching := false
	watch := func() {
		if watching {
			return
		}
		watching = true
		done := make(chan struct{})
		ctx, cancel := context.WithCancel(e.ctx)
		go func() { e.recv.Watch(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}

	t.Run("OutsidePayerFirst", func(t *testing.T) {
		alice, auth := e.member(100_000)
		bob, _ := e.member(0)
		// lnd replays nothing to a subscription from add index 0: make sure
		// bob's invoice is not our node's first, or the watcher, started
		// after the settlement, could not see it.
		e.net.Ours.CLI("addinvoice", "--amt", "1")
		inv, err := e.recv.RequestInvoice(e.ctx, bob.ID, 10_000_000, "for bob")
		if err != nil {
			t.Fatal(err)
		}
		// The world pays before anyone inside, and before the watcher has
		// seen it.
		e.net.World.CLI("payinvoice", "--force", inv.Invoice)
		p, err := e.payer.Pay(e.ctx, auth, inv.Invoice, "inside-after-outside")
		if !errors.Is(err, wallet.ErrInvoiceAlreadyPaid) {
			t.Fatalf("the inside attempt after an outside payment: %+v %v", p, err)
		}
		if p.Transaction.ID == 0 || p.Transaction.Status != store.StatusFailed {
			t.Fatalf("the inside attempt was not released: %+v", p.Transaction)
		}
		if b := e.balance(alice.ID); b != 100_000_000 {
			t.Fatalf("alice holds %d after the refused attempt", b)
		}
		watch()
		waitUntil(t, "the watcher to credit the outside payment", func() bool { return e.balance(bob.ID) == 10_000_000 })
		if st, _ := e.w.InvoiceStatus(e.ctx, inv.PaymentHash); st.Status != store.InvoicePaid {
			t.Fatalf("bob's invoice: %+v", st)
		}
		// A repeat of the same attempt says the same and charges nothing.
		if _, err := e.payer.Pay(e.ctx, auth, inv.Invoice, "inside-after-outside"); !errors.Is(err, wallet.ErrInvoiceAlreadyPaid) {
			t.Fatalf("repeat: %v", err)
		}
		if a, b := e.balance(alice.ID), e.balance(bob.ID); a != 100_000_000 || b != 10_000_000 {
			t.Fatalf("after the repeat: alice %d, bob %d", a, b)
		}
		e.mustReconcile()
	})

	t.Run("UnfundedAttemptCancelsNothing", func(t *testing.T) {
		_, auth := e.member(0)
		carol, _ := e.member(0)
		inv, err := e.recv.RequestInvoice(e.ctx, carol.ID, 4_000_000, "for carol")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.payer.Pay(e.ctx, auth, inv.Invoice, "unfunded"); !errors.Is(err, wallet.ErrInsufficientBalance) {
			t.Fatalf("an unfunded attempt: %v", err)
		}
		if st := invoiceState(t, e.net.Ours, inv.PaymentHash); st != "OPEN" {
			t.Fatalf("an unfunded attempt left the invoice %s on lnd", st)
		}
		watch()
		e.net.World.CLI("payinvoice", "--force", inv.Invoice)
		waitUntil(t, "carol's invoice to be credited", func() bool { return e.balance(carol.ID) == 4_000_000 })
	})

	t.Run("SettledOnlyAfterCancel", func(t *testing.T) {
		alice, auth := e.member(100_000)
		dave, _ := e.member(0)
		inv, err := e.recv.RequestInvoice(e.ctx, dave.ID, 6_000_000, "for dave")
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.payer.Pay(e.ctx, auth, inv.Invoice, "inside-dave")
		if err != nil || !p.Internal || p.Transaction.Status != store.StatusCompleted {
			t.Fatalf("inside payment: %+v %v", p, err)
		}
		if st := invoiceState(t, e.net.Ours, inv.PaymentHash); st != "CANCELED" {
			t.Fatalf("settled inside, but the invoice is %s on lnd", st)
		}
		if a, d := e.balance(alice.ID), e.balance(dave.ID); a != 94_000_000 || d != 6_000_000 {
			t.Fatalf("after the inside payment: alice %d, dave %d", a, d)
		}
		if _, err := e.net.World.TryCLI("payinvoice", "--force", inv.Invoice); err == nil {
			t.Fatal("the world paid an invoice settled inside")
		}
		again, err := e.payer.Pay(e.ctx, auth, inv.Invoice, "inside-dave")
		if err != nil || again.Transaction.ID != p.Transaction.ID || e.balance(alice.ID) != 94_000_000 {
			t.Fatalf("repeat with the key: %+v %v", again, err)
		}

		// lnd down: the cancel cannot be confirmed, so the funds stay held
		// and nothing moves; once lnd is back, Resume finishes it.
		erin, _ := e.member(0)
		inv, err = e.recv.RequestInvoice(e.ctx, erin.ID, 5_000_000, "for erin")
		if err != nil {
			t.Fatal(err)
		}
		e.net.Ours.Stop()
		p, err = e.payer.Pay(e.ctx, auth, inv.Invoice, "inside-erin")
		e.net.Ours.Restart()
		if err != nil || !p.Internal || p.Transaction.Status != store.StatusPending {
			t.Fatalf("inside payment while lnd is down: %+v %v", p, err)
		}
		if a, r := e.balance(alice.ID), e.balance(erin.ID); a != 89_000_000 || r != 0 {
			t.Fatalf("while unconfirmed: alice %d (want the amount held), erin %d (want nothing)", a, r)
		}
		var resumeErr error
		var status store.TransactionStatus
		defer func() {
			if t.Failed() {
				t.Logf("the last Resume: %v; the payment then: %s", resumeErr, status)
			}
		}()
		waitUntil(t, "Resume to finish the inside payment", func() bool {
			if resumeErr = e.payer.Resume(e.ctx); resumeErr != nil {
				return false
			}
			e.payer.Wait()
			status = e.transaction(p.Transaction.ID).Status
			return status == store.StatusCompleted
		})
		if r := e.balance(erin.ID); r != 5_000_000 {
			t.Fatalf("erin %d after the inside payment finished", r)
		}
		if st := invoiceState(t, e.net.Ours, inv.PaymentHash); st != "CANCELED" {
			t.Fatalf("erin's invoice is %s on lnd", st)
		}
		e.mustReconcile()
		waitRoutable(t, e.net)
	})
}

// waitRoutable waits until payments can go both ways (after the network
// starts, or after our node restarted).
func waitRoutable(t *testing.T, net *regtest.Network) {
	t.Helper()
	var ours, world struct {
		IdentityPubkey string `json:"identity_pubkey"`
	}
	net.Ours.CLIJSON(&ours, "getinfo")
	net.World.CLIJSON(&world, "getinfo")
	waitUntil(t, "routes between the nodes", func() bool {
		_, err1 := net.World.TryCLI("queryroutes", "--dest", ours.IdentityPubkey, "--amt", "1000")
		_, err2 := net.Ours.TryCLI("queryroutes", "--dest", world.IdentityPubkey, "--amt", "1000")
		return err1 == nil && err2 == nil
	})
}
