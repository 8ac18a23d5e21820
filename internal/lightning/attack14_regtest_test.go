package lightning_test

import (
	"errors"
	"testing"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestAttack14NeverSentPaymentWaitsOutPauseAndFreeze: a payment reserved
// before a pause or a freeze, whose call to the node never happened (the
// server died in between), must not leave while payouts are paused or its
// sender is frozen. Resume sent it (the "reserved but never sent" branch),
// and so did a replay of its idempotency key through Pay, whatever had
// been decided since; a frozen thief only had to repeat the request. The
// payment stays reserved, and goes once the control is lifted.
func TestAttack14NeverSentPaymentWaitsOutPauseAndFreeze(t *testing.T) {
	for _, engine := range []string{"sqlite", "mysql", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			e := newPayEnv(t, engine)
			a := wallet.Action{Operator: "alice", Reason: "attack test"}
			mustChange := func(ok bool, err error) {
				t.Helper()
				if err != nil || !ok {
					t.Fatalf("operator action: %v %v", ok, err)
				}
			}
			held := func(id int64, why string) {
				t.Helper()
				if got := e.transaction(id); got.Status != store.StatusPending {
					t.Fatalf("%s: a never-sent payment left: %+v", why, got)
				}
			}

			// A pause, then Resume at start-up.
			_, auth := e.member(50_000)
			bolt11, _ := e.worldInvoice(5_000)
			paused := e.reserve(auth, bolt11, "attack-paused")
			mustChange(e.w.Pause(e.ctx, a))
			if err := e.payer.Resume(e.ctx); err != nil {
				t.Fatal(err)
			}
			e.payer.Wait()
			held(paused.ID, "paused, Resume")

			// A frozen sender replaying the key (payouts paused too, then
			// resumed: the freeze alone must hold it).
			u, auth := e.member(50_000)
			bolt11, _ = e.worldInvoice(6_000)
			frozen := e.reserve(auth, bolt11, "attack-frozen")
			mustChange(e.w.Freeze(e.ctx, u.Phone, a))
			mustChange(e.w.Resume(e.ctx, a))
			if _, err := e.payer.Pay(e.ctx, auth, bolt11, "attack-frozen"); err != nil && !errorsIsFrozen(err) {
				t.Fatal(err)
			}
			e.payer.Wait()
			held(frozen.ID, "frozen, a replayed key")
			if err := e.payer.Resume(e.ctx); err != nil {
				t.Fatal(err)
			}
			e.payer.Wait()
			held(frozen.ID, "frozen, Resume")

			// Lifted: the paused one goes now (nothing was stranded), and
			// the frozen one once unfrozen.
			if err := e.payer.Resume(e.ctx); err != nil {
				t.Fatal(err)
			}
			e.payer.Wait()
			if got := e.transaction(paused.ID); got.Status != store.StatusCompleted {
				t.Fatalf("after the resume: %+v", got)
			}
			mustChange(e.w.Unfreeze(e.ctx, u.Phone, a))
			if err := e.payer.Resume(e.ctx); err != nil {
				t.Fatal(err)
			}
			e.payer.Wait()
			if got := e.transaction(frozen.ID); got.Status != store.StatusCompleted {
				t.Fatalf("after the unfreeze: %+v", got)
			}
			e.mustReconcile()
		})
	}
}

func errorsIsFrozen(err error) bool { return errors.Is(err, wallet.ErrAccountFrozen) }
