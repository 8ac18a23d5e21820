package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
)

// serializable starts servers on a fresh PostgreSQL database with
// DB_ISOLATION=serializable, and logs each one's transactions and retries
// when the test ends.
func serializable(t *testing.T) starter {
	return func(mutate func(*config.Config)) *app.App {
		a := startApp(t, "postgres", func(c *config.Config) {
			c.DBIsolation = store.IsolationSerializable
			if mutate != nil {
				mutate(c)
			}
		})
		// Cleanups run last-in first-out: this one reads the counters
		// before the server's own cleanup closes the store.
		t.Cleanup(func() { dbtest.LogRetries(t, a.DB, "SERIALIZABLE") })
		return a
	}
}

// TestSerializableUSSDJourneys runs the USSD journeys of e2e_test.go on a
// server whose PostgreSQL transactions all run at SERIALIZABLE.
func TestSerializableUSSDJourneys(t *testing.T) {
	for name, journey := range map[string]func(*testing.T, starter){
		"RegistrationAndSend": ussdRegistrationAndSend, "WrongPINAndLockout": ussdWrongPINAndLockout,
		"NavigationAndLanguage": ussdNavigationAndLanguage, "HistoryPaging": ussdHistoryPaging,
		"GatewayEdges": ussdGatewayEdges, "LightningNodeDown": ussdLightningNodeDown,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			journey(t, serializable(t))
		})
	}
}

// TestSerializableUSSDConcurrent: phones register and send to one another
// over USSD all at once, on one server at SERIALIZABLE, so their
// transactions (and the SMS sender's claims of the receipts they queue)
// collide and are retried. Every hop answers CON or END, each send the
// gateway saw confirmed is one completed transfer, none refused moved
// anything, the total is conserved and reconcile finds nothing.
func TestSerializableUSSDConcurrent(t *testing.T) {
	const phones, sends, funding = 10, 12, 2_000
	// A generous hop deadline: a hop cut short by it would leave the
	// test not knowing whether its send committed.
	a := serializable(t)(func(c *config.Config) { c.USSDHopTimeout = 30 * time.Second })
	ps := make([]*phone, phones)
	for i := range ps {
		ps[i] = newPhone(t, a)
	}
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { expect(t, register(t, p, "7391"), "Account ready") })
	}
	wg.Wait()
	for _, p := range ps {
		fund(t, a, p, funding)
	}
	var mu sync.Mutex
	var sent, refused int
	var confirmHops []time.Duration
	for i, p := range ps {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 13))
			for range sends {
				to := ps[rng.IntN(phones)]
				if to == p {
					continue
				}
				// Up to half the funding: some sends find the balance too low.
				amount := 1 + rng.IntN(funding/2)
				p.dial()
				p.press("1")
				p.press(to.number)
				screen := p.press(fmt.Sprint(amount))
				if strings.Contains(screen, "Balance too low") {
					mu.Lock()
					refused++
					mu.Unlock()
					continue
				}
				expect(t, screen, "1. Confirm")
				p.press("1")
				began := time.Now()
				screen = p.press("7391")
				took := time.Since(began)
				mu.Lock()
				confirmHops = append(confirmHops, took)
				switch {
				case strings.HasPrefix(screen, "END Sent"):
					sent++
				case strings.Contains(screen, "Balance too low"):
					refused++ // another send spent it since the amount hop
				default:
					t.Errorf("send of %d sats answered %q", amount, screen)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d sends confirmed, %d refused for the balance", sent, refused)
	if sent == 0 {
		t.Fatal("no send went through")
	}
	var total, completed int64
	for _, p := range ps {
		b := balance(t, a, p)
		if b < 0 {
			t.Errorf("%s holds %d sats", p.number, b)
		}
		total += b
		u, err := a.Wallet.UserByPhone(context.Background(), p.number)
		if err != nil {
			t.Fatal(err)
		}
		history, err := a.Wallet.History(context.Background(), u.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(history) == 100 {
			t.Fatalf("%s has more history than one page", p.number)
		}
		for _, tx := range history {
			if tx.Type == store.TypeSend && tx.Status == store.StatusCompleted {
				completed++
			}
		}
	}
	if total != phones*funding {
		t.Fatalf("the phones hold %d sats together, want %d", total, phones*funding)
	}
	if completed != int64(sent) {
		t.Fatalf("%d completed transfers in the books, %d confirmed to the gateway", completed, sent)
	}
	rep, err := a.Wallet.Reconcile(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("reconcile: %+v %v", rep, err)
	}
	slices.Sort(confirmHops)
	t.Logf("confirm hops: p50 %s, p99 %s, max %s", confirmHops[len(confirmHops)/2].Round(time.Millisecond),
		confirmHops[len(confirmHops)*99/100].Round(time.Millisecond), confirmHops[len(confirmHops)-1].Round(time.Millisecond))
}
