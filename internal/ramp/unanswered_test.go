package ramp_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestRailCommitAnswerLost: the COMMIT of a withdrawal's reservation, or
// of a top-up's pending row, is answered into the void (a TCP proxy drops
// the answer), and the wallet learns by the key that it committed. The
// rail must then be called, once, as for any fresh request: a withdrawal
// reported as started must have its B2C sent, a top-up its STK push
// (outside review: both were left unsent, for the reconciler to give up).
// MariaDB, whose store sends the COMMIT the proxy watches for as text.
func TestRailCommitAnswerLost(t *testing.T) {
	x, proxy, u, auth := proxiedWorld(t)
	ctx := context.Background()
	calls := x.calls
	for _, c := range []struct {
		name, path string
		run        func(ctx context.Context) (store.Transaction, error)
	}{
		{"withdrawal", "b2c", func(ctx context.Context) (store.Transaction, error) {
			return x.ramp.Sell(ctx, auth, x.quote(200), "cut-sell")
		}},
		{"top-up", "stkpush", func(ctx context.Context) (store.Transaction, error) {
			return x.ramp.Buy(ctx, u.ID, x.quote(200), "cut-buy")
		}},
	} {
		before := calls(c.path)
		proxy.LoseRepliesAfter("COMMIT")
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		tr, err := c.run(tctx)
		cancel()
		if err != nil || tr.ID == 0 {
			t.Fatalf("%s: %v (id %d), though it committed", c.name, err, tr.ID)
		}
		// Learned past the caller's deadline, the request is sent in the
		// background.
		x.ramp.Work.Wait()
		req, err := x.w.MpesaRequest(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if req.SentAt == nil {
			t.Errorf("%s %d reported started, its M-Pesa request never marked sent", c.name, tr.ID)
		}
		if got := calls(c.path) - before; got != 1 {
			t.Errorf("%s %d: Daraja got %d %s calls, want 1", c.name, tr.ID, got, c.path)
		}
		// The same request again sends nothing more.
		if _, err := c.run(ctx); err != nil {
			t.Fatalf("%s again: %v", c.name, err)
		}
		if got := calls(c.path) - before; got != 1 {
			t.Errorf("%s %d repeated: Daraja got %d %s calls, want 1", c.name, tr.ID, got, c.path)
		}
	}
}

// TestRailRepeatSendsOnce: a request whose first call committed its
// reservation (or pending top-up) and then never sent it (the caller was
// told the outcome could not be confirmed, or the process stopped) is
// sent by its repeat, once; a third call sends nothing (outside review of
// a6deb50: a repeat used to report it started and send nothing, for the
// reconciler to give up).
func TestRailRepeatSendsOnce(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		x := newWorld(t, db)
		u, auth := x.user(t, 10_000_000)
		calls := x.calls
		q := x.quote(300)
		x.reserveUnsent(t, auth, q, "first-never-sent", time.Minute)
		if _, fresh, err := x.w.StartTopup(ctx, u.ID, q, time.Minute, "first-never-pushed"); err != nil || !fresh {
			t.Fatalf("start top-up: %v (fresh %v)", err, fresh)
		}
		for i := 1; i <= 2; i++ {
			if _, err := x.ramp.Sell(ctx, auth, q, "first-never-sent"); err != nil {
				t.Fatalf("sell, call %d: %v", i, err)
			}
			if _, err := x.ramp.Buy(ctx, u.ID, q, "first-never-pushed"); err != nil {
				t.Fatalf("buy, call %d: %v", i, err)
			}
			if b2c, stk := calls("b2c"), calls("stkpush"); b2c != 1 || stk != 1 {
				t.Fatalf("after repeat %d Daraja got %d B2C and %d STK push calls, want 1 and 1", i, b2c, stk)
			}
		}
	})
}

// calls counts the requests Daraja got whose path holds path.
func (x *world) calls(path string) int {
	n := 0
	for _, r := range x.sim.Requests() {
		if strings.Contains(r.Path, path) {
			n++
		}
	}
	return n
}

