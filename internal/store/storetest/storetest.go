// Package storetest is the store's contract: one suite of behaviour, written
// once, that every engine's adapter must pass. Exercise runs it against an
// open, migrated store; each check owns its rows (fresh phone numbers, keys
// and hashes), so the checks share one database.
package storetest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Exercise runs the whole contract against s.
func Exercise(t *testing.T, s store.Store) {
	t.Helper()
	checks := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Users", testUsers},
		{"UserConstraints", testUserConstraints},
		{"Accounts", testAccounts},
		{"PostEntries", testPostEntries},
		{"Chain", testChain},
		{"DailyLimit", testDailyLimit},
		{"Transactions", testTransactions},
		{"TransactionConstraints", testTransactionConstraints},
		{"OnePaymentPerHash", testOnePaymentPerHash},
		{"History", testHistory},
		{"Invoices", testInvoices},
		{"AddressInvoices", testAddressInvoices},
		{"LightningNames", testLightningNames},
		{"Sessions", testSessions},
		{"IdleSessionCleanup", testIdleSessionCleanup},
		{"Notifications", testNotifications},
		{"Rollback", testRollback},
		{"Autocommit", testAutocommit},
		{"ConcurrentDebits", testConcurrentDebits},
		{"Reconcile", testReconcile},
	}
	for _, c := range checks {
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

func testUsers(t *testing.T, s store.Store) {
	phone := Phone(t)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		created, err := tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "sw", Now: base})
		if err != nil || !created {
			t.Fatalf("first InsertUserIfAbsent: created=%v err=%v", created, err)
		}
		created, err = tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Now: base})
		if err != nil || created {
			t.Fatalf("second InsertUserIfAbsent: created=%v err=%v", created, err)
		}
		u, err := tx.UserByPhone(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		if u.Phone != phone || u.LightningName != phone[1:] || u.Language != "sw" || u.Status != store.UserUnregistered ||
			u.PINHash != "" || u.LockedUntil != nil || !u.CreatedAt.Equal(base) {
			t.Fatalf("user read back wrong: %+v", u)
		}
		locked, err := tx.LockUser(ctx, u.ID)
		if err != nil || locked.Phone != phone {
			t.Fatalf("LockUser: %+v %v", locked, err)
		}
		byID, err := tx.UserByID(ctx, u.ID)
		if err != nil || byID.Phone != phone {
			t.Fatalf("UserByID: %+v %v", byID, err)
		}
		byName, err := tx.UserByLightningName(ctx, phone[1:])
		if err != nil || byName.ID != u.ID {
			t.Fatalf("UserByLightningName: %+v %v", byName, err)
		}

		later := base.Add(time.Hour)
		if err := tx.SetUserPIN(ctx, u.ID, "argon2id$test", store.UserActive, later); err != nil {
			t.Fatal(err)
		}
		lock := base.Add(15 * time.Minute)
		if err := tx.SetUserPINGuard(ctx, store.PINGuard{UserID: u.ID, Failed: 3, Lockouts: 2, LockedUntil: &lock, Now: later}); err != nil {
			t.Fatal(err)
		}
		if err := tx.SetUserLanguage(ctx, u.ID, "en", later); err != nil {
			t.Fatal(err)
		}
		// An update that changes nothing still finds its row.
		if err := tx.SetUserLanguage(ctx, u.ID, "en", later); err != nil {
			t.Fatalf("no-op update: %v", err)
		}
		u, err = tx.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.PINHash != "argon2id$test" || u.Status != store.UserActive || u.FailedPINAttempts != 3 || u.LockoutCount != 2 ||
			u.LockedUntil == nil || !u.LockedUntil.Equal(lock) || u.Language != "en" || !u.UpdatedAt.Equal(later) {
			t.Fatalf("user updates read back wrong: %+v", u)
		}
		if err := tx.SetUserPINGuard(ctx, store.PINGuard{UserID: u.ID, Lockouts: 2, Now: later}); err != nil {
			t.Fatal(err)
		}
		if err := tx.SetUserStatus(ctx, u.ID, store.UserLocked, later); err != nil {
			t.Fatal(err)
		}
		u, _ = tx.UserByID(ctx, u.ID)
		if u.LockedUntil != nil || u.FailedPINAttempts != 0 || u.Status != store.UserLocked {
			t.Fatalf("guard clear/status: %+v", u)
		}
		return nil
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UserByPhone(ctx, Phone(t))
		mustKind(t, err, store.ErrNotFound, "unknown phone")
		_, err = tx.UserByLightningName(ctx, "nobody-"+Token(t, 4))
		mustKind(t, err, store.ErrNotFound, "unknown name")
		mustKind(t, tx.SetUserLanguage(ctx, -1, "en", base), store.ErrNotFound, "update of a missing user")
		return nil
	})
}

func testUserConstraints(t *testing.T, s store.Store) {
	phone := Phone(t)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base})
		return err
	})
	cases := []struct {
		name string
		u    store.NewUser
	}{
		{"duplicate phone", store.NewUser{Phone: phone, LightningName: "other-" + Token(t, 4), Language: "en", Status: store.UserActive, Now: base}},
		{"duplicate lightning name", store.NewUser{Phone: Phone(t), LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base}},
	}
	for _, c := range cases {
		err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertUser(ctx, c.u)
			return err
		})
		mustKind(t, err, store.ErrConflict, c.name)
	}
	// A constraint violation aborts only its own transaction; the store is
	// usable right after.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UserByPhone(ctx, phone)
		return err
	})
	// One account per user.
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		u, err := tx.UserByPhone(ctx, phone)
		if err != nil {
			return err
		}
		if _, err := tx.InsertUserAccount(ctx, u.ID, base); err != nil {
			return err
		}
		_, err = tx.InsertUserAccount(ctx, u.ID, base)
		return err
	})
	mustKind(t, err, store.ErrConflict, "second account for one user")
}

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

