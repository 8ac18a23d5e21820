package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testAccounts: every system account exists and is no user's; a user's
// account reads back by user and by number; LockAccounts returns the
// accounts it locked in id order.
func testAccounts(t *testing.T, s store.Store) {
	userA, accA, phoneA := NewFundedUser(t, s, 5000)
	_, accB, _ := NewFundedUser(t, s, 0)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, code := range []store.SystemAccountCode{store.AccountLightning, store.AccountMpesa, store.AccountFees, store.AccountAdjustments, store.AccountReserved} {
			a, err := tx.SystemAccount(ctx, code)
			if err != nil || a.Code != code || !a.IsSystem() || a.UserID != 0 {
				t.Fatalf("system account %s: %+v %v", code, a, err)
			}
		}
		_, err := tx.SystemAccount(ctx, "nope")
		mustKind(t, err, store.ErrNotFound, "unknown system account")

		a, err := tx.AccountByUserID(ctx, userA)
		if err != nil || a.ID != accA || a.BalanceMsat != 5000 || a.IsSystem() {
			t.Fatalf("AccountByUserID: %+v %v", a, err)
		}
		ua, err := tx.UserAccountByPhone(ctx, phoneA)
		if err != nil || ua.UserID != userA || ua.AccountID != accA || ua.BalanceMsat != 5000 || ua.UserStatus != store.UserActive {
			t.Fatalf("UserAccountByPhone: %+v %v", ua, err)
		}
		_, err = tx.UserAccountByPhone(ctx, Phone(t))
		mustKind(t, err, store.ErrNotFound, "account of unknown phone")

		locked, err := tx.LockAccounts(ctx, accB, accA)
		if err != nil || len(locked) != 2 || locked[0].ID != min(accA, accB) || locked[1].ID != max(accA, accB) {
			t.Fatalf("LockAccounts: %+v %v", locked, err)
		}
		none, err := tx.LockAccounts(ctx)
		if err != nil || len(none) != 0 {
			t.Fatalf("LockAccounts(): %+v %v", none, err)
		}
		return nil
	})
}

// testFailedPostingRollsBack: a refused posting may have moved some legs
// before the refused one (the lower account id moves first), so a
// transaction that goes on after it, and returns nil, must still not commit:
// InTx answers the posting's error, and nothing of the transaction stays.
// Every shape is tried: the first or the second leg of a pair refused, and
// the last leg of three. A posting outside InTx is refused before it moves
// anything.
func testFailedPostingRollsBack(t *testing.T, s store.Store) {
	userA, accA, _ := NewFundedUser(t, s, 10_000)
	_, accB, _ := NewFundedUser(t, s, 9_000)
	_, accC, _ := NewFundedUser(t, s, 0)
	balances := func() [3]int64 {
		var out [3]int64
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			for i, id := range []int64{accA, accB, accC} {
				a, err := tx.AccountByID(ctx, id)
				if err != nil {
					return err
				}
				out[i] = a.BalanceMsat
			}
			return nil
		})
		return out
	}
	before := balances()
	cases := []struct {
		name    string
		entries []store.Entry
		refused int64
	}{
		// accA < accB < accC: their creation order.
		{"first leg of a pair", []store.Entry{{AccountID: accB, AmountMsat: 5_000}, {AccountID: accA, AmountMsat: -5_000}}, accB},
		{"second leg of a pair", []store.Entry{{AccountID: accA, AmountMsat: -5_000}, {AccountID: accB, AmountMsat: 5_000}}, accB},
		{"last of three legs", []store.Entry{{AccountID: accA, AmountMsat: -6_000}, {AccountID: accB, AmountMsat: 1_000}, {AccountID: accC, AmountMsat: 5_000}}, accB},
	}
	for _, c := range cases {
		key := Token(t, 16)
		err := s.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
			txID, err := tx.InsertTransaction(ctx, store.NewTransaction{UserID: userA, Type: store.TypeSend, Direction: store.DirectionOut,
				Status: store.StatusCompleted, AmountMsat: 1, IdempotencyKey: key, Now: base})
			if err != nil {
				return err
			}
			// The guard lets accB hold no more than 9,000: every case credits it.
			if err := tx.PostEntries(ctx, txID, c.entries, maxGuard(9_000), base); err == nil {
				t.Errorf("%s: posting over accB's cap went through", c.name)
			}
			return nil // going on as if nothing happened
		})
		var be *store.BalanceError
		if !errors.As(err, &be) || be.AccountID != c.refused || be.Reason != store.ReasonMaxBalance {
			t.Errorf("%s: InTx = %v, want the refusal of account %d over its cap", c.name, err, c.refused)
		}
		if got := balances(); got != before {
			t.Errorf("%s: balances moved from %v to %v", c.name, before, got)
		}
		// By its key, not its id: SQLite gives a rolled-back row's id to
		// the next row inserted, which a test running beside this one may
		// have inserted by now.
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.TransactionByIdempotencyKey(ctx, key)
			mustKind(t, err, store.ErrNotFound, c.name+": the transaction of the refused posting")
			return nil
		})
	}
	err := s.Autocommit(context.Background(), func(ctx context.Context, tx store.Tx) error {
		return tx.PostEntries(ctx, 1, []store.Entry{{AccountID: accA, AmountMsat: -1}, {AccountID: accC, AmountMsat: 1}}, store.NoLimits, base)
	})
	if !errors.Is(err, store.ErrPostOutsideTx) {
		t.Errorf("posting in Autocommit: %v, want ErrPostOutsideTx", err)
	}
	if got := balances(); got != before {
		t.Errorf("autocommit posting: balances moved from %v to %v", before, got)
	}
}

