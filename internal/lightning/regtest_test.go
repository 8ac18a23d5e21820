package lightning_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/fleet"
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/lightning/lndnode"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/sms/atsim"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestRegtestLightning runs the wallet against a real regtest network: the
// world node pays invoices our node issued for users (credited once, also
// across a restart of our lnd), users pay the world (charged the real fee,
// refunded only on a definite failure) and each other (in the ledger), and
// a server killed in the middle of a payment finishes it once restarted.
// It ends by reconciling the ledger with the node, so it runs on a network
// of its own: the node's records must all be this database's.
func TestRegtestLightning(t *testing.T) {
	started := time.Now()
	net := regtest.Start(t)
	t.Logf("regtest network up in %s", time.Since(started).Round(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node, err := lndnode.Connect(ctx, lndnode.Config{Address: net.Ours.RPC, TLSCertPath: net.Ours.TLSCertPath(),
		MacaroonPath: net.Ours.MacaroonPath(), Network: "regtest"})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()

	dbURL := dbtest.URL(t, "postgres")
	db, err := database.Open(ctx, dbURL, database.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wcfg := wallet.DefaultConfig()
	w, err := wallet.New(ctx, db, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	creditedAt := map[string]time.Time{}
	r := &lightning.Receiver{Node: node, Wallet: w, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), OnCredit: func(h string) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := creditedAt[h]; dup {
			t.Errorf("invoice %s credited twice", h)
		}
		creditedAt[h] = time.Now()
	}}
	// A subscription of the test's own records when lnd announces each
	// settlement: the start of the settle-to-credit latency.
	settledAt := map[string]time.Time{}
	events, _, err := node.SubscribeInvoices(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for u := range events {
			if u.State == lightning.InvoiceSettled {
				mu.Lock()
				settledAt[u.PaymentHash] = time.Now()
				mu.Unlock()
			}
		}
	}()
	// The node's very first invoice, paid while no watcher runs: lnd
	// replays nothing to a subscription from add index 0, so the watcher
	// must find it by listing the node's invoices.
	early, _, err := w.EnsureUser(ctx, storetest.Phone(t))
	if err != nil {
		t.Fatal(err)
	}
	first, err := r.RequestInvoice(ctx, early.ID, 5_000_000, "paid before the watcher ran")
	if err != nil {
		t.Fatal(err)
	}
	if first.AddIndex != 1 {
		t.Fatalf("the node's first invoice has add index %d", first.AddIndex)
	}
	net.World.CLI("payinvoice", "--force", first.Invoice)

	watchDone := make(chan struct{})
	go func() { r.Watch(ctx); close(watchDone) }()
	defer func() { cancel(); <-watchDone }()

	u, _, err := w.EnsureUser(ctx, storetest.Phone(t))
	if err != nil {
		t.Fatal(err)
	}
	waitCredited := func(hash string) time.Time {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			at, ok := creditedAt[hash]
			mu.Unlock()
			if ok {
				return at
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("invoice %s not credited within 30 s", hash)
		return time.Time{}
	}

	t.Run("FirstInvoicePaidWhileWatcherDown", func(t *testing.T) {
		waitCredited(first.PaymentHash)
		if b, err := w.Balance(ctx, early.ID); err != nil || b != 5_000_000 {
			t.Fatalf("the early payer's payee holds %d (%v)", b, err)
		}
	})

	t.Run("WorldPaysUserInvoice", func(t *testing.T) {
		inv, err := r.RequestInvoice(ctx, u.ID, 25_000_000, "umeme test")
		if err != nil {
			t.Fatal(err)
		}
		if inv.Status != store.InvoicePending || inv.AddIndex == 0 {
			t.Fatalf("recorded invoice: %+v", inv)
		}
		err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			notes, err := tx.NotificationsOf(ctx, inv.TransactionID)
			if err == nil && (len(notes) != 1 || notes[0].Kind != store.NotifyInvoice || notes[0].Body != inv.Invoice) {
				t.Fatalf("the BOLT11 was not queued for the user: %+v", notes)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		net.World.CLI("payinvoice", "--force", inv.Invoice)
		at := waitCredited(inv.PaymentHash)
		mu.Lock()
		settled, ok := settledAt[inv.PaymentHash]
		mu.Unlock()
		if !ok {
			t.Fatal("the test's own subscription saw no settlement")
		}
		latency := at.Sub(settled)
		t.Logf("settle-to-credit latency: %s (lnd's settled event to the committed credit)", latency.Round(time.Microsecond))
		if latency > time.Second {
			t.Errorf("credited %s after settlement, want within a second", latency)
		}
		if b, _ := w.Balance(ctx, u.ID); b != 25_000_000 {
			t.Fatalf("balance %d after one 25,000 sat invoice", b)
		}
		if st, _ := w.InvoiceStatus(ctx, inv.PaymentHash); st.Status != store.InvoicePaid || st.AmountPaidMsat != 25_000_000 {
			t.Fatalf("invoice after payment: %+v", st)
		}
	})

	t.Run("LndRestartsWhilePaid", func(t *testing.T) {
		before, _ := w.Balance(ctx, u.ID)
		var invs []store.Invoice
		for i := range 6 {
			inv, err := r.RequestInvoice(ctx, u.ID, int64(1000+i)*1000, fmt.Sprintf("restart %d", i))
			if err != nil {
				t.Fatal(err)
			}
			invs = append(invs, inv)
		}
		var total int64
		for i, inv := range invs {
			if i == 3 {
				// Ours goes down with payments done and to come: the
				// watcher must resubscribe and replay what it missed.
				net.Ours.Restart()
			}
			// Right after a restart the channel needs a moment to be
			// usable again: retry the payment until it goes through.
			deadline := time.Now().Add(60 * time.Second)
			for {
				out, err := net.World.TryCLI("payinvoice", "--force", inv.Invoice)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("paying invoice %d: %v\n%s", i, err, out)
				}
				time.Sleep(500 * time.Millisecond)
			}
			total += inv.AmountMsat
		}
		for _, inv := range invs {
			waitCredited(inv.PaymentHash)
		}
		if b, _ := w.Balance(ctx, u.ID); b != before+total {
			t.Fatalf("balance %d, want %d: an invoice was missed or credited twice", b, before+total)
		}
		rep, err := w.Reconcile(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("reconcile: %+v %v", rep, err)
		}
	})

	payer := &lightning.Payer{Node: node, Wallet: w, Log: r.Log}
	member := func(sats int64) (wallet.User, wallet.Authorization) {
		t.Helper()
		m, _, err := w.EnsureUser(ctx, storetest.Phone(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Register(ctx, m.ID, "7391"); err != nil {
			t.Fatal(err)
		}
		if sats > 0 {
			if _, err := w.Adjust(ctx, m.Phone, sats*1000, "regtest funding", "fund-"+m.Phone); err != nil {
				t.Fatal(err)
			}
		}
		auth, err := w.VerifyPIN(ctx, m.ID, "7391")
		if err != nil {
			t.Fatal(err)
		}
		return m, auth
	}
	worldInvoice := func(sats int64) string {
		t.Helper()
		var inv struct {
			PaymentRequest string `json:"payment_request"`
		}
		net.World.CLIJSON(&inv, "addinvoice", "--amt", fmt.Sprint(sats))
		return inv.PaymentRequest
	}

	var worldPayment int64 // a payment settled through the node, for ReconcileWithNode
	t.Run("UserPaysWorldInvoice", func(t *testing.T) {
		payerUser, auth := member(100_000)
		p, err := payer.Pay(ctx, auth, worldInvoice(30_000), "pay-world-1")
		if err != nil {
			t.Fatal(err)
		}
		worldPayment = p.Transaction.ID
		if p.Internal || p.Transaction.Status != store.StatusPending {
			t.Fatalf("payment: %+v", p)
		}
		payer.Wait()
		got, err := w.Transaction(ctx, p.Transaction.ID)
		if err != nil {
			t.Fatal(err)
		}
		serviceFee := w.ServiceFee(30_000_000)
		routingFee := got.FeeMsat - serviceFee
		if got.Status != store.StatusCompleted || routingFee < 0 || routingFee > lightning.FeeLimit(30_000_000) {
			t.Fatalf("settled payment: %+v", got)
		}
		if b, _ := w.Balance(ctx, payerUser.ID); b != 100_000_000-30_000_000-serviceFee-routingFee {
			t.Fatalf("balance %d: not amount + service fee + the real routing fee (%d)", b, routingFee)
		}
	})

	t.Run("UnpayableInvoiceRefunded", func(t *testing.T) {
		payerUser, auth := member(6_000_000)
		// More than our side of the only channel: no route.
		p, err := payer.Pay(ctx, auth, worldInvoice(4_900_000), "pay-world-2")
		if err != nil {
			t.Fatal(err)
		}
		payer.Wait()
		got, _ := w.Transaction(ctx, p.Transaction.ID)
		if got.Status != store.StatusFailed || got.FeeMsat != 0 {
			t.Fatalf("unpayable payment: %+v", got)
		}
		if b, _ := w.Balance(ctx, payerUser.ID); b != 6_000_000_000 {
			t.Fatalf("refund left %d, want the whole 6,000,000 sats", b)
		}
	})

	t.Run("UserPaysUserInLedger", func(t *testing.T) {
		alice, auth := member(50_000)
		bob, _ := member(0)
		inv, err := r.RequestInvoice(ctx, bob.ID, 12_000_000, "for bob")
		if err != nil {
			t.Fatal(err)
		}
		p, err := payer.Pay(ctx, auth, inv.Invoice, "pay-bob")
		if err != nil {
			t.Fatal(err)
		}
		if !p.Internal || p.Transaction.Status != store.StatusCompleted {
			t.Fatalf("internal payment: %+v", p)
		}
		if a, b := balance(t, w, alice.ID), balance(t, w, bob.ID); a != 38_000_000 || b != 12_000_000 {
			t.Fatalf("balances after an internal payment: alice %d bob %d", a, b)
		}
		if out := net.Ours.CLI("listpayments"); strings.Contains(string(out), inv.PaymentHash) {
			t.Fatalf("our node recorded a payment for an internal one: %s", out)
		}
		// Cancelled on the node: nobody outside can pay it as well.
		if _, err := net.World.TryCLI("payinvoice", "--force", inv.Invoice); err == nil {
			t.Fatal("the world paid an invoice already settled in the ledger")
		}
		if a := balance(t, w, alice.ID); a != 38_000_000 {
			t.Fatalf("alice %d after a repeated attempt", a)
		}
	})

	server := serverBinary(t)
	t.Run("ServerKilledMidPayment", func(t *testing.T) {
		env := append(os.Environ(), "DATABASE_URL="+dbURL, "LND_ADDRESS="+net.Ours.RPC, "LND_TLS_CERT_PATH="+net.Ours.TLSCertPath(),
			"LND_MACAROON_PATH="+net.Ours.MacaroonPath(), "LND_NETWORK=regtest", "LISTEN_ADDR=127.0.0.1:0", "PIN_PEPPER=regtest",
			"USSD_CALLBACK_TOKEN=regtest-gateway-token")
		payerUser, _ := member(100_000)
		// A hold invoice keeps the payment in flight until the world settles.
		preimage := make([]byte, 32)
		rand.Read(preimage)
		hash := sha256.Sum256(preimage)
		var hold struct {
			PaymentRequest string `json:"payment_request"`
		}
		net.World.CLIJSON(&hold, "addholdinvoice", hex.EncodeToString(hash[:]), "--amt", "20000")

		pay := exec.Command(server, "admin", "pay", "--phone", payerUser.Phone, "--invoice", hold.PaymentRequest, "--key", "held")
		pay.Env = env
		var payOut bytes.Buffer
		pay.Stdout, pay.Stderr = &payOut, &payOut
		if err := pay.Start(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the held payment to reach the world", func() bool {
			out, err := net.World.TryCLI("lookupinvoice", hex.EncodeToString(hash[:]))
			return err == nil && strings.Contains(string(out), `"ACCEPTED"`)
		})
		pay.Process.Kill() //nolint:errcheck // SIGKILL: no chance to clean up
		pay.Wait()         //nolint:errcheck

		pending, err := w.PendingPayments(ctx)
		if err != nil || len(pending) != 1 || pending[0].PaymentHash != hex.EncodeToString(hash[:]) {
			t.Fatalf("after the kill: pending %+v %v\n%s", pending, err, payOut.String())
		}
		held := 20_000_000 + w.ServiceFee(20_000_000) + lightning.FeeLimit(20_000_000)
		if b := balance(t, w, payerUser.ID); b != 100_000_000-held {
			t.Fatalf("after the kill the balance is %d, want %d: the reservation must stay", b, 100_000_000-held)
		}

		serve := exec.Command(server, "serve")
		serve.Env = env
		var serveOut syncBuffer
		serve.Stdout, serve.Stderr = &serveOut, &serveOut
		if err := serve.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			serve.Process.Signal(syscall.SIGTERM) //nolint:errcheck
			serve.Wait()                          //nolint:errcheck
		}()
		waitUntil(t, "the restarted server to re-attach", func() bool {
			return strings.Contains(serveOut.String(), "re-attaching to a pending payment")
		})
		net.World.CLI("settleinvoice", hex.EncodeToString(preimage))
		waitUntil(t, "the payment to be finalised", func() bool {
			got, err := w.Transaction(ctx, pending[0].ID)
			return err == nil && got.Status == store.StatusCompleted
		})
		got, _ := w.Transaction(ctx, pending[0].ID)
		routing := got.FeeMsat - w.ServiceFee(20_000_000)
		if b := balance(t, w, payerUser.ID); b != 100_000_000-20_000_000-got.FeeMsat || routing < 0 {
			t.Fatalf("after settlement: balance %d, fee %d", b, got.FeeMsat)
		}
		var entries []store.LedgerEntry
		err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			entries, err = tx.EntriesOf(ctx, got.ID)
			return err
		})
		// The reservation (2 legs) and one settlement (reserved out; node,
		// release and fee in): finalised exactly once.
		if err != nil || len(entries) != 6 {
			t.Fatalf("entries of the payment: %d %v\n%s", len(entries), err, serveOut.String())
		}
	})

	// The whole server, in-process, for the Lightning Address and USSD
	// flows. Development mode, explicitly: its addresses are served on
	// loopback, which production refuses to resolve.
	cfg := config.Default()
	cfg.Environment = config.Development
	cfg.DatabaseURL = dbURL
	cfg.ListenAddr = fleet.FreeAddr(t)
	cfg.PublicDomain = cfg.ListenAddr
	cfg.LNDAddress, cfg.LNDTLSCertPath, cfg.LNDMacaroonPath, cfg.LNDNetwork = net.Ours.RPC, net.Ours.TLSCertPath(), net.Ours.MacaroonPath(), "regtest"
	// Texts go out through a fake Africa's Talking, where the test reads
	// what users received.
	smsSim := atsim.New(atsim.Config{Username: "umeme", APIKey: "at-test-key"})
	smsServer := httptest.NewServer(smsSim.Handler())
	defer smsServer.Close()
	cfg.SMS.BaseURL, cfg.SMS.Username, cfg.SMS.APIKey, cfg.SMS.Poll = smsServer.URL, "umeme", "at-test-key", 20*time.Millisecond
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	if err := a.WaitLightning(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get("http://" + a.Addr() + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz with the node up: %v %v", resp, err)
	}

	t.Run("WorldPaysLightningAddress", func(t *testing.T) {
		payee, _ := member(0)
		address := payee.LightningName + "@" + cfg.PublicDomain
		// Outside development the server will not resolve an address
		// on this machine at all.
		if _, err := (&lightning.LNURLClient{Node: node}).FetchInvoice(ctx, address, 7_000_000); err == nil || !strings.Contains(err.Error(), "loopback address: refused") {
			t.Fatalf("production resolved an address on loopback: %v", err)
		}
		client := &lightning.LNURLClient{Node: node, AllowPrivate: true} // the address is on loopback
		if _, err := client.FetchInvoice(ctx, "nobody@"+cfg.PublicDomain, 5_000_000); err == nil || !strings.Contains(strings.ToLower(err.Error()), "unknown lightning address") {
			t.Fatalf("an unknown address resolved: %v", err)
		}
		if _, err := client.FetchInvoice(ctx, address, 1); err == nil {
			t.Fatal("an amount below minSendable was accepted")
		}
		bolt11, err := client.FetchInvoice(ctx, address, 7_000_000)
		if err != nil {
			t.Fatal(err)
		}
		net.World.CLI("payinvoice", "--force", bolt11)
		waitUntil(t, "the address payment to be credited", func() bool { return balance(t, w, payee.ID) == 7_000_000 })
	})

	t.Run("USSDInvoiceAndAddressPayment", func(t *testing.T) {
		alice, _ := member(100_000)
		bob, _ := member(0)
		hop := func(session, phone string, inputs ...string) string {
			t.Helper()
			resp, err := http.PostForm("http://"+a.Addr()+"/ussd", url.Values{"sessionId": {session}, "phoneNumber": {phone},
				"networkCode": {"63902"}, "serviceCode": {"*384*1234#"}, "text": {strings.Join(inputs, "*")}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		// Bob asks for an invoice; it goes out by SMS (the outbox).
		var last string
		for i, in := range [][]string{{}, {"2"}, {"2", "2"}, {"2", "2", "3000"}} {
			last = hop("bob-1", bob.Phone, in...)
			if i < 3 && !strings.HasPrefix(last, "CON ") {
				t.Fatalf("hop %v: %q", in, last)
			}
		}
		if !strings.Contains(last, "END An invoice for 3,000 sats is on its way to you by SMS") {
			t.Fatalf("invoice screen: %q", last)
		}
		var bolt11 string
		waitUntil(t, "bob's invoice to be texted to him", func() bool {
			for _, m := range smsSim.Messages() {
				if i := strings.Index(m.Text, "lnbcrt"); m.To == bob.Phone && i >= 0 {
					bolt11 = strings.Fields(m.Text[i:])[0]
				}
			}
			return bolt11 != ""
		})
		net.World.CLI("payinvoice", "--force", bolt11)
		waitUntil(t, "bob's invoice to be credited", func() bool { return balance(t, w, bob.ID) == 3_000_000 })

		// Alice pays Bob's Lightning Address, typing the name and the
		// domain on two screens.
		steps := []struct{ in, want string }{
			{"", "1. Send"}, {"1", "2. To a Lightning Address"}, {"2", "only the name"}, {bob.LightningName, "Domain"},
			{cfg.PublicDomain, "Amount in sats"}, {"1500", "Pay 1,500 sats to " + bob.LightningName}, {"1", "Enter your PIN"},
			{"7391", "END Paid 1,500 sats to"},
		}
		var inputs []string
		for _, st := range steps {
			if st.in != "" {
				inputs = append(inputs, st.in)
			}
			if got := hop("alice-1", alice.Phone, inputs...); !strings.Contains(got, st.want) {
				t.Fatalf("after %v: %q lacks %q", inputs, got, st.want)
			}
		}
		if a, b := balance(t, w, alice.ID), balance(t, w, bob.ID); a != 98_500_000 || b != 4_500_000 {
			t.Fatalf("after the address payment: alice %d, bob %d", a, b)
		}
	})

	// The Lightning account against the node: in agreement after all of the
	// above; a split of a payment's booking between the Lightning and fees
	// accounts rewritten (which the ledger alone cannot tell from a routing
	// fee), and an invoice settled on the node that the ledger never issued,
	// are both reported, by the function and by `server reconcile --lnd`.
	t.Run("ReconcileWithNode", func(t *testing.T) {
		if worldPayment == 0 {
			t.Fatal("no payment through the node to plant a mismatch on")
		}
		reconcileLND := func() (string, error) {
			cmd := exec.Command(server, "reconcile", "--lnd")
			cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "LND_ADDRESS="+net.Ours.RPC, "LND_TLS_CERT_PATH="+net.Ours.TLSCertPath(),
				"LND_MACAROON_PATH="+net.Ours.MacaroonPath(), "LND_NETWORK=regtest", "PIN_PEPPER=regtest")
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		rep, err := lightning.ReconcileNode(ctx, node, w)
		if err != nil || len(rep.Mismatches) != 0 || rep.LedgerMsat != rep.NodeMsat || rep.NodeMsat == 0 {
			t.Fatalf("the ledger and the node after real invoices and payments: %+v %v", rep, err)
		}
		if out, err := reconcileLND(); err != nil || !strings.Contains(out, "books balance") {
			t.Fatalf("server reconcile --lnd: %v\n%s", err, out)
		}

		var ln, fees int64
		err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			a, err := tx.SystemAccount(ctx, store.AccountLightning)
			if err != nil {
				return err
			}
			f, err := tx.SystemAccount(ctx, store.AccountFees)
			ln, fees = a.ID, f.ID
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		plant := func(delta int) {
			for _, q := range []string{
				fmt.Sprintf("UPDATE ledger_entries SET amount_msat = amount_msat + %d WHERE transaction_id = %d AND account_id = %d", delta, worldPayment, ln),
				fmt.Sprintf("UPDATE ledger_entries SET amount_msat = amount_msat - %d WHERE transaction_id = %d AND account_id = %d", delta, worldPayment, fees),
				fmt.Sprintf("UPDATE accounts SET balance_msat = balance_msat + %d WHERE id = %d", delta, ln),
				fmt.Sprintf("UPDATE accounts SET balance_msat = balance_msat - %d WHERE id = %d", delta, fees),
			} {
				dbtest.RawExec(t, dbURL, q)
			}
		}
		plant(1_000)
		if rep, err := w.Reconcile(ctx); err != nil || !rep.OK() {
			t.Fatalf("the planted split must pass the ledger's own checks: %+v %v", rep, err)
		}
		rep, err = lightning.ReconcileNode(ctx, node, w)
		if err != nil || len(rep.Mismatches) != 1 || rep.Mismatches[0].TransactionID != worldPayment || rep.Mismatches[0].Kind != "payment" ||
			rep.Mismatches[0].LedgerMsat != rep.Mismatches[0].NodeMsat+1_000 {
			t.Fatalf("the planted split: %+v %v", rep, err)
		}
		out, err := reconcileLND()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "1 VIOLATIONS") || !strings.Contains(out, "booked another amount") {
			t.Fatalf("server reconcile --lnd over the planted split: %v\n%s", err, out)
		}
		plant(-1_000)

		var foreign struct {
			RHash          string `json:"r_hash"`
			PaymentRequest string `json:"payment_request"`
		}
		net.Ours.CLIJSON(&foreign, "addinvoice", "--amt", "1234")
		net.World.CLI("payinvoice", "--force", foreign.PaymentRequest)
		rep, err = lightning.ReconcileNode(ctx, node, w)
		if err != nil || len(rep.Mismatches) != 1 || rep.Mismatches[0].PaymentHash != foreign.RHash || rep.Mismatches[0].NodeMsat != -1_234_000 {
			t.Fatalf("an invoice settled on the node behind the ledger's back: %+v %v", rep, err)
		}
	})

	// The operator's check over the whole database, as an operator runs it.
	check := exec.Command(server, "reconcile")
	check.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	if out, err := check.CombinedOutput(); err != nil || !strings.Contains(string(out), "books balance") {
		t.Fatalf("server reconcile after the Lightning tests: %v\n%s", err, out)
	}
}

func balance(t *testing.T, w *wallet.Service, userID int64) int64 {
	t.Helper()
	b, err := w.Balance(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer a process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