func newTxn(t testing.TB, userID int64, typ store.TransactionType, status store.TransactionStatus, amount int64, at time.Time) store.NewTransaction {
	dir := store.DirectionOut
	if typ == store.TypeReceive || typ == store.TypeInvoice || typ == store.TypeTopup {
		dir = store.DirectionIn
	}
	return store.NewTransaction{UserID: userID, Type: typ, Direction: dir, Status: status, AmountMsat: amount,
		IdempotencyKey: Token(t, 16), Description: "test", Now: at}
}

func testTransactions(t *testing.T, s store.Store) {
	userID, _, _ := NewFundedUser(t, s, 0)
	n := newTxn(t, userID, store.TypePayment, store.StatusPending, 21_000, base)
	n.Invoice, n.PaymentHash, n.CounterpartyPhone = "lnbcrt1"+Token(t, 20), Token(t, 32), "+254700000001"
	var id int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		id, err = tx.InsertTransaction(ctx, n)
		return err
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.TransactionByIdempotencyKey(ctx, n.IdempotencyKey)
		if err != nil {
			return err
		}
		if got.ID != id || got.UserID != userID || got.Type != store.TypePayment || got.Direction != store.DirectionOut ||
			got.Status != store.StatusPending || got.AmountMsat != 21_000 || got.Invoice != n.Invoice || got.PaymentHash != n.PaymentHash ||
			got.CounterpartyPhone != n.CounterpartyPhone || got.Description != "test" || got.MpesaReceipt != "" || !got.CreatedAt.Equal(base) {
			t.Fatalf("transaction read back wrong: %+v", got)
		}
		pending, err := tx.PendingTransactions(ctx, store.TypePayment)
		if err != nil {
			return err
		}
		found := false
		for _, p := range pending {
			found = found || p.ID == id
		}
		if !found {
			t.Fatalf("pending payment %d not listed", id)
		}
		ok, err := tx.FinishTransaction(ctx, store.Finish{ID: id, From: store.StatusPending, To: store.StatusCompleted, AmountMsat: 20_000, FeeMsat: 150, Now: base.Add(time.Second)})
		if err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		ok, err = tx.FinishTransaction(ctx, store.Finish{ID: id, From: store.StatusPending, To: store.StatusFailed, AmountMsat: 0, FeeMsat: 0, Now: base.Add(time.Second)})
		if err != nil || ok {
			t.Fatalf("second finish from pending must not apply: %v %v", ok, err)
		}
		got, _ = tx.TransactionByID(ctx, id)
		if got.Status != store.StatusCompleted || got.FeeMsat != 150 || got.AmountMsat != 20_000 {
			t.Fatalf("after finish: %+v", got)
		}
		_, err = tx.TransactionByID(ctx, -5)
		mustKind(t, err, store.ErrNotFound, "unknown transaction")
		_, err = tx.TransactionByIdempotencyKey(ctx, "missing-"+Token(t, 8))
		mustKind(t, err, store.ErrNotFound, "unknown key")
		return nil
	})
}

func testTransactionConstraints(t *testing.T, s store.Store) {
	userID, _, _ := NewFundedUser(t, s, 0)
	first := newTxn(t, userID, store.TypeTopup, store.StatusCompleted, 1000, base)
	first.MpesaReceipt, first.MpesaCheckoutRequestID, first.MpesaConversationID = "R"+Token(t, 5), "ws_CO_"+Token(t, 8), "AG_"+Token(t, 8)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertTransaction(ctx, first)
		return err
	})
	sameKey := newTxn(t, userID, store.TypeTopup, store.StatusCompleted, 1000, base)
	sameKey.IdempotencyKey = first.IdempotencyKey
	// Both rows of a transfer go in at once; the receiving row's key is
	// derived from the sending one, so a repeat of either conflicts.
	other, _, otherPhone := NewFundedUser(t, s, 0)
	transfer := store.NewTransfer{SenderID: userID, SenderPhone: "+254700000009", RecipientID: other, RecipientPhone: otherPhone,
		AmountMsat: 7_000, FeeMsat: 10, Description: "lunch", IdempotencyKey: Token(t, 16), Now: base}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		id, err := tx.InsertTransfer(ctx, transfer)
		if err != nil {
			return err
		}
		sent, err := tx.TransactionByID(ctx, id)
		if err != nil {
			return err
		}
		if sent.Type != store.TypeSend || sent.UserID != userID || sent.Direction != store.DirectionOut || sent.AmountMsat != 7_000 ||
			sent.FeeMsat != 10 || sent.CounterpartyPhone != otherPhone || sent.IdempotencyKey != transfer.IdempotencyKey || sent.Status != store.StatusCompleted {
			t.Fatalf("sending row: %+v", sent)
		}
		recv, err := tx.TransactionByIdempotencyKey(ctx, transfer.ReceiveKey())
		if err != nil {
			return err
		}
		if recv.Type != store.TypeReceive || recv.UserID != other || recv.Direction != store.DirectionIn || recv.AmountMsat != 7_000 ||
			recv.FeeMsat != 0 || recv.CounterpartyPhone != "+254700000009" || recv.Description != "lunch" {
			t.Fatalf("receiving row: %+v", recv)
		}
		return nil
	})
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertTransaction(ctx, sameKey)
		return err
	})
	mustKind(t, err, store.ErrConflict, "duplicate idempotency key")
	err = s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertTransfer(ctx, transfer)
		return err
	})
	mustKind(t, err, store.ErrConflict, "repeated transfer")
}

