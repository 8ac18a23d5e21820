package wallet_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// dayCounter reads a user's daily counter.
func dayCounter(t *testing.T, db database.DB, userID int64) store.Account {
	t.Helper()
	var a store.Account
	err := db.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		a, err = tx.AccountByUserID(ctx, userID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDailyLimitRefundCountsItsDay: a refund gives back only to the day its
// payment was counted on. Held on day 1 and refunded on day 2, it must not
// make room in day 2's limit (it used to: the limit could be sent twice on
// day 2), and no counter goes below zero (it used to). Refunded the day it
// was held, it gives the room back.
func TestDailyLimitRefundCountsItsDay(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		const limit = 1_000 * sat
		w, clk := newWallet(t, db, func(c *wallet.Config) {
			c.DailyLimitMsat = limit
			c.AuthorizationTTL = 30 * 24 * time.Hour
		})
		m, other := register(t, w, 10_000*sat), register(t, w, 0)
		hold := func(amount int64, key string) store.Transaction {
			t.Helper()
			p, err := w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: amount, AllowanceMsat: 10 * sat,
				PaymentHash: storetest.Token(t, 32), IdempotencyKey: key})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		refund := func(p store.Transaction) {
			t.Helper()
			if ok, err := w.Refund(ctx, p.ID); err != nil || !ok {
				t.Fatalf("refund: %v %v", ok, err)
			}
		}
		send := func(amount int64, key string) error {
			_, err := w.Transfer(ctx, m.auth, other.user.Phone, amount, key)
			return err
		}
		counter := func(wantOut int64) {
			t.Helper()
			a := dayCounter(t, db, m.user.ID)
			if a.DayOutMsat != wantOut || a.DayOutMsat < 0 {
				t.Fatalf("day counter %d msat on day %d, want %d", a.DayOutMsat, a.DayOutDay, wantOut)
			}
		}

		// The scenario.
		day1 := hold(600*sat, "day1-hold")
		counter(600 * sat)
		clk.Advance(24 * time.Hour)
		if err := send(limit, "day2-limit"); err != nil {
			t.Fatalf("day 2's limit: %v", err)
		}
		refund(day1)
		counter(limit)
		if err := send(600*sat, "day2-again"); !errors.Is(err, wallet.ErrLimitExceeded) {
			t.Fatalf("a second limit on day 2 after refunding day 1's hold: %v", err)
		}

		// A counter never goes below zero: a hold of day 3 refunded on day
		// 4, after a small send, leaves day 4's counter at the send.
		clk.Advance(24 * time.Hour)
		held := hold(500*sat, "day3-hold")
		clk.Advance(24 * time.Hour)
		if err := send(100*sat, "day4-little"); err != nil {
			t.Fatal(err)
		}
		refund(held)
		counter(100 * sat)

		// Refunded the day it was held, a payment gives its room back.
		same := hold(900*sat, "day4-hold")
		counter(limit)
		refund(same)
		counter(100 * sat)
		if err := send(900*sat, "day4-after-refund"); err != nil {
			t.Fatalf("the room a same-day refund gave back: %v", err)
		}
		counter(limit)
		mustReconcile(t, w)
	})
}

// ledgerFixture is a fresh database of one engine with a realistic mix of
// every kind of operation booked through the wallet, and the ids a test
// that tampers with it behind the wallet's back needs.
type ledgerFixture struct {
	w   *wallet.Service
	url string
	// send is a completed transfer from alice to bob, topup a top-up of
	// carol's.
	send, topup int64
	// The accounts of the users and of the system.
	alice, bob, carol                   int64
	adjustments, fees, lightning, mpesa int64
}