// testPostEntries: a posting must balance and have two legs, may take a
// user's whole balance but no more, may credit up to the maximum balance
// exactly, and moves the balances it records.
func testPostEntries(t *testing.T, s store.Store) {
	_, accA, _ := NewFundedUser(t, s, 10_000)
	userB, accB, _ := NewFundedUser(t, s, 0)
	newTx := func(ctx context.Context, tx store.Tx) int64 {
		id, err := tx.InsertTransaction(ctx, store.NewTransaction{UserID: userB, Type: store.TypeSend, Direction: store.DirectionOut,
			Status: store.StatusCompleted, AmountMsat: 1, IdempotencyKey: Token(t, 16), Now: base})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	cases := []struct {
		name    string
		entries []store.Entry
		max     int64
		check   func(err error) bool
	}{
		{"unbalanced", []store.Entry{{AccountID: accA, AmountMsat: -100}, {AccountID: accB, AmountMsat: 99}}, 1 << 62, func(err error) bool { return errors.Is(err, store.ErrUnbalanced) }},
		{"single leg", []store.Entry{{AccountID: accA, AmountMsat: 0}}, 1 << 62, func(err error) bool { return errors.Is(err, store.ErrUnbalanced) }},
		{"insufficient", []store.Entry{{AccountID: accA, AmountMsat: -10_001}, {AccountID: accB, AmountMsat: 10_001}}, 1 << 62, func(err error) bool {
			var be *store.BalanceError
			return errors.As(err, &be) && be.AccountID == accA && be.AmountMsat == -10_001
		}},
		{"over max balance", []store.Entry{{AccountID: accA, AmountMsat: -600}, {AccountID: accB, AmountMsat: 600}}, 500, func(err error) bool {
			var be *store.BalanceError
			return errors.As(err, &be) && be.AccountID == accB
		}},
	}
	for _, c := range cases {
		err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			return tx.PostEntries(ctx, newTx(ctx, tx), c.entries, maxGuard(c.max), base)
		})
		if err == nil || !c.check(err) {
			t.Fatalf("%s: unexpected error %v", c.name, err)
		}
	}
	var txID int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		fees, err := tx.SystemAccount(ctx, store.AccountFees)
		if err != nil {
			return err
		}
		txID = newTx(ctx, tx)
		// Exactly the whole balance may go, and a credit up to max exactly.
		return tx.PostEntries(ctx, txID, []store.Entry{{AccountID: accA, AmountMsat: -10_000}, {AccountID: accB, AmountMsat: 9_000}, {AccountID: fees.ID, AmountMsat: 1_000}}, maxGuard(9_000), base)
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		a, _ := tx.AccountByID(ctx, accA)
		b, _ := tx.AccountByID(ctx, accB)
		if a.BalanceMsat != 0 || b.BalanceMsat != 9_000 {
			t.Fatalf("balances after posting: a=%d b=%d", a.BalanceMsat, b.BalanceMsat)
		}
		entries, err := tx.EntriesOf(ctx, txID)
		if err != nil || len(entries) != 3 {
			t.Fatalf("EntriesOf: %+v %v", entries, err)
		}
		var sum int64
		for _, e := range entries {
			sum += e.AmountMsat
		}
		if sum != 0 {
			t.Fatalf("entries sum to %d", sum)
		}
		held, err := tx.HeldBy(ctx, txID, accB)
		if err != nil || held != 9_000 {
			t.Fatalf("HeldBy: %d %v", held, err)
		}
		held, err = tx.HeldBy(ctx, txID+1_000_000, accB)
		if err != nil || held != 0 {
			t.Fatalf("HeldBy of nothing: %d %v", held, err)
		}
		return nil
	})
	// A system account may go negative; a user account never, even by a
	// debit from an account above the maximum.
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		return tx.PostEntries(ctx, newTx(ctx, tx), []store.Entry{{AccountID: accB, AmountMsat: -9_000}, {AccountID: accA, AmountMsat: 9_000}}, maxGuard(1), base)
	})
	var be *store.BalanceError
	if !errors.As(err, &be) || be.AccountID != accA {
		t.Fatalf("credit above max: %v", err)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PostEntries(ctx, newTx(ctx, tx), []store.Entry{{AccountID: accB, AmountMsat: -4_000}, {AccountID: accA, AmountMsat: 4_000}}, store.NoLimits, base)
	})
}