func testHistory(t *testing.T, s store.Store) {
	userID, _, _ := NewFundedUser(t, s, 0)
	other, _, _ := NewFundedUser(t, s, 0)
	var ids []int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range 7 {
			id, err := tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeSend, store.StatusCompleted, int64(1000*(i+1)), base.Add(time.Duration(i)*time.Minute)))
			if err != nil {
				return err
			}
			ids = append(ids, id)
			if _, err := tx.InsertTransaction(ctx, newTxn(t, other, store.TypeSend, store.StatusCompleted, 1, base)); err != nil {
				return err
			}
		}
		// Failed and expired rows count for history but not for the limit.
		if _, err := tx.InsertTransaction(ctx, newTxn(t, userID, store.TypePayment, store.StatusFailed, 50_000, base.Add(time.Hour))); err != nil {
			return err
		}
		_, err := tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeReceive, store.StatusCompleted, 70_000, base.Add(time.Hour)))
		return err
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		page, err := tx.LatestTransactions(ctx, userID, 0, 3)
		if err != nil {
			return err
		}
		if len(page) != 3 || page[0].Type != store.TypeReceive || page[1].Type != store.TypePayment || page[2].ID != ids[6] {
			t.Fatalf("first page: %+v", page)
		}
		next, err := tx.LatestTransactions(ctx, userID, page[2].ID, 3)
		if err != nil {
			return err
		}
		if len(next) != 3 || next[0].ID != ids[5] || next[1].ID != ids[4] || next[2].ID != ids[3] {
			t.Fatalf("second page: %+v", next)
		}
		last, err := tx.LatestTransactions(ctx, userID, ids[1], 10)
		if err != nil || len(last) != 1 || last[0].ID != ids[0] {
			t.Fatalf("last page: %+v %v", last, err)
		}
		return nil
	})
}

func testInvoices(t *testing.T, s store.Store) {
	userID, _, _ := NewFundedUser(t, s, 0)
	mk := func(expires time.Time) (store.NewInvoice, int64) {
		var txID int64
		hash := Token(t, 32)
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			n := newTxn(t, userID, store.TypeInvoice, store.StatusPending, 5000, base)
			n.PaymentHash = hash
			var err error
			txID, err = tx.InsertTransaction(ctx, n)
			return err
		})
		return store.NewInvoice{UserID: userID, TransactionID: txID, Invoice: "lnbcrt50n1" + Token(t, 40), PaymentHash: hash,
			AmountMsat: 5000, Description: "umeme", AddIndex: 7, ExpiresAt: expires, Now: base}, txID
	}
	live, _ := mk(base.Add(time.Hour))
	overdue, overdueTx := mk(base.Add(-time.Minute))
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, n := range []store.NewInvoice{live, overdue} {
			if _, err := tx.InsertInvoice(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	for name, n := range map[string]store.NewInvoice{
		"payment hash": {UserID: userID, Invoice: "lnbcrt1" + Token(t, 30), PaymentHash: live.PaymentHash, AmountMsat: 1, ExpiresAt: base, Now: base},
		"invoice":      {UserID: userID, Invoice: live.Invoice, PaymentHash: Token(t, 32), AmountMsat: 1, ExpiresAt: base, Now: base},
	} {
		err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertInvoice(ctx, n)
			return err
		})
		mustKind(t, err, store.ErrConflict, "duplicate invoice "+name)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		inv, err := tx.InvoiceByPaymentHash(ctx, live.PaymentHash)
		if err != nil {
			return err
		}
		if inv.Status != store.InvoicePending || inv.AmountMsat != 5000 || inv.Invoice != live.Invoice || inv.AddIndex != 7 ||
			!inv.ExpiresAt.Equal(live.ExpiresAt) || inv.PaidAt != nil {
			t.Fatalf("invoice read back wrong: %+v", inv)
		}
		n, err := tx.ExpireInvoices(ctx, base)
		if err != nil || n < 1 {
			t.Fatalf("ExpireInvoices: %d %v", n, err)
		}
		if inv, _ := tx.InvoiceByPaymentHash(ctx, live.PaymentHash); inv.Status != store.InvoicePending {
			t.Fatalf("a live invoice expired: %+v", inv)
		}
		if inv, _ := tx.InvoiceByPaymentHash(ctx, overdue.PaymentHash); inv.Status != store.InvoiceExpired {
			t.Fatalf("an overdue invoice did not expire: %+v", inv)
		}
		if txn, _ := tx.TransactionByID(ctx, overdueTx); txn.Status != store.StatusExpired {
			t.Fatalf("the overdue invoice's transaction did not expire: %+v", txn)
		}
		// Both unpaid (one pending, one expired within the window) hold the
		// invoice stream back; an expiry before the window does not.
		if min, err := tx.MinUnpaidInvoiceAddIndex(ctx, base.Add(-time.Hour)); err != nil || min != 7 {
			t.Fatalf("MinUnpaidInvoiceAddIndex: %d %v", min, err)
		}
		paidAt := base.Add(time.Minute)
		ok, err := tx.MarkInvoicePaid(ctx, live.PaymentHash, 5000, paidAt)
		if err != nil || !ok {
			t.Fatalf("MarkInvoicePaid: %v %v", ok, err)
		}
		ok, err = tx.MarkInvoicePaid(ctx, live.PaymentHash, 5000, paidAt)
		if err != nil || ok {
			t.Fatalf("second MarkInvoicePaid must not apply: %v %v", ok, err)
		}
		// The node may settle an invoice our clock already expired.
		ok, err = tx.MarkInvoicePaid(ctx, overdue.PaymentHash, 6000, paidAt)
		if err != nil || !ok {
			t.Fatalf("MarkInvoicePaid of an expired invoice: %v %v", ok, err)
		}
		inv, _ = tx.InvoiceByPaymentHash(ctx, overdue.PaymentHash)
		if inv.Status != store.InvoicePaid || inv.AmountPaidMsat != 6000 || inv.PaidAt == nil || !inv.PaidAt.Equal(paidAt) {
			t.Fatalf("paid invoice: %+v", inv)
		}
		ok, err = tx.MarkInvoicePaid(ctx, Token(t, 32), 1, paidAt)
		if err != nil || ok {
			t.Fatalf("MarkInvoicePaid of an unknown hash: %v %v", ok, err)
		}
		_, err = tx.InvoiceByPaymentHash(ctx, Token(t, 32))
		mustKind(t, err, store.ErrNotFound, "unknown invoice")
		idx, err := tx.MaxInvoiceAddIndex(ctx)
		if err != nil || idx < 7 {
			t.Fatalf("MaxInvoiceAddIndex: %d %v", idx, err)
		}
		// Both invoices are paid now: neither holds the stream back.
		if min, err := tx.MinUnpaidInvoiceAddIndex(ctx, base.Add(-time.Hour)); err != nil || min != 0 {
			t.Fatalf("MinUnpaidInvoiceAddIndex after payment: %d %v", min, err)
		}
		return nil
	})
}

