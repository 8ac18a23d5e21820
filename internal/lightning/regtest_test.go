package lightning_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/lightning/lndnode"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestRegtestReceive runs against a real regtest network: the world node
// pays invoices our node issued for users, and the watcher credits each
// exactly once, also across a restart of our lnd in the middle of payments.
func TestRegtestReceive(t *testing.T) {
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

	db := dbtest.Open(t, "postgres")
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
}
