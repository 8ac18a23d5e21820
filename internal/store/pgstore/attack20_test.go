package pgstore_test

import (
	"context"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/pgstore"
)

// TestAttack20PostLedgerMatchesStatementPath: post_ledger (one round trip:
// migration 000019's move_legs, the entries inserted from the heads its
// UPDATEs returned) and the statement path (apply_balance_delta, then
// InsertLedgerEntry's read of the row, leg by leg) agree on every posting,
// and both agree with the guards of migration 000008 written out in Go:
// the same refusals (overdraft, max balance and day limit at and past
// their bounds, a send on a day behind the counter's, give-backs), the same
// balances, day counters and chain places, and every chain hash is
// store.ChainHash of its entry. The legs run on two twin sets of user
// accounts (same balances), one posted each way; the system accounts are
// shared (one with its buckets, one with none, one with half of them) and
// must hold, row and buckets, the sum of their entries. It passes on the
// definitions of 000016 too (000019 removed): a guard against the rewrite
// drifting, not a finding.
func TestAttack20PostLedgerMatchesStatementPath(t *testing.T) {
	dsn := freshDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	migratedStore(ctx, t, dsn, pgstore.Options{MaxConns: 2})
	conn := plainConn(ctx, t, dsn)
	const users, postings = 4, 400
	for _, q := range []string{
		`INSERT INTO users (phone, lightning_name, status, created_at, updated_at)
		 SELECT '+2547' || lpad(g::text, 8, '0'), 'u' || g, 'active', now(), now() FROM generate_series(1, 8) g`,
		`INSERT INTO accounts (user_id, kind, balance_msat, created_at) SELECT id, 'user', 300000, now() FROM users ORDER BY id`,
		`INSERT INTO transactions (type, direction, status, amount_msat, idempotency_key, created_at, updated_at)
		 SELECT 'adjustment', 'in', 'completed', 1, 'attack20-' || g, now(), now() FROM generate_series(1, 400) g`,
		`DELETE FROM account_buckets WHERE account_id = (SELECT id FROM accounts WHERE code = 'mpesa')`,
		`DELETE FROM account_buckets WHERE account_id = (SELECT id FROM accounts WHERE code = 'reserved') AND bucket % 2 = 1`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ids := func(q string) []int64 {
		t.Helper()
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	system := ids(`SELECT id FROM accounts WHERE code IN ('fees', 'mpesa', 'reserved') ORDER BY id`)
	userIDs := ids(`SELECT id FROM accounts WHERE kind = 'user' ORDER BY id`)
	txIDs := ids(`SELECT id FROM transactions WHERE idempotency_key LIKE 'attack20-%' ORDER BY id`)
	twinA, twinB := userIDs[:users], userIDs[users:]
	type leg struct{ slot, amount, dayOut int64 } // slot < 0: system[-slot-1]; else user slot
	account := func(l leg, twin []int64) int64 {
		if l.slot < 0 {
			return system[-l.slot-1]
		}
		return twin[l.slot]
	}
	amounts := []int64{50000, 100000, 150000, 250000}
	rng := rand.New(rand.NewSource(20))
	const maxBalance, dayLimit = 600000, 300000
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// The model: each user slot's balance and day counter, with the guards
	// of migration 000008 written out in Go.
	type model struct {
		balance int64
		counter store.DayCounter
	}
	models := make([]model, users)
	for i := range models {
		models[i].balance = 300000
	}
	refused := 0
	for k := range postings {
		var slots []int64
		for _, i := range rng.Perm(len(system) + users)[:2+rng.Intn(3)] {
			if i < len(system) {
				slots = append(slots, -int64(i)-1)
			} else {
				slots = append(slots, int64(i-len(system)))
			}
		}
		legs := make([]leg, len(slots))
		var sum int64
		for i, sl := range slots {
			a := amounts[rng.Intn(len(amounts))]
			if rng.Intn(2) == 0 {
				a = -a
			}
			if i == len(slots)-1 {
				a = -sum
				if a == 0 {
					a = 1
				}
			}
			sum += a
			var dayOut int64
			switch {
			case sl >= 0 && a < 0 && rng.Intn(4) > 0:
				dayOut = -a
			case sl >= 0 && a > 0 && rng.Intn(4) == 0:
				dayOut = -a // a give-back
			}
			legs[i] = leg{slot: sl, amount: a, dayOut: dayOut}
		}
		// Both twins in ascending account order: system accounts first,
		// then the users in slot order (the twins' ids rise alike).
		slices.SortFunc(legs, func(x, y leg) int {
			return int(account(x, twinA) - account(y, twinA))
		})
		txID := txIDs[k%len(txIDs)]
		day := int64(20000 + k/80 + rng.Intn(2)) // now and then a day behind the counter's
		now := base.Add(time.Duration(k)*time.Second + time.Duration(k)*time.Microsecond)

		// Twin A: post_ledger.
		accs, amts, outs := make([]int64, len(legs)), make([]int64, len(legs)), make([]int64, len(legs))
		for i, l := range legs {
			accs[i], amts[i], outs[i] = account(l, twinA), l.amount, l.dayOut
		}
		postedA := func() bool {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background()) //nolint:errcheck // rolled back unless committed
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT post_ledger($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				txID, accs, amts, outs, day, now.UnixMicro(), int64(maxBalance), int64(dayLimit), now).Scan(&ok); err != nil {
				t.Fatalf("posting %d: post_ledger: %v", k, err)
			}
			if ok {
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			return ok
		}()
		// Twin B: the statement path, leg by leg.
		postedB := func() bool {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background()) //nolint:errcheck // rolled back unless committed
			for _, l := range legs {
				var ok bool
				if err := tx.QueryRow(ctx, `SELECT apply_balance_delta($1, $2, $3, $4, $5, $6, $7, $8)`,
					txID, account(l, twinB), l.amount, l.dayOut, day, now.UnixMicro(), int64(maxBalance), int64(dayLimit)).Scan(&ok); err != nil {
					t.Fatalf("posting %d: apply_balance_delta: %v", k, err)
				}
				if !ok {
					return false
				}
				if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries (transaction_id, account_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at)
					SELECT $1::BIGINT, a.id, $2::BIGINT,
					       CASE WHEN a.kind = 'user' THEN a.head_seq END, CASE WHEN a.kind = 'user' THEN a.balance_msat END,
					       $3::BIGINT, $4::BIGINT, CASE WHEN a.kind = 'user' THEN a.head_hash END, $5::TIMESTAMPTZ
					FROM accounts a WHERE a.id = $6::BIGINT`, txID, l.amount, l.dayOut, day, now, account(l, twinB)); err != nil {
					t.Fatalf("posting %d: insert entry: %v", k, err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			return true
		}()
		next := slices.Clone(models)
		guard := store.Guard{MaxBalanceMsat: maxBalance, Day: day, DayLimitMsat: dayLimit}
		want := true
		for _, l := range legs {
			if l.slot < 0 {
				continue
			}
			m := &next[l.slot]
			if guard.Refusal(store.Account{BalanceMsat: m.balance, DayOutMsat: m.counter.OutMsat, DayOutDay: m.counter.Day},
				store.Entry{AmountMsat: l.amount, DayOutMsat: l.dayOut}) != nil {
				want = false
				break
			}
			m.balance, m.counter = m.balance+l.amount, m.counter.Apply(l.dayOut, day)
		}
		if want {
			models = next
		}
		if postedA != want {
			t.Fatalf("posting %d %+v: post_ledger posted %v, the guards say %v", k, legs, postedA, want)
		}
		if !postedA {
			refused++
		}
		if postedA != postedB {
			t.Fatalf("posting %d %+v: post_ledger posted %v, the statement path %v", k, legs, postedA, postedB)
		}
	}

	type head struct{ balance, dayOut, dayOutDay, seq int64 }
	type entry struct{ amount, seq, balance, dayOut, dayOutDay int64 }
	var posted int
	for i := range users {
		var h [2]head
		var chains [2][]entry
		for twin, id := range []int64{twinA[i], twinB[i]} {
			var headHash string
			if err := conn.QueryRow(ctx, `SELECT balance_msat, day_out_msat, day_out_day, head_seq, head_hash FROM accounts WHERE id = $1`, id).
				Scan(&h[twin].balance, &h[twin].dayOut, &h[twin].dayOutDay, &h[twin].seq, &headHash); err != nil {
				t.Fatal(err)
			}
			rows, err := conn.Query(ctx, `SELECT id, transaction_id, amount_msat, seq, balance_after_msat, day_out_msat, day_out_day, hash, created_at
				FROM ledger_entries WHERE account_id = $1 ORDER BY id`, id)
			if err != nil {
				t.Fatal(err)
			}
			prev, balance := "", int64(300000)
			for rows.Next() {
				e := store.LedgerEntry{AccountID: id}
				var hash string
				if err := rows.Scan(&e.ID, &e.TransactionID, &e.AmountMsat, &e.Seq, &e.BalanceAfterMsat, &e.DayOutMsat, &e.DayOutDay, &hash, &e.CreatedAt); err != nil {
					t.Fatal(err)
				}
				balance += e.AmountMsat
				n := int64(len(chains[twin]) + 1)
				if e.Seq != n || e.BalanceAfterMsat != balance {
					t.Fatalf("account %d entry %d: seq %d balance after %d, want %d and %d", id, e.ID, e.Seq, e.BalanceAfterMsat, n, balance)
				}
				if want := store.ChainHash(e, prev); hash != want {
					t.Fatalf("account %d entry %d: hash %s, store.ChainHash %s (text %q)", id, e.ID, hash, want, store.ChainText(e, prev))
				}
				prev = hash
				chains[twin] = append(chains[twin], entry{e.AmountMsat, e.Seq, e.BalanceAfterMsat, e.DayOutMsat, e.DayOutDay})
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if headHash != prev || h[twin].seq != int64(len(chains[twin])) || h[twin].balance != balance {
				t.Fatalf("account %d: head (%d, %s, %d) is not its chain's end (%d, %s, %d)", id, h[twin].seq, headHash, h[twin].balance, len(chains[twin]), prev, balance)
			}
		}
		if m := models[i]; h[0] != (head{m.balance, m.counter.OutMsat, m.counter.Day, h[0].seq}) {
			t.Fatalf("account %d: balance %d, counter %d on day %d; the model's %+v", twinA[i], h[0].balance, h[0].dayOut, h[0].dayOutDay, m)
		}
		if h[0] != h[1] || !slices.Equal(chains[0], chains[1]) {
			t.Fatalf("twins %d/%d differ: post_ledger %+v %v, statement path %+v %v", twinA[i], twinB[i], h[0], chains[0], h[1], chains[1])
		}
		posted += len(chains[0])
	}
	if posted < postings/4 {
		t.Fatalf("only %d user entries posted: the postings test too little", posted)
	}
	// Every system account's cached balance (its row and its buckets) is
	// the sum of its entries, as reconcile wants.
	for _, id := range system {
		var cached, entries int64
		if err := conn.QueryRow(ctx, `SELECT a.balance_msat + COALESCE((SELECT sum(b.balance_msat) FROM account_buckets b WHERE b.account_id = a.id), 0),
			COALESCE((SELECT sum(amount_msat) FROM ledger_entries e WHERE e.account_id = a.id), 0)::BIGINT
			FROM accounts a WHERE a.id = $1`, id).Scan(&cached, &entries); err != nil {
			t.Fatal(err)
		}
		if cached != entries {
			t.Fatalf("system account %d: cached %d, entries sum to %d", id, cached, entries)
		}
	}
	t.Logf("%d refused, %d user entries", refused, posted)
	if refused < postings/10 || refused > postings*9/10 {
		t.Fatalf("%d of %d postings refused: the postings test too little", refused, postings)
	}
}
