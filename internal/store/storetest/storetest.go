// Package storetest is the store's contract: one suite of behaviour, written
// once, that every engine's adapter must pass. Exercise runs it against an
// open, migrated store, and the checks share that one database. Most of them
// own their rows (fresh phone numbers, keys and hashes, made with Phone,
// Token and NewFundedUser) and assert only about those, so they run side by
// side; the few whose assertions reach over a whole table run afterwards,
// one at a time. The checks live in files by topic, named like the
// adapters' files.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// check is one named part of the contract.
type check struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// ownRows are the checks that make their own users, accounts, keys and
// hashes and assert only about those. What they share with each other is
// read-only (the system accounts' ids) or a row they post to without
// reading its balance (fees, adjustments), so they run in parallel; on
// SQLite, which has one writer at a time, InTx queues for the write lock
// and retries a busy error.
var ownRows = []check{
	{"Users", testUsers},
	{"UserConstraints", testUserConstraints},
	{"Accounts", testAccounts},
	{"PostEntries", testPostEntries},
	{"PostTransfer", testPostTransfer},
	{"Attack18TransferWithoutSender", testAttack18TransferWithoutSender},
	{"Attack18PINResetInsideAMicrosecond", testAttack18PINResetInsideAMicrosecond},
	{"Attack18RefusedSenderRollsBack", testAttack18RefusedSenderRollsBack},
	{"FailedPostingRollsBack", testFailedPostingRollsBack},
	{"Chain", testChain},
	{"DailyLimit", testDailyLimit},
	{"Transactions", testTransactions},
	{"TransactionConstraints", testTransactionConstraints},
	{"OnePaymentPerHash", testOnePaymentPerHash},
	{"PaymentLeases", testPaymentLeases},
	{"History", testHistory},
	{"LightningNames", testLightningNames},
	{"Sessions", testSessions},
	{"Notifications", testNotifications},
	{"BalanceAfter", testBalanceAfter},
	{"InboundSMS", testInboundSMS},
	{"PaymentRequests", testPaymentRequests},
	{"ReplyPlaces", testReplyPlaces},
	{"MpesaRequests", testMpesaRequests},
	{"MpesaSent", testMpesaSent},
	{"Rollback", testRollback},
	{"Autocommit", testAutocommit},
	{"RetryCounted", testRetryCounted},
	{"ConcurrentDebits", testConcurrentDebits},
}

// wholeDatabase are the checks whose statements or assertions range over a
// whole table; each runs alone, in this order, after every ownRows check
// has finished.
var wholeDatabase = []check{
	// ExpireInvoices expires every overdue invoice, and the check wants
	// MinUnpaidInvoiceAddIndex of all invoices to be its own, then none:
	// it must see no other check's unpaid invoice, so it runs before
	// AddressInvoices, which leaves one.
	{"Invoices", testInvoices},
	// DeleteStaleAddressInvoices deletes and counts the stale address
	// invoices of every number, and ExpireInvoices expires any invoice.
	{"AddressInvoices", testAddressInvoices},
	// CloseIdleSessions closes every idle session in the table.
	{"IdleSessionCleanup", testIdleSessionCleanup},
	// Senders racing for the outbox claim every due row there is.
	{"OutboxClaimsDisjoint", testOutboxClaimsDisjoint},
	// The audit log's head and the pause are one per database.
	{"Operations", testOperations},
	// The backlogs count every pending transaction and queued text.
	{"Backlog", testBacklog},
	// SystemBalances reads the fees account before and after its own
	// postings, so no other check may post on it meanwhile.
	{"SystemBalances", testSystemBalances},
	// SystemLegsDoNotQueue holds a fee posting open while another commits.
	{"SystemLegsDoNotQueue", testSystemLegsDoNotQueue},
	// QueryPlans loads some thousand transactions with the growth
	// generator and refreshes the statistics of every table, then explains
	// the hot queries; Reconcile, after it, proves the loaded ledger too.
	{"QueryPlans", testQueryPlans},
	// Reconcile checks the whole ledger, the system accounts and the
	// total: it comes last so that every other check's postings are in
	// the books it proves balanced, and no posting is half done.
	{"Reconcile", testReconcile},
}

