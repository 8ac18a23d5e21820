package wallet_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestAttack18PINResetDueInItsMicrosecond: once an operator's PIN reset
// takes effect, a send on an authorization the old PIN gave is refused.
// Since the sender's check moved into store.PostTransfer, which compares
// the reset to the send's time truncated to the microsecond, a send on
// SQLite (which keeps the reset's nanoseconds) later in the reset's own
// microsecond went through, though the wallet's PINResetDue says the
// reset is due. (Reachable only with a delay finer than a microsecond.)
func TestAttack18PINResetDueInItsMicrosecond(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, clk := newWallet(t, db, nil)
		s, other := register(t, w, 5_000*sat), register(t, w, 0)
		a := wallet.Action{Operator: "alice", Reason: "owner lost the phone"}
		// A delay the operator's --delay flag takes as it is.
		if _, err := w.SchedulePINReset(ctx, s.user.Phone, 500*time.Nanosecond, a); err != nil {
			t.Fatal(err)
		}
		clk.Advance(700 * time.Nanosecond)
		if u, err := w.UserByPhone(ctx, s.user.Phone); err != nil || !w.PINResetDue(u) {
			t.Fatalf("the reset is not due by the wallet's own rule: %+v %v", u, err)
		}
		if _, err := w.Transfer(ctx, s.auth, other.user.Phone, 100*sat, "reset-microsecond"); !errors.Is(err, wallet.ErrPINResetDue) {
			t.Errorf("a send once the reset took effect: %v, want ErrPINResetDue", err)
		}
		if b := balance(t, w, s.user.ID); b != 5_000*sat {
			t.Errorf("balance %d after the reset, want it untouched", b)
		}
	})
}

// TestAttack18FailedTransferRollsBack: a transfer whose posting fails half
// way must not commit, even if the code around it goes on as if nothing
// happened (store.Posting: InTx asks Failed before committing). MariaDB's
// PostTransfer now runs the posting in its own CALL of post_entries, whose
// error it returned without marking the posting failed; and a CALL is not
// atomic there: a leg that errs (here the recipient's balance would pass
// int64) is undone alone, the legs before it stay moved. The transaction
// then committed the sender's debit with no credit and no entries.
func TestAttack18FailedTransferRollsBack(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		newWallet(t, db, nil)
		userA, accA, phoneA := storetest.NewFundedUser(t, db, store.MaxMsat)
		userB, accB, phoneB := storetest.NewFundedUser(t, db, store.MaxMsat)
		// Three more of the largest amounts to B, from another system
		// account: 8.4e18 msat, 1e18 short of int64's end.
		for i := 0; i < 3; i++ {
			if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				fees, err := tx.SystemAccount(ctx, store.AccountFees)
				if err != nil {
					return err
				}
				id, err := tx.InsertTransaction(ctx, store.NewTransaction{UserID: userB, Type: store.TypeAdjustment, Direction: store.DirectionIn,
					Status: store.StatusCompleted, AmountMsat: store.MaxMsat, IdempotencyKey: storetest.Token(t, 16), Now: time.Now()})
				if err != nil {
					return err
				}
				return tx.PostEntries(ctx, id, []store.Entry{{AccountID: fees.ID, AmountMsat: -store.MaxMsat}, {AccountID: accB, AmountMsat: store.MaxMsat}},
					store.NoLimits, time.Now())
			}); err != nil {
				t.Fatal(err)
			}
		}
		const amount = 1_000_000_000_000_000_000
		var postErr error
		err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			now := time.Now()
			_, postErr = tx.PostTransfer(ctx, store.NewTransfer{SenderID: userA, SenderPhone: phoneA, RecipientID: userB, RecipientPhone: phoneB,
				AmountMsat: amount, IdempotencyKey: storetest.Token(t, 16), Now: now},
				[]store.Entry{{AccountID: accA, AmountMsat: -amount, DayOutMsat: amount}, {AccountID: accB, AmountMsat: amount}},
				store.NoLimits, store.NewNotification{UserID: userB, Phone: phoneB, Kind: store.NotifyReceived, AmountMsat: amount, Counterparty: phoneA, Now: now})
			return nil // going on as if nothing happened
		})
		t.Logf("PostTransfer: %v; InTx: %v", postErr, err)
		if postErr == nil {
			t.Fatal("a credit past int64 was posted")
		}
		if err == nil {
			t.Error("the transaction of a failed transfer committed")
		}
		var a store.Account
		if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			a, err = tx.AccountByID(ctx, accA)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if a.BalanceMsat != store.MaxMsat {
			t.Errorf("the sender's balance %d after a failed transfer, want %d", a.BalanceMsat, store.MaxMsat)
		}
	})
}
