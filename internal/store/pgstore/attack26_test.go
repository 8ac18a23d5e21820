package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// Attack 26 (review of the transfer that carries its COMMIT, migration
// 000020): the batch's COMMIT is at the server while post_transfer waits
// on a row lock. When the caller's deadline passed first, the caller was
// told the transfer failed and the server committed it once the lock came
// free: a user told "try again" sent twice. Now the server stops the
// statement before the caller's deadline, and a caller cancelled before
// its deadline still reads the outcome.

// heldSender locks the sender's account row on a connection of its own
// and returns a transfer of 4,000 msat from it and the release of the
// lock.
func heldSender(t *testing.T) (ctx context.Context, c *pgx.Conn, transfer func(context.Context, string) error, accB int64, release func()) {
	t.Helper()
	ctx, s, c := attackMigrated(t, freshDatabase(t), store.IsolationDefault)
	userA, accA, phoneA := storetest.NewFundedUser(t, s, 10_000)
	userB, accB, phoneB := storetest.NewFundedUser(t, s, 0)
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", accA); err != nil {
		t.Fatal(err)
	}
	transfer = func(tctx context.Context, key string) error {
		now := time.Now()
		return s.InTx(tctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.PostTransfer(ctx, store.NewTransfer{SenderID: userA, SenderPhone: phoneA, RecipientID: userB, RecipientPhone: phoneB,
				AmountMsat: 4_000, IdempotencyKey: key, Now: now},
				[]store.Entry{{AccountID: accA, AmountMsat: -4_000, DayOutMsat: 4_000}, {AccountID: accB, AmountMsat: 4_000}},
				store.Guard{MaxBalanceMsat: 1 << 40, DayLimitMsat: 1 << 62},
				store.NewNotification{UserID: userB, Phone: phoneB, Kind: store.NotifyReceived, AmountMsat: 4_000, Counterparty: phoneA, Now: now})
			return err
		})
	}
	release = func() {
		if _, err := c.Exec(ctx, "COMMIT"); err != nil {
			t.Error(err)
		}
	}
	return ctx, c, transfer, accB, release
}

// booked reports the sending rows with key and the recipient's balance.
func booked(ctx context.Context, t *testing.T, c *pgx.Conn, key string, accB int64) (rows int, balance int64) {
	t.Helper()
	if err := c.QueryRow(ctx, "SELECT count(*) FROM transactions WHERE idempotency_key = $1", key).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, "SELECT balance_msat FROM accounts WHERE id = $1", accB).Scan(&balance); err != nil {
		t.Fatal(err)
	}
	return rows, balance
}

// TestAttack26TimedOutTransferNeverCommits: the deadline passes while the
// transfer waits on the sender's lock; it is reported failed and, the lock
// released, never commits.
func TestAttack26TimedOutTransferNeverCommits(t *testing.T) {
	ctx, c, transfer, accB, release := heldSender(t)
	key := storetest.Token(t, 16)
	tctx, cancel := context.WithTimeout(ctx, 600*time.Millisecond)
	defer cancel()
	err := transfer(tctx, key)
	if err == nil {
		t.Fatal("a transfer held past its deadline reported success")
	}
	release()
	time.Sleep(time.Second)
	if n, bal := booked(ctx, t, c, key, accB); n != 0 || bal != 0 {
		t.Fatalf("a transfer reported failed (%v) committed after its caller gave up: %d rows, recipient balance %d", err, n, bal)
	}
}

// TestAttack26CancelledTransferReadsItsOutcome: the caller's context is
// cancelled while the transfer waits on the lock, well before its
// deadline; the lock comes free before the deadline and the transfer
// commits, and the caller is told so, not that it failed.
func TestAttack26CancelledTransferReadsItsOutcome(t *testing.T) {
	ctx, c, transfer, accB, release := heldSender(t)
	key := storetest.Token(t, 16)
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	released := make(chan struct{})
	time.AfterFunc(900*time.Millisecond, func() { release(); close(released) })
	err := transfer(tctx, key)
	<-released
	n, bal := booked(ctx, t, c, key, accB)
	if err != nil || n != 1 || bal != 4_000 {
		t.Fatalf("transfer cancelled while waiting: %v, then %d rows and recipient balance %d; want nil, 1 and 4,000", err, n, bal)
	}
}
