package growth_test

import (
	"context"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/growth"
)

// TestGrowthSeedReconciles: two cohorts seeded on one database pass every
// check of Reconcile (balances, shapes, chains, counters), hold what the
// generator says it loaded, and leave the identities where the store can go
// on inserting.
func TestGrowthSeedReconciles(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		end := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		var total int
		for i, size := range []struct{ users, txns int }{{200, 2_000}, {300, 3_001}} {
			res, err := growth.Seed(ctx, db, growth.Options{Users: size.users, Transactions: size.txns, Seed: uint64(i + 1), End: end, Batch: 700, PINHash: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Transactions != size.txns || res.Users != size.users || res.Entries < 2*size.users || res.Invoices == 0 || res.MpesaRequests == 0 || res.Sessions == 0 || res.Notifications == 0 {
				t.Fatalf("cohort %d: %+v", i, res)
			}
			total += res.Transactions
		}
		if err := growth.Reconcile(ctx, db); err != nil {
			t.Fatal(err)
		}
		// The wallet goes on from there: a user, a transaction and an
		// invoice insert after the loaded ids.
		err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			id, err := tx.InsertUser(ctx, store.NewUser{Phone: "+254799999999", LightningName: "254799999999", Language: "en", Status: store.UserActive, Now: end})
			if err != nil {
				return err
			}
			u, err := tx.UserByPhone(ctx, growth.Phone(1))
			if err != nil {
				return err
			}
			hist, err := tx.LatestTransactions(ctx, u.ID, 0, 5)
			if err != nil || len(hist) == 0 {
				t.Errorf("history of a seeded user: %d rows, %v", len(hist), err)
			}
			txID, err := tx.InsertTransaction(ctx, store.NewTransaction{UserID: id, Type: store.TypeInvoice, Direction: store.DirectionIn,
				Status: store.StatusPending, AmountMsat: 1000, IdempotencyKey: "after-growth", Now: end})
			if err != nil {
				return err
			}
			if txID <= int64(total) {
				t.Errorf("a new transaction got id %d, within the %d loaded", txID, total)
			}
			_, err = tx.InsertInvoice(ctx, store.NewInvoice{UserID: id, TransactionID: txID, Invoice: "lnbcrt1after", PaymentHash: "after",
				AmountMsat: 1000, Origin: store.InvoiceByUser, ExpiresAt: end.Add(time.Hour), Now: end})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
