package fleet_test

import (
	"strings"
	"testing"
)

// TestCrashChecksCatch feeds the crash suite's checks books that break
// each rule, so that a check that could never fail does not pass for one.
func TestCrashChecksCatch(t *testing.T) {
	books := []txn{
		{id: 1, typ: "send", status: "completed", key: "ussd:A:6"},
		{id: 2, typ: "send", status: "completed", key: "ussd:B:6"},
		{id: 3, typ: "send", status: "completed", key: "ussd:B:7"},
		{id: 4, typ: "topup", status: "failed", key: "ussd:C:3"},
		{id: 5, typ: "withdraw", status: "pending", key: "ussd:D:4"},
		{id: 6, typ: "send", status: "completed", key: "ussd:E:6"},
	}
	cases := []struct {
		op   op
		want string // "" when the books are right for it
	}{
		{op{kind: "transfer", session: "A", out: acked}, ""},
		{op{kind: "transfer", session: "B", out: acked}, "booked 2 times"},
		{op{kind: "transfer", session: "Z", out: acked}, "not booked"},
		{op{kind: "buy", session: "C", out: refused}, ""}, // a failed row of a refused push moves nothing
		{op{kind: "sell", session: "D", out: refused}, "refused"},
		{op{kind: "transfer", session: "E", out: aborted}, "aborted"},
		{op{kind: "transfer", session: "E", out: unknown}, ""},
		{op{kind: "transfer", session: "Z", out: unknown}, ""},
	}
	for _, c := range cases {
		v := checkOps(books, []op{c.op})
		switch {
		case c.want == "" && len(v) != 0:
			t.Errorf("%+v: %v", c.op, v)
		case c.want != "" && (len(v) != 1 || !strings.Contains(v[0], c.want)):
			t.Errorf("%+v: %v, want one violation saying %q", c.op, v, c.want)
		}
	}
	if v := checkNegative(map[string]int64{"+254700000001": 0, "+254700000002": -1}); len(v) != 1 {
		t.Errorf("a negative balance: %v", v)
	}
}