// testConcurrentDebits races many transactions that each debit one account:
// exactly as many as the balance covers succeed, the rest are refused, and
// the balance ends exact.
func testConcurrentDebits(t *testing.T, s store.Store) {
	const start, debit, workers = 100_000, 30_000, 10
	_, from, _ := NewFundedUser(t, s, start)
	var mu sync.Mutex
	var ok, refused int
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			err := s.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
				fees, err := tx.SystemAccount(ctx, store.AccountFees)
				if err != nil {
					return err
				}
				id, err := tx.InsertTransaction(ctx, store.NewTransaction{Type: store.TypeAdjustment, Direction: store.DirectionOut,
					Status: store.StatusCompleted, AmountMsat: debit, IdempotencyKey: Token(t, 16), Now: base})
				if err != nil {
					return err
				}
				return tx.PostEntries(ctx, id, []store.Entry{{AccountID: from, AmountMsat: -debit}, {AccountID: fees.ID, AmountMsat: debit}}, store.NoLimits, base)
			})
			mu.Lock()
			defer mu.Unlock()
			var be *store.BalanceError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &be):
				refused++
			default:
				t.Errorf("debit failed with %v", err)
			}
		})
	}
	wg.Wait()
	if ok != start/debit || refused != workers-start/debit {
		t.Fatalf("%d debits succeeded and %d were refused, want %d and %d", ok, refused, start/debit, workers-start/debit)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		a, err := tx.AccountByID(ctx, from)
		if err != nil || a.BalanceMsat != start%debit {
			t.Fatalf("balance after races: %+v %v", a, err)
		}
		return nil
	})
}

// maxGuard caps balances at max and leaves the daily limit open.
func maxGuard(max int64) store.Guard {
	return store.Guard{MaxBalanceMsat: max, DayLimitMsat: 1 << 62}
}

