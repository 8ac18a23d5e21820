package notify

import (
	"context"
	"testing"

	"github.com/umeme-wallet/umeme/internal/store"
)

// transferOnlyTx books a transfer as the adapters do: the recipient's text
// is queued inside PostTransfer, never through the wrapper's
// InsertNotification.
type transferOnlyTx struct{ store.Tx }

func (transferOnlyTx) PostTransfer(context.Context, store.NewTransfer, []store.Entry, store.Guard, store.NewNotification) (int64, error) {
	return 7, nil
}

// TestAttack15PostTransferWakesOutbox: Tx.PostTransfer (issue 15) queues
// the recipient's text below WakeOnQueue's wrapper, which only watched
// InsertNotification: no transfer woke the sender any more, and every
// receipt waited for the next poll (TestSMSOutboxWokenByCommit failed on
// every engine).
func TestAttack15PostTransferWakesOutbox(t *testing.T) {
	var queued bool
	tx := wakingTx{Tx: transferOnlyTx{}, queued: &queued}
	if _, err := tx.PostTransfer(context.Background(), store.NewTransfer{}, nil, store.Guard{}, store.NewNotification{}); err != nil {
		t.Fatal(err)
	}
	if !queued {
		t.Fatal("a booked transfer queued its recipient's text, and the commit would not wake the outbox")
	}
}
