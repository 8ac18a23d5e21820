package wallet_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestOnePaymentPerHash: on every engine, concurrent reservations of one
// payment hash with different keys (different users, or one user twice)
// end with exactly one pending payment; every other attempt is refused
// with ErrInvoiceAlreadyPaid and holds nothing. The database decides, not a
// read-then-write check. A repeated key still replays its first result,
// and the hash stays taken once its payment failed: lnd's record of a hash
// must be about one payment of ours only.
func TestOnePaymentPerHash(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, _ := newWallet(t, db, func(c *wallet.Config) { c.AuthorizationTTL = time.Hour })
		const n = 8
		const amount = 1_000 * sat
		hash := storetest.Token(t, 32)
		reservation := func(key string) wallet.Reservation {
			return wallet.Reservation{Type: store.TypePayment, AmountMsat: amount, AllowanceMsat: 20 * sat,
				Invoice: "lnbcrt10u1" + hash[:16], PaymentHash: hash, IdempotencyKey: key}
		}
		hold := amount + w.ServiceFee(amount) + 20*sat
		users := make([]member, n)
		for i := range users {
			users[i] = register(t, w, 10_000*sat)
		}

		type result struct {
			t   store.Transaction
			err error
		}
		race := func(attempt func(i int) (store.Transaction, error)) []result {
			out := make([]result, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					out[i].t, out[i].err = attempt(i)
				})
			}
			close(start)
			wg.Wait()
			return out
		}
		winner := func(results []result) (int, store.Transaction) {
			t.Helper()
			won := -1
			for i, r := range results {
				switch {
				case r.err == nil:
					if won >= 0 {
						t.Fatalf("attempts %d and %d both reserved hash %s", won, i, hash)
					}
					won = i
				case !errors.Is(r.err, wallet.ErrInvoiceAlreadyPaid):
					t.Fatalf("attempt %d: %v, want ErrInvoiceAlreadyPaid", i, r.err)
				}
			}
			if won < 0 {
				t.Fatal("no attempt reserved the hash")
			}
			return won, results[won].t
		}

		// Different users, different keys.
		results := race(func(i int) (store.Transaction, error) {
			return w.Reserve(ctx, users[i].auth, reservation(fmt.Sprintf("pay-%d", i)))
		})
		won, first := winner(results)
		for i, m := range users {
			want := int64(10_000 * sat)
			if i == won {
				want -= hold
			}
			if b := balance(t, w, m.user.ID); b != want {
				t.Fatalf("user %d holds %d after the race, want %d: a refused attempt held funds", i, b, want)
			}
		}
		mustReconcile(t, w)

		// One user again with new keys: refused as well.
		results = race(func(i int) (store.Transaction, error) {
			return w.Reserve(ctx, users[won].auth, reservation(fmt.Sprintf("again-%d", i)))
		})
		for i, r := range results {
			if !errors.Is(r.err, wallet.ErrInvoiceAlreadyPaid) {
				t.Fatalf("the owner's attempt %d with a new key: %v", i, r.err)
			}
		}
		// The first key, repeated concurrently, replays the first result.
		results = race(func(int) (store.Transaction, error) {
			return w.Reserve(ctx, users[won].auth, reservation(fmt.Sprintf("pay-%d", won)))
		})
		for i, r := range results {
			if r.err != nil || r.t.ID != first.ID {
				t.Fatalf("replay %d of the first key: %+v %v, want transaction %d", i, r.t, r.err, first.ID)
			}
		}
		if b := balance(t, w, users[won].user.ID); b != 10_000*sat-hold {
			t.Fatalf("the owner holds %d after replays", b)
		}

		// A definite failure keeps the hash: nobody may try it again.
		if ok, err := w.Refund(ctx, first.ID); err != nil || !ok {
			t.Fatalf("refund: %v %v", ok, err)
		}
		results = race(func(i int) (store.Transaction, error) {
			return w.Reserve(ctx, users[i].auth, reservation(fmt.Sprintf("retry-%d", i)))
		})
		for i, r := range results {
			if !errors.Is(r.err, wallet.ErrInvoiceAlreadyPaid) {
				t.Fatalf("attempt %d on a failed hash: %v", i, r.err)
			}
		}
		if owner, err := w.PaymentByHash(ctx, hash); err != nil || owner.ID != first.ID || owner.Status != store.StatusFailed {
			t.Fatalf("owner of the failed hash: %+v %v", owner, err)
		}
		for i, u := range users {
			if b := balance(t, w, u.user.ID); b != 10_000*sat {
				t.Fatalf("user %d holds %d after refused retries", i, b)
			}
		}
		mustReconcile(t, w)
	})
}