// testDailyLimit: sends count towards the day they happen on; a send past
// the day's limit is refused with that reason; a new day starts from zero;
// a refund gives its count back.
func testDailyLimit(t *testing.T, s store.Store) {
	_, acc, _ := NewFundedUser(t, s, 20_000)
	userB, accB, _ := NewFundedUser(t, s, 0)
	post := func(day, amount, dayOut int64) error {
		return s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			id, err := tx.InsertTransaction(ctx, newTxn(t, userB, store.TypeSend, store.StatusCompleted, amount, base))
			if err != nil {
				return err
			}
			guard := store.Guard{MaxBalanceMsat: 1 << 62, Day: day, DayLimitMsat: 5_000}
			return tx.PostEntries(ctx, id, []store.Entry{{AccountID: acc, AmountMsat: -amount, DayOutMsat: dayOut}, {AccountID: accB, AmountMsat: amount}}, guard, base)
		})
	}
	dayOut := func() (int64, int64) {
		var a store.Account
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			a, err = tx.AccountByID(ctx, acc)
			return err
		})
		return a.DayOutMsat, a.DayOutDay
	}
	if err := post(100, 3_000, 3_000); err != nil {
		t.Fatal(err)
	}
	err := post(100, 2_500, 2_500)
	var be *store.BalanceError
	if !errors.As(err, &be) || be.Reason != store.ReasonDailyLimit || be.AccountID != acc {
		t.Fatalf("send past the daily limit: %v", err)
	}
	if err := post(100, 2_000, 2_000); err != nil {
		t.Fatalf("send up to the limit exactly: %v", err)
	}
	if out, day := dayOut(); out != 5_000 || day != 100 {
		t.Fatalf("day counter %d on day %d", out, day)
	}
	if err := post(101, 4_000, 4_000); err != nil {
		t.Fatalf("a new day: %v", err)
	}
	// Giving a refunded send back (a negative count) never trips the limit.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		id, err := tx.InsertTransaction(ctx, newTxn(t, userB, store.TypeSend, store.StatusFailed, 4_000, base))
		if err != nil {
			return err
		}
		guard := store.Guard{MaxBalanceMsat: 1 << 62, Day: 101, DayLimitMsat: 1}
		return tx.PostEntries(ctx, id, []store.Entry{{AccountID: accB, AmountMsat: -4_000}, {AccountID: acc, AmountMsat: 4_000, DayOutMsat: -4_000}}, guard, base)
	})
	if out, day := dayOut(); out != 0 || day != 101 {
		t.Fatalf("after the refund: counter %d on day %d", out, day)
	}
	// A balance refusal says so, even when the day's limit would also bite.
	err = post(101, 100_000, 100_000)
	if !errors.As(err, &be) || be.Reason != store.ReasonInsufficient {
		t.Fatalf("overdraft: %v", err)
	}
	// A give-back counts only on the day the counter is on, and never takes
	// it below zero; an entry that counts nothing leaves the counter alone,
	// even on another day; a send of an earlier day (a transaction that
	// waited for the row past midnight) counts on the counter's day.
	steps := []struct {
		name            string
		day, dayOut     int64
		wantOut, wantOn int64
	}{
		{"a send", 101, 1_000, 1_000, 101},
		{"a give-back of more than the day counted", 101, -3_000, 0, 101},
		{"a send", 101, 2_000, 2_000, 101},
		{"a give-back on another day", 102, -2_000, 2_000, 101},
		{"a credit on another day", 102, 0, 2_000, 101},
		{"a send of the day before", 100, 500, 2_500, 101},
		{"a send on a new day", 102, 700, 700, 102},
		{"a give-back to the day before", 101, -700, 700, 102},
	}
	for _, st := range steps {
		err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			id, err := tx.InsertTransaction(ctx, newTxn(t, userB, store.TypeSend, store.StatusCompleted, 1, base))
			if err != nil {
				return err
			}
			guard := store.Guard{MaxBalanceMsat: 1 << 62, Day: st.day, DayLimitMsat: 5_000}
			return tx.PostEntries(ctx, id, []store.Entry{{AccountID: acc, AmountMsat: -1, DayOutMsat: st.dayOut}, {AccountID: accB, AmountMsat: 1}}, guard, base)
		})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if out, day := dayOut(); out != st.wantOut || day != st.wantOn {
			t.Fatalf("after %s on day %d: counter %d on day %d, want %d on day %d", st.name, st.day, out, day, st.wantOut, st.wantOn)
		}
	}
	// A late send is checked against the counter's day too.
	err = post(101, 4_400, 4_400)
	if !errors.As(err, &be) || be.Reason != store.ReasonDailyLimit {
		t.Fatalf("a late send past the limit of the counter's day: %v", err)
	}
}