func newLedgerFixture(t *testing.T, engine string) ledgerFixture {
	t.Helper()
	ctx := context.Background()
	f := ledgerFixture{url: dbtest.URL(t, engine)}
	db, err := database.Open(ctx, f.url, database.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var clk *clock
	f.w, clk = newWallet(t, db, func(c *wallet.Config) {
		c.TransferFeeBasisPoints, c.TransferFeeMinMsat = 100, 1*sat
		c.AuthorizationTTL = time.Hour
	})
	w := f.w
	alice, bob, carol := register(t, w, 100_000*sat), register(t, w, 0), register(t, w, 0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	send, err := w.Transfer(ctx, alice.auth, bob.user.Phone, 10_000*sat, "send-1")
	must(err)
	f.send = send.ID
	_, err = w.Transfer(ctx, bob.auth, carol.user.Phone, 2_000*sat, "send-2")
	must(err)
	topup, err := w.CreditTopup(ctx, wallet.Topup{Phone: carol.user.Phone, AmountMsat: 5_000 * sat, MpesaReceipt: "RCPT1"})
	must(err)
	f.topup = topup.ID
	_, err = w.Adjust(ctx, alice.user.Phone, -1_000*sat, "correction", "adjust-1")
	must(err)
	pay, err := w.Reserve(ctx, alice.auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: 3_000 * sat, AllowanceMsat: 100 * sat,
		PaymentHash: storetest.Token(t, 32), IdempotencyKey: "pay-1"})
	must(err)
	_, err = w.Settle(ctx, wallet.Settlement{TransactionID: pay.ID, RailFeeMsat: 7 * sat})
	must(err)
	wd, err := w.Reserve(ctx, bob.auth, wallet.Reservation{Type: store.TypeWithdraw, AmountMsat: 1_000 * sat, IdempotencyKey: "wd-1", Mpesa: testWithdrawal(1_000 * sat)})
	must(err)
	_, err = w.Refund(ctx, wd.ID)
	must(err)
	_, err = w.Reserve(ctx, carol.auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: 500 * sat, AllowanceMsat: 10 * sat,
		PaymentHash: storetest.Token(t, 32), IdempotencyKey: "pay-pending"})
	must(err)
	invoice := func(userID, amount int64, expiry time.Duration) string {
		t.Helper()
		hash := storetest.Token(t, 32)
		_, err := w.CreateInvoice(ctx, wallet.NewInvoice{UserID: userID, Invoice: "lnbcrt1" + storetest.Token(t, 40), PaymentHash: hash,
			AmountMsat: amount, ExpiresAt: clk.Now().Add(expiry)})
		must(err)
		return hash
	}
	paid := invoice(bob.user.ID, 4_000*sat, time.Hour)
	_, err = w.MarkInvoicePaid(ctx, paid, 4_000*sat)
	must(err)
	// Paying an invoice of ours: hold, (the node's cancel), settle inside.
	own, err := w.ReserveOwnInvoice(ctx, alice.auth, invoice(carol.user.ID, 1_500*sat, time.Hour), "pay-own")
	must(err)
	_, err = w.SettleOwnInvoice(ctx, own.ID)
	must(err)
	invoice(alice.user.ID, 100*sat, time.Minute)
	invoice(bob.user.ID, 200*sat, time.Hour)
	clk.Advance(2 * time.Minute)
	_, err = w.CleanupExpired(ctx, time.Hour)
	must(err)

	must(db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, u := range []struct {
			id  int64
			acc *int64
		}{{alice.user.ID, &f.alice}, {bob.user.ID, &f.bob}, {carol.user.ID, &f.carol}} {
			a, err := tx.AccountByUserID(ctx, u.id)
			if err != nil {
				return err
			}
			*u.acc = a.ID
		}
		for _, s := range []struct {
			code store.SystemAccountCode
			acc  *int64
		}{{store.AccountAdjustments, &f.adjustments}, {store.AccountFees, &f.fees}, {store.AccountLightning, &f.lightning}, {store.AccountMpesa, &f.mpesa}} {
			a, err := tx.SystemAccount(ctx, s.code)
			if err != nil {
				return err
			}
			*s.acc = a.ID
		}
		return nil
	}))
	return f
}

// oldChecks lists what the checks reconcile had before shapes, chains and
// day counters found (the review's tampering passed them all).
func oldChecks(rep store.ReconcileReport) string {
	if len(rep.UnbalancedTransactions)+len(rep.BalanceDrift)+len(rep.NegativeUserAccounts)+len(rep.ReservationMismatches) == 0 && rep.TotalMsat == 0 {
		return ""
	}
	return fmt.Sprintf("unbalanced %v, drift %v, negative %v, reservations %v, total %d",
		rep.UnbalancedTransactions, rep.BalanceDrift, rep.NegativeUserAccounts, rep.ReservationMismatches, rep.TotalMsat)
}