// TestRailMarkedOnlyWhenSendable: a request's mark commits only with the
// read of the request it sends. When that read fails (a connection lost
// between the two), the request must not be left marked sent and unsent,
// which nothing but an operator finishes, its money reserved (outside
// review of 1f2420d: the mark and the read were two transactions). The
// next repeat sends it, once. The store is real; only the read's failure
// is made, by a wrapper.
func TestRailMarkedOnlyWhenSendable(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		cut := &readCut{DB: db}
		x := newWorld(t, cut)
		_, auth := x.user(t, 10_000_000)
		q := x.quote(300)
		wd := x.reserveUnsent(t, auth, q, "read-cut", time.Minute)
		cut.armed.Store(true)
		_, err := x.ramp.Sell(ctx, auth, q, "read-cut")
		if !cut.fired.Load() {
			t.Fatalf("the read after the mark was never cut (sell: %v)", err)
		}
		req, rerr := x.w.MpesaRequest(ctx, wd.ID)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if req.SentAt != nil && x.calls("b2c") == 0 {
			t.Fatalf("the cut call (%v) left withdrawal %d marked sent at %v, and never sent it", err, wd.ID, req.SentAt)
		}
		if _, err := x.ramp.Sell(ctx, auth, q, "read-cut"); err != nil {
			t.Fatalf("sell again: %v", err)
		}
		if got := x.calls("b2c"); got != 1 {
			t.Errorf("Daraja got %d B2C calls, want 1", got)
		}
		if req, err := x.w.MpesaRequest(ctx, wd.ID); err != nil || req.SentAt == nil {
			t.Errorf("request after the repeat: %+v %v", req, err)
		}
	})
}

// readCut fails, once armed, the first read of an M-Pesa request after a
// mark that succeeded, as a connection lost right then does.
type readCut struct {
	database.DB
	armed, marked, fired atomic.Bool
}

var errReadCut = errors.New("connection lost (test)")

func (s *readCut) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, cutTx{Tx: tx, s: s}) })
}

func (s *readCut) Autocommit(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.DB.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, cutTx{Tx: tx, s: s}) })
}

type cutTx struct {
	store.Tx
	s *readCut
}

func (t cutTx) MarkMpesaSent(ctx context.Context, transactionID int64, now time.Time, by string) (bool, error) {
	ok, err := t.Tx.MarkMpesaSent(ctx, transactionID, now, by)
	if ok && err == nil && t.s.armed.Load() {
		t.s.marked.Store(true)
	}
	return ok, err
}

func (t cutTx) MpesaRequest(ctx context.Context, transactionID int64) (store.MpesaRequest, error) {
	if t.s.marked.Load() && t.s.fired.CompareAndSwap(false, true) {
		return store.MpesaRequest{}, errReadCut
	}
	return t.Tx.MpesaRequest(ctx, transactionID)
}

// TestRailMarkCommitAnswerLost: the COMMIT of a request's mark is answered
// into the void, and the store settles it (store.ErrCommitUnanswered: it
// committed, or never will). The call learns which by the token its mark
// wrote (outside review of a11d47e: it took the mark as failed, so a
// request marked sent was never sent, and only an operator could finish
// it, a day later):
//   - committed: the request is this call's, and it is sent, once;
//   - never committed: nothing is sent, and the next repeat sends it;
//   - another call marked it (a twin with the same key): that call sends
//     it, not this one.
//
// The store is real; a wrapper answers the mark's transaction
// ErrCommitUnanswered after it committed or rolled it back.
func TestRailMarkCommitAnswerLost(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		lost := &markAnswerLost{DB: db}
		x := newWorld(t, lost)
		_, auth := x.user(t, 10_000_000)
		sends := 0
		for _, c := range []struct {
			name      string
			rollback  bool   // the settled COMMIT never committed
			twin      bool   // another call marked it first
			wantSends int    // B2C calls this case makes, its repeat included
			key       string // the withdrawal's idempotency key
		}{
			{"committed", false, false, 1, "mark-lost-committed"},
			{"never committed", true, false, 1, "mark-lost-rolled-back"},
			{"a twin marked it", false, true, 0, "mark-lost-twin"},
		} {
			q := x.quote(300)
			wd := x.reserveUnsent(t, auth, q, c.key, time.Minute)
			if c.twin {
				if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					_, err := tx.MarkMpesaSent(ctx, wd.ID, time.Now(), "the-twin")
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			lost.rollback = c.rollback
			lost.armed.Store(true)
			_, err := x.ramp.Sell(ctx, auth, q, c.key)
			x.ramp.Work.Wait()
			if !lost.fired.CompareAndSwap(true, false) {
				t.Fatalf("%s: the mark's commit was never answered into the void (sell: %v)", c.name, err)
			}
			if _, err := x.ramp.Sell(ctx, auth, q, c.key); err != nil {
				t.Fatalf("%s: repeat: %v", c.name, err)
			}
			x.ramp.Work.Wait()
			sends += c.wantSends
			req, rerr := x.w.MpesaRequest(ctx, wd.ID)
			if got := x.calls("b2c"); got != sends || rerr != nil {
				t.Fatalf("%s: Daraja got %d B2C calls in all, want %d (first call: %v; request %+v %v)", c.name, got, sends, err, req, rerr)
			}
			if c.wantSends == 1 && (req.SentAt == nil || req.ConversationID == "") {
				t.Errorf("%s: request after the repeat: %+v", c.name, req)
			}
		}
	})
}

