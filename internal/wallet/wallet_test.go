package wallet_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

const sat = 1000 // msat

// clock is a settable time source shared by a test and its wallet.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testConfig is the default configuration with a cheap PIN hash (tests
// hash many PINs) and the given clock.
func testConfig(c *clock) wallet.Config {
	cfg := wallet.DefaultConfig()
	cfg.Argon2 = wallet.Argon2Params{Time: 1, Memory: 1024, Threads: 1}
	cfg.Now = c.Now
	return cfg
}

func newWallet(t *testing.T, db database.DB, mutate func(*wallet.Config)) (*wallet.Service, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	cfg := testConfig(c)
	if mutate != nil {
		mutate(&cfg)
	}
	w, err := wallet.New(context.Background(), db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w, c
}

// member is a registered user with an authorization to spend.
type member struct {
	user wallet.User
	auth wallet.Authorization
}

const goodPIN = "2791"

// register creates a registered user holding balance msat (an operator
// credit) and verifies its PIN.
func register(t testing.TB, w *wallet.Service, balance int64) member {
	t.Helper()
	ctx := context.Background()
	u, created, err := w.EnsureUser(ctx, storetest.Phone(t))
	if err != nil || !created {
		t.Fatalf("ensure user: %v %v", created, err)
	}
	if err := w.Register(ctx, u.ID, goodPIN); err != nil {
		t.Fatalf("register: %v", err)
	}
	if balance > 0 {
		if _, err := w.Adjust(ctx, u.Phone, balance, "test funding", "fund:"+u.Phone); err != nil {
			t.Fatalf("fund: %v", err)
		}
	}
	auth, err := w.VerifyPIN(ctx, u.ID, goodPIN)
	if err != nil {
		t.Fatalf("verify pin: %v", err)
	}
	return member{user: u, auth: auth}
}

// testWithdrawal is the M-Pesa side of a test withdrawal of msat (a whole
// number of shillings) at a quote that does not expire during a test.
func testWithdrawal(msat int64) *wallet.MpesaWithdrawal {
	return &wallet.MpesaWithdrawal{
		// At KES 12,500,000 per bitcoin a shilling is 8,000 msat.
		Quote:      wallet.MpesaQuote{KES: msat / 8_000, Msat: msat, RateMilliKESPerBTC: 12_500_000_000, ExpiresAt: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)},
		CheckAfter: time.Minute,
	}
}

func balance(t testing.TB, w *wallet.Service, userID int64) int64 {
	t.Helper()
	b, err := w.Balance(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustReconcile(t testing.TB, w *wallet.Service) {
	t.Helper()
	rep, err := w.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("reconcile found violations: %+v", rep)
	}
}

// TestBank is a Jepsen-style bank test on every engine: many concurrent
// workers transfer random amounts, many larger than the sender holds, among
// a fixed set of accounts. Money is neither created nor lost, no balance
// goes negative, cached balances equal the ledger, every successful call
// is exactly one completed transfer, and no deadlock escapes as an error.
func TestBank(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		bank(t, db)
		dbtest.LogRetries(t, db, "its default isolation")
	})
}

