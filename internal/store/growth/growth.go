// Package growth seeds a store with a ledger as the wallet would have
// written it over months: users with accounts, completed transfers, paid
// and expired invoices, M-Pesa top-ups, their ledger entries with the hash
// chain computed as the store computes it, ended USSD sessions and sent
// texts. It exists to measure how the hot queries behave as the tables grow
// (`bench growth`, TestGrowth…), so it loads rows in big batches through
// store.Bulk instead of posting them one by one, and what it loads must pass
// Reconcile as any ledger does.
//
// Each call adds a cohort: new users (numbered after the highest user id,
// with numbers +2541…, which no test or simulator hands out) and
// transactions among them only, so cohorts stack on one database, and
// nothing already there is touched but the system accounts' balances.
package growth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Options size a cohort.
type Options struct {
	// Users are the new users; each is first funded by an adjustment.
	Users int
	// Transactions are the transaction rows of the cohort, the funding
	// adjustments and both rows of each transfer included (at least Users).
	Transactions int
	// PINHash is set on every user, all active; "" leaves them
	// unregistered, without a PIN.
	PINHash string
	// Seed makes the cohort reproducible.
	Seed uint64
	// End is the time of the cohort's last transaction; the others go back
	// from it, Step apart (default 2 s).
	End  time.Time
	Step time.Duration
	// Batch is how many transactions go in one batch of loads (default
	// 50 000).
	Batch int
	// Progress, when set, hears after each batch.
	Progress func(Progress)
}

// Progress is how far a seeding has come.
type Progress struct {
	Transactions, Of int
	Elapsed          time.Duration
}

// Result counts what a cohort loaded.
type Result struct {
	Users, Transactions, Entries, Invoices, MpesaRequests, Sessions, Notifications int
	// FirstUser and LastUser are the cohort's user ids (consecutive).
	FirstUser, LastUser int64
	Elapsed             time.Duration
	// Sample names rows of the cohort (its last user with entries, session,
	// paid invoice and top-up), to explain the hot queries with.
	Sample store.PlanArgs
}

// Phone is the number the generator gives a user id.
func Phone(userID int64) string { return "+2541" + fmt.Sprintf("%08d", userID) }

// funding is what each user's first transaction, an adjustment, gives.
const funding = 5_000_000_000 // 5 M sat in msat

// tables are the tables a cohort loads rows with explicit ids into.
var tables = []string{"users", "accounts", "transactions", "invoices", "ussd_sessions", "notifications"}

