package store

import (
	"fmt"
	"strings"
)

// Shapes is the one table of what each kind of transaction must have posted:
// for a type and status, the ways (usually one) its entries may look, each a
// list of legs. A leg names whose account it is on, what the transaction's
// entries there must sum to, and what they counted towards the user's daily
// limit; amounts are formulas of the transaction row's own amount, fee and
// hold. Reconcile checks every transaction against it: an account that no
// leg names must have no entry of the transaction, and a type or status with
// no row here is a violation (a new kind of transaction needs its row).
//
// The legs read as the wallet posts them:
//   - a transfer (send) takes amount + fee from the sender, gives the amount
//     to the recipient (the counterparty) and the fee to the fees account;
//     its receive row carries no entries;
//   - a payment or withdrawal first holds amount + service fee + allowance
//     (held) on the reserved account; settled, the reserved account is
//     emptied, the rail (lightning, mpesa) gets the amount and at least
//     nothing more, the fees account at most the fee, and the user keeps
//     what was not used: the user pays exactly amount + fee; refunded, the
//     user gets the whole hold back;
//   - a payment of an invoice of ours is held the same way (amount only),
//     then the hold goes to the payee once the node has cancelled the
//     invoice: the payer pays the amount, the payee's invoice row carries
//     no entries;
//   - a paid invoice, a top-up and an adjustment move the amount between
//     the rail (or the adjustments account) and the user; a top-up moves
//     nothing until M-Pesa reports it paid, and nothing if it failed.
var Shapes = []Shape{
	{Type: TypeSend, Status: StatusCompleted, Legs: []Leg{
		{Role: RoleUser, Net: "-amount-fee", Counts: "amount"},
		{Role: RoleCounterparty, Net: "amount"},
		{Role: RoleFees, Net: "fee"},
	}},
	{Type: TypeReceive, Status: StatusCompleted, Name: "the receiving row of a transfer"},

	{Type: TypeInvoice, Status: StatusPending},
	{Type: TypeInvoice, Status: StatusExpired},
	{Type: TypeInvoice, Status: StatusCompleted, Name: "paid through the node", Legs: []Leg{
		{Role: RoleLightning, Net: "-amount"},
		{Role: RoleUser, Net: "amount"},
	}},
	{Type: TypeInvoice, Status: StatusCompleted, Name: "paid in the ledger", Pair: PairPaidInLedger},

	{Type: TypeTopup, Status: StatusPending, Name: "asked of M-Pesa, not paid yet"},
	{Type: TypeTopup, Status: StatusFailed, Name: "not paid on M-Pesa"},
	{Type: TypeTopup, Status: StatusCompleted, Legs: []Leg{
		{Role: RoleMpesa, Net: "-amount"},
		{Role: RoleUser, Net: "amount"},
	}},
	{Type: TypeAdjustment, Status: StatusCompleted, Direction: DirectionIn, Legs: []Leg{
		{Role: RoleAdjustments, Net: "-amount"},
		{Role: RoleUser, Net: "amount"},
	}},
	{Type: TypeAdjustment, Status: StatusCompleted, Direction: DirectionOut, Legs: []Leg{
		{Role: RoleAdjustments, Net: "amount"},
		{Role: RoleUser, Net: "-amount"},
	}},

	{Type: TypePayment, Status: StatusPending, Legs: []Leg{
		{Role: RoleUser, Net: "-held", Counts: "amount"},
		{Role: RoleReserved, Net: "held", Holds: "held"},
	}},
	{Type: TypePayment, Status: StatusFailed, Legs: []Leg{
		{Role: RoleUser, Net: "0", Counts: "amount", GivesBack: true},
		{Role: RoleReserved, Net: "0", Holds: "held"},
	}},
	{Type: TypePayment, Status: StatusCompleted, Name: "paid through the node", Legs: []Leg{
		{Role: RoleUser, Net: "-amount-fee", Counts: "amount"},
		{Role: RoleReserved, Net: "0", Holds: "held"},
		{Role: RoleLightning, Net: "amount", Bound: AtLeast},
		{Role: RoleFees, Net: "fee", Bound: AtMost},
	}},
	{Type: TypePayment, Status: StatusCompleted, Name: "an invoice of ours paid in the ledger", Pair: PairPaysOwnInvoice, Legs: []Leg{
		{Role: RoleUser, Net: "-amount-fee", Counts: "amount"},
		{Role: RoleReserved, Net: "0", Holds: "held"},
		{Role: RoleCounterparty, Net: "amount"},
		{Role: RoleFees, Net: "fee"},
	}},

	{Type: TypeWithdraw, Status: StatusPending, Legs: []Leg{
		{Role: RoleUser, Net: "-held", Counts: "amount"},
		{Role: RoleReserved, Net: "held", Holds: "held"},
	}},
	{Type: TypeWithdraw, Status: StatusFailed, Legs: []Leg{
		{Role: RoleUser, Net: "0", Counts: "amount", GivesBack: true},
		{Role: RoleReserved, Net: "0", Holds: "held"},
	}},
	{Type: TypeWithdraw, Status: StatusCompleted, Legs: []Leg{
		{Role: RoleUser, Net: "-amount-fee", Counts: "amount"},
		{Role: RoleReserved, Net: "0", Holds: "held"},
		{Role: RoleMpesa, Net: "amount", Bound: AtLeast},
		{Role: RoleFees, Net: "fee", Bound: AtMost},
	}},
}