// bank is TestBank's workload on db.
func bank(t *testing.T, db database.DB) {
	t.Helper()
	const accounts, workers, perWorker, start = 50, 16, 150, 10_000 * sat
	w, _ := newWallet(t, db, func(c *wallet.Config) {
		c.AuthorizationTTL = time.Hour
		c.DailyLimitMsat = 1 << 60
		c.MaxAmountMsat = 1 << 50
	})
	members := make([]member, accounts)
	for i := range members {
		members[i] = register(t, w, start)
	}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(wk), 42))
			for i := range perWorker {
				from, to := members[rng.IntN(accounts)], members[rng.IntN(accounts)]
				if from.user.ID == to.user.ID {
					continue
				}
				// Up to three times the starting balance: many are refused.
				amount := (1 + rng.Int64N(3*start/sat)) * sat
				_, err := w.Transfer(context.Background(), from.auth, to.user.Phone, amount, fmt.Sprintf("bank-%d-%d", wk, i))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, wallet.ErrInsufficientBalance):
					refused.Add(1)
				default:
					t.Errorf("transfer failed: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d transfers completed, %d refused for insufficient balance", ok.Load(), refused.Load())
	if ok.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("the test must exercise both outcomes: ok=%d refused=%d", ok.Load(), refused.Load())
	}
	var total, sends int64
	for _, m := range members {
		b := balance(t, w, m.user.ID)
		if b < 0 {
			t.Errorf("negative balance %d for user %d", b, m.user.ID)
		}
		total += b
		for before := int64(0); ; {
			page, err := w.History(context.Background(), m.user.ID, before, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, tx := range page {
				if tx.Type == store.TypeSend && tx.Status == store.StatusCompleted {
					sends++
				}
			}
			if len(page) < 100 {
				break
			}
			before = page[len(page)-1].ID
		}
	}
	if total != accounts*start {
		t.Fatalf("money was created or lost: total %d, want %d", total, accounts*start)
	}
	if sends != ok.Load() {
		t.Fatalf("%d completed transfers recorded, %d calls succeeded", sends, ok.Load())
	}
	mustReconcile(t, w)
}

func TestTransfer(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, _ := newWallet(t, db, func(c *wallet.Config) {
			c.MaxAmountMsat = 5_000 * sat
			c.DailyLimitMsat = 8_000 * sat
			c.MaxBalanceMsat = 20_000 * sat
		})
		alice, bob := register(t, w, 15_000*sat), register(t, w, 0)

		sent, err := w.Transfer(ctx, alice.auth, bob.user.Phone, 1_500*sat, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if sent.Type != store.TypeSend || sent.Status != store.StatusCompleted || sent.AmountMsat != 1_500*sat || sent.CounterpartyPhone != bob.user.Phone {
			t.Fatalf("sent row: %+v", sent)
		}
		if a, b := balance(t, w, alice.user.ID), balance(t, w, bob.user.ID); a != 13_500*sat || b != 1_500*sat {
			t.Fatalf("balances %d %d", a, b)
		}
		hist, err := w.History(ctx, bob.user.ID, 0, 5)
		if err != nil || len(hist) != 1 || hist[0].Type != store.TypeReceive || hist[0].CounterpartyPhone != alice.user.Phone || hist[0].IdempotencyKey != "t1/receive" {
			t.Fatalf("bob's history: %+v %v", hist, err)
		}

		// The recipient hears about it through the outbox, in the same
		// transaction as the money.
		err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			notes, err := tx.NotificationsOf(ctx, sent.ID)
			if err != nil {
				return err
			}
			if len(notes) != 1 || notes[0].Kind != store.NotifyReceived || notes[0].Phone != bob.user.Phone || notes[0].AmountMsat != 1_500*sat {
				t.Fatalf("notifications: %+v", notes)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// A national form of the number reaches the same user.
		national := "0" + strings.TrimPrefix(bob.user.Phone, "+254")
		if _, err := w.Transfer(ctx, alice.auth, national, 500*sat, "t2"); err != nil {
			t.Fatal(err)
		}
		if b := balance(t, w, bob.user.ID); b != 2_000*sat {
			t.Fatalf("bob after national-form send: %d", b)
		}

		cases := []struct {
			name string
			to   string
			amt  int64
			want error
		}{
			{"to yourself", alice.user.Phone, 1 * sat, wallet.ErrSelfTransfer},
			{"zero", bob.user.Phone, 0, wallet.ErrInvalidAmount},
			{"negative", bob.user.Phone, -5, wallet.ErrInvalidAmount},
			{"over per-transaction max", bob.user.Phone, 5_001 * sat, wallet.ErrLimitExceeded},
			{"invalid phone", "12345", 1 * sat, wallet.ErrInvalidPhone},
			{"over daily limit", bob.user.Phone, 4_000 * sat, wallet.ErrLimitExceeded}, // 2,000 + 4,000 ok, then …
		}
		if _, err := w.Transfer(ctx, alice.auth, bob.user.Phone, 4_000*sat, "t3"); err != nil { // … 6,000 sent today
			t.Fatal(err)
		}
		before := balance(t, w, alice.user.ID)
		for i, c := range cases {
			_, err := w.Transfer(ctx, alice.auth, c.to, c.amt, fmt.Sprintf("bad-%d", i))
			if !errors.Is(err, c.want) {
				t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			}
		}
		if balance(t, w, alice.user.ID) != before {
			t.Fatal("a refused transfer moved money")
		}

		// A credit that would take the recipient above the cap is refused.
		rich := register(t, w, 19_000*sat)
		_, err = w.Transfer(ctx, bob.auth, rich.user.Phone, 1_001*sat, "cap")
		if !errors.Is(err, wallet.ErrLimitExceeded) {
			t.Fatalf("over max balance: %v", err)
		}
		// Bob holds 6,000 sat: 2,000 go, then 4,500 more cannot.
		if _, err := w.Transfer(ctx, bob.auth, alice.user.Phone, 2_000*sat, "bob-1"); err != nil {
			t.Fatal(err)
		}
		_, err = w.Transfer(ctx, bob.auth, alice.user.Phone, 4_500*sat, "bob-2")
		if !errors.Is(err, wallet.ErrInsufficientBalance) {
			t.Fatalf("bob overspending: %v", err)
		}
		if b := balance(t, w, bob.user.ID); b != 4_000*sat {
			t.Fatalf("bob after a refused send: %d", b)
		}
		mustReconcile(t, w)
	})
}

