package wallet_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestAttack14ReconcileCatchesUnauditedLift: someone with write access to
// the database lifts an operator's control without the audit row that
// should account for it: unfreezes a frozen account (to drain it), clears
// a pending PIN reset, or lifts the operator's pause. Reconcile checked
// only the users still flagged and a pause still set, so each lift
// passed as an intact log whose latest row says the opposite of the
// state.
func TestAttack14ReconcileCatchesUnauditedLift(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, _ := newWallet(t, db, nil)
		a := wallet.Action{Operator: "alice", Reason: "attack test"}
		frozen, reset := register(t, w, 0), register(t, w, 0)
		if ok, err := w.Freeze(ctx, frozen.user.Phone, a); err != nil || !ok {
			t.Fatalf("freeze: %v %v", ok, err)
		}
		if _, err := w.SchedulePINReset(ctx, reset.user.Phone, time.Hour, a); err != nil {
			t.Fatal(err)
		}
		if ok, err := w.Pause(ctx, a); err != nil || !ok {
			t.Fatalf("pause: %v %v", ok, err)
		}
		if rep, err := w.Reconcile(ctx); err != nil || len(rep.AuditViolations) != 0 {
			t.Fatalf("before tampering: %+v %v", rep.AuditViolations, err)
		}
		tamper := func(name string, fn func(ctx context.Context, tx store.Tx, now time.Time) error) {
			t.Helper()
			before, err := w.Reconcile(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx, time.Now()) }); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			after, err := w.Reconcile(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(after.AuditViolations) <= len(before.AuditViolations) {
				t.Errorf("%s without an audit row: reconcile reports %+v", name, after.AuditViolations)
			}
		}
		tamper("unfreeze", func(ctx context.Context, tx store.Tx, now time.Time) error {
			return tx.SetUserFrozen(ctx, frozen.user.ID, nil, now)
		})
		tamper("pin reset cleared", func(ctx context.Context, tx store.Tx, now time.Time) error {
			return tx.SetUserPINReset(ctx, reset.user.ID, nil, now)
		})
		tamper("resume", func(ctx context.Context, tx store.Tx, now time.Time) error {
			_, err := tx.SetManualPause(ctx, false, "", "", now)
			return err
		})
	})
}

// TestAttack14OldPINAuthorizationAfterReset: once an operator's PIN reset
// takes effect "the old PIN opens nothing", but an authorization the old
// PIN gave just before (a thief entering it in the last seconds of the
// delay, or a sealed one carried between USSD hops) went on sending for
// the rest of its lifetime: the send checked only a freeze.
func TestAttack14OldPINAuthorizationAfterReset(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, clk := newWallet(t, db, func(cfg *wallet.Config) { cfg.AuthorizationTTL = 2 * time.Minute })
		thief, other := register(t, w, 5_000*sat), register(t, w, 0)
		a := wallet.Action{Operator: "alice", Reason: "owner lost the phone"}
		if _, err := w.SchedulePINReset(ctx, thief.user.Phone, time.Minute, a); err != nil {
			t.Fatal(err)
		}
		clk.Advance(59 * time.Second)
		auth, err := w.VerifyPIN(ctx, thief.user.ID, goodPIN) // the old PIN, a second before
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(30 * time.Second)
		if _, err := w.Transfer(ctx, auth, other.user.Phone, 100*sat, "after-reset-send"); !errors.Is(err, wallet.ErrPINResetDue) {
			t.Errorf("a send on the old PIN's authorization after the reset took effect: %v", err)
		}
		if _, err := w.Reserve(ctx, auth, wallet.Reservation{Type: store.TypeWithdraw, AmountMsat: 1_000 * sat,
			IdempotencyKey: "after-reset-withdraw", Mpesa: testWithdrawal(1_000 * sat)}); !errors.Is(err, wallet.ErrPINResetDue) {
			t.Errorf("a withdrawal on the old PIN's authorization after the reset took effect: %v", err)
		}
		if b := balance(t, w, thief.user.ID); b != 5_000*sat {
			t.Errorf("balance %d after the reset, want it untouched", b)
		}
	})
}

// TestAttack14FreezeRacesASend: a send reads its sender unfrozen and then
// waits inside its transaction (here for a new recipient's row, which
// another transaction is inserting); the operator's Freeze, finding the
// sender's row unlocked, committed and returned meanwhile, and the send
// then went through: the operator was told "frozen" and the account was
// debited afterwards. The send must finish before the freeze does, or be
// refused by it. (SQLite has one writer: the two cannot overlap, so there
// they run one after the other.)
func TestAttack14FreezeRacesASend(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, clk := newWallet(t, db, func(cfg *wallet.Config) { cfg.AuthorizationTTL = time.Hour })
		s := register(t, w, 5_000*sat)
		a := wallet.Action{Operator: "alice", Reason: "stolen phone"}
		newcomer := storetest.Phone(t) // no account yet: the send creates it
		if strings.HasSuffix(t.Name(), "/sqlite") {
			if ok, err := w.Freeze(ctx, s.user.Phone, a); err != nil || !ok {
				t.Fatalf("freeze: %v %v", ok, err)
			}
			if _, err := w.Transfer(ctx, s.auth, newcomer, 100*sat, "after-freeze"); !errors.Is(err, wallet.ErrAccountFrozen) {
				t.Fatalf("a send after the freeze: %v", err)
			}
			return
		}
		locked, release, blocked := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		errRollback := errors.New("rolled back")
		go func() {
			// Another transaction is inserting the newcomer's row, and
			// then rolls back.
			blocked <- db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				if _, err := tx.InsertUserIfAbsent(ctx, store.NewUser{Phone: newcomer, LightningName: wallet.LightningName(newcomer),
					Language: "en", Now: clk.Now()}); err != nil {
					return err
				}
				close(locked)
				<-release
				return errRollback
			})
		}()
		<-locked
		var mu sync.Mutex
		var order []string
		done := func(what string) { mu.Lock(); order = append(order, what); mu.Unlock() }
		sent, froze := make(chan error, 1), make(chan error, 1)
		go func() {
			_, err := w.Transfer(ctx, s.auth, newcomer, 100*sat, "racing-freeze")
			done("send")
			sent <- err
		}()
		time.Sleep(time.Second) // the send reads its sender, then waits for the newcomer's row
		go func() {
			_, err := w.Freeze(ctx, s.user.Phone, a)
			done("freeze")
			froze <- err
		}()
		time.Sleep(time.Second)
		close(release)
		if err := <-blocked; !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		sendErr, freezeErr := <-sent, <-froze
		t.Logf("order %v, send %v, freeze %v", order, sendErr, freezeErr)
		if freezeErr != nil {
			t.Fatal(freezeErr)
		}
		if sendErr == nil && order[0] == "freeze" {
			t.Fatalf("the freeze returned first (%v), then the send went through", order)
		}
		if sendErr != nil && !errors.Is(sendErr, wallet.ErrAccountFrozen) {
			t.Fatal(sendErr)
		}
		mustReconcile(t, w)
	})
}