// TestRailRecordCommitAnswerLost: Daraja accepted the request (the B2C
// payment is on its way, the prompt is on the phone), and the COMMIT that
// records the id it answered was not answered (the store settled it:
// committed, or never will). The call reports the request started, as
// when the id is recorded: an error would tell the user it failed, and
// they would withdraw, or pay a prompt, again (outside look at a CI
// failure of TestRailMarkCommitAnswerLostProxied, whose proxy had lost
// that COMMIT's answer too). Daraja is asked once; a recording that never
// committed leaves the id to the result or callback.
//
// The store is real; a wrapper answers the recording's transaction
// ErrCommitUnanswered after it committed or rolled it back.
func TestRailRecordCommitAnswerLost(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		lost := &markAnswerLost{DB: db, record: true}
		x := newWorld(t, lost)
		u, auth := x.user(t, 10_000_000)
		for _, c := range []struct {
			name     string
			rollback bool // the settled COMMIT never committed
			buy      bool // a top-up's prompt, else a withdrawal's payment
		}{
			{"withdrawal, committed", false, false},
			{"withdrawal, never committed", true, false},
			{"top-up, committed", false, true},
			{"top-up, never committed", true, true},
		} {
			path, key := "b2c", "record-lost-"+strings.ReplaceAll(c.name, " ", "")
			if c.buy {
				path = "stkpush"
			}
			before := x.calls(path)
			lost.rollback = c.rollback
			lost.armed.Store(true)
			var tr store.Transaction
			var err error
			if c.buy {
				tr, err = x.ramp.Buy(ctx, u.ID, x.quote(300), key)
			} else {
				tr, err = x.ramp.Sell(ctx, auth, x.quote(300), key)
			}
			x.ramp.Work.Wait()
			if !lost.fired.CompareAndSwap(true, false) {
				t.Fatalf("%s: the recording's commit was never answered into the void (call: %v)", c.name, err)
			}
			if err != nil {
				t.Errorf("%s: the call failed after Daraja accepted it: %v", c.name, err)
			}
			req, rerr := x.w.MpesaRequest(ctx, tr.ID)
			id := req.ConversationID
			if c.buy {
				id = req.CheckoutRequestID
			}
			if got := x.calls(path) - before; got != 1 || rerr != nil || req.SentAt == nil || (id != "") == c.rollback {
				t.Errorf("%s: Daraja got %d calls, want 1; request %+v %v", c.name, got, req, rerr)
			}
		}
	})
}

// markAnswerLost answers, once armed, a transaction that marked (or tried
// to mark) an M-Pesa request sent store.ErrCommitUnanswered, after
// committing it, or after rolling it back when rollback is set: what the
// store reports once it settled a COMMIT whose answer was lost. With
// record set it does so to the transaction that records the id Daraja
// answered instead (SetMpesaConversation, SetMpesaCheckout).
type markAnswerLost struct {
	database.DB
	armed, fired     atomic.Bool
	rollback, record bool
}

var errRolledBack = errors.New("rolled back (test)")

func (s *markAnswerLost) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	var marking bool
	err := s.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		marking = false
		if err := fn(ctx, markingTx{Tx: tx, marking: &marking, record: s.record}); err != nil {
			return err
		}
		if marking && s.rollback && s.armed.Load() {
			return errRolledBack
		}
		return nil
	})
	if marking && s.armed.Load() && (err == nil || errors.Is(err, errRolledBack)) {
		s.armed.Store(false)
		s.fired.Store(true)
		return store.Classify(store.ErrCommitUnanswered, errors.New("commit: answer lost (test)"))
	}
	return err
}

// markingTx flags (marking) a transaction that marks a request sent, or,
// with record, one that records Daraja's id for it.
type markingTx struct {
	store.Tx
	marking *bool
	record  bool
}

func (t markingTx) MarkMpesaSent(ctx context.Context, transactionID int64, now time.Time, by string) (bool, error) {
	*t.marking = *t.marking || !t.record
	return t.Tx.MarkMpesaSent(ctx, transactionID, now, by)
}

func (t markingTx) SetMpesaConversation(ctx context.Context, transactionID int64, conversationID string, now time.Time) (bool, error) {
	*t.marking = *t.marking || t.record
	return t.Tx.SetMpesaConversation(ctx, transactionID, conversationID, now)
}

