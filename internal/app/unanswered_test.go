package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store/pgstore"
)

// TestSendHopCommitAnswerLost: the answer to a send's COMMIT never comes
// back (a TCP proxy drops it), so the hop's deadline passes while the
// transfer has committed. The subscriber must see that it was sent (the
// store ends the server session, the wallet reads the transfer's key), not
// the apology that asks to try again, and the gateway's retry of the hop
// must get the same screen, with the money moved once. PostgreSQL: the
// transfer's batch alone carries its receiving row's key, which the proxy
// watches for (the wallet tests cover both servers' COMMITs).
func TestSendHopCommitAnswerLost(t *testing.T) {
	proxy, proxied := dbtest.ProxyURL(t, dbtest.URL(t, "postgres"))
	a := startApp(t, "postgres", func(c *config.Config) {
		c.DatabaseURL = proxied
		c.USSDHopTimeout = time.Second
	})
	from, to := newPhone(t, a), newPhone(t, a)
	expect(t, register(t, from, "4827"), "Account ready")
	expect(t, register(t, to, "4827"), "Account ready")
	fund(t, a, from, 10_000)

	// atPIN walks a send of 3,000 sats to the PIN screen, arms fault, and
	// types the PIN; it returns the screen and checks it came after the
	// hop's deadline (the proxy did its work).
	atPIN := func(fault func()) string {
		t.Helper()
		from.dial()
		from.press("1")
		from.press(to.number)
		from.press("3000")
		expect(t, from.press("1"), "Enter your PIN")
		fault()
		began := time.Now()
		screen := from.press("4827")
		took := time.Since(began)
		t.Logf("the PIN hop answered in %s: %q", took.Round(time.Millisecond), screen)
		if took < a.Config.USSDHopTimeout {
			t.Fatalf("answered in %s, before the hop's deadline: the proxy did not cut it", took)
		}
		if again := from.again(); again != screen {
			t.Fatalf("the gateway's retry got %q, want %q", again, screen)
		}
		return screen
	}
	holds := func(want, wantTo int64) {
		t.Helper()
		if got, gotTo := balance(t, a, from), balance(t, a, to); got != want || gotTo != wantTo {
			t.Fatalf("sender holds %d sats, recipient %d; want %d and %d", got, gotTo, want, wantTo)
		}
	}

	// Committed, its answer lost: "Sent", with the balance.
	screen := atPIN(func() { proxy.LoseRepliesAfter("/receive") })
	expect(t, screen, "END Sent 3,000 sats", "Balance: 7,000 sats")
	holds(7_000, 3_000)

	// Never reached the server, and the store cannot reach it either to
	// end the session (its next connection is refused): nothing can say
	// whether it will commit, so the subscriber is told to look before
	// trying again, not to try again.
	screen = atPIN(func() { proxy.LoseRequestsFrom("/receive"); proxy.HangUpOn(pgstore.SettleApplication) })
	expect(t, screen, "END Sorry, we could not confirm this. Check your balance before you try again.")
	// The network comes back: the server session ends with its
	// connection, and nothing it held commits.
	proxy.Drop()
	// The pool finds its dropped connections one failed read at a time.
	for i := 0; i < 20 && a.DB.Ping(context.Background()) != nil; i++ {
	}
	holds(7_000, 3_000)
	if strings.Contains(screen, "try again later") {
		t.Fatalf("screen %q asks to try again", screen)
	}
}