// testAddressInvoices: an invoice for an anonymous payer of an address is
// recorded by the number alone, lists among the number's unpaid ones until
// it is paid, expired or due, gets its user and transaction row when paid,
// and is deleted once it expired unpaid long enough ago.
func testAddressInvoices(t *testing.T, s store.Store) {
	phone := Phone(t)
	userID, _, _ := NewFundedUser(t, s, 0)
	mk := func(expires time.Time) store.NewInvoice {
		return store.NewInvoice{Phone: phone, Origin: store.InvoiceByAddress, PayerComment: "for the goat 🐐", Invoice: "lnbcrt50n1" + Token(t, 40),
			PaymentHash: Token(t, 32), AmountMsat: 5000, Description: "address", AddIndex: 9, ExpiresAt: expires, Now: base}
	}
	older, newer, overdue, paid := mk(base.Add(time.Hour)), mk(base.Add(time.Hour)), mk(base.Add(-time.Minute)), mk(base.Add(time.Hour))
	// Overdue too, but a payment of ours (inside the ledger) still holds
	// funds for it: its row must stay for the settlement.
	held := mk(base.Add(-time.Minute))
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, n := range []store.NewInvoice{older, newer, overdue, paid, held} {
			if _, err := tx.InsertInvoice(ctx, n); err != nil {
				return err
			}
		}
		payment := newTxn(t, userID, store.TypePayment, store.StatusPending, 5000, base)
		payment.PaymentHash = held.PaymentHash
		if _, err := tx.InsertTransaction(ctx, payment); err != nil {
			return err
		}
		// One the user asked for, of another origin, never counts.
		_, err := tx.InsertInvoice(ctx, store.NewInvoice{UserID: userID, Phone: phone, Invoice: "lnbcrt1" + Token(t, 30),
			PaymentHash: Token(t, 32), AmountMsat: 1, ExpiresAt: base.Add(time.Hour), Now: base})
		return err
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		inv, err := tx.InvoiceByPaymentHash(ctx, older.PaymentHash)
		if err != nil {
			return err
		}
		if inv.UserID != 0 || inv.TransactionID != 0 || inv.Phone != phone || inv.Origin != store.InvoiceByAddress ||
			inv.PayerComment != older.PayerComment || inv.Status != store.InvoicePending {
			t.Fatalf("address invoice read back wrong: %+v", inv)
		}
		ok, err := tx.MarkInvoicePaid(ctx, paid.PaymentHash, 5000, base)
		if err != nil || !ok {
			t.Fatalf("MarkInvoicePaid: %v %v", ok, err)
		}
		txID, err := tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeInvoice, store.StatusCompleted, 5000, base))
		if err != nil {
			return err
		}
		if err := tx.SetInvoiceReceipt(ctx, paid.PaymentHash, userID, txID, base); err != nil {
			return err
		}
		if inv, _ := tx.InvoiceByPaymentHash(ctx, paid.PaymentHash); inv.UserID != userID || inv.TransactionID != txID {
			t.Fatalf("receipt not recorded: %+v", inv)
		}
		hashes, err := tx.UnpaidAddressInvoices(ctx, phone, base)
		if err != nil {
			return err
		}
		if len(hashes) != 2 || hashes[0] != newer.PaymentHash || hashes[1] != older.PaymentHash {
			t.Fatalf("unpaid address invoices: %v, want the newer then the older", hashes)
		}
		if ok, err := tx.ExpireInvoice(ctx, older.PaymentHash, base); err != nil || !ok {
			t.Fatalf("ExpireInvoice: %v %v", ok, err)
		}
		if ok, err := tx.ExpireInvoice(ctx, paid.PaymentHash, base); err != nil || ok {
			t.Fatalf("ExpireInvoice of a paid invoice: %v %v", ok, err)
		}
		if hashes, _ := tx.UnpaidAddressInvoices(ctx, phone, base); len(hashes) != 1 || hashes[0] != newer.PaymentHash {
			t.Fatalf("unpaid address invoices after an expiry: %v", hashes)
		}
		if _, err := tx.ExpireInvoices(ctx, base); err != nil {
			return err
		}
		// Expired unpaid: the older (one hour ahead) and the overdue one
		// (a minute ago); only what expired before the cut-off goes.
		n, err := tx.DeleteStaleAddressInvoices(ctx, base)
		if err != nil || n != 1 {
			t.Fatalf("DeleteStaleAddressInvoices: %d %v, want the overdue one", n, err)
		}
		_, err = tx.InvoiceByPaymentHash(ctx, overdue.PaymentHash)
		mustKind(t, err, store.ErrNotFound, "a stale address invoice")
		if n, err := tx.DeleteStaleAddressInvoices(ctx, base.Add(2*time.Hour)); err != nil || n != 1 {
			t.Fatalf("DeleteStaleAddressInvoices later: %d %v, want the expired older one only", n, err)
		}
		for _, h := range []string{newer.PaymentHash, paid.PaymentHash, held.PaymentHash} {
			if _, err := tx.InvoiceByPaymentHash(ctx, h); err != nil {
				t.Fatalf("a pending, paid or held address invoice was deleted: %v", err)
			}
		}
		return nil
	})
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertInvoice(ctx, store.NewInvoice{Origin: store.InvoiceByAddress, Invoice: "lnbcrt1" + Token(t, 30),
			PaymentHash: Token(t, 32), AmountMsat: 1, ExpiresAt: base, Now: base})
		return err
	})
	if err == nil {
		t.Fatal("an invoice with neither a user nor a number was recorded")
	}
}

