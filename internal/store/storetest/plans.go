package storetest

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/growth"
)

// growingTables grow with the users and their transactions: a hot query
// must reach their rows through an index, never by reading the table (or a
// whole index) through.
var growingTables = []string{"users", "accounts", "transactions", "ledger_entries", "invoices", "ussd_sessions", "notifications", "mpesa_requests"}

// testQueryPlans: with a ledger of some thousand transactions loaded by the
// growth generator and the statistics fresh, every hot query (a USSD hop's
// user, session and history page, invoices by hash and the pending ones,
// the outbox claim, pending payments, M-Pesa request lookups) finds its
// rows through an index on each engine: no PostgreSQL Seq Scan (or index
// scan without an index condition), no MySQL access of type ALL or index or
// without a key, no SQLite SCAN of a growing table.
func testQueryPlans(t *testing.T, s store.Store) {
	b, ok := s.(store.Bulk)
	if !ok {
		t.Fatalf("the %s store does not implement store.Bulk", s.Engine())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := growth.Seed(ctx, s, growth.Options{Users: 1_000, Transactions: 12_000, Seed: 13, End: base, Batch: 4_000})
	if err != nil {
		t.Fatal(err)
	}
	plans, err := b.Plans(ctx, res.Sample)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range plans {
		seen[p.Name] = true
		if insert.MatchString(p.Query) {
			continue // an insert reads no table (MySQL prints its target as type ALL)
		}
		if testing.Verbose() {
			t.Logf("%s on %s:\n  %s", p.Name, s.Engine(), strings.Join(p.Lines, "\n  "))
		}
		if len(p.Lines) == 0 {
			t.Errorf("%s: no plan for %s", p.Name, p.Query)
			continue
		}
		for _, why := range PlanProblems(s.Engine(), p.Lines) {
			t.Errorf("%s on %s: %s\nquery: %s\nplan:\n  %s", p.Name, s.Engine(), why, p.Query, strings.Join(p.Lines, "\n  "))
		}
	}
	for _, h := range store.HotQueries {
		if !seen[h.Name] {
			t.Errorf("%s issued no statement to explain", h.Name)
		}
	}
}

var (
	pgNode     = regexp.MustCompile(`^\s*(->\s*)?([A-Z][A-Za-z ]*?Scan)( Backward)?( using \S+)? on (\S+)`)
	sqliteScan = regexp.MustCompile(`^SCAN (\S+)`)
	// insert matches a statement that is an INSERT, after sqlc's comment
	// lines.
	notNull = regexp.MustCompile(`^\(\w+ IS NOT NULL\)$`)
	insert  = regexp.MustCompile(`^(?:--[^\n]*\n\s*)*INSERT\b`)
)

// partialIndexes hold only the rows of work in flight (open M-Pesa
// requests, pending transactions, payments): reading one whole costs what
// is open, not what the tables hold.
var partialIndexes = []string{"mpesa_requests_next_check_at", "transactions_pending_type"}

// PlanProblems lists what in an engine's plan (as store.Bulk's Plans
// prints it) reads a growing table through.
func PlanProblems(engine string, lines []string) []string {
	growing := func(table string) bool { return slices.Contains(growingTables, table) }
	var out []string
	switch engine {
	case "postgres":
		for i, l := range lines {
			m := pgNode.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			node, target := m[2], m[5]
			switch {
			case node == "Seq Scan" && growing(target):
				out = append(out, "Seq Scan on "+target)
			case strings.HasSuffix(node, "Index Scan") || node == "Index Only Scan":
				bounded, vacuous, filtered := indexConds(lines[i+1:])
				switch {
				case bounded || slices.Contains(partialIndexes, strings.TrimPrefix(m[4], " using ")):
				case vacuous && !filtered:
					// MIN or MAX of an indexed column: one step from an end.
				case filtered:
					out = append(out, node+" on "+target+" walks the index in order until a row passes its filter (the whole index, at worst)")
				default:
					out = append(out, node+" on "+target+" without an index condition (the whole index read)")
				}
			}
		}
	case "mysql":
		for _, l := range lines {
			f := map[string]string{}
			for _, kv := range strings.Fields(l) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					f[k] = v
				}
			}
			if !growing(f["table"]) {
				continue
			}
			switch {
			case f["type"] == "ALL":
				out = append(out, "a full scan (type ALL) of "+f["table"])
			case f["type"] == "index":
				out = append(out, "a full index scan (type index) of "+f["table"])
			case f["key"] == "":
				out = append(out, "no key used on "+f["table"])
			}
		}
	case "sqlite":
		for _, l := range lines {
			if m := sqliteScan.FindStringSubmatch(strings.TrimSpace(l)); m != nil && growing(m[1]) {
				out = append(out, strings.TrimSpace(l))
			}
		}
	default:
		out = append(out, "unknown engine "+engine)
	}
	return out
}

// indexConds reads the detail lines of the node they follow (up to the next
// node): whether an index condition bounds its range, whether its only
// condition is vacuous (a column IS NOT NULL, as in MIN or MAX over an
// index), and whether it filters the rows it reads.
func indexConds(rest []string) (bounded, vacuous, filtered bool) {
	for _, l := range rest {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "->"):
			return bounded, vacuous, filtered
		case strings.HasPrefix(t, "Index Cond:"):
			if notNull.MatchString(strings.TrimSpace(strings.TrimPrefix(t, "Index Cond:"))) {
				vacuous = true
			} else {
				bounded = true
			}
		case strings.HasPrefix(t, "Filter:"):
			filtered = true
		}
	}
	return bounded, vacuous, filtered
}