// TestOwnInvoiceLedger: paying one of our own invoices holds the payer's
// funds first (one attempt per hash, like any payment), moves them to the
// payee only on SettleOwnInvoice, and when the invoice watcher credits an
// outside payment first, refuses the settlement so the hold can go back.
func TestOwnInvoiceLedger(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, _ := newWallet(t, db, func(c *wallet.Config) { c.AuthorizationTTL = time.Hour })
		const amount = 3_000 * sat
		payee := register(t, w, 0)
		invoice := func() store.Invoice {
			t.Helper()
			hash := storetest.Token(t, 32)
			inv, err := w.CreateInvoice(ctx, wallet.NewInvoice{UserID: payee.user.ID, Invoice: "lnbcrt30u1" + hash[:16], PaymentHash: hash,
				AmountMsat: amount, Description: "for payee", AddIndex: 1, ExpiresAt: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			return inv
		}
		payers := make([]member, 6)
		for i := range payers {
			payers[i] = register(t, w, 10_000*sat)
		}

		// Concurrent payers of one invoice: one hold, the others refused
		// before anything is held.
		inv := invoice()
		var wg sync.WaitGroup
		results := make([]store.Transaction, len(payers))
		errs := make([]error, len(payers))
		for i := range payers {
			wg.Go(func() {
				results[i], errs[i] = w.ReserveOwnInvoice(ctx, payers[i].auth, inv.PaymentHash, fmt.Sprintf("own-%d", i))
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			if err == nil {
				if won >= 0 {
					t.Fatalf("payers %d and %d both reserved one invoice", won, i)
				}
				won = i
			} else if !errors.Is(err, wallet.ErrInvoiceAlreadyPaid) {
				t.Fatalf("payer %d: %v", i, err)
			}
		}
		if won < 0 {
			t.Fatal("nobody reserved the invoice")
		}
		hold := results[won]
		if hold.Status != store.StatusPending || hold.FeeMsat != 0 || hold.AmountMsat != amount {
			t.Fatalf("own-invoice hold: %+v", hold)
		}
		for i, p := range payers {
			want := int64(10_000 * sat)
			if i == won {
				want -= amount
			}
			if b := balance(t, w, p.user.ID); b != want {
				t.Fatalf("payer %d holds %d, want %d", i, b, want)
			}
		}
		if b := balance(t, w, payee.user.ID); b != 0 {
			t.Fatalf("the payee got %d before the settlement", b)
		}
		mustReconcile(t, w)

		if ok, err := w.SettleOwnInvoice(ctx, hold.ID); err != nil || !ok {
			t.Fatalf("settle own invoice: %v %v", ok, err)
		}
		if ok, err := w.SettleOwnInvoice(ctx, hold.ID); err != nil || ok {
			t.Fatalf("a second settlement must change nothing: %v %v", ok, err)
		}
		if ok, err := w.Refund(ctx, hold.ID); err != nil || ok {
			t.Fatalf("a refund after the settlement must change nothing: %v %v", ok, err)
		}
		if b := balance(t, w, payee.user.ID); b != amount {
			t.Fatalf("payee %d after the settlement", b)
		}
		err := db.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
			sent, err := tx.NotificationsOf(ctx, hold.ID)
			if err != nil {
				return err
			}
			received, err := tx.NotificationsOf(ctx, inv.TransactionID)
			if err != nil {
				return err
			}
			if len(sent) != 1 || sent[0].Kind != store.NotifyPaymentSent || sent[0].UserID != payers[won].user.ID ||
				len(received) != 1 || received[0].Kind != store.NotifyReceived || received[0].UserID != payee.user.ID {
				t.Fatalf("notifications of the settlement: payer %+v, payee %+v", sent, received)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := w.InvoiceStatus(ctx, inv.PaymentHash); st.Status != store.InvoicePaid {
			t.Fatalf("invoice after the settlement: %+v", st)
		}
		if credited, err := w.MarkInvoicePaid(ctx, inv.PaymentHash, amount); err != nil || credited {
			t.Fatalf("the watcher credited an invoice settled in the ledger: %v %v", credited, err)
		}
		// The key replays; the paid invoice refuses new attempts.
		if again, err := w.ReserveOwnInvoice(ctx, payers[won].auth, inv.PaymentHash, fmt.Sprintf("own-%d", won)); err != nil || again.ID != hold.ID {
			t.Fatalf("replay: %+v %v", again, err)
		}
		if _, err := w.ReserveOwnInvoice(ctx, payers[won].auth, inv.PaymentHash, "own-new"); !errors.Is(err, wallet.ErrInvoiceAlreadyPaid) {
			t.Fatalf("paying a paid own invoice: %v", err)
		}
		mustReconcile(t, w)

		// An outside payer first: the watcher credits the payee, the
		// settlement is refused, and the hold goes back whole.
		lost := invoice()
		p := payers[(won+1)%len(payers)]
		before := balance(t, w, p.user.ID)
		var h store.Transaction
		h, err = w.ReserveOwnInvoice(ctx, p.auth, lost.PaymentHash, "lost")
		if err != nil {
			t.Fatal(err)
		}
		if credited, err := w.MarkInvoicePaid(ctx, lost.PaymentHash, amount); err != nil || !credited {
			t.Fatalf("watcher: %v %v", credited, err)
		}
		if _, err := w.SettleOwnInvoice(ctx, h.ID); !errors.Is(err, wallet.ErrInvoiceAlreadyPaid) {
			t.Fatalf("settling an invoice paid from outside: %v", err)
		}
		if ok, err := w.Refund(ctx, h.ID); err != nil || !ok {
			t.Fatalf("refund: %v %v", ok, err)
		}
		if b := balance(t, w, p.user.ID); b != before {
			t.Fatalf("payer %d after the lost race, want %d", b, before)
		}
		if b := balance(t, w, payee.user.ID); b != 2*amount {
			t.Fatalf("payee %d: the outside payment was not credited once", b)
		}
		// Not even a funded attempt of an own invoice is possible by the payee.
		if _, err := w.ReserveOwnInvoice(ctx, payee.auth, invoice().PaymentHash, "self"); !errors.Is(err, wallet.ErrSelfTransfer) {
			t.Fatalf("paying one's own invoice: %v", err)
		}
		mustReconcile(t, w)
	})
}
