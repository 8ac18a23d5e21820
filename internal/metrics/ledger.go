package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Ledger wraps the wallet's store so that every committed money event is
// counted (umeme_money_moved_msat_total, umeme_transactions_total) and
// logged, one line per transaction touched, with its transaction id. The
// wallet knows nothing of it: it sees what the wallet's transactions did
// to the store (rows inserted, statuses moved, entries posted) and reports
// them once InTx has committed; a rolled back or retried attempt reports
// nothing. Money moves only inside InTx (package wallet), so Autocommit
// passes through unobserved.
//
// It reads the system accounts' ids once, here: the kind of money a
// posting moved is told by the system account on its other side.
func (m *Metrics) Ledger(ctx context.Context, s store.Store, log *slog.Logger) (store.Store, error) {
	l := &ledgerStore{Store: s, m: m, log: log, system: map[int64]store.SystemAccountCode{}}
	err := s.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, code := range systemAccounts {
			a, err := tx.SystemAccount(ctx, code)
			if err != nil {
				return err
			}
			l.system[a.ID] = code
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: system accounts: %w", err)
	}
	return l, nil
}

// systemAccounts are the operator's accounts, in the order they are shown.
var systemAccounts = []store.SystemAccountCode{store.AccountLightning, store.AccountMpesa, store.AccountFees, store.AccountAdjustments, store.AccountReserved}

type ledgerStore struct {
	store.Store
	m      *Metrics
	log    *slog.Logger
	system map[int64]store.SystemAccountCode
}

// InTx reports the money events of the attempt that committed.
func (s *ledgerStore) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	var seen *moneyEvents
	err := s.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		seen = &moneyEvents{byID: map[int64]*moneyEvent{}, types: map[int64]store.TransactionType{}}
		return fn(ctx, ledgerTx{Tx: tx, seen: seen, system: s.system})
	})
	if err == nil && seen != nil {
		s.report(ctx, seen)
	}
	return err
}

// moneyEvent is what one database transaction did to one wallet
// transaction.
type moneyEvent struct {
	id          int64
	created     bool // inserted now
	finished    bool // its status moved now
	status      store.TransactionStatus
	amount, fee int64
	// legs sums the entries posted now on each system account; users the
	// entries on user accounts.
	legs   map[store.SystemAccountCode]int64
	users  int64
	posted bool
}

type moneyEvents struct {
	order []int64
	byID  map[int64]*moneyEvent
	// types are the types of the transactions the attempt inserted or
	// read, to name the events' types.
	types map[int64]store.TransactionType
}

func (e *moneyEvents) event(id int64) *moneyEvent {
	ev, ok := e.byID[id]
	if !ok {
		ev = &moneyEvent{id: id, legs: map[store.SystemAccountCode]int64{}}
		e.byID[id] = ev
		e.order = append(e.order, id)
	}
	return ev
}

// created notes a transaction inserted.
func (e *moneyEvents) created(id int64, typ store.TransactionType, status store.TransactionStatus, amount, fee int64) {
	e.types[id] = typ
	ev := e.event(id)
	ev.created, ev.status, ev.amount, ev.fee = true, status, amount, fee
}

// ledgerTx notes what the wallet's statements did.
type ledgerTx struct {
	store.Tx
	seen   *moneyEvents
	system map[int64]store.SystemAccountCode
}

func (t ledgerTx) InsertTransaction(ctx context.Context, n store.NewTransaction) (int64, error) {
	id, err := t.Tx.InsertTransaction(ctx, n)
	if err == nil {
		t.seen.created(id, n.Type, n.Status, n.AmountMsat, n.FeeMsat)
	}
	return id, err
}

// InsertTransfer notes the sender's row (a transfer completes at once).
func (t ledgerTx) InsertTransfer(ctx context.Context, n store.NewTransfer) (int64, error) {
	id, err := t.Tx.InsertTransfer(ctx, n)
	if err == nil {
		t.seen.created(id, store.TypeSend, store.StatusCompleted, n.AmountMsat, n.FeeMsat)
	}
	return id, err
}

func (t ledgerTx) FinishTransaction(ctx context.Context, f store.Finish) (bool, error) {
	ok, err := t.Tx.FinishTransaction(ctx, f)
	if err == nil && ok {
		ev := t.seen.event(f.ID)
		ev.finished, ev.status, ev.amount, ev.fee = true, f.To, f.AmountMsat, f.FeeMsat
	}
	return ok, err
}

// PostTransfer notes the sender's row and its posting.
func (t ledgerTx) PostTransfer(ctx context.Context, n store.NewTransfer, entries []store.Entry, guard store.Guard, note store.NewNotification) (int64, error) {
	id, err := t.Tx.PostTransfer(ctx, n, entries, guard, note)
	if err == nil {
		t.seen.created(id, store.TypeSend, store.StatusCompleted, n.AmountMsat, n.FeeMsat)
		t.posted(id, entries)
	}
	return id, err
}

func (t ledgerTx) PostEntries(ctx context.Context, transactionID int64, entries []store.Entry, guard store.Guard, now time.Time) error {
	err := t.Tx.PostEntries(ctx, transactionID, entries, guard, now)
	if err == nil {
		t.posted(transactionID, entries)
	}
	return err
}

