package storetest

import "testing"

// TestPlanProblems: the plan check fails the plans that read a growing
// table through, and passes index look-ups, on every engine's format.
func TestPlanProblems(t *testing.T) {
	cases := []struct {
		engine string
		lines  []string
		bad    bool
	}{
		{"postgres", []string{"Seq Scan on transactions  (cost=0.00..1.00 rows=1 width=8)", "  Filter: (user_id = 1)"}, true},
		{"postgres", []string{"Limit", "  ->  Index Scan Backward using transactions_user_id_id on transactions  (cost=0.29..48.50 rows=11 width=347)",
			"        Index Cond: ((user_id = '17'::bigint) AND (id < '11999'::bigint))"}, false},
		{"postgres", []string{"Result", "  InitPlan 1 (returns $0)", "    ->  Limit", "          ->  Index Scan using invoices_add_index on invoices  (cost=0.28..163.71 rows=388 width=8)",
			"                Index Cond: (add_index IS NOT NULL)", "                Filter: (status = 'expired'::text)"}, true},
		{"postgres", []string{"Result", "  InitPlan 1 (returns $0)", "    ->  Limit", "          ->  Index Only Scan Backward using invoices_add_index on invoices  (cost=0.28..152.73 rows=2197 width=8)",
			"                Index Cond: (add_index IS NOT NULL)"}, false},
		{"postgres", []string{"Index Scan Backward using transactions_pkey on transactions", "  Filter: (user_id = 1)"}, true},
		{"postgres", []string{"Index Scan using mpesa_requests_next_check_at on mpesa_requests", "  Filter: (phone = 'x'::text)"}, false},
		{"postgres", []string{"Seq Scan on sms_reply_counts"}, false},
		{"mysql", []string{"table=transactions type=ALL key= rows=11863 extra=Using where"}, true},
		{"mysql", []string{"table=transactions type=index key=PRIMARY rows=11863 extra=Using where"}, true},
		{"mysql", []string{"table=transactions type=range key=transactions_user_id_id rows=13 extra=Using where"}, false},
		{"mysql", []string{"table= type= key= rows= extra=Impossible WHERE noticed after reading const tables"}, false},
		{"sqlite", []string{"SCAN transactions"}, true},
		{"sqlite", []string{"SCAN transactions USING INDEX transactions_user_id_id"}, true},
		{"sqlite", []string{"SEARCH transactions USING INDEX transactions_user_id_id (user_id=? AND id<?)"}, false},
	}
	for _, c := range cases {
		if got := PlanProblems(c.engine, c.lines); (len(got) > 0) != c.bad {
			t.Errorf("%s %q: problems %q, want bad=%v", c.engine, c.lines, got, c.bad)
		}
	}
}
