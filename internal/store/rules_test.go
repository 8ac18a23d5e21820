package store

import (
	"testing"
	"time"
)

// TestShapesAreWellFormed: every formula of the table evaluates, and no
// two shapes of one type, status and direction share a name.
func TestShapesAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, sh := range Shapes {
		key := string(sh.Type) + "/" + string(sh.Status) + "/" + string(sh.Direction) + "/" + sh.Name
		if seen[key] {
			t.Errorf("shape %s twice", key)
		}
		seen[key] = true
		for _, l := range sh.Legs {
			for _, f := range []Formula{l.Net, l.Holds, l.Counts} {
				if _, err := f.Eval(ShapeTransaction{}); err != nil {
					t.Errorf("shape %s, leg %s: %v", key, l.Role, err)
				}
			}
		}
	}
}

func TestFormulaEval(t *testing.T) {
	row := ShapeTransaction{AmountMsat: 1000, FeeMsat: 30, HeldMsat: 1100}
	cases := []struct {
		f    Formula
		want int64
		bad  bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"amount", 1000, false},
		{"-amount-fee", -1030, false},
		{"+held - amount", 100, false},
		{"fee", 30, false},
		{"amount*2", 0, true},
		{"tip", 0, true},
	}
	for _, c := range cases {
		got, err := c.f.Eval(row)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("%q: %d %v, want %d (error %v)", c.f, got, err, c.want, c.bad)
		}
	}
}

// TestDayCounterApply follows the counter through the cases the guarded
// UPDATE distinguishes.
func TestDayCounterApply(t *testing.T) {
	steps := []struct {
		dayOut, day int64
		want        DayCounter
	}{
		{500, 10, DayCounter{10, 500}},
		{300, 10, DayCounter{10, 800}},
		{-1000, 10, DayCounter{10, 0}}, // never below zero
		{0, 11, DayCounter{10, 0}},     // counts nothing, on any day
		{200, 10, DayCounter{10, 200}},
		{-200, 11, DayCounter{10, 200}}, // a give-back to another day
		{400, 11, DayCounter{11, 400}},  // a new day starts over
		{100, 10, DayCounter{11, 500}},  // a send of the day before counts today
		{-100, 10, DayCounter{11, 500}}, // its give-back does not
	}
	var c DayCounter
	for i, s := range steps {
		c = c.Apply(s.dayOut, s.day)
		if c != s.want {
			t.Fatalf("step %d (%d on day %d): %+v, want %+v", i, s.dayOut, s.day, c, s.want)
		}
	}
}

// TestChainText pins the hashed text: every engine's SQL builds it byte for
// byte, so a change here needs a new ChainVersion and a migration.
func TestChainText(t *testing.T) {
	e := LedgerEntry{AccountID: 6, Seq: 1, TransactionID: 1, AmountMsat: 10000, BalanceAfterMsat: 10000, DayOutDay: 20454,
		CreatedAt: time.Date(2026, 1, 1, 10, 0, 0, 500_000_000, time.UTC)}
	if got, want := ChainText(e, ""), "v1|6|1|1|10000|10000|0|20454|1767261600500000|"; got != want {
		t.Fatalf("ChainText %q, want %q", got, want)
	}
	// The hash PostgreSQL and MariaDB computed for this entry in the
	// migration's backfill.
	if got, want := ChainHash(e, ""), "2f48a64b85641835bbcd63b639840441348b617422f0cb83f65ecba727ac69f7"; got != want {
		t.Fatalf("ChainHash %s, want %s", got, want)
	}
}