func (t markingTx) SetMpesaCheckout(ctx context.Context, transactionID int64, checkoutRequestID string, now time.Time) (bool, error) {
	*t.marking = *t.marking || t.record
	return t.Tx.SetMpesaCheckout(ctx, transactionID, checkoutRequestID, now)
}

// TestRailMarkCommitAnswerLostProxied: the same on a real MariaDB, whose
// answer to the mark's COMMIT a TCP proxy drops. The request is reserved
// first (as by a first call that died), so the COMMIT the proxy watches
// for is the mark's. The mark's own deadline (markTimeout) leaves the
// call time to settle it, learn it committed, and send, once.
func TestRailMarkCommitAnswerLostProxied(t *testing.T) {
	x, proxy, _, auth := proxiedWorld(t)
	ctx := context.Background()
	before := x.calls("b2c")
	q := x.quote(300)
	wd := x.reserveUnsent(t, auth, q, "proxied-mark-lost", time.Minute)
	proxy.LoseRepliesAfter("COMMIT")
	if _, err := x.ramp.Sell(ctx, auth, q, "proxied-mark-lost"); err != nil {
		t.Fatalf("sell, its mark's COMMIT answer lost: %v", err)
	}
	x.ramp.Work.Wait()
	if _, err := x.ramp.Sell(ctx, auth, q, "proxied-mark-lost"); err != nil {
		t.Fatalf("sell again: %v", err)
	}
	x.ramp.Work.Wait()
	req, err := x.w.MpesaRequest(ctx, wd.ID)
	if got := x.calls("b2c") - before; got != 1 || err != nil || req.ConversationID == "" {
		t.Errorf("withdrawal %d: Daraja got %d B2C calls, want 1; request %+v %v", wd.ID, got, req, err)
	}
}

// TestRailMarkReadBackSlow: the mark committed, its COMMIT's answer was
// lost, and reading it back is slow at first (the pool reconnecting, a
// Galera node catching up, a busy server): 1.2 s. The call reads until
// the request tells, within the time its call to Daraja has, and sends it,
// once (outside review of b887f0d: the read had 1 s, and the request was
// left marked and never sent, for an operator).
func TestRailMarkReadBackSlow(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		lost := &markAnswerLost{DB: db}
		slow := &slowFirstRead{markAnswerLost: lost}
		x := newWorld(t, slow)
		_, auth := x.user(t, 10_000_000)
		q := x.quote(300)
		wd := x.reserveUnsent(t, auth, q, "slow-read-back", time.Minute)
		lost.armed.Store(true)
		_, err := x.ramp.Sell(ctx, auth, q, "slow-read-back")
		x.ramp.Work.Wait()
		if !slow.slowed.Load() {
			t.Fatalf("the read back was never slowed (sell: %v)", err)
		}
		req, rerr := x.w.MpesaRequest(ctx, wd.ID)
		if got := x.calls("b2c"); got != 1 || rerr != nil || req.ConversationID == "" {
			t.Errorf("Daraja got %d B2C calls, want 1 (sell: %v; request %+v %v)", got, err, req, rerr)
		}
	})
}

// slowFirstRead holds the first read after markAnswerLost fired for
// 1.2 s, longer than a hop's outcome read (1 s).
type slowFirstRead struct {
	*markAnswerLost
	slowed atomic.Bool
}

func (s *slowFirstRead) Autocommit(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if s.fired.Load() && s.slowed.CompareAndSwap(false, true) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(1200 * time.Millisecond):
		}
	}
	return s.markAnswerLost.Autocommit(ctx, fn)
}

// proxiedWorld is a world on a fresh MariaDB database reached through a
// TCP proxy (the tests' faults are armed on the connections open then),
// with a funded user whose first withdrawal and top-up, untouched, have
// opened the pools' connections.
func proxiedWorld(t *testing.T) (*world, *dbtest.Proxy, wallet.User, wallet.Authorization) {
	t.Helper()
	db, proxy, _ := dbtest.OpenProxied(t, "mysql", database.Options{MaxConns: 4})
	ctx := context.Background()
	x := newWorld(t, db)
	u, auth := x.user(t, 10_000_000)
	if _, err := x.ramp.Sell(ctx, auth, x.quote(100), "warm-sell"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.ramp.Buy(ctx, u.ID, x.quote(100), "warm-buy"); err != nil {
		t.Fatal(err)
	}
	x.ramp.Work.Wait()
	return x, proxy, u, auth
}
