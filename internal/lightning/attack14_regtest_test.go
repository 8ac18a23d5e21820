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
// sender is frozen. Resume (at start-up, then periodically) sent it, in
// its "reserved but never sent" branch, whatever had been decided since.
// A replay of its idempotency key through Pay is refused by the
// reservation's own checks; it is tried here too. The payment stays
// reserved, and goes once the control is lifted.
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

			// Two payments reserved, then the server died before calling
			// the node; meanwhile payouts were paused and one sender was
			// frozen.
			_, auth := e.member(50_000)
			bolt11, _ := e.worldInvoice(5_000)
			paused := e.reserve(auth, bolt11, "attack-paused")
			u, thief := e.member(50_000)
			stolen, _ := e.worldInvoice(6_000)
			frozen := e.reserve(thief, stolen, "attack-frozen")
			mustChange(e.w.Pause(e.ctx, a))
			mustChange(e.w.Freeze(e.ctx, u.Phone, a))
			resume := func() {
				t.Helper()
				if err := e.payer.Resume(e.ctx); err != nil {
					t.Fatal(err)
				}
				e.payer.Wait()
			}
			resume()
			held(paused.ID, "paused, Resume at start-up")
			held(frozen.ID, "paused and frozen, Resume at start-up")

			// Payouts resumed: the frozen sender repeats the request (the
			// freeze alone must hold it), and Resume runs again.
			mustChange(e.w.Resume(e.ctx, a))
			if _, err := e.payer.Pay(e.ctx, thief, stolen, "attack-frozen"); err != nil && !errors.Is(err, wallet.ErrAccountFrozen) {
				t.Fatal(err)
			}
			e.payer.Wait()
			held(frozen.ID, "frozen, a replayed key")
			resume()
			held(frozen.ID, "frozen, Resume")

			// Lifted, nothing was stranded: the paused one went with the
			// resume, the frozen one goes once unfrozen.
			if got := e.transaction(paused.ID); got.Status != store.StatusCompleted {
				t.Fatalf("after the resume: %+v", got)
			}
			mustChange(e.w.Unfreeze(e.ctx, u.Phone, a))
			resume()
			if got := e.transaction(frozen.ID); got.Status != store.StatusCompleted {
				t.Fatalf("after the unfreeze: %+v", got)
			}
			e.mustReconcile()
		})
	}
}
