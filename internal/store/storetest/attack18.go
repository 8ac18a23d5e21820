package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testAttack18TransferWithoutSender: PostTransfer reads the sender's user
// row and refuses a sender that may not send, or has no row (migration
// 000018). MariaDB's post_entries skipped the check for sender id 0 (its
// "no check" value), so a transfer naming no sender moved a user's money
// there while PostgreSQL and SQLite refused it.
func testAttack18TransferWithoutSender(t *testing.T, s store.Store) {
	userA, accA, phoneA := NewFundedUser(t, s, 10_000)
	_, accB, phoneB := NewFundedUser(t, s, 0)
	key := Token(t, 16)
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.PostTransfer(ctx, store.NewTransfer{SenderID: 0, SenderPhone: phoneA, RecipientPhone: phoneB,
			AmountMsat: 4_000, IdempotencyKey: key, Now: base},
			[]store.Entry{{AccountID: accA, AmountMsat: -4_000, DayOutMsat: 4_000}, {AccountID: accB, AmountMsat: 4_000}},
			maxGuard(1<<40), store.NewNotification{Phone: phoneB, Kind: store.NotifyReceived, AmountMsat: 4_000, Counterparty: phoneA, Now: base})
		return err
	})
	if err == nil {
		t.Errorf("a transfer with no sender row was posted")
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		a, err := tx.AccountByID(ctx, accA)
		if err != nil {
			return err
		}
		if a.BalanceMsat != 10_000 {
			t.Errorf("user %d's balance %d after a transfer naming no sender, want 10,000", userA, a.BalanceMsat)
		}
		return nil
	})
}

// testAttack18PINResetInsideAMicrosecond: a PIN reset takes effect at its
// instant, to the nanosecond an engine keeps. SQLite keeps nanoseconds,
// and store.PostTransfer compared the reset to Now truncated to the
// microsecond: a send in the reset's own microsecond, after it, went
// through there (the wallet's own check, PINResetDue, says it is due).
func testAttack18PINResetInsideAMicrosecond(t *testing.T, s store.Store) {
	userA, accA, phoneA := NewFundedUser(t, s, 10_000)
	userB, accB, phoneB := NewFundedUser(t, s, 0)
	resetAt := base.Add(500 * time.Nanosecond)
	now := base.Add(700 * time.Nanosecond)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetUserPINReset(ctx, userA, &resetAt, base) })
	t.Cleanup(func() {
		// The audit check (Operations) wants no reset pending without its
		// operator's record.
		inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetUserPINReset(ctx, userA, nil, base) })
	})
	var stored store.User
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		stored, err = tx.ShareLockUser(ctx, userA)
		return err
	})
	if !store.PINResetDue(stored, now) {
		t.Fatalf("the reset stored as %v is not due at %v", stored.PINResetAt, now)
	}
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.PostTransfer(ctx, store.NewTransfer{SenderID: userA, SenderPhone: phoneA, RecipientID: userB, RecipientPhone: phoneB,
			AmountMsat: 4_000, IdempotencyKey: Token(t, 16), Now: now},
			[]store.Entry{{AccountID: accA, AmountMsat: -4_000, DayOutMsat: 4_000}, {AccountID: accB, AmountMsat: 4_000}},
			maxGuard(1<<40), store.NewNotification{UserID: userB, Phone: phoneB, Kind: store.NotifyReceived, AmountMsat: 4_000, Counterparty: phoneA, Now: now})
		return err
	})
	mustKind(t, err, store.ErrSenderPINResetDue, "a send after the reset, in its microsecond")
}

// testAttack18RefusedSenderRollsBack: PostTransfer refuses a frozen
// sender after inserting the transfer's two completed rows, so the
// refusal, like a refused leg, must keep the transaction from committing
// even if the code around it goes on (store.Posting): else the rows, and
// their idempotency key, commit as a completed transfer that moved nothing.
func testAttack18RefusedSenderRollsBack(t *testing.T, s store.Store) {
	userA, accA, phoneA := NewFundedUser(t, s, 10_000)
	userB, accB, phoneB := NewFundedUser(t, s, 0)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetUserFrozen(ctx, userA, &base, base) })
	// The audit check (Operations) wants no freeze without its operator's
	// record.
	t.Cleanup(func() {
		inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetUserFrozen(ctx, userA, nil, base) })
	})
	key := Token(t, 16)
	var postErr error
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, postErr = tx.PostTransfer(ctx, store.NewTransfer{SenderID: userA, SenderPhone: phoneA, RecipientID: userB, RecipientPhone: phoneB,
			AmountMsat: 4_000, IdempotencyKey: key, Now: base},
			[]store.Entry{{AccountID: accA, AmountMsat: -4_000, DayOutMsat: 4_000}, {AccountID: accB, AmountMsat: 4_000}},
			maxGuard(1<<40), store.NewNotification{UserID: userB, Phone: phoneB, Kind: store.NotifyReceived, AmountMsat: 4_000, Counterparty: phoneA, Now: base})
		return nil // going on as if nothing happened
	})
	mustKind(t, postErr, store.ErrSenderFrozen, "a frozen sender's transfer")
	if err == nil {
		t.Errorf("the transaction of a frozen sender's refused transfer committed")
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.TransactionByIdempotencyKey(ctx, key)
		mustKind(t, err, store.ErrNotFound, "the refused transfer's row")
		return nil
	})
}