// TestTransferToUnregistered sends to a number with no account: the funds
// wait in a new unregistered account and are there when its owner registers.
func TestTransferToUnregistered(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, _ := newWallet(t, db, nil)
		alice := register(t, w, 1_000*sat)
		newcomer := storetest.Phone(t)
		if ok, _ := w.UserExists(ctx, newcomer); ok {
			t.Fatal("fresh number already exists")
		}
		if _, err := w.Transfer(ctx, alice.auth, newcomer, 300*sat, "gift"); err != nil {
			t.Fatal(err)
		}
		u, created, err := w.EnsureUser(ctx, newcomer)
		if err != nil || created || u.Status != store.UserUnregistered {
			t.Fatalf("recipient: %+v created=%v %v", u, created, err)
		}
		if _, err := w.VerifyPIN(ctx, u.ID, goodPIN); !errors.Is(err, wallet.ErrNotRegistered) {
			t.Fatalf("an unregistered user must not authorise: %v", err)
		}
		if b := balance(t, w, u.ID); b != 300*sat {
			t.Fatalf("waiting funds: %d", b)
		}
		if err := w.Register(ctx, u.ID, "8042"); err != nil {
			t.Fatal(err)
		}
		if err := w.Register(ctx, u.ID, "8042"); !errors.Is(err, wallet.ErrAlreadyRegistered) {
			t.Fatalf("second registration: %v", err)
		}
		auth, err := w.VerifyPIN(ctx, u.ID, "8042")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Transfer(ctx, auth, alice.user.Phone, 300*sat, "back"); err != nil {
			t.Fatalf("spending waiting funds: %v", err)
		}
		mustReconcile(t, w)
	})
}