// Shape is one way a transaction of a type and status may have posted.
type Shape struct {
	Type   TransactionType
	Status TransactionStatus
	// Direction, when set, limits the shape to rows of that direction.
	Direction Direction
	// Name tells the shapes of one type and status apart in reports.
	Name string
	// Legs are the accounts the transaction's entries may touch; none means
	// it must have no entries at all.
	Legs []Leg
	// Pair ties the transaction to another one of the same payment hash.
	Pair Pairing
}

// Role says whose account a leg is on.
type Role string

// The roles: the transaction's own user, the user its counterparty phone
// names, and the system accounts by their code.
const (
	RoleUser         Role = "user"
	RoleCounterparty Role = "counterparty"
	RoleLightning         = Role(AccountLightning)
	RoleMpesa             = Role(AccountMpesa)
	RoleFees              = Role(AccountFees)
	RoleAdjustments       = Role(AccountAdjustments)
	RoleReserved          = Role(AccountReserved)
)

// Leg is what a transaction's entries on one account must be.
type Leg struct {
	Role Role
	// Net is what the entries on the account sum to, a Formula; Bound says
	// whether exactly (the default), at least or at most.
	Net   Formula
	Bound Bound
	// Holds, when set, is what the credits to the account sum to (the
	// reservation a payment put on the reserved account).
	Holds Formula
	// Counts is what the entries counted towards the account's daily limit
	// ("" is nothing). GivesBack says a refund gave it back: all of it when
	// the refund was booked on the day the count was, nothing otherwise.
	Counts    Formula
	GivesBack bool
}

// Bound says how a leg's net binds.
type Bound int

// The bounds.
const (
	Exactly Bound = iota
	AtLeast
	AtMost
)

// Pairing ties a transaction to the other one of its payment hash.
type Pairing int

// The pairings: a payment of an invoice of ours, settled in the ledger,
// carries the entries; the invoice's own transaction completes with none.
// Each must have the other.
const (
	PairNone Pairing = iota
	PairPaysOwnInvoice
	PairPaidInLedger
)

// Formula is a signed sum of the transaction row's amounts, written like
// "-amount-fee", "held" or "0"; the terms are amount, fee and held.
type Formula string

// Eval computes the formula for a transaction row.
func (f Formula) Eval(t ShapeTransaction) (int64, error) {
	s := strings.ReplaceAll(string(f), " ", "")
	if s == "" || s == "0" {
		return 0, nil
	}
	var sum int64
	for s != "" {
		sign := int64(1)
		switch s[0] {
		case '-':
			sign, s = -1, s[1:]
		case '+':
			s = s[1:]
		}
		end := strings.IndexAny(s, "+-")
		if end < 0 {
			end = len(s)
		}
		var v int64
		switch s[:end] {
		case "amount":
			v = t.AmountMsat
		case "fee":
			v = t.FeeMsat
		case "held":
			v = t.HeldMsat
		default:
			return 0, fmt.Errorf("formula %q: unknown term %q", f, s[:end])
		}
		sum += sign * v
		s = s[end:]
	}
	return sum, nil
}

