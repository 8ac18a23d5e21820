package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// a24 is a funded pair on a fresh database, with an admin pool.
type a24 struct {
	*a22
	userA, accA int64
	phoneA      string
	userB, accB int64
	phoneB      string
	fees        int64
}

func a24Open(t *testing.T) *a24 {
	t.Helper()
	a := &a24{a22: a22Open(t, 2)}
	a.userA, a.accA, a.phoneA = storetest.NewFundedUser(t, a.s, 10_000)
	a.userB, a.accB, a.phoneB = storetest.NewFundedUser(t, a.s, 0)
	if err := a.admin.QueryRow("SELECT id FROM accounts WHERE code = 'fees'").Scan(&a.fees); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *a24) transfer(ctx context.Context, tx store.Tx, key string, amount, fee int64, guard store.Guard) (int64, error) {
	now := time.Now()
	entries := []store.Entry{{AccountID: a.accA, AmountMsat: -(amount + fee), DayOutMsat: amount}, {AccountID: a.accB, AmountMsat: amount}}
	if fee > 0 {
		entries = append(entries, store.Entry{AccountID: a.fees, AmountMsat: fee})
	}
	return tx.PostTransfer(ctx, store.NewTransfer{SenderID: a.userA, SenderPhone: a.phoneA, RecipientID: a.userB, RecipientPhone: a.phoneB,
		AmountMsat: amount, FeeMsat: fee, IdempotencyKey: key, Now: now}, entries, guard,
		store.NewNotification{UserID: a.userB, Phone: a.phoneB, Kind: store.NotifyReceived, AmountMsat: amount, Now: now})
}

// transferInTx runs transfer as InTx's whole fn, counting fn's runs in
// *attempts.
func (a *a24) transferInTx(ctx context.Context, key string, amount, fee int64, guard store.Guard, attempts *int) error {
	return a.s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		*attempts++
		_, err := a.transfer(ctx, tx, key, amount, fee, guard)
		return err
	})
}

var a24Guard = store.Guard{Day: 1, MaxBalanceMsat: 1 << 40, DayLimitMsat: 1 << 40}

func (a *a24) balance(t *testing.T, id int64) int64 {
	t.Helper()
	var b int64
	if err := a.admin.QueryRow("SELECT balance_msat FROM accounts WHERE id = ?", id).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (a *a24) rows(t *testing.T, key string) (txs, entries, notes int) {
	t.Helper()
	if err := a.admin.QueryRow("SELECT COUNT(*) FROM transactions WHERE idempotency_key = ?", key).Scan(&txs); err != nil {
		t.Fatal(err)
	}
	if err := a.admin.QueryRow("SELECT COUNT(*) FROM ledger_entries e JOIN transactions x ON x.id = e.transaction_id WHERE x.idempotency_key = ?", key).Scan(&entries); err != nil {
		t.Fatal(err)
	}
	if err := a.admin.QueryRow("SELECT COUNT(*) FROM notifications WHERE phone = ?", a.phoneB).Scan(&notes); err != nil {
		t.Fatal(err)
	}
	return
}

// intact checks that nothing of the transfer key is in, and the pair's
// balances are as funded.
func (a *a24) intact(t *testing.T, key string, wantA, wantB int64) {
	t.Helper()
	if b := a.balance(t, a.accA); b != wantA {
		t.Errorf("sender balance %d, want %d", b, wantA)
	}
	if b := a.balance(t, a.accB); b != wantB {
		t.Errorf("recipient balance %d, want %d", b, wantB)
	}
	if x, e, _ := a.rows(t, key); x != 0 || e != 0 {
		t.Errorf("transfer %s left %d transaction rows, %d entries", key, x, e)
	}
}

// Attack: an error raised inside the transfer's CALL after every leg moved
// (stand-in for a duplicate key in the text's insert): the CALL fails, the legs moved in the open transaction must be rolled back by
// the caller's ROLLBACK, and the pooled connection must carry nothing
// into the next transaction.
func TestAttack24ErrorAfterLegsBeforeCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := a24Open(t)
	if _, err := a.admin.Exec(`CREATE TRIGGER a24_note BEFORE INSERT ON notifications FOR EACH ROW
		BEGIN IF NEW.amount_msat = 777 THEN SIGNAL SQLSTATE '23000' SET MESSAGE_TEXT = 'a24 duplicate', MYSQL_ERRNO = 1062; END IF; END`); err != nil {
		t.Fatal(err)
	}
	key := storetest.Token(t, 16)
	attempts := 0
	err := a.transferInTx(ctx, key, 777, 3, a24Guard, &attempts)
	if err == nil {
		t.Fatal("the transfer whose text failed went through")
	}
	t.Logf("InTx: %v (%d attempts)", err, attempts)
	a.intact(t, key, 10_000, 0)
	if b := a.balance(t, a.fees); b != 0 {
		// the fees account may be bucketed: check buckets too
		t.Logf("fees row balance %d", b)
	}
	var buckets int64
	if err := a.admin.QueryRow("SELECT COALESCE(SUM(balance_msat),0) FROM account_buckets WHERE account_id = ?", a.fees).Scan(&buckets); err != nil {
		t.Fatal(err)
	}
	if buckets != 0 {
		t.Errorf("the fee leg stayed in a bucket: %d", buckets)
	}
	// Both connections of the pool run a clean transfer next.
	for i := 0; i < 3; i++ {
		var runs int
		if err := a.transferInTx(ctx, storetest.Token(t, 16), 100, 0, a24Guard, &runs); err != nil {
			t.Fatal(err)
		}
	}
	if b := a.balance(t, a.accA); b != 10_000-300 {
		t.Errorf("sender %d after three transfers of 100, want %d", b, 10_000-300)
	}
	if len(a.openTrx(t)) != 0 {
		t.Errorf("open transactions left: %v", a.openTrx(t))
	}
}

