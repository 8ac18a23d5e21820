//go:build attackcut

// A stress test of a money defect found by attack 27 (issue 15's closing
// note of 2026-12-07) and fixed by settling unanswered commits (settle.go):
// it needs CPU load from outside the process to reach the cut, and takes
// a while, so it is not part of make test. Run it with make attack-cut.

package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/pgstore"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// Attack 27 (outside review): N transfers at once, each on its own
// connection and blocked on its own recipient row, locked by an admin
// transaction of its own; every caller's deadline leaves the carried path
// with the minimum margin. Does the client cut at its deadline while the
// server session still waits on the lock (its statement_timeout late), and
// does a transfer whose caller got an error then commit once the lock is
// freed? Since the fix, a caller cut after its COMMIT went out gets
// store.ErrCommitUnanswered, and what a read of its key finds right then
// must be final; any other error must never be booked.
//
// Env: PGS_N (8), PGS_LEFT_MS (600: time left at the call), PGS_SPIN (0:
// busy goroutines in the client), PGS_OFFSETS (ms around the deadline at
// which lock i is released, cycled; default a sweep), PGS_WARM (1: use each
// pooled connection once before, so no prepare round trip), PGS_ROUNDS (1).

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil {
			return n
		}
	}
	return def
}

func envOffsets() []int {
	v := os.Getenv("PGS_OFFSETS")
	if v == "" {
		v = "-300,-250,-220,-200,-150,-100,-50,-20,0,10,20,50,100,150,200,300,500,800,1200,2000"
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil {
			out = append(out, n)
		}
	}
	return out
}

type pgsResult struct {
	key      string
	err      error
	returned time.Duration // relative to the deadline
	offset   int
	released time.Duration // when the lock was actually released, relative to the deadline
	rows     int
	atReturn int // rows with its key read as soon as an unanswered commit returned
}