// testLightningNames: a chosen name belongs to one user for good, a user
// may have several, and the name the user shows is kept on the user.
func testLightningNames(t *testing.T, s store.Store) {
	alice, _, _ := NewFundedUser(t, s, 0)
	bob, _, _ := NewFundedUser(t, s, 0)
	name := "n" + Token(t, 6)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.InsertLightningName(ctx, alice, name, base); err != nil {
			return err
		}
		if err := tx.InsertLightningName(ctx, alice, name+"b", base); err != nil {
			return err
		}
		return tx.SetUserLightningName(ctx, alice, name, base)
	})
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		return tx.InsertLightningName(ctx, bob, name, base)
	})
	mustKind(t, err, store.ErrConflict, "a taken name")
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if owner, err := tx.LightningNameOwner(ctx, name); err != nil || owner != alice {
			t.Fatalf("LightningNameOwner: %d %v", owner, err)
		}
		_, err := tx.LightningNameOwner(ctx, "nobody"+Token(t, 4))
		mustKind(t, err, store.ErrNotFound, "an unchosen name")
		if n, err := tx.CountLightningNames(ctx, alice); err != nil || n != 2 {
			t.Fatalf("CountLightningNames: %d %v", n, err)
		}
		if n, err := tx.CountLightningNames(ctx, bob); err != nil || n != 0 {
			t.Fatalf("CountLightningNames of bob: %d %v", n, err)
		}
		if u, err := tx.UserByID(ctx, alice); err != nil || u.LightningName != name {
			t.Fatalf("the name shown: %+v %v", u, err)
		}
		mustKind(t, tx.SetUserLightningName(ctx, 1<<40, name, base), store.ErrNotFound, "naming a missing user")
		return nil
	})
}

