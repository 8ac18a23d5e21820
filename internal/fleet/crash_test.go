package fleet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/fleet"
)

// TestCrashAnywhere kills the server with SIGKILL at random instants under
// a continuing load, and starts it again on the same port each time: USSD
// transfers, Lightning payments out (to a Lightning Address of the world
// node) and in (the world node paying users' addresses), M-Pesa top-ups
// (STK pushes and Daraja's callbacks) and withdrawals (B2C). The kills are
// spread over the engines, at least 100 in all (SOAK=1: 600). At the end,
// with the server up and nothing left pending: `server reconcile` passes;
// every operation the load saw acknowledged is in the books exactly once,
// none refused or cut before its money hop is, and an unknown one (its
// money hop cut by a kill) at most once; no balance is negative; our node
// paid each invoice at most once and a payment is booked completed iff it
// paid it; every payment the world made to us is credited once; what
// M-Pesa collected is credited, what it paid out is completed in the
// books, and nothing else.
func TestCrashAnywhere(t *testing.T) {
	bin := fleet.Build(t, t.TempDir())
	kills := 102
	if soak() {
		kills = 600
	}
	per := (kills + len(dbtest.Engines) - 1) / len(dbtest.Engines)
	var total, violations int
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			k, v := crash(t, bin, engine, per)
			total += k
			violations += v
		})
	}
	t.Logf("in all: %d kills, %d violations", total, violations)
}

func crash(t *testing.T, bin, engine string, kills int) (int, int) {
	r := newRig(t, bin, engine, 1, nil)
	ctx := context.Background()
	phones := r.phones(8)
	for _, p := range phones {
		r.register(ctx, p)
		r.credit(p, 2_000_000)
	}
	bank := phones[:5]

	var mu sync.Mutex
	var ops []op
	var stop atomic.Bool
	var wg sync.WaitGroup
	worker := func(next func() op) {
		wg.Go(func() {
			for !stop.Load() {
				o := next()
				mu.Lock()
				ops = append(ops, o)
				mu.Unlock()
				if o.out != acked {
					time.Sleep(50 * time.Millisecond) // the server may be down
				}
			}
		})
	}
	for range 3 {
		worker(func() op {
			i, j := rand.IntN(len(bank)), rand.IntN(len(bank)-1)
			if j >= i {
				j++
			}
			return r.transfer(ctx, bank[i], bank[j], 1+rand.Int64N(1_000))
		})
	}
	worker(func() op { return r.payAddress(ctx, phones[5], 1_000+rand.Int64N(2_000)) })
	worker(func() op { return r.payIn(ctx, phones[rand.IntN(len(phones))], 1_000+rand.Int64N(2_000)) })
	worker(func() op { return r.buy(ctx, phones[6], 10+rand.IntN(200)) })
	worker(func() op { return r.sell(ctx, phones[7], 10+rand.IntN(40)) })

	began := time.Now()
	var restart time.Duration
	for range kills {
		time.Sleep(time.Duration(100+rand.IntN(1_400)) * time.Millisecond)
		r.fleet.Kill(0)
		start := time.Now()
		if err := r.fleet.Start(0); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatal(err)
		}
		restart += time.Since(start)
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	s := r.fleet.Servers()[0]
	if s.Kills() != kills {
		t.Errorf("%d kills, want %d", s.Kills(), kills)
	}
	t.Logf("%s: %d kills in %s (restart to ready: %s on average)", engine, s.Kills(), time.Since(began).Round(time.Second),
		(restart / time.Duration(kills)).Round(time.Millisecond))

	left := r.settle(3*time.Minute, false)
	for _, x := range left {
		t.Logf("unknown, left pending for an operator: %s %d (%s) %d msat, KES %d, never acknowledged by Daraja", x.typ, x.id, x.key, x.amount, x.kes)
	}
	all := r.txns()
	v := checkOps(all, ops)
	v = append(v, checkNegative(r.balances())...)
	v = append(v, r.checkLightning(all)...)
	mv, unknowns := r.checkMpesa(all)
	v = append(v, mv...)
	for _, u := range unknowns {
		t.Logf("unknown, left pending: %s", u)
	}
	// A payment in the world saw succeed is credited once (checkLightning
	// holds it for every hash; here for each acknowledgement too).
	paidIn := 0
	for _, o := range ops {
		if o.kind == "ln-in" && o.out == acked {
			paidIn++
		}
	}
	credits := 0
	for _, x := range all {
		if x.typ == "invoice" && x.status == "completed" {
			credits++
		}
	}
	if credits < paidIn {
		v = append(v, fmt.Sprintf("%d payments in acknowledged by the world, %d credited", paidIn, credits))
	}
	out := r.reconcile()
	if !strings.Contains(out, "books balance") {
		v = append(v, "reconcile found violations")
	}
	t.Logf("%s: operations %s\n%s", engine, tally(ops), out)
	for _, s := range v {
		t.Error(s)
	}
	t.Logf("%s: %d kills, %d operations, %d left pending as unknown (%d of them pushes M-Pesa collected), %d violations",
		engine, s.Kills(), len(ops), len(left), len(unknowns), len(v))
	return s.Kills(), len(v)
}