// TestIdempotency: the same key, in sequence or concurrently, moves money
// once and returns the first result; the key reused for another operation
// is refused.
func TestIdempotency(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, _ := newWallet(t, db, func(c *wallet.Config) { c.AuthorizationTTL = time.Hour })
		alice, bob := register(t, w, 10_000*sat), register(t, w, 0)

		first, err := w.Transfer(ctx, alice.auth, bob.user.Phone, 100*sat, "hop-1")
		if err != nil {
			t.Fatal(err)
		}
		again, err := w.Transfer(ctx, alice.auth, bob.user.Phone, 100*sat, "hop-1")
		if err != nil || again.ID != first.ID {
			t.Fatalf("repeat: %+v %v (first %d)", again, err, first.ID)
		}
		if _, err := w.Transfer(ctx, alice.auth, bob.user.Phone, 200*sat, "hop-1"); !errors.Is(err, wallet.ErrIdempotencyMismatch) {
			t.Fatalf("key reused for another amount: %v", err)
		}

		const racers = 10
		ids := make(chan int64, racers)
		var wg sync.WaitGroup
		for range racers {
			wg.Go(func() {
				tx, err := w.Transfer(ctx, alice.auth, bob.user.Phone, 250*sat, "hop-2")
				if err != nil {
					t.Errorf("concurrent repeat: %v", err)
					return
				}
				ids <- tx.ID
			})
		}
		wg.Wait()
		close(ids)
		var seen int64
		for id := range ids {
			if seen != 0 && id != seen {
				t.Fatalf("concurrent repeats returned different transfers %d and %d", seen, id)
			}
			seen = id
		}
		if b := balance(t, w, bob.user.ID); b != 350*sat {
			t.Fatalf("bob has %d, want 350 sat: a repeat moved money", b)
		}

		// Top-ups are credited once per M-Pesa receipt.
		for range 3 {
			if _, err := w.CreditTopup(ctx, wallet.Topup{Phone: bob.user.Phone, AmountMsat: 1_000 * sat, MpesaReceipt: "RKT1ABC123"}); err != nil {
				t.Fatal(err)
			}
		}
		if b := balance(t, w, bob.user.ID); b != 1_350*sat {
			t.Fatalf("after repeated top-up callbacks bob has %d", b)
		}
		if _, err := w.CreditTopup(ctx, wallet.Topup{Phone: bob.user.Phone, AmountMsat: 5 * sat, MpesaReceipt: "RKT1ABC123"}); !errors.Is(err, wallet.ErrIdempotencyMismatch) {
			t.Fatalf("receipt reused for another amount: %v", err)
		}
		mustReconcile(t, w)
	})
}

// TestInvoiceDoubleCredit marks one invoice paid from many goroutines at
// once: the user is credited exactly once.
func TestInvoiceDoubleCredit(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, clk := newWallet(t, db, nil)
		m := register(t, w, 0)
		hash := storetest.Token(t, 32)
		inv, err := w.CreateInvoice(ctx, wallet.NewInvoice{UserID: m.user.ID, Invoice: "lnbcrt5u1" + storetest.Token(t, 40),
			PaymentHash: hash, AmountMsat: 500 * sat, Description: "umeme", ExpiresAt: clk.Now().Add(time.Hour)})
		if err != nil || inv.Status != store.InvoicePending {
			t.Fatalf("create invoice: %+v %v", inv, err)
		}
		if b := balance(t, w, m.user.ID); b != 0 {
			t.Fatalf("an unpaid invoice credited %d", b)
		}
		var credited atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				ok, err := w.MarkInvoicePaid(ctx, hash, 500*sat)
				if err != nil {
					t.Errorf("mark paid: %v", err)
				}
				if ok {
					credited.Add(1)
				}
			})
		}
		wg.Wait()
		if credited.Load() != 1 {
			t.Fatalf("credited %d times", credited.Load())
		}
		if b := balance(t, w, m.user.ID); b != 500*sat {
			t.Fatalf("balance %d after one invoice of 500 sat", b)
		}
		st, err := w.InvoiceStatus(ctx, hash)
		if err != nil || st.Status != store.InvoicePaid {
			t.Fatalf("status: %+v %v", st, err)
		}
		hist, _ := w.History(ctx, m.user.ID, 0, 1)
		if len(hist) != 1 || hist[0].Type != store.TypeInvoice || hist[0].Status != store.StatusCompleted {
			t.Fatalf("history: %+v", hist)
		}

		// An overdue invoice expires; paid later by the node, it still credits.
		late := storetest.Token(t, 32)
		if _, err := w.CreateInvoice(ctx, wallet.NewInvoice{UserID: m.user.ID, Invoice: "lnbcrt1u1" + storetest.Token(t, 40),
			PaymentHash: late, AmountMsat: 100 * sat, ExpiresAt: clk.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute)
		res, err := w.CleanupExpired(ctx, 5*time.Minute)
		if err != nil || res.Invoices < 1 {
			t.Fatalf("cleanup: %+v %v", res, err)
		}
		if st, _ := w.InvoiceStatus(ctx, late); st.Status != store.InvoiceExpired {
			t.Fatalf("overdue invoice: %+v", st)
		}
		if ok, err := w.MarkInvoicePaid(ctx, late, 100*sat); err != nil || !ok {
			t.Fatalf("late settlement: %v %v", ok, err)
		}
		if b := balance(t, w, m.user.ID); b != 600*sat {
			t.Fatalf("balance %d after the late settlement", b)
		}
		if _, err := w.InvoiceStatus(ctx, storetest.Token(t, 32)); !errors.Is(err, wallet.ErrNotFound) {
			t.Fatalf("unknown invoice: %v", err)
		}
		mustReconcile(t, w)
	})
}

