package store

import (
	"context"
	"fmt"
	"strings"
)

// LedgerReader is what Reconcile reads, each adapter from its generated
// queries. The lists that can be as long as the ledger come in pages.
type LedgerReader interface {
	UnbalancedTransactions(ctx context.Context) ([]Imbalance, error)
	BalanceDrift(ctx context.Context) ([]Drift, error)
	NegativeUserAccounts(ctx context.Context) ([]Drift, error)
	// ReservationMismatches lists the holds on the reserved account of
	// transactions that should hold nothing, or that hold nothing and
	// should.
	ReservationMismatches(ctx context.Context, reservedID int64) ([]Reservation, error)
	SumAllBalances(ctx context.Context) (int64, error)
	SystemAccount(ctx context.Context, code SystemAccountCode) (Account, error)
	// ChainAccounts lists the user accounts with an id above afterID, in
	// id order, at most limit.
	ChainAccounts(ctx context.Context, afterID int64, limit int) ([]ChainAccount, error)
	// ChainEntries lists the entries that have a place in a chain, after
	// place afterSeq of account afterAccount, in (account, place) order, at
	// most limit.
	ChainEntries(ctx context.Context, afterAccount, afterSeq int64, limit int) ([]LedgerEntry, error)
	// UnchainedEntries lists, at most limit, entries on user accounts that
	// lack a place, a balance after or a hash.
	UnchainedEntries(ctx context.Context, limit int) ([]LedgerEntry, error)
	MaxTransactionID(ctx context.Context) (int64, error)
	// ShapeTransactions lists the transactions with an id in (afterID,
	// uptoID], in id order, with their entries.
	ShapeTransactions(ctx context.Context, afterID, uptoID int64) ([]ShapeTransaction, error)
}

// reconcilePage is how many rows Reconcile reads at a time.
const reconcilePage = 5000

// Reconcile implements Tx.Reconcile for every adapter: the aggregate checks
// (every transaction sums to zero, every cached balance is its entries'
// sum, no user account is negative, the reserved account holds money only
// for pending operations, all balances sum to zero), every transaction
// against its Shapes, and every user account's hash chain and daily counter.
// Run it in one snapshot (Store.Snapshot): its reads span many statements.
func Reconcile(ctx context.Context, r LedgerReader) (ReconcileReport, error) {
	var rep ReconcileReport
	var err error
	wrap := func(err error) error { return fmt.Errorf("reconcile: %w", err) }
	if rep.UnbalancedTransactions, err = r.UnbalancedTransactions(ctx); err != nil {
		return rep, wrap(err)
	}
	if rep.BalanceDrift, err = r.BalanceDrift(ctx); err != nil {
		return rep, wrap(err)
	}
	if rep.NegativeUserAccounts, err = r.NegativeUserAccounts(ctx); err != nil {
		return rep, wrap(err)
	}
	system := map[Role]int64{}
	for _, code := range []SystemAccountCode{AccountLightning, AccountMpesa, AccountFees, AccountAdjustments, AccountReserved} {
		a, err := r.SystemAccount(ctx, code)
		if err != nil {
			return rep, wrap(err)
		}
		system[Role(code)] = a.ID
	}
	if rep.ReservationMismatches, err = r.ReservationMismatches(ctx, system[RoleReserved]); err != nil {
		return rep, wrap(err)
	}
	if rep.TotalMsat, err = r.SumAllBalances(ctx); err != nil {
		return rep, wrap(err)
	}
	if err := checkShapes(ctx, r, func(role Role) int64 { return system[role] }, &rep); err != nil {
		return rep, wrap(err)
	}
	if err := checkChains(ctx, r, &rep); err != nil {
		return rep, wrap(err)
	}
	return rep, nil
}

// checkShapes checks every transaction against Shapes, a page of ids at a
// time.
func checkShapes(ctx context.Context, r LedgerReader, system func(Role) int64, rep *ReconcileReport) error {
	maxID, err := r.MaxTransactionID(ctx)
	if err != nil {
		return err
	}
	// The two sides of invoices paid in the ledger, by payment hash, until
	// each finds the other.
	payments, invoices := map[string]ShapeTransaction{}, map[string]ShapeTransaction{}
	for after := int64(0); after < maxID; after += reconcilePage {
		page, err := r.ShapeTransactions(ctx, after, min(after+reconcilePage, maxID))
		if err != nil {
			return err
		}
		for _, t := range page {
			sh, why := matchShape(t, system)
			switch {
			case why != "":
				rep.ShapeViolations = append(rep.ShapeViolations, ShapeViolation{TransactionID: t.ID, Type: t.Type, Status: t.Status, Reason: why})
			case sh.Pair == PairPaysOwnInvoice:
				payments[t.PaymentHash] = t
			case sh.Pair == PairPaidInLedger:
				invoices[t.PaymentHash] = t
			}
		}
	}
	for hash, p := range payments {
		if _, ok := invoices[hash]; ok {
			delete(invoices, hash)
			continue
		}
		rep.ShapeViolations = append(rep.ShapeViolations, ShapeViolation{TransactionID: p.ID, Type: p.Type, Status: p.Status,
			Reason: "paid an invoice of ours in the ledger, but no invoice of that hash completed in the ledger"})
	}
	for _, inv := range invoices {
		rep.ShapeViolations = append(rep.ShapeViolations, ShapeViolation{TransactionID: inv.ID, Type: inv.Type, Status: inv.Status,
			Reason: "completed without entries, but no payment of that hash paid it in the ledger"})
	}
	return nil
}