// Attack: refusal at the last leg (the recipient over its maximum
// balance, the fee leg on a system bucket before it or not) and at the
// daily limit: the count must say refused, the caller's ROLLBACK must undo
// the earlier legs, and the statement path must name the reason.
func TestAttack24RefusedLaterLeg(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := a24Open(t)
	cases := []struct {
		name   string
		guard  store.Guard
		fee    int64
		reason store.BalanceReason
	}{
		{"max balance", store.Guard{Day: 1, MaxBalanceMsat: 500, DayLimitMsat: 1 << 40}, 7, store.ReasonMaxBalance},
		{"daily limit", store.Guard{Day: 1, MaxBalanceMsat: 1 << 40, DayLimitMsat: 999}, 7, store.ReasonDailyLimit},
		{"insufficient", a24Guard, 1, store.ReasonInsufficient},
	}
	for _, c := range cases {
		key := storetest.Token(t, 16)
		amount := int64(1000)
		if c.reason == store.ReasonInsufficient {
			amount = 10_000 // plus the fee
		}
		attempts := 0
		err := a.transferInTx(ctx, key, amount, c.fee, c.guard, &attempts)
		var be *store.BalanceError
		if !errors.As(err, &be) || be.Reason != c.reason {
			t.Errorf("%s: %v (%d attempts)", c.name, err, attempts)
		}
		a.intact(t, key, 10_000, 0)
	}
	if _, _, n := a.rows(t, "-"); n != 0 {
		t.Errorf("%d texts queued for refused transfers", n)
	}
}

// blockRecipient holds the recipient's account row FOR UPDATE on an admin
// session until release is called.
func (a *a24) blockRecipient(t *testing.T) (release func()) {
	t.Helper()
	ctx := context.Background()
	c, err := a.admin.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := tx.QueryRow("SELECT id FROM accounts WHERE id = ? FOR UPDATE", a.accB).Scan(&id); err != nil {
		t.Fatal(err)
	}
	done := false
	return func() {
		if !done {
			done = true
			_ = tx.Commit()
			c.Close()
		}
	}
}