// Exercise runs the whole contract against s: the ownRows checks in
// parallel within the subtest OwnRows, then the wholeDatabase checks one by
// one.
func Exercise(t *testing.T, s store.Store) {
	t.Helper()
	exercise(t, s, true)
}

// ExerciseOneByOne runs the whole contract with the ownRows checks one at a
// time, for a store at SERIALIZABLE: there a transaction that only reads
// may fail with a serialization failure (40001) when a concurrent check
// writes near what it read, and the checks assert on every error inside
// their transactions instead of handing it back to InTx to retry. The
// checks that race on purpose (ConcurrentDebits, OutboxClaimsDisjoint)
// still race within themselves.
func ExerciseOneByOne(t *testing.T, s store.Store) {
	t.Helper()
	exercise(t, s, false)
}

func exercise(t *testing.T, s store.Store, parallel bool) {
	t.Helper()
	t.Run("OwnRows", func(t *testing.T) {
		for _, c := range ownRows {
			t.Run(c.name, func(t *testing.T) {
				if parallel {
					t.Parallel()
				}
				c.fn(t, s)
			})
		}
	})
	for _, c := range wholeDatabase {
		t.Run(c.name, func(t *testing.T) { c.fn(t, s) })
	}
}

// base is a fixed instant with microsecond precision, the finest every
// engine keeps.
var base = time.Date(2026, 11, 27, 8, 30, 15, 123456000, time.UTC)

// Phone returns a fresh, valid Kenyan E.164 number.
func Phone(t testing.TB) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("+2547%08d", n.Int64())
}

// Token returns a fresh random hex string of n bytes.
func Token(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// inTx runs fn in a transaction and fails the test on error.
func inTx(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := s.InTx(ctxT(t), fn); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}

// NewFundedUser creates a user with an account holding balance msat, funded
// from the adjustments account, and returns the user and account ids.
func NewFundedUser(t testing.TB, s store.Store, balance int64) (userID, accountID int64, phone string) {
	t.Helper()
	phone = Phone(t)
	err := s.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		userID, err = tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base})
		if err != nil {
			return err
		}
		if accountID, err = tx.InsertUserAccount(ctx, userID, base); err != nil {
			return err
		}
		if balance == 0 {
			return nil
		}
		adj, err := tx.SystemAccount(ctx, store.AccountAdjustments)
		if err != nil {
			return err
		}
		txID, err := tx.InsertTransaction(ctx, store.NewTransaction{
			UserID: userID, Type: store.TypeAdjustment, Direction: store.DirectionIn, Status: store.StatusCompleted,
			AmountMsat: balance, IdempotencyKey: "fund-" + phone, Now: base,
		})
		if err != nil {
			return err
		}
		return tx.PostEntries(ctx, txID, []store.Entry{{AccountID: adj.ID, AmountMsat: -balance}, {AccountID: accountID, AmountMsat: balance}}, store.NoLimits, base)
	})
	if err != nil {
		t.Fatalf("new funded user: %v", err)
	}
	return userID, accountID, phone
}

func mustKind(t *testing.T, err, kind error, what string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got %v, want %v", what, err, kind)
	}
}

func newTxn(t testing.TB, userID int64, typ store.TransactionType, status store.TransactionStatus, amount int64, at time.Time) store.NewTransaction {
	dir := store.DirectionOut
	if typ == store.TypeReceive || typ == store.TypeInvoice || typ == store.TypeTopup {
		dir = store.DirectionIn
	}
	return store.NewTransaction{UserID: userID, Type: typ, Direction: dir, Status: status, AmountMsat: amount,
		IdempotencyKey: Token(t, 16), Description: "test", Now: at}
}