// posted notes a posting's legs under its transaction.
func (t ledgerTx) posted(transactionID int64, entries []store.Entry) {
	ev := t.seen.event(transactionID)
	ev.posted = true
	for _, e := range entries {
		if code, ok := t.system[e.AccountID]; ok {
			ev.legs[code] += e.AmountMsat
		} else {
			ev.users += e.AmountMsat
		}
	}
}

// The reads that name a transaction's type.

func (t ledgerTx) TransactionByID(ctx context.Context, id int64) (store.Transaction, error) {
	r, err := t.Tx.TransactionByID(ctx, id)
	return r, t.note(r, err)
}

func (t ledgerTx) TransactionByIdempotencyKey(ctx context.Context, key string) (store.Transaction, error) {
	r, err := t.Tx.TransactionByIdempotencyKey(ctx, key)
	return r, t.note(r, err)
}

func (t ledgerTx) PaymentByHash(ctx context.Context, hash string) (store.Transaction, error) {
	r, err := t.Tx.PaymentByHash(ctx, hash)
	return r, t.note(r, err)
}

func (t ledgerTx) InvoiceByPaymentHash(ctx context.Context, hash string) (store.Invoice, error) {
	inv, err := t.Tx.InvoiceByPaymentHash(ctx, hash)
	if err == nil && inv.TransactionID != 0 {
		t.seen.types[inv.TransactionID] = store.TypeInvoice
	}
	return inv, err
}

func (t ledgerTx) note(r store.Transaction, err error) error {
	if err == nil {
		t.seen.types[r.ID] = r.Type
	}
	return err
}

// Kinds of money moved (the label of umeme_money_moved_msat_total), each
// told by the account on the other side of the users' entries.
const (
	KindLightningIn      = "lightning_in"      // credited from the node (invoices paid)
	KindLightningOut     = "lightning_out"     // paid out through the node (with its routing fee)
	KindMpesaIn          = "mpesa_in"          // bought with M-Pesa
	KindMpesaOut         = "mpesa_out"         // withdrawn to M-Pesa
	KindFee              = "fee"               // service fees taken
	KindFeeRefund        = "fee_refund"        // service fees given back
	KindAdjustmentCredit = "adjustment_credit" // operators' credits
	KindAdjustmentDebit  = "adjustment_debit"  // operators' debits
	KindHold             = "hold"              // reserved for a payment or withdrawal under way
	KindRelease          = "release"           // a reservation settled or refunded
	KindTransfer         = "transfer"          // phone to phone
	KindInternalPayment  = "internal_payment"  // an invoice of our own node paid by one of our users
)

// legKinds names the kinds of each system account's leg: what a negative
// sum (money out of the account, to users) and a positive one are.
var legKinds = map[store.SystemAccountCode][2]string{
	store.AccountLightning:   {KindLightningIn, KindLightningOut},
	store.AccountMpesa:       {KindMpesaIn, KindMpesaOut},
	store.AccountFees:        {KindFeeRefund, KindFee},
	store.AccountAdjustments: {KindAdjustmentCredit, KindAdjustmentDebit},
	store.AccountReserved:    {KindRelease, KindHold},
}

// moved is what an event moved, by kind.
func (ev *moneyEvent) moved(typ store.TransactionType) map[string]int64 {
	out := map[string]int64{}
	for code, sum := range ev.legs {
		switch k := legKinds[code]; {
		case sum < 0:
			out[k[0]] += -sum
		case sum > 0:
			out[k[1]] += sum
		}
	}
	switch {
	case typ == store.TypeSend && ev.created && ev.posted:
		out[KindTransfer] += ev.amount
	case typ == store.TypePayment && ev.finished && ev.status == store.StatusCompleted && ev.legs[store.AccountLightning] == 0 && ev.posted:
		out[KindInternalPayment] += ev.amount
	}
	return out
}

// report counts and logs the events of a committed transaction.
func (s *ledgerStore) report(ctx context.Context, seen *moneyEvents) {
	for _, id := range seen.order {
		ev := seen.byID[id]
		typ := seen.types[id]
		label := string(typ)
		if label == "" {
			label = "unknown"
		}
		moved := ev.moved(typ)
		if s.m != nil {
			if ev.created || ev.finished {
				s.m.transactions.WithLabelValues(label, string(ev.status)).Inc()
			}
			for kind, msat := range moved {
				s.m.moved.WithLabelValues(kind).Add(float64(msat))
			}
		}
		if s.log == nil {
			continue
		}
		what := "posted"
		switch {
		case ev.created:
			what = "created"
		case ev.finished:
			what = "finished"
		}
		attrs := []slog.Attr{
			slog.Int64("transaction", id), slog.String("type", label), slog.String("event", what),
			slog.String("status", string(ev.status)), slog.Int64("amount_msat", ev.amount), slog.Int64("fee_msat", ev.fee),
		}
		kinds := make([]string, 0, len(moved))
		for k := range moved {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			attrs = append(attrs, slog.Int64("moved_"+k+"_msat", moved[k]))
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "money", attrs...)
	}
}