func testSessions(t *testing.T, s store.Store) {
	userID, _, phone := NewFundedUser(t, s, 0)
	sid := "ATUid_" + Token(t, 12)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		sess, err := tx.UpsertSession(ctx, store.NewSession{SessionID: sid, Phone: phone, State: "welcome", Now: base})
		if err != nil {
			return err
		}
		if sess.SessionID != sid || sess.State != "welcome" || !sess.Active || len(sess.InputBuffer) != 0 || sess.LastInput != nil ||
			sess.Hops != 0 || !sess.LastActivityAt.Equal(base) {
			t.Fatalf("new session: %+v", sess)
		}
		again, err := tx.UpsertSession(ctx, store.NewSession{SessionID: sid, Phone: phone, State: "ignored", Now: base.Add(time.Second)})
		if err != nil {
			return err
		}
		if again.ID != sess.ID || again.State != "welcome" || !again.LastActivityAt.Equal(base) {
			t.Fatalf("second upsert: %+v", again)
		}
		buf, err := tx.AppendSessionInput(ctx, sid, "1", base.Add(2*time.Second))
		if err != nil {
			return err
		}
		buf, err = tx.AppendSessionInput(ctx, sid, "07*12#", base.Add(2*time.Second))
		if err != nil || len(buf) != 2 || buf[1] != "07*12#" {
			t.Fatalf("AppendSessionInput: %v %v", buf, err)
		}
		err = tx.SaveSessionHop(ctx, store.SessionHop{SessionID: sid, UserID: userID, State: "menu", InputBuffer: []string{"1", "2"},
			LastInput: "1*2", LastResponse: "CON Menu\n1. Send", Now: base.Add(3 * time.Second)})
		if err != nil {
			return err
		}
		got, err := tx.Session(ctx, sid)
		if err != nil {
			return err
		}
		if got.UserID != userID || got.State != "menu" || len(got.InputBuffer) != 2 || got.InputBuffer[1] != "2" ||
			got.LastInput == nil || *got.LastInput != "1*2" || got.LastResponse == nil || *got.LastResponse != "CON Menu\n1. Send" || got.Hops != 1 {
			t.Fatalf("after hop: %+v", got)
		}
		// A hop that answers a final screen closes the session itself.
		if err := tx.SaveSessionHop(ctx, store.SessionHop{SessionID: sid, UserID: userID, State: "done", LastInput: "x", LastResponse: "END bye",
			End: true, Now: base.Add(4 * time.Second)}); err != nil {
			return err
		}
		if got, _ := tx.Session(ctx, sid); got.Active || got.EndedAt == nil || !got.EndedAt.Equal(base.Add(4*time.Second)) || got.Hops != 2 {
			t.Fatalf("a final hop did not close the session: %+v", got)
		}
		if err := tx.EndSession(ctx, store.SessionEnd{SessionID: sid, Status: "Success", DurationMs: 12_345, Hops: 4, Now: base.Add(time.Minute)}); err != nil {
			return err
		}
		got, _ = tx.Session(ctx, sid)
		if got.Active || got.EndStatus != "Success" || got.DurationMs != 12_345 || got.Hops != 4 || got.EndedAt == nil {
			t.Fatalf("ended session: %+v", got)
		}
		_, err = tx.Session(ctx, "missing-"+Token(t, 4))
		mustKind(t, err, store.ErrNotFound, "unknown session")
		mustKind(t, tx.EndSession(ctx, store.SessionEnd{SessionID: "missing", Now: base}), store.ErrNotFound, "end unknown session")
		return nil
	})
}

func testIdleSessionCleanup(t *testing.T, s store.Store) {
	phone := Phone(t)
	idle, fresh := "idle_"+Token(t, 8), "fresh_"+Token(t, 8)
	cutoff := base.Add(-time.Minute)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.UpsertSession(ctx, store.NewSession{SessionID: idle, Phone: phone, State: "menu", Now: cutoff.Add(-time.Second)}); err != nil {
			return err
		}
		_, err := tx.UpsertSession(ctx, store.NewSession{SessionID: fresh, Phone: phone, State: "menu", Now: cutoff.Add(time.Second)})
		return err
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.CloseIdleSessions(ctx, cutoff, base)
		if err != nil || n < 1 {
			t.Fatalf("CloseIdleSessions: %d %v", n, err)
		}
		a, _ := tx.Session(ctx, idle)
		b, _ := tx.Session(ctx, fresh)
		if a.Active || a.EndedAt == nil || !b.Active {
			t.Fatalf("idle=%+v fresh=%+v", a, b)
		}
		return nil
	})
}