// Seed adds a cohort to s, which must implement store.Bulk.
func Seed(ctx context.Context, s store.Store, o Options) (Result, error) {
	start := time.Now()
	b, ok := s.(store.Bulk)
	if !ok {
		return Result{}, fmt.Errorf("growth: the %s store cannot load in bulk", s.Engine())
	}
	if o.Users < 2 || o.Transactions < o.Users {
		return Result{}, errors.New("growth: want at least 2 users and as many transactions as users")
	}
	if o.Step <= 0 {
		o.Step = 2 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 50_000
	}
	if o.End.IsZero() {
		o.End = time.Now()
	}
	g := &gen{o: o}
	for i, t := range tables {
		id, err := b.MaxID(ctx, t)
		if err != nil {
			return Result{}, fmt.Errorf("growth: %w", err)
		}
		g.base[i] = id
	}
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		for code, dst := range map[store.SystemAccountCode]*int64{
			store.AccountLightning: &g.lightning, store.AccountMpesa: &g.mpesa, store.AccountAdjustments: &g.adjustments,
		} {
			a, err := tx.SystemAccount(ctx, code)
			if err != nil {
				return err
			}
			*dst = a.ID
		}
		var err error
		g.addIndex, err = tx.MaxInvoiceAddIndex(ctx)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("growth: %w", err)
	}

	// The first walk only follows the accounts, so that they are loaded
	// with their final balances, heads and counters before any entry.
	g.walk(ctx, nil)
	if err := g.loadUsers(ctx, b); err != nil {
		return Result{}, err
	}
	batches := make(chan *batch, 1)
	go func() {
		defer close(batches)
		g.walk(ctx, batches)
	}()
	res := Result{Users: o.Users, FirstUser: g.base[tUsers] + 1, LastUser: g.base[tUsers] + int64(o.Users), Sample: g.sample}
	var loadErr error
	for bt := range batches {
		if loadErr != nil || ctx.Err() != nil {
			continue // drain
		}
		if loadErr = bt.load(ctx, b); loadErr == nil {
			res.Transactions += len(bt.rows[kTransactions])
			res.Entries += len(bt.rows[kEntries])
			res.Invoices += len(bt.rows[kInvoices])
			res.MpesaRequests += len(bt.rows[kMpesa])
			res.Sessions += len(bt.rows[kSessions])
			res.Notifications += len(bt.rows[kNotifications])
			if o.Progress != nil {
				o.Progress(Progress{Transactions: res.Transactions, Of: o.Transactions, Elapsed: time.Since(start)})
			}
		}
	}
	if loadErr == nil {
		loadErr = ctx.Err()
	}
	if loadErr != nil {
		return res, fmt.Errorf("growth: %w", loadErr)
	}
	for id, delta := range g.system {
		if err := b.AddToBalance(ctx, id, delta); err != nil {
			return res, fmt.Errorf("growth: %w", err)
		}
	}
	if err := b.Loaded(ctx, tables...); err != nil {
		return res, fmt.Errorf("growth: %w", err)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// Indexes of gen.base, in the order of tables.
const (
	tUsers = iota
	tAccounts
	tTransactions
	tInvoices
	tSessions
	tNotifications
)

// gen walks a cohort's history: the same sequence twice, from one seed.
type gen struct {
	o                                    Options
	base                                 [6]int64
	lightning, mpesa, adjustments        int64
	addIndex                             int64
	accounts                             []account
	sample                               store.PlanArgs
	system                               map[int64]int64
	nextTxn, nextInv, nextSess, nextNote int64
}

// account is a user account's state as the walk goes.
type account struct {
	balance, seq int64
	hash         string
	counter      store.DayCounter
}

func (g *gen) userID(u int) int64    { return g.base[tUsers] + 1 + int64(u) }
func (g *gen) accountID(u int) int64 { return g.base[tAccounts] + 1 + int64(u) }

// walk runs the cohort's history; with out set, it also makes the rows and
// sends them in batches, then closes nothing (the caller does).
func (g *gen) walk(ctx context.Context, out chan<- *batch) {
	o := g.o
	g.accounts = make([]account, o.Users)
	g.system = map[int64]int64{}
	g.nextTxn, g.nextInv, g.nextSess, g.nextNote = g.base[tTransactions], g.base[tInvoices], g.base[tSessions], g.base[tNotifications]
	addIndex := g.addIndex
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	first := o.End.Add(-time.Duration(o.Transactions) * o.Step).Truncate(time.Microsecond)
	var bt *batch
	if out != nil {
		bt = newBatch()
	}
	rowsDone := 0
	for rowsDone < o.Transactions {
		if ctx.Err() != nil {
			return
		}
		at := first.Add(time.Duration(rowsDone) * o.Step)
		day := (at.Unix() + 3*3600) / 86400 // the day of East Africa Time, as the wallet counts sends
		u := rowsDone
		kind := 0 // funding
		if rowsDone >= o.Users {
			u = rng.IntN(o.Users)
			kind = 1 + rng.IntN(100)
		}
		amount := int64(1+rng.IntN(50_000)) * 1000
		to := rng.IntN(o.Users - 1)
		if to >= u {
			to++
		}
		session, note := rng.IntN(4) == 0, rng.IntN(3) == 0
		if kind >= 1 && kind <= 50 && (rowsDone+2 > o.Transactions || g.accounts[u].balance < amount) {
			kind = 100 // a top-up instead of a transfer that cannot be made
		}
		id := g.nextTxn + 1
		uid, acc, phone := g.userID(u), g.accountID(u), Phone(g.userID(u))
		var noteKind store.NotificationKind
		switch {
		case kind == 0:
			bt.txn(id, uid, store.TypeAdjustment, store.DirectionIn, store.StatusCompleted, funding, nil, nil, nil, nil, "growth funding", "growth-fund-"+phone, at)
			g.post(bt, id, at, day, leg{g.adjustments, -funding, 0}, leg{acc, funding, 0})
			g.nextTxn++
			g.sampleUser(uid, id, "growth-fund-"+phone)
		case kind <= 50: // a transfer: the send row carries the entries, the receive row none
			tid, tacc, tphone := g.userID(to), g.accountID(to), Phone(g.userID(to))
			key := "growth-send-" + strconv.FormatInt(id, 10)
			bt.txn(id, uid, store.TypeSend, store.DirectionOut, store.StatusCompleted, amount, nil, nil, nil, tphone, "", key, at)
			bt.txn(id+1, tid, store.TypeReceive, store.DirectionIn, store.StatusCompleted, amount, nil, nil, nil, phone, "", key+"/receive", at)
			g.post(bt, id, at, day, leg{acc, -amount, amount}, leg{tacc, amount, 0})
			g.nextTxn += 2
			g.sampleUser(uid, id, key)
			noteKind, uid, phone = store.NotifyReceived, tid, tphone
		case kind <= 80: // an invoice: paid through the node, or expired unpaid
			g.nextInv++
			addIndex++
			hash := store.SHA256Hex("growth-invoice-" + strconv.FormatInt(id, 10))
			inv := "lnbcrt" + strconv.FormatInt(amount/1000, 10) + "n1growth" + hash
			status, invStatus := store.StatusCompleted, "paid"
			if kind > 75 {
				status, invStatus = store.StatusExpired, "expired"
			}
			bt.txn(id, uid, store.TypeInvoice, store.DirectionIn, status, amount, inv, hash, nil, nil, "", "growth-invoice-"+hash, at)
			bt.invoice(g.nextInv, uid, id, inv, hash, amount, invStatus, addIndex, at)
			if status == store.StatusCompleted {
				g.post(bt, id, at, day, leg{g.lightning, -amount, 0}, leg{acc, amount, 0})
				noteKind = store.NotifyReceived
				g.sample.PaymentHash = hash
			}
			g.nextTxn++
		default: // an M-Pesa top-up, paid
			receipt := "GR" + strconv.FormatInt(id, 36)
			checkout := "ws_CO_growth_" + strconv.FormatInt(id, 10)
			bt.txn(id, uid, store.TypeTopup, store.DirectionIn, store.StatusCompleted, amount, nil, nil, receipt, nil, "", "topup:"+receipt, at)
			bt.mpesa(id, phone, amount, checkout, receipt, at)
			g.post(bt, id, at, day, leg{g.mpesa, -amount, 0}, leg{acc, amount, 0})
			g.nextTxn++
			noteKind = store.NotifyReceived
			g.sample.CheckoutID, g.sample.TopupID = checkout, id
		}
		if session {
			g.nextSess++
			bt.session(g.nextSess, uid, phone, at)
			g.sample.SessionID = sessionID(g.nextSess)
		}
		if note && noteKind != "" {
			g.nextNote++
			bt.notification(g.nextNote, uid, phone, noteKind, id, amount, at)
		}
		rowsDone = int(g.nextTxn - g.base[tTransactions])
		if bt != nil && len(bt.rows[kTransactions]) >= o.Batch {
			out <- bt
			bt = newBatch()
		}
	}
	if bt != nil && len(bt.rows[kTransactions]) > 0 {
		out <- bt
	}
}

// sampleUser records a user whose transaction id moved their account.
func (g *gen) sampleUser(user, txID int64, key string) {
	g.sample.UserID, g.sample.Phone, g.sample.TransactionID, g.sample.IdempotencyKey = user, Phone(user), txID, key
	g.sample.Now = g.o.End
}

func sessionID(id int64) string { return "growth-" + strconv.FormatInt(id, 10) }

// leg is one entry of a posting: on an account, an amount, and what it
// counts towards the day's sends.
type leg struct {
	account, amount, dayOut int64
}

// post books a two-legged posting as PostLedgerEntries does: the accounts in
// ascending id order, a user account's entry taking the next place of its
// chain.
func (g *gen) post(bt *batch, txID int64, at time.Time, day int64, a, b leg) {
	if b.account < a.account {
		a, b = b, a
	}
	for _, l := range []leg{a, b} {
		i := l.account - g.base[tAccounts] - 1
		if i < 0 || i >= int64(len(g.accounts)) {
			g.system[l.account] += l.amount
			bt.entry(txID, l.account, l.amount, nil, nil, l.dayOut, day, nil, at)
			continue
		}
		acc := &g.accounts[i]
		e := store.LedgerEntry{AccountID: l.account, Seq: acc.seq + 1, TransactionID: txID, AmountMsat: l.amount,
			BalanceAfterMsat: acc.balance + l.amount, DayOutMsat: l.dayOut, DayOutDay: day, CreatedAt: at}
		e.Hash = store.ChainHash(e, acc.hash)
		acc.seq, acc.balance, acc.hash = e.Seq, e.BalanceAfterMsat, e.Hash
		acc.counter = acc.counter.Apply(l.dayOut, day)
		bt.entry(txID, l.account, l.amount, e.Seq, e.BalanceAfterMsat, l.dayOut, day, e.Hash, at)
	}
}

// loadUsers loads the cohort's users and their accounts, as the first walk
// left them.
func (g *gen) loadUsers(ctx context.Context, b store.Bulk) error {
	o := g.o
	created := o.End.Add(-time.Duration(o.Transactions+1) * o.Step).Truncate(time.Microsecond)
	var pin any
	status := string(store.UserUnregistered)
	if o.PINHash != "" {
		pin, status = o.PINHash, string(store.UserActive)
	}
	const chunk = 100_000
	for lo := 0; lo < o.Users; lo += chunk {
		hi := min(lo+chunk, o.Users)
		users := make([][]any, 0, hi-lo)
		accounts := make([][]any, 0, hi-lo)
		for u := lo; u < hi; u++ {
			id, a := g.userID(u), g.accounts[u]
			phone := Phone(id)
			users = append(users, []any{id, phone, phone[1:], pin, "en", status, created, created})
			accounts = append(accounts, []any{g.accountID(u), id, "user", a.balance, a.counter.OutMsat, a.counter.Day, a.seq, a.hash, created})
		}
		if err := b.Load(ctx, "users", []string{"id", "phone", "lightning_name", "pin_hash", "language", "status", "created_at", "updated_at"}, users); err != nil {
			return fmt.Errorf("growth: %w", err)
		}
		if err := b.Load(ctx, "accounts", []string{"id", "user_id", "kind", "balance_msat", "day_out_msat", "day_out_day", "head_seq", "head_hash", "created_at"}, accounts); err != nil {
			return fmt.Errorf("growth: %w", err)
		}
	}
	return nil
}

// Tables of a batch, in the order they load (parents first).
const (
	kTransactions = iota
	kEntries
	kInvoices
	kMpesa
	kSessions
	kNotifications
	kinds
)

var batchTables = [kinds]struct {
	table   string
	columns []string
}{
	{"transactions", []string{"id", "user_id", "type", "direction", "status", "amount_msat", "fee_msat", "invoice", "payment_hash",
		"mpesa_receipt", "counterparty_phone", "description", "idempotency_key", "held_msat", "created_at", "updated_at"}},
	{"ledger_entries", []string{"transaction_id", "account_id", "amount_msat", "seq", "balance_after_msat", "day_out_msat", "day_out_day", "hash", "created_at"}},
	{"invoices", []string{"id", "user_id", "transaction_id", "invoice", "payment_hash", "amount_msat", "amount_paid_msat", "status",
		"description", "add_index", "expires_at", "paid_at", "origin", "created_at", "updated_at"}},
	{"mpesa_requests", []string{"transaction_id", "kind", "phone", "amount_kes", "rate_millikes_per_btc", "spread_bps",
		"checkout_request_id", "receipt", "result_code", "result_desc", "checks", "next_check_at", "created_at", "updated_at"}},
	{"ussd_sessions", []string{"id", "session_id", "user_id", "phone", "state", "input_buffer", "hops", "end_status", "duration_ms",
		"active", "last_activity_at", "created_at", "ended_at"}},
	{"notifications", []string{"id", "user_id", "phone", "kind", "transaction_id", "amount_msat", "counterparty", "body", "status",
		"attempts", "next_attempt_at", "created_at", "sent_at", "message_id"}},
}

// batch holds the rows of a run of transactions, by table. A nil batch (the
// first walk) makes none.
type batch struct{ rows [kinds][][]any }

func newBatch() *batch { return &batch{} }

func (bt *batch) add(k int, row ...any) {
	if bt != nil {
		bt.rows[k] = append(bt.rows[k], row)
	}
}

func (bt *batch) txn(id, user int64, typ store.TransactionType, dir store.Direction, status store.TransactionStatus, amount int64,
	invoice, hash, receipt, counterparty any, desc, key string, at time.Time) {
	bt.add(kTransactions, id, user, string(typ), string(dir), string(status), amount, int64(0), invoice, hash, receipt, counterparty,
		desc, key, int64(0), at, at)
}

func (bt *batch) entry(txID, account, amount int64, seq, balanceAfter any, dayOut, day int64, hash any, at time.Time) {
	bt.add(kEntries, txID, account, amount, seq, balanceAfter, dayOut, day, hash, at)
}

func (bt *batch) invoice(id, user, txID int64, inv, hash string, amount int64, status string, addIndex int64, at time.Time) {
	var paid, paidAt any
	if status == "paid" {
		paid, paidAt = amount, at
	}
	bt.add(kInvoices, id, user, txID, inv, hash, amount, paid, status, "", addIndex, at.Add(time.Hour), paidAt, "user", at, at)
}

func (bt *batch) mpesa(txID int64, phone string, amount int64, checkout, receipt string, at time.Time) {
	kes := max(1, amount/1000*9/1000) // about 9 KES per 1000 sat
	bt.add(kMpesa, txID, "topup", phone, kes, int64(9_000_000_000), int64(150), checkout, receipt, "0",
		"The service request is processed successfully.", int64(0), nil, at, at)
}

func (bt *batch) session(id, user int64, phone string, at time.Time) {
	start := at.Add(-20 * time.Second)
	bt.add(kSessions, id, sessionID(id), user, phone, "main", "[]", int64(3), "Success", int64(20_000),
		false, at, start, at)
}

func (bt *batch) notification(id, user int64, phone string, kind store.NotificationKind, txID, amount int64, at time.Time) {
	bt.add(kNotifications, id, user, phone, string(kind), txID, amount, "", "", "sent", int64(1), at, at, at,
		"ATXid_growth_"+strconv.FormatInt(id, 10))
}

// load writes the batch, parents first.
func (bt *batch) load(ctx context.Context, b store.Bulk) error {
	for k, t := range batchTables {
		if len(bt.rows[k]) == 0 {
			continue
		}
		if err := b.Load(ctx, t.table, t.columns, bt.rows[k]); err != nil {
			return err
		}
	}
	return nil
}