// ShapeTransaction is a transaction row with what a shape check needs of it:
// the accounts its roles resolve to (0 when none) and its entries.
type ShapeTransaction struct {
	ID                  int64
	Type                TransactionType
	Direction           Direction
	Status              TransactionStatus
	AmountMsat          int64
	FeeMsat             int64
	HeldMsat            int64
	PaymentHash         string
	UserAccount         int64
	CounterpartyAccount int64
	Entries             []LedgerEntry
}

// legTotals is what a transaction's entries did on one account.
type legTotals struct {
	net, credits     int64
	counted, givenBk int64
	countDay         int64
	lastDay          int64
	lastID           int64
}

// check reports why t does not fit the shape, or "" if it does. system
// resolves a system role to its account id.
func (sh Shape) check(t ShapeTransaction, system func(Role) int64) string {
	totals := map[int64]*legTotals{}
	for _, e := range t.Entries {
		lt := totals[e.AccountID]
		if lt == nil {
			lt = &legTotals{}
			totals[e.AccountID] = lt
		}
		lt.net += e.AmountMsat
		if e.AmountMsat > 0 {
			lt.credits += e.AmountMsat
		}
		switch {
		case e.DayOutMsat > 0:
			lt.counted += e.DayOutMsat
			lt.countDay = e.DayOutDay
		case e.DayOutMsat < 0:
			lt.givenBk -= e.DayOutMsat
		}
		if e.ID > lt.lastID {
			lt.lastID, lt.lastDay = e.ID, e.DayOutDay
		}
	}
	named := map[int64]bool{}
	for _, l := range sh.Legs {
		var acc int64
		switch l.Role {
		case RoleUser:
			acc = t.UserAccount
		case RoleCounterparty:
			acc = t.CounterpartyAccount
		default:
			acc = system(l.Role)
		}
		if acc == 0 {
			return fmt.Sprintf("no account for its %s", l.Role)
		}
		if named[acc] {
			return fmt.Sprintf("its %s is an account another leg already names", l.Role)
		}
		named[acc] = true
		lt := totals[acc]
		if lt == nil {
			lt = &legTotals{}
		}
		if why := l.check(t, lt); why != "" {
			return fmt.Sprintf("%s: %s", l.Role, why)
		}
	}
	for acc := range totals {
		if !named[acc] {
			return fmt.Sprintf("entries on account %d, which no leg names", acc)
		}
	}
	return ""
}

// check reports why a leg's totals are not what the leg says, or "".
func (l Leg) check(t ShapeTransaction, lt *legTotals) string {
	want, err := l.Net.Eval(t)
	if err != nil {
		return err.Error()
	}
	switch {
	case l.Bound == Exactly && lt.net != want:
		return fmt.Sprintf("moved %d msat, want %d", lt.net, want)
	case l.Bound == AtLeast && lt.net < want:
		return fmt.Sprintf("moved %d msat, want at least %d", lt.net, want)
	case l.Bound == AtMost && lt.net > want:
		return fmt.Sprintf("moved %d msat, want at most %d", lt.net, want)
	}
	if l.Holds != "" {
		hold, err := l.Holds.Eval(t)
		if err != nil {
			return err.Error()
		}
		if lt.credits != hold {
			return fmt.Sprintf("held %d msat, the row says %d", lt.credits, hold)
		}
	}
	counts, err := l.Counts.Eval(t)
	if err != nil {
		return err.Error()
	}
	if lt.counted != counts {
		return fmt.Sprintf("counted %d msat towards the daily limit, want %d", lt.counted, counts)
	}
	var back int64
	if l.GivesBack && lt.lastDay == lt.countDay {
		back = counts
	}
	if lt.givenBk != back {
		return fmt.Sprintf("gave back %d msat of the daily limit, want %d (counted on day %d, refunded on day %d)", lt.givenBk, back, lt.countDay, lt.lastDay)
	}
	return ""
}

// shapesFor lists the shapes a transaction may have.
func shapesFor(t ShapeTransaction) []Shape {
	var out []Shape
	for _, sh := range Shapes {
		if sh.Type == t.Type && sh.Status == t.Status && (sh.Direction == "" || sh.Direction == t.Direction) {
			out = append(out, sh)
		}
	}
	return out
}