// TestReservations: a pending payment or withdrawal keeps its funds out of
// reach; settle charges exactly the real fee and releases the rest; refund
// returns exactly the hold; and of a concurrent settle and refund only one
// takes effect.
func TestReservations(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, _ := newWallet(t, db, func(c *wallet.Config) {
			c.FeeBasisPoints, c.FeeMinMsat = 100, 10*sat // 1%, at least 10 sat
			c.AuthorizationTTL = time.Hour
		})
		m, other := register(t, w, 10_000*sat), register(t, w, 0)
		serviceFee := w.ServiceFee(2_000 * sat)
		if serviceFee != 20*sat {
			t.Fatalf("service fee %d", serviceFee)
		}

		pay, err := w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: 2_000 * sat, AllowanceMsat: 30 * sat,
			Invoice: "lnbcrt20u1x", PaymentHash: storetest.Token(t, 32), IdempotencyKey: "pay-1"})
		if err != nil {
			t.Fatal(err)
		}
		hold := 2_000*sat + serviceFee + 30*sat
		if b := balance(t, w, m.user.ID); b != 10_000*sat-hold {
			t.Fatalf("after reserve: %d", b)
		}
		// What is reserved cannot be spent.
		if _, err := w.Transfer(ctx, m.auth, other.user.Phone, 10_000*sat-hold+sat, "too-much"); !errors.Is(err, wallet.ErrInsufficientBalance) {
			t.Fatalf("spending reserved funds: %v", err)
		}
		mustReconcile(t, w)

		var settled, refunded atomic.Int32
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				var ok bool
				var err error
				if i%2 == 0 {
					if ok, err = w.Settle(ctx, wallet.Settlement{TransactionID: pay.ID, RailFeeMsat: 7 * sat}); ok {
						settled.Add(1)
					}
				} else if ok, err = w.Refund(ctx, pay.ID); ok {
					refunded.Add(1)
				}
				if err != nil {
					t.Errorf("finish: %v", err)
				}
			})
		}
		wg.Wait()
		if settled.Load()+refunded.Load() != 1 {
			t.Fatalf("%d settlements and %d refunds took effect", settled.Load(), refunded.Load())
		}
		got := balance(t, w, m.user.ID)
		txn, _ := w.History(ctx, m.user.ID, 0, 1)
		if settled.Load() == 1 {
			if got != 10_000*sat-2_000*sat-serviceFee-7*sat {
				t.Fatalf("after settle: %d", got)
			}
			if txn[0].Status != store.StatusCompleted || txn[0].FeeMsat != serviceFee+7*sat {
				t.Fatalf("settled row: %+v", txn[0])
			}
		} else {
			if got != 10_000*sat {
				t.Fatalf("after refund: %d", got)
			}
			if txn[0].Status != store.StatusFailed || txn[0].FeeMsat != 0 {
				t.Fatalf("refunded row: %+v", txn[0])
			}
		}
		mustReconcile(t, w)

		// A withdrawal refunded returns exactly the hold; settled, it pays
		// the M-Pesa float and the fee.
		before := balance(t, w, m.user.ID)
		wd, err := w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypeWithdraw, AmountMsat: 1_000 * sat, IdempotencyKey: "wd-1", Mpesa: testWithdrawal(1_000 * sat)})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := w.Refund(ctx, wd.ID); err != nil || !ok {
			t.Fatalf("refund: %v %v", ok, err)
		}
		if ok, err := w.Settle(ctx, wallet.Settlement{TransactionID: wd.ID}); err != nil || ok {
			t.Fatalf("settle after refund must not apply: %v %v", ok, err)
		}
		if b := balance(t, w, m.user.ID); b != before {
			t.Fatalf("refund returned %d, want %d", b, before)
		}
		wd2, err := w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypeWithdraw, AmountMsat: 1_000 * sat, IdempotencyKey: "wd-2", Mpesa: testWithdrawal(1_000 * sat)})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := w.Settle(ctx, wallet.Settlement{TransactionID: wd2.ID}); err != nil || !ok {
			t.Fatalf("settle: %v %v", ok, err)
		}
		if b := balance(t, w, m.user.ID); b != before-1_000*sat-w.ServiceFee(1_000*sat) {
			t.Fatalf("after withdrawal: %d", b)
		}
		// A rail that costs more than the allowance is paid by the operator,
		// never by going below the hold.
		over, err := w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: 100 * sat, AllowanceMsat: 1 * sat,
			PaymentHash: storetest.Token(t, 32), IdempotencyKey: "pay-over"})
		if err != nil {
			t.Fatal(err)
		}
		before = balance(t, w, m.user.ID)
		if ok, err := w.Settle(ctx, wallet.Settlement{TransactionID: over.ID, RailFeeMsat: 50 * sat}); err != nil || !ok {
			t.Fatalf("settle over allowance: %v %v", ok, err)
		}
		if b := balance(t, w, m.user.ID); b != before {
			t.Fatalf("an over-allowance fee changed the user's balance: %d -> %d", before, b)
		}
		if _, err := w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: 100_000 * sat, IdempotencyKey: "pay-big"}); !errors.Is(err, wallet.ErrInsufficientBalance) {
			t.Fatalf("reserving more than the balance: %v", err)
		}
		mustReconcile(t, w)
	})
}

