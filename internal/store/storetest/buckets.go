package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// postWithFees posts the entries legs makes, given the fees account's id,
// under a new transaction of user's.
func postWithFees(ctx context.Context, t *testing.T, tx store.Tx, user int64, legs func(fees int64) []store.Entry) error {
	fees, err := tx.SystemAccount(ctx, store.AccountFees)
	if err != nil {
		return err
	}
	id, err := tx.InsertTransaction(ctx, store.NewTransaction{UserID: user, Type: store.TypeSend, Direction: store.DirectionOut,
		Status: store.StatusCompleted, AmountMsat: 1, IdempotencyKey: Token(t, 16), Now: base})
	if err != nil {
		return err
	}
	return tx.PostEntries(ctx, id, legs(fees.ID), store.NoLimits, base)
}

// testSystemBalances: a system account's balance, however the engine keeps
// it (PostgreSQL and MySQL in buckets beside the row, migration 000016), is
// the sum of what was posted on it, read alike by SystemAccount, AccountByID
// and LockAccounts, through postings of two and three legs made in
// transactions whose ids fall in many buckets.
func testSystemBalances(t *testing.T, s store.Store) {
	userA, accA, _ := NewFundedUser(t, s, 10_000_000)
	_, accB, _ := NewFundedUser(t, s, 0)
	read := func() (sys, byID, locked int64) {
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			a, err := tx.SystemAccount(ctx, store.AccountFees)
			if err != nil {
				return err
			}
			b, err := tx.AccountByID(ctx, a.ID)
			if err != nil {
				return err
			}
			l, err := tx.LockAccounts(ctx, a.ID)
			if err != nil || len(l) != 1 {
				t.Fatalf("LockAccounts(fees) = %+v, %v", l, err)
			}
			sys, byID, locked = a.BalanceMsat, b.BalanceMsat, l[0].BalanceMsat
			return nil
		})
		return
	}
	before, _, _ := read()
	var posted int64
	for i := range 70 { // more transactions than there are buckets
		amount := int64(1_000 + i)
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			return postWithFees(ctx, t, tx, userA, func(fees int64) []store.Entry {
				if i%2 == 1 { // three legs: a transfer with its fee
					return []store.Entry{{AccountID: accA, AmountMsat: -(amount + 500)}, {AccountID: accB, AmountMsat: 500}, {AccountID: fees, AmountMsat: amount}}
				}
				return []store.Entry{{AccountID: accA, AmountMsat: -amount}, {AccountID: fees, AmountMsat: amount}}
			})
		})
		posted += amount
	}
	sys, byID, locked := read()
	if sys != before+posted || byID != sys || locked != sys {
		t.Fatalf("fees: SystemAccount %d, AccountByID %d, LockAccounts %d; want %d + %d = %d", sys, byID, locked, before, posted, before+posted)
	}
	// A refused three-legged posting moves no bucket either.
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		return postWithFees(ctx, t, tx, userA, func(fees int64) []store.Entry {
			return []store.Entry{{AccountID: fees, AmountMsat: 7}, {AccountID: accB, AmountMsat: 1<<40 - 7}, {AccountID: accA, AmountMsat: -1 << 40}}
		})
	})
	var be *store.BalanceError
	if !errors.As(err, &be) || be.AccountID != accA || be.Reason != store.ReasonInsufficient {
		t.Fatalf("overdraft with a fee leg: %v, want accA refused as insufficient", err)
	}
	if again, _, _ := read(); again != sys {
		t.Fatalf("fees moved from %d to %d by a refused posting", sys, again)
	}
}

// testSystemLegsDoNotQueue: a posting on a system account does not wait for
// another transaction that posted on the same system account and has not
// committed yet — the fee of one transfer does not hold up the next — on
// the engines with row locks. (SQLite has one writer: its transactions
// queue for the database, whatever they touch, so there the check is only
// that both postings land.)
func testSystemLegsDoNotQueue(t *testing.T, s store.Store) {
	userA, accA, _ := NewFundedUser(t, s, 1_000_000)
	userC, accC, _ := NewFundedUser(t, s, 1_000_000)
	_, accB, _ := NewFundedUser(t, s, 0)
	post := func(ctx context.Context, tx store.Tx, user, from int64) error {
		return postWithFees(ctx, t, tx, user, func(fees int64) []store.Entry {
			return []store.Entry{{AccountID: from, AmountMsat: -1_100}, {AccountID: accB, AmountMsat: 1_000}, {AccountID: fees, AmountMsat: 100}}
		})
	}
	posted, release := make(chan error, 1), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
			err := post(ctx, tx, userA, accA)
			posted <- err
			<-release
			return err
		})
	}()
	if err := <-posted; err != nil {
		close(release)
		t.Fatalf("first posting: %v", err)
	}
	if s.Engine() == "sqlite" {
		close(release)
		if err := <-first; err != nil {
			t.Fatalf("first posting: %v", err)
		}
		inTx(t, s, func(ctx context.Context, tx store.Tx) error { return post(ctx, tx, userC, accC) })
		return
	}
	// The first transaction holds its rows (accA, accB, its fee bucket)
	// until release; the second shares only the fees account with it, and
	// must commit within the deadline (a wait for the first would last
	// until the engine's lock timeout, far past it).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	second := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return postWithFees(ctx, t, tx, userC, func(fees int64) []store.Entry {
			return []store.Entry{{AccountID: accC, AmountMsat: -100}, {AccountID: fees, AmountMsat: 100}}
		})
	})
	cancel()
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first posting: %v", err)
	}
	if second != nil {
		t.Fatalf("a fee posting while another transaction's fee posting is open: %v (it queued behind the fees account)", second)
	}
}