func testRollback(t *testing.T, s store.Store) {
	phone := Phone(t)
	boom := errors.New("boom")
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the callback's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base}); err != nil {
			return err
		}
		cancel()
		return ctx.Err()
	})
	if err == nil {
		t.Fatal("a cancelled transaction committed")
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UserByPhone(ctx, phone)
		mustKind(t, err, store.ErrNotFound, "user of a rolled-back transaction")
		return nil
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

// structural lists the violations that no posting through PostEntries can
// cause, whatever its transaction row says: the checks below share the
// database with others whose rows are made up (a "send" that only moves
// test money), so Shapes reports those, and only these stay empty.
func structural(rep store.ReconcileReport) string {
	if len(rep.UnbalancedTransactions)+len(rep.BalanceDrift)+len(rep.NegativeUserAccounts)+len(rep.ReservationMismatches)+
		len(rep.ChainBreaks)+len(rep.DayCounterMismatches) == 0 && rep.TotalMsat == 0 {
		return ""
	}
	return fmt.Sprintf("%+v", rep)
}

func testReconcile(t *testing.T, s store.Store) {
	reconcile := func() store.ReconcileReport {
		var rep store.ReconcileReport
		err := s.Snapshot(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			var err error
			rep, err = tx.Reconcile(ctx)
			return err
		})
		if err != nil {
			t.Fatalf("reconcile: %v", err)
		}
		return rep
	}
	if why := structural(reconcile()); why != "" {
		t.Fatalf("books do not balance: %s", why)
	}
	// A pending transaction that holds nothing on the reserved account, and
	// one holding funds after it finished, are both reported; a pending one
	// that holds what its row says is not.
	userID, acc, _ := NewFundedUser(t, s, 1000)
	var pendingEmpty, finishedHolding, pendingRight int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		reserved, err := tx.SystemAccount(ctx, store.AccountReserved)
		if err != nil {
			return err
		}
		if finishedHolding, err = tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeWithdraw, store.StatusFailed, 500, base)); err != nil {
			return err
		}
		if err := tx.PostEntries(ctx, finishedHolding, []store.Entry{{AccountID: acc, AmountMsat: -500}, {AccountID: reserved.ID, AmountMsat: 500}}, store.NoLimits, base); err != nil {
			return err
		}
		if pendingEmpty, err = tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeWithdraw, store.StatusPending, 200, base)); err != nil {
			return err
		}
		if err := tx.PostEntries(ctx, pendingEmpty, []store.Entry{{AccountID: acc, AmountMsat: -200}, {AccountID: reserved.ID, AmountMsat: 200}}, store.NoLimits, base); err != nil {
			return err
		}
		if err := tx.PostEntries(ctx, pendingEmpty, []store.Entry{{AccountID: reserved.ID, AmountMsat: -200}, {AccountID: acc, AmountMsat: 200}}, store.NoLimits, base); err != nil {
			return err
		}
		right := newTxn(t, userID, store.TypeWithdraw, store.StatusPending, 100, base)
		right.HeldMsat, right.FeeMsat = 150, 50
		if pendingRight, err = tx.InsertTransaction(ctx, right); err != nil {
			return err
		}
		return tx.PostEntries(ctx, pendingRight, []store.Entry{{AccountID: acc, AmountMsat: -150, DayOutMsat: 100}, {AccountID: reserved.ID, AmountMsat: 150}}, store.Guard{MaxBalanceMsat: 1 << 62, Day: 1, DayLimitMsat: 1 << 62}, base)
	})
	rep := reconcile()
	held := map[int64]bool{}
	for _, r := range rep.ReservationMismatches {
		held[r.TransactionID] = true
	}
	shaped := map[int64]string{}
	for _, v := range rep.ShapeViolations {
		shaped[v.TransactionID] = v.Reason
	}
	if !held[pendingEmpty] || !held[finishedHolding] || len(rep.UnbalancedTransactions) != 0 || len(rep.BalanceDrift) != 0 {
		t.Fatalf("reconcile missed a reservation mismatch: %+v", rep)
	}
	if shaped[pendingEmpty] == "" || shaped[finishedHolding] == "" || shaped[pendingRight] != "" || held[pendingRight] {
		t.Fatalf("shapes of the withdrawals: %v", shaped)
	}
	// Undo, so the shared database reconciles for later tests.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		reserved, _ := tx.SystemAccount(ctx, store.AccountReserved)
		if _, err := tx.FinishTransaction(ctx, store.Finish{ID: pendingEmpty, From: store.StatusPending, To: store.StatusFailed, AmountMsat: 200, FeeMsat: 0, Now: base}); err != nil {
			return err
		}
		if _, err := tx.FinishTransaction(ctx, store.Finish{ID: pendingRight, From: store.StatusPending, To: store.StatusFailed, AmountMsat: 100, FeeMsat: 0, Now: base}); err != nil {
			return err
		}
		if err := tx.PostEntries(ctx, pendingRight, []store.Entry{{AccountID: reserved.ID, AmountMsat: -150}, {AccountID: acc, AmountMsat: 150}}, store.NoLimits, base); err != nil {
			return err
		}
		return tx.PostEntries(ctx, finishedHolding, []store.Entry{{AccountID: reserved.ID, AmountMsat: -500}, {AccountID: acc, AmountMsat: 500}}, store.NoLimits, base)
	})
	if why := structural(reconcile()); why != "" {
		t.Fatalf("after the undo: %s", why)
	}
}

// testChain: every entry on a user account takes the next place in the
// account's chain with the balance after it, the day it counted on, its time
// to the microsecond and the hash ChainHash computes (the SQL of each engine
// and the Go of the verifier agree byte for byte); entries on system
// accounts carry no chain. A posting that names one account twice chains
// both of its entries.
func testChain(t *testing.T, s store.Store) {
	userA, accA, _ := NewFundedUser(t, s, 0)
	_, accB, _ := NewFundedUser(t, s, 0)
	at := base.Add(1234567 * time.Nanosecond)
	guard := store.Guard{MaxBalanceMsat: 1 << 62, Day: 20_000, DayLimitMsat: 1 << 62}
	var adj, fees int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		a, err := tx.SystemAccount(ctx, store.AccountAdjustments)
		if err != nil {
			return err
		}
		f, err := tx.SystemAccount(ctx, store.AccountFees)
		adj, fees = a.ID, f.ID
		return err
	})
	var ids []int64
	post := func(entries ...store.Entry) {
		t.Helper()
		var id int64
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			if id, err = tx.InsertTransaction(ctx, newTxn(t, userA, store.TypeAdjustment, store.StatusCompleted, 1, at)); err != nil {
				return err
			}
			return tx.PostEntries(ctx, id, entries, guard, at)
		})
		ids = append(ids, id)
	}
	post(store.Entry{AccountID: adj, AmountMsat: -10_000}, store.Entry{AccountID: accA, AmountMsat: 10_000})
	post(store.Entry{AccountID: accA, AmountMsat: -3_100, DayOutMsat: 3_000}, store.Entry{AccountID: accB, AmountMsat: 3_000}, store.Entry{AccountID: fees, AmountMsat: 100})
	post(store.Entry{AccountID: accB, AmountMsat: -1_000}, store.Entry{AccountID: accA, AmountMsat: 1_000})
	post(store.Entry{AccountID: accA, AmountMsat: -5}, store.Entry{AccountID: accA, AmountMsat: 5}, store.Entry{AccountID: accB, AmountMsat: -7}, store.Entry{AccountID: accB, AmountMsat: 7})

	var entries []store.LedgerEntry
	balances := map[int64]int64{}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range ids {
			es, err := tx.EntriesOf(ctx, id)
			if err != nil {
				return err
			}
			entries = append(entries, es...)
		}
		for _, acc := range []int64{accA, accB} {
			a, err := tx.AccountByID(ctx, acc)
			if err != nil {
				return err
			}
			balances[acc] = a.BalanceMsat
		}
		return nil
	})
	if len(entries) != 11 {
		t.Fatalf("%d entries: %+v", len(entries), entries)
	}
	slices.SortFunc(entries, func(a, b store.LedgerEntry) int {
		return cmp.Or(cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.Seq, b.Seq))
	})
	last := map[int64]store.LedgerEntry{}
	for _, e := range entries {
		if e.AccountID != accA && e.AccountID != accB {
			if e.Seq != 0 || e.Hash != "" || e.BalanceAfterMsat != 0 {
				t.Fatalf("an entry on a system account with a chain: %+v", e)
			}
			continue
		}
		prev := last[e.AccountID]
		if e.Seq != prev.Seq+1 || e.BalanceAfterMsat != prev.BalanceAfterMsat+e.AmountMsat || e.DayOutDay != guard.Day ||
			!e.CreatedAt.Equal(at.Truncate(time.Microsecond)) {
			t.Fatalf("entry %+v after %+v", e, prev)
		}
		if want := store.ChainHash(e, prev.Hash); e.Hash != want {
			t.Fatalf("entry %+v: hash %s, the verifier computes %s from %q", e, e.Hash, want, store.ChainText(e, prev.Hash))
		}
		last[e.AccountID] = e
	}
	if last[accA].Seq != 5 || last[accB].Seq != 4 || balances[accA] != last[accA].BalanceAfterMsat || balances[accB] != last[accB].BalanceAfterMsat {
		t.Fatalf("heads %+v, balances %v", last, balances)
	}
}

