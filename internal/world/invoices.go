package world

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// The invoices the world node made for the page, and whether they were
// paid. A person who texts one to a phone and approves it there wants to
// see it paid, and only the world's node knows: each reading of GET
// /api/world asks it about the newest open ones (at most once a second
// each), and a payment found is noted in the world's log.

// madeInvoice is one invoice the world node made, as the page shows it.
type madeInvoice struct {
	Invoice string `json:"invoice"`
	Sats    int64  `json:"sats"`
	Memo    string `json:"memo"`
	// State is lnd's: OPEN, SETTLED, CANCELED (or ACCEPTED, held).
	State string    `json:"state"`
	At    time.Time `json:"at"`

	hash    string
	checked time.Time
}

// invoiceBook is the world's invoices, oldest first.
type invoiceBook struct {
	mu   sync.Mutex
	list []*madeInvoice
}

const (
	// maxInvoices is how many of its invoices the world remembers.
	maxInvoices = 20
	// maxChecks is how many open invoices one reading asks about.
	maxChecks = 5
	// checksTimeout bounds one reading's questions: the page waits on it.
	checksTimeout = 5 * time.Second
)

// madeOne records an invoice the node made.
func (w *World) madeOne(invoice, hash string, sats int64, memo string) {
	b := &w.made
	b.mu.Lock()
	defer b.mu.Unlock()
	b.list = append(b.list, &madeInvoice{Invoice: invoice, Sats: sats, Memo: memo, State: "OPEN", At: time.Now().UTC(), hash: hash})
	if len(b.list) > maxInvoices {
		b.list = b.list[len(b.list)-maxInvoices:]
	}
}

// invoices returns the invoices the node made, oldest first, having
// asked it about the newest open ones.
func (w *World) invoices(ctx context.Context) []madeInvoice {
	b := &w.made
	b.mu.Lock()
	defer b.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, checksTimeout)
	defer cancel()
	checks := 0
	for i := len(b.list) - 1; i >= 0 && checks < maxChecks; i-- {
		inv := b.list[i]
		if inv.State != "OPEN" && inv.State != "ACCEPTED" {
			continue
		}
		checks++
		if time.Since(inv.checked) < nodeInfoTTL {
			continue
		}
		st, err := w.cfg.Node.lookupInvoice(ctx, inv.hash)
		inv.checked = time.Now()
		if err != nil {
			// The node's panel says why the node does not answer.
			w.cfg.Log.Debug("world invoice not looked up", "hash", inv.hash, "err", err)
			continue
		}
		if st.State == inv.State {
			continue
		}
		inv.State = st.State
		if st.State == "SETTLED" {
			what := fmt.Sprintf("world was paid %s sats", group(st.PaidMsat/1000))
			if inv.Memo != "" {
				what += fmt.Sprintf(" (%s)", inv.Memo)
			}
			w.note(what)
			w.node.forget()
		}
	}
	out := make([]madeInvoice, 0, len(b.list))
	for _, inv := range b.list {
		out = append(out, *inv)
	}
	return out
}
