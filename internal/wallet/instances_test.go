package wallet_test

import (
	"context"
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

// TestInstancesCleanup: three servers' clean-ups on one database, run at
// the same instant, round after round, close each idle session, expire
// each overdue invoice (and its transaction row) and delete each stale
// address invoice exactly once between them (their counts add up to the
// rows there were: every change is a conditional update or delete that one
// of them wins), fail on nothing (a lock conflict is retried), and touch
// nothing live.
func TestInstancesCleanup(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			url := dbtest.URL(t, engine)
			c := &clock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
			ws := make([]*wallet.Service, 3)
			var dbs []database.DB
			for i := range ws {
				db, err := database.Open(context.Background(), url, database.Options{Migrate: i == 0})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				dbs = append(dbs, db)
				if ws[i], err = wallet.New(context.Background(), db, testConfig(c)); err != nil {
					t.Fatal(err)
				}
			}
			w, ctx := ws[0], context.Background()
			const rounds, sessions, invoices, stale = 3, 20, 12, 8
			var live []string
			var invoiceIDs []int64
			for r := range rounds {
				now := c.Now()
				// Sessions idle for 10 minutes and one just used.
				err := dbs[0].InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					for i := range sessions {
						if _, err := tx.UpsertSession(ctx, store.NewSession{SessionID: fmt.Sprintf("ATUid_idle_%d_%d", r, i),
							Phone: storetest.Phone(t), State: "menu", Now: now.Add(-10 * time.Minute)}); err != nil {
							return err
						}
					}
					id := fmt.Sprintf("ATUid_live_%d", r)
					live = append(live, id)
					_, err := tx.UpsertSession(ctx, store.NewSession{SessionID: id, Phone: storetest.Phone(t), State: "menu", Now: now})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				// Invoices overdue by a minute, and address invoices expired three days ago.
				u := register(t, w, 0)
				for i := range invoices {
					inv, err := w.CreateInvoice(ctx, wallet.NewInvoice{UserID: u.user.ID, Invoice: fmt.Sprintf("lnbcrt1%d%d", r, i),
						PaymentHash: storetest.Token(t, 32), AmountMsat: 1_000_000, ExpiresAt: now.Add(-time.Minute)})
					if err != nil {
						t.Fatal(err)
					}
					invoiceIDs = append(invoiceIDs, inv.TransactionID)
				}
				for i := range stale {
					_, err := w.CreateInvoice(ctx, wallet.NewInvoice{Origin: store.InvoiceByAddress, Phone: storetest.Phone(t),
						Invoice: fmt.Sprintf("lnbcrt2%d%d", r, i), PaymentHash: storetest.Token(t, 32), AmountMsat: 1_000_000,
						ExpiresAt: now.Add(-72 * time.Hour)})
					if err != nil {
						t.Fatal(err)
					}
				}

				var mu sync.Mutex
				var sum wallet.CleanupResult
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i, w := range ws {
					wg.Go(func() {
						<-start
						res, err := w.CleanupExpired(ctx, 3*time.Minute)
						if err != nil {
							t.Errorf("round %d, server %d: %v", r, i, err)
							return
						}
						mu.Lock()
						defer mu.Unlock()
						sum.Sessions += res.Sessions
						sum.Invoices += res.Invoices
						sum.AddressInvoices += res.AddressInvoices
					})
				}
				close(start)
				wg.Wait()
				if sum.Sessions != sessions || sum.Invoices != invoices+stale || sum.AddressInvoices != stale {
					t.Fatalf("round %d: %+v, want %d sessions closed, %d invoices expired and %d address invoices deleted between them",
						r, sum, sessions, invoices+stale, stale)
				}
				c.Advance(time.Minute)
			}
			for _, id := range live {
				err := dbs[1].Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
					s, err := tx.Session(ctx, id)
					if err == nil && !s.Active {
						t.Errorf("live session %s closed", id)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range invoiceIDs {
				got, err := ws[2].Transaction(ctx, id)
				if err != nil || got.Status != store.StatusExpired {
					t.Fatalf("invoice transaction %d: %s %v", id, got.Status, err)
				}
			}
			rep, err := w.Reconcile(ctx)
			if err != nil || !rep.OK() {
				t.Fatalf("reconcile: %+v %v", rep, err)
			}
		})
	}
}