// TestReconcileCatchesTampering: reconcile passes a ledger after a realistic
// mix of every operation, and reports each way of changing the ledger's
// rows behind the wallet's back that the review tried, made so that the
// old checks (every transaction sums to zero, every cached balance is its
// entries' sum) still pass.
func TestReconcileCatchesTampering(t *testing.T) {
	const now = "'2026-11-27 09:00:00'"
	cases := []struct {
		name   string
		tamper func(f ledgerFixture) []string
		// want checks the report for what must be caught.
		want func(f ledgerFixture, rep store.ReconcileReport) string
	}{
		{"Untouched", func(ledgerFixture) []string { return nil }, func(_ ledgerFixture, rep store.ReconcileReport) string {
			if !rep.OK() {
				return fmt.Sprintf("violations in an untouched ledger: %+v", rep)
			}
			return ""
		}},
		{"PairAddedUnderCompletedTransfer", func(f ledgerFixture) []string {
			return []string{
				fmt.Sprintf("INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, created_at) VALUES (%d, %d, 5000000, %s), (%d, %d, -5000000, %s)",
					f.send, f.bob, now, f.send, f.adjustments, now),
				fmt.Sprintf("UPDATE accounts SET balance_msat = balance_msat + 5000000 WHERE id = %d", f.bob),
				fmt.Sprintf("UPDATE accounts SET balance_msat = balance_msat - 5000000 WHERE id = %d", f.adjustments),
			}
		}, func(f ledgerFixture, rep store.ReconcileReport) string {
			return cmp.Or(shapeOf(rep, f.send), chainOf(rep, f.bob))
		}},
		{"PairAddedOnSystemAccounts", func(f ledgerFixture) []string {
			return []string{
				fmt.Sprintf("INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, created_at) VALUES (%d, %d, 700000, %s), (%d, %d, -700000, %s)",
					f.send, f.fees, now, f.send, f.lightning, now),
				fmt.Sprintf("UPDATE accounts SET balance_msat = balance_msat + 700000 WHERE id = %d", f.fees),
				fmt.Sprintf("UPDATE accounts SET balance_msat = balance_msat - 700000 WHERE id = %d", f.lightning),
			}
		}, func(f ledgerFixture, rep store.ReconcileReport) string { return shapeOf(rep, f.send) }},
		{"TransactionAmountRewritten", func(f ledgerFixture) []string {
			return []string{fmt.Sprintf("UPDATE transactions SET amount_msat = amount_msat + 1000000 WHERE id = %d", f.topup)}
		}, func(f ledgerFixture, rep store.ReconcileReport) string { return shapeOf(rep, f.topup) }},
		{"EntryAmountEdited", func(f ledgerFixture) []string {
			return []string{
				fmt.Sprintf("UPDATE ledger_entries SET amount_msat = amount_msat + 1000 WHERE transaction_id = %d AND account_id = %d", f.send, f.bob),
				fmt.Sprintf("UPDATE ledger_entries SET amount_msat = amount_msat - 1000 WHERE transaction_id = %d AND account_id = %d", f.send, f.alice),
				fmt.Sprintf("UPDATE accounts SET balance_msat = balance_msat + 1000 WHERE id = %d", f.bob),
				fmt.Sprintf("UPDATE accounts SET balance_msat = balance_msat - 1000 WHERE id = %d", f.alice),
			}
		}, func(f ledgerFixture, rep store.ReconcileReport) string {
			return cmp.Or(chainOf(rep, f.bob), chainOf(rep, f.alice), shapeOf(rep, f.send))
		}},
		{"EntriesDeleted", func(f ledgerFixture) []string {
			return []string{
				fmt.Sprintf("DELETE FROM ledger_entries WHERE transaction_id = %d", f.topup),
				fmt.Sprintf("UPDATE accounts SET balance_msat = balance_msat - 5000000 WHERE id = %d", f.carol),
				fmt.Sprintf("UPDATE accounts SET balance_msat = balance_msat + 5000000 WHERE id = %d", f.mpesa),
			}
		}, func(f ledgerFixture, rep store.ReconcileReport) string {
			return cmp.Or(chainOf(rep, f.carol), shapeOf(rep, f.topup))
		}},
		{"DayCounterEdited", func(f ledgerFixture) []string {
			return []string{fmt.Sprintf("UPDATE accounts SET day_out_msat = 0 WHERE id = %d", f.alice)}
		}, func(f ledgerFixture, rep store.ReconcileReport) string {
			for _, m := range rep.DayCounterMismatches {
				if m.AccountID == f.alice && m.CounterMsat == 0 && m.LedgerMsat > 0 {
					return ""
				}
			}
			return fmt.Sprintf("no day counter mismatch for account %d: %+v", f.alice, rep.DayCounterMismatches)
		}},
	}
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					f := newLedgerFixture(t, engine)
					for _, q := range c.tamper(f) {
						dbtest.RawExec(t, f.url, q)
					}
					rep, err := f.w.Reconcile(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					if why := oldChecks(rep); why != "" {
						t.Fatalf("the tampering was meant to pass the old checks: %s", why)
					}
					if why := c.want(f, rep); why != "" {
						t.Fatal(why)
					}
					if c.name != "Untouched" && rep.OK() {
						t.Fatal("the report says the books balance")
					}
				})
			}
		})
	}
}

// shapeOf says why the report has no shape violation for a transaction, or "".
func shapeOf(rep store.ReconcileReport, transactionID int64) string {
	for _, v := range rep.ShapeViolations {
		if v.TransactionID == transactionID {
			return ""
		}
	}
	return fmt.Sprintf("transaction %d not reported against its shape: %+v", transactionID, rep.ShapeViolations)
}