// TestPIN: weak PINs are refused, three wrong tries lock the account for a
// time that grows on repeat, the lock ends by itself, and the stored hash
// never is nor contains the PIN.
func TestPIN(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, clk := newWallet(t, db, func(c *wallet.Config) { c.LockoutBase = 10 * time.Minute })
		u, _, err := w.EnsureUser(ctx, storetest.Phone(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, weak := range []string{"0000", "1234", "4321", "9999", "123", "1234567", "12a4", "7890", "2580"} {
			if err := w.Register(ctx, u.ID, weak); !errors.Is(err, wallet.ErrWeakPIN) {
				t.Errorf("PIN %q accepted: %v", weak, err)
			}
		}
		if err := w.Register(ctx, u.ID, "4071"); err != nil {
			t.Fatal(err)
		}
		stored, err := w.UserByPhone(ctx, u.Phone)
		if err != nil {
			t.Fatal(err)
		}
		if stored.PINHash == "" || strings.Contains(stored.PINHash, "4071") || !strings.HasPrefix(stored.PINHash, "$argon2id$") {
			t.Fatalf("stored PIN hash %q", stored.PINHash)
		}

		lockout := func(wantLock time.Duration) {
			t.Helper()
			for i, remaining := range []int{2, 1} {
				_, err := w.VerifyPIN(ctx, u.ID, "1111")
				var pe *wallet.PINError
				if !errors.As(err, &pe) || !errors.Is(err, wallet.ErrWrongPIN) || pe.Remaining != remaining {
					t.Fatalf("wrong try %d: %v", i+1, err)
				}
			}
			_, err := w.VerifyPIN(ctx, u.ID, "1111")
			var pe *wallet.PINError
			if !errors.As(err, &pe) || !errors.Is(err, wallet.ErrAccountLocked) || !pe.LockedUntil.Equal(clk.Now().Add(wantLock)) {
				t.Fatalf("third wrong try: %v", err)
			}
			// While locked, even the right PIN is refused.
			if _, err := w.VerifyPIN(ctx, u.ID, "4071"); !errors.Is(err, wallet.ErrAccountLocked) {
				t.Fatalf("right PIN while locked: %v", err)
			}
			clk.Advance(wantLock - time.Second)
			if _, err := w.VerifyPIN(ctx, u.ID, "4071"); !errors.Is(err, wallet.ErrAccountLocked) {
				t.Fatalf("right PIN a second before unlock: %v", err)
			}
			clk.Advance(time.Second)
		}
		lockout(10 * time.Minute)
		// The second lockout in a row lasts twice as long.
		lockout(20 * time.Minute)
		if _, err := w.VerifyPIN(ctx, u.ID, "4071"); err != nil {
			t.Fatalf("right PIN after the lock: %v", err)
		}
		// A success clears the count: one wrong try leaves two.
		_, err = w.VerifyPIN(ctx, u.ID, "1111")
		var pe *wallet.PINError
		if !errors.As(err, &pe) || pe.Remaining != 2 {
			t.Fatalf("after success: %v", err)
		}

		if err := w.ChangePIN(ctx, u.ID, "9999", "5820"); !errors.Is(err, wallet.ErrWeakPIN) && !errors.Is(err, wallet.ErrWrongPIN) {
			t.Fatalf("change with a wrong current PIN: %v", err)
		}
		if err := w.ChangePIN(ctx, u.ID, "4071", "5820"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.VerifyPIN(ctx, u.ID, "4071"); !errors.Is(err, wallet.ErrWrongPIN) {
			t.Fatalf("old PIN after change: %v", err)
		}
		auth, err := w.VerifyPIN(ctx, u.ID, "5820")
		if err != nil {
			t.Fatal(err)
		}
		// An authorization is short-lived.
		clk.Advance(w.Config().AuthorizationTTL)
		if _, err := w.Transfer(ctx, auth, storetest.Phone(t), sat, "late"); !errors.Is(err, wallet.ErrAuthorizationExpired) {
			t.Fatalf("stale authorization: %v", err)
		}
		if _, err := w.Transfer(ctx, wallet.Authorization{}, storetest.Phone(t), sat, "forged"); !errors.Is(err, wallet.ErrWrongPIN) {
			t.Fatalf("zero authorization: %v", err)
		}
	})
}

// TestAdjust books operator credits and debits; a debit cannot overdraw.
func TestAdjust(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, _ := newWallet(t, db, nil)
		phone := storetest.Phone(t)
		if _, err := w.Adjust(ctx, phone, 700*sat, "float deposit", "adj-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Adjust(ctx, phone, 700*sat, "float deposit", "adj-1"); err != nil {
			t.Fatal(err)
		}
		u, err := w.UserByPhone(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Adjust(ctx, phone, -800*sat, "correction", "adj-2"); !errors.Is(err, wallet.ErrInsufficientBalance) {
			t.Fatalf("overdrawing debit: %v", err)
		}
		if _, err := w.Adjust(ctx, phone, -200*sat, "correction", "adj-3"); err != nil {
			t.Fatal(err)
		}
		if b := balance(t, w, u.ID); b != 500*sat {
			t.Fatalf("balance %d", b)
		}
		if _, err := w.Adjust(ctx, phone, 5, "", "adj-4"); err == nil {
			t.Fatal("an adjustment without a reason was booked")
		}
		mustReconcile(t, w)
	})
}
