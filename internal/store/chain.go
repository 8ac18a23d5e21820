package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
)

// The hash chain makes changes to a user account's entries made behind the
// ledger's back evident. Every entry on a user account has a place (seq,
// 1, 2, … in posting order), the balance after it, and a hash over its
// content and the hash of the account's previous entry; the account row
// keeps the head (the last place and its hash). The guarded UPDATE that
// moves the balance also computes the new head in SQL, and the entry's
// INSERT copies it from the row, so the chain costs the posting no
// statement and no lock it did not already take. System accounts have no
// chain: their rows are the hottest of the ledger, and nothing here reads
// or locks them.
//
// An edited entry no longer matches its hash; an inserted one has no place
// or takes one twice; a deleted one leaves a gap or a head past the chain's
// end. Anyone who can write the database and knows this text can forge a
// whole new chain: the chain proves that the rows are as the postings left
// them, not who made the postings. The per-transaction rules (Shapes) and
// the balances still have to agree with a forged chain.

// ChainVersion prefixes the hashed text, so that a future change of the text
// can coexist with entries hashed before it.
const ChainVersion = "v1"

// ChainText is the canonical text of an entry that its hash covers: the
// version, the account, the place, the transaction, the amount, the balance
// after it, what it counted towards the daily limit and on which day, its
// time in microseconds since 1970 (UTC), and the previous entry's hash (""
// for the first), separated by "|", integers in decimal. Each engine's
// ApplyBalanceDelta builds the same text byte for byte.
func ChainText(e LedgerEntry, prevHash string) string {
	b := make([]byte, 0, 160)
	b = append(b, ChainVersion...)
	for _, n := range []int64{e.AccountID, e.Seq, e.TransactionID, e.AmountMsat, e.BalanceAfterMsat, e.DayOutMsat, e.DayOutDay, e.CreatedAt.UnixMicro()} {
		b = append(b, '|')
		b = strconv.AppendInt(b, n, 10)
	}
	b = append(b, '|')
	b = append(b, prevHash...)
	return string(b)
}

// ChainHash is the hash of an entry that follows one hashed prevHash:
// SHA-256 of ChainText, in lower-case hex.
func ChainHash(e LedgerEntry, prevHash string) string {
	return SHA256Hex(ChainText(e, prevHash))
}

// SHA256Hex is SHA-256 of s in lower-case hex, as PostgreSQL's
// encode(sha256(…), 'hex') and MySQL's SHA2(…, 256) write it (the SQLite
// adapter registers it as the SQL function sha256_hex).
func SHA256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// DayCounter is an account's daily counter: OutMsat sent on day Day.
type DayCounter struct {
	Day     int64
	OutMsat int64
}

// Apply returns the counter after an entry that counts dayOut on day, as
// ApplyBalanceDelta keeps it: a send counts on its day, or on the later day
// the counter is already on; a give-back counts only on the counter's day
// and never takes it below zero; anything else leaves it.
func (c DayCounter) Apply(dayOut, day int64) DayCounter {
	switch {
	case dayOut > 0 && c.Day >= day:
		c.OutMsat += dayOut
	case dayOut > 0:
		c = DayCounter{Day: day, OutMsat: dayOut}
	case dayOut < 0 && c.Day == day:
		c.OutMsat = max(c.OutMsat+dayOut, 0)
	}
	return c
}

// ChainAccount is a user account's head, balance and daily counter, as the
// chain check reads them.
type ChainAccount struct {
	ID          int64
	BalanceMsat int64
	Counter     DayCounter
	HeadSeq     int64
	HeadHash    string
}

// chainWalk verifies one account's chain as its entries arrive in place
// order.
type chainWalk struct {
	account ChainAccount
	seq     int64
	hash    string
	balance int64
	counter DayCounter
	broken  *ChainBreak
}

func newChainWalk(a ChainAccount) *chainWalk { return &chainWalk{account: a} }

func (w *chainWalk) fail(entryID, seq int64, format string, args ...any) {
	if w.broken == nil {
		w.broken = &ChainBreak{AccountID: w.account.ID, EntryID: entryID, Seq: seq, Reason: fmt.Sprintf(format, args...)}
	}
}

// add takes the account's next entry. After the first break the hashes
// are not checked further (one break is enough to report), but the
// balance and the counter are still followed.
func (w *chainWalk) add(e LedgerEntry) {
	switch {
	case e.Seq == w.seq:
		w.fail(e.ID, e.Seq, "entry %d takes place %d a second time", e.ID, e.Seq)
	case e.Seq != w.seq+1:
		w.fail(0, w.seq+1, "place %d is missing (entry deleted or moved away)", w.seq+1)
	}
	if e.BalanceAfterMsat != w.balance+e.AmountMsat {
		w.fail(e.ID, e.Seq, "entry %d says the balance after it is %d msat, the chain says %d", e.ID, e.BalanceAfterMsat, w.balance+e.AmountMsat)
	}
	if got := ChainHash(e, w.hash); got != e.Hash {
		w.fail(e.ID, e.Seq, "entry %d does not match its hash (edited, or inserted with a made-up one)", e.ID)
	}
	w.seq, w.hash, w.balance = e.Seq, e.Hash, e.BalanceAfterMsat
	w.counter = w.counter.Apply(e.DayOutMsat, e.DayOutDay)
}

// end compares the chain's end with the account row, and returns the break
// and the counter mismatch found, if any.
func (w *chainWalk) end() (*ChainBreak, *DayCounterMismatch) {
	a := w.account
	switch {
	case a.HeadSeq != w.seq:
		w.fail(0, a.HeadSeq, "the account's head is place %d, its chain ends at place %d", a.HeadSeq, w.seq)
	case a.HeadHash != w.hash:
		w.fail(0, a.HeadSeq, "the account's head hash is not the hash of its last entry")
	case a.BalanceMsat != w.balance:
		w.fail(0, a.HeadSeq, "the account holds %d msat, its chain ends at %d", a.BalanceMsat, w.balance)
	}
	var m *DayCounterMismatch
	if a.Counter != w.counter {
		m = &DayCounterMismatch{AccountID: a.ID, CounterDay: a.Counter.Day, CounterMsat: a.Counter.OutMsat, LedgerDay: w.counter.Day, LedgerMsat: w.counter.OutMsat}
	}
	return w.broken, m
}