// testPostTransfer: PostTransfer books a transfer's two rows, its entries
// under the sending row and the recipient's text, or, refused, nothing at
// all; a repeated key is a conflict that moves nothing; a frozen sender,
// or one whose PIN reset is due, is refused.
func testPostTransfer(t *testing.T, s store.Store) {
	userA, accA, phoneA := NewFundedUser(t, s, 10_000)
	userB, accB, phoneB := NewFundedUser(t, s, 0)
	key := Token(t, 16)
	transfer := func(amount int64, key string) (int64, error) {
		var id int64
		err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			fees, err := tx.SystemAccount(ctx, store.AccountFees)
			if err != nil {
				return err
			}
			id, err = tx.PostTransfer(ctx, store.NewTransfer{SenderID: userA, SenderPhone: phoneA, RecipientID: userB, RecipientPhone: phoneB,
				AmountMsat: amount, FeeMsat: 100, IdempotencyKey: key, Now: base},
				[]store.Entry{{AccountID: accA, AmountMsat: -(amount + 100), DayOutMsat: amount}, {AccountID: accB, AmountMsat: amount}, {AccountID: fees.ID, AmountMsat: 100}},
				maxGuard(1<<40), store.NewNotification{UserID: userB, Phone: phoneB, Kind: store.NotifyReceived, AmountMsat: amount, Counterparty: phoneA, Now: base})
			return err
		})
		return id, err
	}
	balances := func() (a, b int64) {
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			x, err := tx.AccountByID(ctx, accA)
			if err != nil {
				return err
			}
			y, err := tx.AccountByID(ctx, accB)
			a, b = x.BalanceMsat, y.BalanceMsat
			return err
		})
		return a, b
	}
	id, err := transfer(4_000, key)
	if err != nil {
		t.Fatalf("PostTransfer: %v", err)
	}
	if a, b := balances(); a != 5_900 || b != 4_000 {
		t.Fatalf("balances after the transfer: %d and %d, want 5,900 and 4,000", a, b)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		sent, err := tx.TransactionByID(ctx, id)
		if err != nil || sent.Type != store.TypeSend || sent.UserID != userA || sent.IdempotencyKey != key || sent.FeeMsat != 100 || sent.CounterpartyPhone != phoneB {
			t.Fatalf("the sending row: %+v %v", sent, err)
		}
		got, err := tx.TransactionByIdempotencyKey(ctx, key+"/receive")
		if err != nil || got.Type != store.TypeReceive || got.UserID != userB || got.AmountMsat != 4_000 || got.CounterpartyPhone != phoneA {
			t.Fatalf("the receiving row: %+v %v", got, err)
		}
		entries, err := tx.EntriesOf(ctx, id)
		if err != nil || len(entries) != 3 {
			t.Fatalf("entries of the transfer: %+v %v", entries, err)
		}
		notes, err := tx.NotificationsOf(ctx, id)
		if err != nil || len(notes) != 1 || notes[0].UserID != userB || notes[0].Kind != store.NotifyReceived || notes[0].AmountMsat != 4_000 {
			t.Fatalf("the recipient's text: %+v %v", notes, err)
		}
		return nil
	})
	if _, err := transfer(4_000, key); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the same key again: %v, want ErrConflict", err)
	}
	var be *store.BalanceError
	refusedKey := Token(t, 16)
	if _, err := transfer(6_000, refusedKey); !errors.As(err, &be) || be.AccountID != accA || be.Reason != store.ReasonInsufficient {
		t.Fatalf("a transfer over the balance: %v, want accA refused as insufficient", err)
	}
	if a, b := balances(); a != 5_900 || b != 4_000 {
		t.Fatalf("balances after a repeat and a refusal: %d and %d, want 5,900 and 4,000", a, b)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.TransactionByIdempotencyKey(ctx, refusedKey)
		mustKind(t, err, store.ErrNotFound, "the refused transfer's row")
		return nil
	})

	// The sender's check, made under the rows' insert: a frozen sender, or
	// one whose PIN reset is due at Now, sends nothing; a reset still to
	// come does not stop a send.
	hour := base.Add(time.Hour)
	for _, c := range []struct {
		name            string
		frozen, resetAt *time.Time
		want            error
	}{
		{"a frozen sender", &base, nil, store.ErrSenderFrozen},
		{"a sender whose PIN reset is due", nil, &base, store.ErrSenderPINResetDue},
		{"a sender whose PIN reset is to come", nil, &hour, nil},
	} {
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			if err := tx.SetUserFrozen(ctx, userA, c.frozen, base); err != nil {
				return err
			}
			return tx.SetUserPINReset(ctx, userA, c.resetAt, base)
		})
		key := Token(t, 16)
		_, err := transfer(100, key)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
		wantA, wantB := int64(5_900), int64(4_000)
		if c.want == nil {
			wantA, wantB = 5_700, 4_100
		}
		if a, b := balances(); a != wantA || b != wantB {
			t.Fatalf("%s: balances %d and %d, want %d and %d", c.name, a, b, wantA, wantB)
		}
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.TransactionByIdempotencyKey(ctx, key)
			if c.want != nil {
				mustKind(t, err, store.ErrNotFound, c.name+": the refused transfer's row")
			}
			return nil
		})
	}
	// The audit check (Operations) wants no reset pending without its
	// operator's record.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetUserPINReset(ctx, userA, nil, base) })
}