// matchShape returns the first shape t fits, or why it fits none.
func matchShape(t ShapeTransaction, system func(Role) int64) (Shape, string) {
	shapes := shapesFor(t)
	if len(shapes) == 0 {
		return Shape{}, fmt.Sprintf("no shape for a %s %s transaction", t.Status, t.Type)
	}
	var why []string
	for _, sh := range shapes {
		if (sh.Pair != PairNone) && t.PaymentHash == "" {
			why = append(why, reason(sh, "no payment hash"))
			continue
		}
		w := sh.check(t, system)
		if w == "" {
			return sh, ""
		}
		why = append(why, reason(sh, w))
	}
	return Shape{}, strings.Join(why, "; ")
}

func reason(sh Shape, why string) string {
	if sh.Name == "" {
		return why
	}
	return sh.Name + ": " + why
}

// checkChains walks every user account's chain, merging the accounts and
// the chained entries, both in account order.
func checkChains(ctx context.Context, r LedgerReader, rep *ReconcileReport) error {
	unchained, err := r.UnchainedEntries(ctx, reconcilePage)
	if err != nil {
		return err
	}
	for _, e := range unchained {
		rep.ChainBreaks = append(rep.ChainBreaks, ChainBreak{AccountID: e.AccountID, EntryID: e.ID,
			Reason: fmt.Sprintf("entry %d (transaction %d) is on a user account but outside its chain", e.ID, e.TransactionID)})
	}
	entries := &entryPages{r: r}
	var afterAccount int64
	for {
		accounts, err := r.ChainAccounts(ctx, afterAccount, reconcilePage)
		if err != nil {
			return err
		}
		for _, a := range accounts {
			w := newChainWalk(a)
			for {
				e, ok, err := entries.peek(ctx)
				if err != nil {
					return err
				}
				if !ok || e.AccountID > a.ID {
					break
				}
				entries.next()
				if e.AccountID < a.ID {
					rep.ChainBreaks = append(rep.ChainBreaks, ChainBreak{AccountID: e.AccountID, EntryID: e.ID, Seq: e.Seq,
						Reason: fmt.Sprintf("entry %d has a chain place on account %d, which is not a user account", e.ID, e.AccountID)})
					continue
				}
				w.add(e)
			}
			brk, mismatch := w.end()
			if brk != nil {
				rep.ChainBreaks = append(rep.ChainBreaks, *brk)
			}
			if mismatch != nil {
				rep.DayCounterMismatches = append(rep.DayCounterMismatches, *mismatch)
			}
			afterAccount = a.ID
		}
		if len(accounts) < reconcilePage {
			break
		}
	}
	for {
		e, ok, err := entries.peek(ctx)
		if err != nil || !ok {
			return err
		}
		entries.next()
		rep.ChainBreaks = append(rep.ChainBreaks, ChainBreak{AccountID: e.AccountID, EntryID: e.ID, Seq: e.Seq,
			Reason: fmt.Sprintf("entry %d has a chain place on account %d, which is not a user account", e.ID, e.AccountID)})
	}
}

// entryPages reads the chained entries a page at a time.
type entryPages struct {
	r       LedgerReader
	page    []LedgerEntry
	done    bool
	account int64
	seq     int64
}

func (p *entryPages) peek(ctx context.Context) (LedgerEntry, bool, error) {
	if len(p.page) == 0 && !p.done {
		page, err := p.r.ChainEntries(ctx, p.account, p.seq, reconcilePage)
		if err != nil {
			return LedgerEntry{}, false, err
		}
		p.page, p.done = page, len(page) < reconcilePage
		if n := len(page); n > 0 {
			p.account, p.seq = page[n-1].AccountID, page[n-1].Seq
		}
	}
	if len(p.page) == 0 {
		return LedgerEntry{}, false, nil
	}
	return p.page[0], true, nil
}

func (p *entryPages) next() { p.page = p.page[1:] }