func TestAttackPGSConcurrentCut(t *testing.T) {
	n := envInt("PGS_N", 8)
	left := time.Duration(envInt("PGS_LEFT_MS", 600)) * time.Millisecond
	spin := envInt("PGS_SPIN", 0)
	warm := envInt("PGS_WARM", 1) == 1
	rounds := envInt("PGS_ROUNDS", 1)
	offsets := envOffsets()

	dsn := freshDatabase(t)
	ctx, cancelAll := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancelAll()
	s := migratedStore(ctx, t, dsn, pgstore.Options{MaxConns: int32(n + 2)})
	mon := plainConn(ctx, t, dsn)
	chk := plainConn(ctx, t, dsn)
	var err error

	type pair struct {
		userA, accA int64
		phoneA      string
		userB, accB int64
		phoneB      string
		admin       *pgx.Conn
	}
	pairs := make([]pair, n)
	for i := range pairs {
		p := &pairs[i]
		p.userA, p.accA, p.phoneA = storetest.NewFundedUser(t, s, 1_000_000)
		p.userB, p.accB, p.phoneB = storetest.NewFundedUser(t, s, 0)
		if p.admin, err = pgx.Connect(ctx, dsn); err != nil {
			t.Fatal(err)
		}
		defer p.admin.Close(context.Background())
	}
	transfer := func(tctx context.Context, p *pair, key string) error {
		now := time.Now()
		return s.InTx(tctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.PostTransfer(ctx, store.NewTransfer{SenderID: p.userA, SenderPhone: p.phoneA, RecipientID: p.userB, RecipientPhone: p.phoneB,
				AmountMsat: 4_000, IdempotencyKey: key, Now: now},
				[]store.Entry{{AccountID: p.accA, AmountMsat: -4_000, DayOutMsat: 4_000}, {AccountID: p.accB, AmountMsat: 4_000}},
				store.Guard{MaxBalanceMsat: 1 << 40, DayLimitMsat: 1 << 62},
				store.NewNotification{UserID: p.userB, Phone: p.phoneB, Kind: store.NotifyReceived, AmountMsat: 4_000, Counterparty: p.phoneA, Now: now})
			return err
		})
	}
	if warm {
		// Every pooled connection prepares the statements once: n at once.
		var wg sync.WaitGroup
		for i := range pairs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				wctx, c := context.WithTimeout(ctx, 10*time.Second)
				defer c()
				if err := transfer(wctx, &pairs[i], storetest.Token(t, 16)); err != nil {
					t.Errorf("warm-up: %v", err)
				}
			}(i)
		}
		wg.Wait()
	}

	var stop atomic.Bool
	defer stop.Store(true)
	for i := 0; i < spin; i++ {
		go func() {
			x := 0
			for !stop.Load() {
				x++
			}
			_ = x
		}()
	}

	var all []pgsResult
	totalClientCut, totalServerFirst, totalBookedAfterErr, maxStillWaiting, totalUnanswered := 0, 0, 0, 0, 0
	booked := func(key string) int {
		var k int
		if err := s.Autocommit(context.Background(), func(ctx context.Context, tx store.Tx) error {
			_, err := tx.TransactionByIdempotencyKey(ctx, key)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			k = 1
			return err
		}); err != nil {
			t.Errorf("reading key %s: %v", key, err)
		}
		return k
	}
	var lateMax time.Duration
	for round := 0; round < rounds; round++ {
		for i := range pairs {
			p := &pairs[i]
			if _, err := p.admin.Exec(ctx, "BEGIN"); err != nil {
				t.Fatal(err)
			}
			if _, err := p.admin.Exec(ctx, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", p.accB); err != nil {
				t.Fatal(err)
			}
		}
		// Monitor: every lock-waiting post_transfer session, first and last seen.
		type seen struct {
			first, last time.Time
			start       time.Time // query_start
		}
		var mu sync.Mutex
		sessions := map[int32]*seen{}
		monDone := make(chan struct{})
		monStop := make(chan struct{})
		start := time.Now()
		deadline := start.Add(left)
		go func() {
			defer close(monDone)
			for {
				select {
				case <-monStop:
					return
				default:
				}
				rows, err := mon.Query(ctx, `SELECT pid, query_start FROM pg_stat_activity
					WHERE datname = current_database() AND state = 'active' AND wait_event_type = 'Lock'
					AND query LIKE '%post_transfer_or_abort%'`)
				now := time.Now()
				if err == nil {
					for rows.Next() {
						var pid int32
						var qs time.Time
						if rows.Scan(&pid, &qs) == nil {
							mu.Lock()
							if sn := sessions[pid]; sn == nil {
								sessions[pid] = &seen{first: now, last: now, start: qs}
							} else {
								sn.last = now
							}
							mu.Unlock()
						}
					}
					rows.Close()
				}
				time.Sleep(3 * time.Millisecond)
			}
		}()
		results := make([]pgsResult, n)
		returned := make([]chan struct{}, n)
		for i := range returned {
			returned[i] = make(chan struct{})
		}
		afterReturn := envInt("PGS_AFTER_RETURN", -1)
		var wg sync.WaitGroup
		for i := range pairs {
			results[i].key = storetest.Token(t, 16)
			results[i].offset = offsets[(round*n+i)%len(offsets)]
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				tctx, c := context.WithDeadline(ctx, deadline)
				defer c()
				results[i].err = transfer(tctx, &pairs[i], results[i].key)
				results[i].returned = time.Since(deadline)
				if errors.Is(results[i].err, store.ErrCommitUnanswered) {
					// What the wallet does: read the key before anything
					// else happens (the lock is released only after).
					results[i].atReturn = booked(results[i].key)
				}
				close(returned[i])
			}(i)
		}
		var relWG sync.WaitGroup
		for i := range pairs {
			relWG.Add(1)
			go func(i int) {
				defer relWG.Done()
				if afterReturn >= 0 {
					// The harmful order: the caller is told, then the lock frees.
					<-returned[i]
					time.Sleep(time.Duration(afterReturn) * time.Millisecond)
				} else {
					time.Sleep(time.Until(deadline.Add(time.Duration(results[i].offset) * time.Millisecond)))
				}
				results[i].released = time.Since(deadline)
				if _, err := pairs[i].admin.Exec(ctx, "ROLLBACK"); err != nil {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		allReturned := time.Now()
		// Who is still waiting when every caller has returned.
		var still int
		if err := chk.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state = 'active' AND wait_event_type = 'Lock'
			AND query LIKE '%post_transfer_or_abort%'`).Scan(&still); err != nil {
			t.Fatal(err)
		}
		relWG.Wait()
		time.Sleep(1500 * time.Millisecond)
		close(monStop)
		<-monDone
		if still > maxStillWaiting {
			maxStillWaiting = still
		}
		clientCut, serverFirst, bookedAfterErr, commitCut, unanswered, unknown := 0, 0, 0, 0, 0, 0
		for i := range results {
			r := &results[i]
			if err := chk.QueryRow(ctx, "SELECT count(*) FROM transactions WHERE idempotency_key = $1", r.key).Scan(&r.rows); err != nil {
				t.Fatal(err)
			}
			switch {
			case r.err == nil:
			case strings.Contains(r.err.Error(), "statement timeout"):
				serverFirst++
			case strings.Contains(r.err.Error(), "commit: "):
				commitCut++
			default:
				clientCut++
			}
			switch {
			case errors.Is(r.err, store.ErrOutcomeUnknown):
				unknown++
				continue
			case errors.Is(r.err, store.ErrCommitUnanswered):
				unanswered++
				if r.atReturn != r.rows {
					t.Errorf("MONEY DEFECT round %d transfer %d: unanswered commit read %d row(s) at its return, %d finally (err %q)", round, i, r.atReturn, r.rows, r.err)
				} else if r.rows > 0 {
					t.Logf("round %d transfer %d: unanswered commit had committed (err %q)", round, i, r.err)
				}
				continue
			}
			if r.err != nil && r.rows > 0 {
				bookedAfterErr++
				t.Errorf("MONEY DEFECT round %d transfer %d: caller got %q at deadline%+v, lock released at deadline%+v (asked %+d ms), and %d row(s) booked with its key",
					round, i, r.err, r.returned.Round(time.Millisecond), r.released.Round(time.Millisecond), r.offset, r.rows)
			}
			if r.err == nil && r.rows == 0 {
				t.Errorf("round %d transfer %d: success reported, nothing booked", round, i)
			}
		}
		// Server sessions: how long past their own statement_timeout they waited.
		mu.Lock()
		var lates []string
		timeout := left - 250*time.Millisecond
		for pid, sn := range sessions {
			due := sn.start.Add(timeout)
			late := sn.last.Sub(due)
			if late > lateMax {
				lateMax = late
			}
			if sn.last.After(allReturned) {
				lates = append(lates, fmt.Sprintf("pid %d waited until deadline%+v (its timeout due deadline%+v, %+v past it)", pid,
					sn.last.Sub(deadline).Round(time.Millisecond), due.Sub(deadline).Round(time.Millisecond), late.Round(time.Millisecond)))
			}
		}
		mu.Unlock()
		sort.Strings(lates)
		t.Logf("round %d: n=%d left=%v spin=%d warm=%v: client cut the carried statement %d, server timeout first %d, separate COMMIT cut %d, ok %d (unanswered commits settled %d, outcome unknown %d); still lock-waiting when all callers returned (at deadline%+v): %d; booked after error: %d",
			round, n, left, spin, warm, clientCut, serverFirst, commitCut, n-clientCut-serverFirst-commitCut, unanswered, unknown, allReturned.Sub(deadline).Round(time.Millisecond), still, bookedAfterErr)
		totalUnanswered += unanswered
		for _, l := range lates {
			t.Logf("  still waiting after all returned: %s", l)
		}
		if testing.Verbose() {
			for i, r := range results {
				t.Logf("  %2d: offset %+5d ms released %+v returned %+v rows %d err %v", i, r.offset,
					r.released.Round(time.Millisecond), r.returned.Round(time.Millisecond), r.rows, r.err)
			}
		}
		totalClientCut += clientCut
		totalServerFirst += serverFirst
		totalBookedAfterErr += bookedAfterErr
		all = append(all, results...)
	}
	t.Logf("TOTAL over %d rounds x %d: client cut first %d, server timeout first %d, unanswered commits settled %d, booked after a plain error %d, max still lock-waiting at all-returned %d, latest session past its due timeout %v",
		rounds, n, totalClientCut, totalServerFirst, totalUnanswered, totalBookedAfterErr, maxStillWaiting, lateMax.Round(time.Millisecond))
	_ = all
}