// chainOf says why the report has no chain break for an account, or "".
func chainOf(rep store.ReconcileReport, accountID int64) string {
	for _, b := range rep.ChainBreaks {
		if b.AccountID == accountID {
			return ""
		}
	}
	return fmt.Sprintf("account %d's chain not reported broken: %+v", accountID, rep.ChainBreaks)
}

// TestLedgerHashChain: many workers post concurrently on a few accounts
// (transfers with a fee, reservations settled or refunded, adjustments),
// so postings queue on the same rows; afterwards every user account's
// chain runs 1, 2, … without a gap or a repeat, each entry's hash is what
// the verifier computes from its content and its predecessor's hash, each
// balance after is its predecessor's plus the amount, the last one is the
// account's balance, and reconcile finds nothing.
func TestLedgerHashChain(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) { hashChain(t, db) })
}

// hashChain is TestLedgerHashChain's workload on db.
func hashChain(t *testing.T, db database.DB) {
	t.Helper()
	ctx := context.Background()
	const accounts, workers, perWorker = 6, 12, 30
	w, _ := newWallet(t, db, func(c *wallet.Config) {
		c.TransferFeeBasisPoints, c.TransferFeeMinMsat = 50, 1*sat
		c.AuthorizationTTL = time.Hour
		c.DailyLimitMsat = 1 << 60
	})
	members := make([]member, accounts)
	for i := range members {
		members[i] = register(t, w, 20_000*sat)
	}
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(wk), 7))
			for i := range perWorker {
				m := members[rng.IntN(accounts)]
				amount := (1 + rng.Int64N(3_000)) * sat
				key := fmt.Sprintf("chain-%d-%d", wk, i)
				var err error
				switch op := rng.IntN(10); {
				case op < 6:
					to := members[rng.IntN(accounts)]
					if to.user.ID == m.user.ID {
						continue
					}
					_, err = w.Transfer(ctx, m.auth, to.user.Phone, amount, key)
				case op < 9:
					var p store.Transaction
					p, err = w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: amount, AllowanceMsat: 20 * sat,
						PaymentHash: storetest.Token(t, 32), IdempotencyKey: key})
					if err == nil && op == 8 {
						_, err = w.Refund(ctx, p.ID)
					} else if err == nil {
						_, err = w.Settle(ctx, wallet.Settlement{TransactionID: p.ID, RailFeeMsat: rng.Int64N(30 * sat)})
					}
				default:
					_, err = w.Adjust(ctx, m.user.Phone, amount, "top up the test", key)
				}
				if err != nil && !errors.Is(err, wallet.ErrInsufficientBalance) {
					t.Errorf("%s: %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()

	// Every entry on the members' accounts, read back through the rows
	// that carry them (each member's own transactions: a transfer's
	// entries hang off the sender's row).
	byID := map[int64]store.LedgerEntry{}
	for _, m := range members {
		for before := int64(0); ; {
			page, err := w.History(ctx, m.user.ID, before, 100)
			if err != nil {
				t.Fatal(err)
			}
			err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				for _, row := range page {
					es, err := tx.EntriesOf(ctx, row.ID)
					if err != nil {
						return err
					}
					for _, e := range es {
						byID[e.ID] = e
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) < 100 {
				break
			}
			before = page[len(page)-1].ID
		}
	}
	chains := map[int64][]store.LedgerEntry{}
	for _, e := range byID {
		if e.Seq != 0 {
			chains[e.AccountID] = append(chains[e.AccountID], e)
		}
	}
	if len(chains) != accounts {
		t.Fatalf("%d chains for %d accounts", len(chains), accounts)
	}
	var total int
	for _, m := range members {
		acc := dayCounter(t, db, m.user.ID)
		chain := chains[acc.ID]
		slices.SortFunc(chain, func(a, b store.LedgerEntry) int { return cmp.Compare(a.Seq, b.Seq) })
		var prev store.LedgerEntry
		for _, e := range chain {
			if e.Seq != prev.Seq+1 || e.BalanceAfterMsat != prev.BalanceAfterMsat+e.AmountMsat || e.Hash != store.ChainHash(e, prev.Hash) {
				t.Fatalf("account %d: entry %+v after %+v", acc.ID, e, prev)
			}
			prev = e
		}
		if prev.BalanceAfterMsat != acc.BalanceMsat {
			t.Fatalf("account %d holds %d msat, its chain ends at %d", acc.ID, acc.BalanceMsat, prev.BalanceAfterMsat)
		}
		total += len(chain)
	}
	t.Logf("%d chained entries on %d accounts", total, accounts)
	mustReconcile(t, w)
}