// waiting returns the thread id of the session of the test's database
// waiting for a row lock (polls up to 10 s).
func (a *a24) waiting(t *testing.T) int64 {
	t.Helper()
	for i := 0; i < 200; i++ {
		var id int64
		err := a.admin.QueryRow(`SELECT ID FROM information_schema.processlist
			WHERE DB = ? AND STATE = 'Updating' AND INFO LIKE 'UPDATE accounts%'`, a.dbName).Scan(&id)
		if err == nil {
			return id
		}
		if !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rows, _ := a.admin.Query("SELECT ID, COALESCE(STATE,''), COALESCE(INFO,'') FROM information_schema.processlist WHERE DB = ?", a.dbName)
	for rows != nil && rows.Next() {
		var id int64
		var st, info string
		_ = rows.Scan(&id, &st, &info)
		t.Logf("session %d %q %.80q", id, st, info)
	}
	t.Fatal("no CALL waits for the recipient's row")
	return 0
}

// Attack: KILL QUERY while the CALL waits for the recipient's row, after
// the sender's leg moved: the procedure stops, and the sender's leg must
// not survive (the caller's ROLLBACK), nor be retried.
func TestAttack24KillQueryMidCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := a24Open(t)
	t.Logf("open transactions before: %v", a.openTrx(t))
	release := a.blockRecipient(t)
	defer release()
	key := storetest.Token(t, 16)
	attempts := 0
	errc := make(chan error, 1)
	go func() {
		errc <- a.transferInTx(ctx, key, 1000, 0, a24Guard, &attempts)
	}()
	id := a.waiting(t)
	if _, err := a.admin.Exec("KILL QUERY ?", id); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	release()
	t.Logf("InTx: %v (%d attempts)", err, attempts)
	if err == nil {
		t.Fatal("a killed CALL reported success")
	}
	if attempts != 1 {
		t.Errorf("%d attempts after a killed CALL", attempts)
	}
	a.intact(t, key, 10_000, 0)
	var trx []string
	rows, _ := a.admin.Query(`SELECT CONCAT(trx_mysql_thread_id, ' ', trx_state, ' rows locked ', trx_rows_locked, ' modified ', trx_rows_modified) FROM information_schema.innodb_trx`)
	for rows != nil && rows.Next() {
		var s string
		_ = rows.Scan(&s)
		trx = append(trx, s)
	}
	t.Logf("innodb_trx after: %v", trx)
}

// Attack: the context ends while the CALL waits for the recipient's row.
// InTx returns the context's error at once (the connection is cut); the
// server does not notice a lost client during a lock wait and goes on
// with the procedure once the row is free; the transaction must then end
// with the lost session, undone: a transfer InTx reported as cancelled is
// never booked afterwards. (A procedure that COMMITted itself, tried in
// review, failed here: the store must send the COMMIT.)
func TestAttack24CancelMidCallCommitsLater(t *testing.T) {
	a := a24Open(t)
	t.Logf("open transactions before: %v", a.openTrx(t))
	release := a.blockRecipient(t)
	defer release()
	key := storetest.Token(t, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	attempts := 0
	errc := make(chan error, 1)
	go func() {
		errc <- a.transferInTx(ctx, key, 1000, 0, a24Guard, &attempts)
	}()
	a.waiting(t)
	cancel()
	err := <-errc
	t.Logf("InTx: %v (%d attempts, retryable %v)", err, attempts, errors.Is(err, store.ErrRetryable))
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled CALL: %v", err)
	}
	if x, _, _ := a.rows(t, key); x != 0 {
		t.Fatalf("booked before the lock was released: %d", x)
	}
	release()
	// Wait for the server-side session to finish (at most a few seconds).
	var booked int
	for i := 0; i < 100; i++ {
		booked, _, _ = a.rows(t, key)
		var n int
		if err := a.admin.QueryRow(`SELECT COUNT(*) FROM information_schema.processlist WHERE DB = ? AND INFO IS NOT NULL AND ID <> CONNECTION_ID()`, a.dbName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if booked != 0 || n == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	booked, entries, _ := a.rows(t, key)
	if booked != 0 {
		t.Errorf("InTx returned %q, yet the transfer was committed afterwards (%d rows, %d entries; sender %d, recipient %d)",
			err, booked, entries, a.balance(t, a.accA), a.balance(t, a.accB))
	}
}

// Attack: fn fails (or panics) after a PostTransfer that succeeded: InTx
// returns fn's error, and the transfer must not stay booked.
func TestAttack24FnFailsAfterTransfer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := a24Open(t)
	key := storetest.Token(t, 16)
	after := errors.New("fn failed after the transfer")
	err := a.s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := a.transfer(ctx, tx, key, 1000, 0, a24Guard); err != nil {
			return err
		}
		return after
	})
	if !errors.Is(err, after) {
		t.Fatalf("InTx: %v", err)
	}
	if x, e, _ := a.rows(t, key); x != 0 || e != 0 {
		t.Errorf("InTx returned fn's error %q, yet the transfer committed: %d rows, %d entries, sender %d, recipient %d",
			err, x, e, a.balance(t, a.accA), a.balance(t, a.accB))
	}
}

var _ = mysqlstore.OtherPool