func testNotifications(t *testing.T, s store.Store) {
	userID, _, phone := NewFundedUser(t, s, 0)
	var txID int64
	var ids [3]int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		if txID, err = tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeReceive, store.StatusCompleted, 5000, base)); err != nil {
			return err
		}
		for i := range ids {
			ids[i], err = tx.InsertNotification(ctx, store.NewNotification{UserID: userID, Phone: phone, Kind: store.NotifyReceived,
				TransactionID: txID, AmountMsat: 5000, Counterparty: "+254700000002", Body: "lnbcrt1", Now: base})
			if err != nil {
				return err
			}
		}
		return nil
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.NotificationsOf(ctx, txID)
		if err != nil || len(got) != 3 {
			t.Fatalf("NotificationsOf: %+v %v", got, err)
		}
		n := got[0]
		if n.ID != ids[0] || n.UserID != userID || n.Phone != phone || n.Kind != store.NotifyReceived || n.AmountMsat != 5000 ||
			n.Counterparty != "+254700000002" || n.Body != "lnbcrt1" || n.Status != store.NotificationPending || n.SentAt != nil ||
			!n.NextAttemptAt.Equal(base) {
			t.Fatalf("notification read back wrong: %+v", n)
		}
		if ok, err := tx.MarkNotificationSent(ctx, ids[0], base.Add(time.Second)); err != nil || !ok {
			t.Fatalf("MarkNotificationSent: %v %v", ok, err)
		}
		if ok, err := tx.MarkNotificationSent(ctx, ids[0], base.Add(time.Second)); err != nil || ok {
			t.Fatalf("second MarkNotificationSent must not apply: %v %v", ok, err)
		}
		if ok, err := tx.RescheduleNotification(ctx, ids[1], base.Add(time.Hour), false); err != nil || !ok {
			t.Fatalf("RescheduleNotification: %v %v", ok, err)
		}
		if ok, err := tx.RescheduleNotification(ctx, ids[2], base, true); err != nil || !ok {
			t.Fatalf("RescheduleNotification(give up): %v %v", ok, err)
		}
		due, err := tx.DueNotifications(ctx, base.Add(time.Minute), 1000)
		if err != nil {
			return err
		}
		for _, d := range due {
			if d.ID == ids[0] || d.ID == ids[1] || d.ID == ids[2] {
				t.Fatalf("notification %d listed as due: %+v", d.ID, d)
			}
		}
		due, err = tx.DueNotifications(ctx, base.Add(2*time.Hour), 1000)
		if err != nil {
			return err
		}
		found := false
		for _, d := range due {
			found = found || (d.ID == ids[1] && d.Attempts == 1)
		}
		if !found {
			t.Fatalf("rescheduled notification not due after its time: %+v", due)
		}
		got, _ = tx.NotificationsOf(ctx, txID)
		if got[0].Status != store.NotificationSent || got[0].SentAt == nil || got[2].Status != store.NotificationFailed {
			t.Fatalf("statuses after delivery: %+v", got)
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

// testAutocommit: statements outside a transaction each commit on their
// own, so a failure after a write keeps the write.
func testAutocommit(t *testing.T, s store.Store) {
	phone := Phone(t)
	boom := errors.New("boom")
	err := s.Autocommit(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertUser(ctx, store.NewUser{Phone: phone, LightningName: phone[1:], Language: "en", Status: store.UserActive, Now: base}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Autocommit returned %v", err)
	}
	err = s.Autocommit(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		u, err := tx.UserByPhone(ctx, phone)
		if err == nil && u.Phone != phone {
			t.Fatalf("read back %+v", u)
		}
		return err
	})
	if err != nil {
		t.Fatalf("a statement outside a transaction was not kept: %v", err)
	}
}
