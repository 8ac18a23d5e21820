package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbserver"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The bounds of the database restart test. The hop deadline is the
// server's (USSD_HOP_TIMEOUT); an answer may come later only by the time it
// takes to write it on a loaded machine, and a transfer's by the time its
// COMMIT may take to be settled and read back when the outage cut its
// answer (restartSettle; the README: "Sent", past the hop's deadline).
const (
	restartHopDeadline = 3 * time.Second
	restartHopMargin   = 1500 * time.Millisecond
	restartSettle      = store.SettleTimeout + wallet.OutcomeTimeout
	// restartRecovery bounds the return to normal answers after the
	// database accepts connections again: far above what is measured (the
	// figures are logged), so that only a real failure to recover fails.
	restartRecovery = 30 * time.Second
)

// restartEnv reads the load's size: RESTART_OUTAGES cycles of a clean stop,
// a SIGKILL and a freeze (default 1), RESTART_DOWN seconds each outage lasts
// (default 3), RESTART_SESSIONS concurrent gateway sessions (default 6).
// `make soak` runs a longer form.
func restartEnv(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// TestDatabaseRestart stops the server's database under USSD load, cleanly
// and with SIGKILL, and starts it again, then freezes it (SIGSTOP: it keeps
// its connections and answers nothing, as a hung host would) and thaws it,
// on a private PostgreSQL and a private MariaDB (internal/dbserver): several
// gateway sessions keep doing registrations, balances and sends throughout. Every hop gets 200 and a
// CON/END screen (an apology while the database is down) within the hop
// deadline; /readyz is 503 while it is down and 200 after; every send the
// gateway saw acknowledged is in the books exactly once, none refused or
// never confirmed is, an unknown outcome (an apology at the PIN) at most
// once; the total is conserved and reconcile passes. The time from the
// database accepting connections to the first normal answer and to
// /readyz 200 is measured and logged.
func TestDatabaseRestart(t *testing.T) {
	dbserver.ForEachEngine(t, testDatabaseRestart)
}

func testDatabaseRestart(t *testing.T, srv *dbserver.Server) {
	ctx := context.Background()
	dbURL := srv.Database(t)
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.PublicDomain = "umeme.test"
	cfg.HopsPerMinute, cfg.PINsPerMinute = 0, 0
	cfg.USSDCallbackToken = "restart-gateway-token"
	cfg.USSDHopTimeout = restartHopDeadline
	logs := &logBuffer{}
	a := startAppWithLogger(t, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", tail(logs.String(), 8000))
		}
	})

	const pin, funds = "7391", 1_000_000
	users := make([]string, 8)
	for i := range users {
		p := newPhone(t, a)
		expect(t, register(t, p, pin), "Account ready")
		fund(t, a, p, funds)
		users[i] = p.number
	}
	gw := &restartGateway{base: "http://" + a.Addr(), token: cfg.USSDCallbackToken, client: &http.Client{Timeout: restartHopDeadline + 30*time.Second}}

	// The load: each session walks journeys until stopped.
	load := &restartLoad{gw: gw, users: users, pin: pin}
	stop := make(chan struct{})
	var workers sync.WaitGroup
	for range restartEnv(t, "RESTART_SESSIONS", 6) {
		workers.Go(func() { load.run(t, stop) })
	}
	stopLoad := sync.OnceFunc(func() { close(stop); workers.Wait() })
	t.Cleanup(stopLoad)

	down := time.Duration(restartEnv(t, "RESTART_DOWN", 3)) * time.Second
	type outage struct {
		kind                        string
		stopped, up                 time.Time
		firstNormal, firstReady     time.Duration
		readyDuring, readyDuring503 int
	}
	var outages []*outage
	time.Sleep(2 * time.Second) // normal load first
	for range restartEnv(t, "RESTART_OUTAGES", 1) {
		for _, kind := range []string{"clean stop", "SIGKILL", "frozen"} {
			o := &outage{kind: kind, stopped: time.Now()}
			outages = append(outages, o)
			var err error
			if kind == "frozen" {
				err = srv.Freeze()
			} else {
				err = srv.Stop(kind == "SIGKILL")
			}
			if err != nil {
				t.Fatal(err)
			}
			for until := time.Now().Add(down); time.Now().Before(until); time.Sleep(100 * time.Millisecond) {
				o.readyDuring++
				if status := gw.readyz(); status == http.StatusServiceUnavailable {
					o.readyDuring503++
				} else {
					t.Errorf("%s: /readyz answered %d while the database was down", kind, status)
				}
			}
			if kind == "frozen" {
				err = srv.Thaw()
			} else {
				sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				err = srv.Start(sctx)
				cancel()
			}
			if err != nil {
				t.Fatal(err)
			}
			o.up = time.Now()
			// A prober of its own: a fresh session of a registered user
			// (its main menu needs the database) and /readyz, until both
			// answer normally.
			for o.firstNormal == 0 || o.firstReady == 0 {
				if time.Since(o.up) > restartRecovery {
					t.Fatalf("%s: not recovered %s after the database came back (normal answer after %s, ready after %s)",
						kind, restartRecovery, o.firstNormal, o.firstReady)
				}
				if o.firstNormal == 0 {
					h := gw.hop(restartSessionID(), users[0], "")
					load.record(h) // checked with the load's
					if h.err == nil && strings.HasPrefix(h.body, "CON Umeme") {
						o.firstNormal = time.Since(o.up)
					}
				}
				if o.firstReady == 0 && gw.readyz() == http.StatusOK {
					o.firstReady = time.Since(o.up)
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(3 * time.Second) // normal load again
		}
	}
	stopLoad()

	// Every hop: 200, a screen, in time.
	hops, apologies := load.check(t)
	for _, o := range outages {
		kind := o.kind
		during := 0
		firstLoad := time.Duration(-1)
		for _, h := range load.hops {
			if h.start.After(o.stopped) && h.end.Before(o.up) && isApology(h.body) {
				during++
			}
			if h.start.After(o.up) && !isApology(h.body) && h.err == nil && (firstLoad < 0 || h.end.Sub(o.up) < firstLoad) {
				firstLoad = h.end.Sub(o.up)
			}
		}
		if during == 0 {
			t.Errorf("%s: no hop of the load was answered with an apology while the database was down", kind)
		}
		if o.readyDuring503 == 0 {
			t.Errorf("%s: /readyz was never asked while the database was down", kind)
		}
		t.Logf("%s engine=%s down=%s: apologies while down %d, /readyz 503 %d/%d; after the database accepted connections: "+
			"first normal answer (prober) %s, first normal answer (any session) %s, /readyz 200 %s",
			kind, srv.Engine, o.up.Sub(o.stopped).Round(time.Millisecond), during, o.readyDuring503, o.readyDuring,
			o.firstNormal.Round(time.Millisecond), firstLoad.Round(time.Millisecond), o.firstReady.Round(time.Millisecond))
	}
	t.Logf("engine=%s: %d hops, %d apologies, slowest hop %s, sends: %d acknowledged, %d unknown, %d not confirmed or refused",
		srv.Engine, hops, apologies, load.slowest().Round(time.Millisecond), len(load.acked), len(load.unknown), len(load.notSent))

	// The books: each acknowledged send once, nothing else but unknowns
	// (at most once), the total conserved, reconcile clean.
	db := dbtest.RawDB(t, dbURL)
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT amount_msat, status FROM transactions WHERE type = 'send' AND direction = 'out'")
	if err != nil {
		t.Fatal(err)
	}
	booked := map[int64]int{}
	for rows.Next() {
		var msat int64
		var status string
		if err := rows.Scan(&msat, &status); err != nil {
			t.Fatal(err)
		}
		if status != "completed" {
			t.Errorf("a send of %d msat is %s", msat, status)
		}
		booked[msat/1000]++
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for n := range load.acked {
		if booked[n] != 1 {
			t.Errorf("the acknowledged send of %d sats is booked %d times", n, booked[n])
		}
	}
	unknownBooked := 0
	for n, c := range booked {
		switch {
		case load.unknown[n]:
			if c > 1 {
				t.Errorf("the send of %d sats with an unknown outcome is booked %d times", n, c)
			}
			unknownBooked++
		case load.notSent[n]:
			t.Errorf("the send of %d sats the gateway never confirmed (or saw refused) is booked %d times", n, c)
		case !load.acked[n]:
			t.Errorf("a send of %d sats nobody asked for is booked %d times", n, c)
		}
	}
	var total int64
	for _, u := range users {
		total += balance(t, a, &phone{number: u})
	}
	if want := int64(len(users)) * funds; total != want {
		t.Errorf("the users hold %d sats in all, funded %d", total, want)
	}
	rep, err := a.Wallet.Reconcile(ctx)
	if err != nil || !rep.OK() {
		t.Errorf("reconcile: %+v %v", rep, err)
	}
	t.Logf("engine=%s: %d sends booked (%d of the %d unknown outcomes went through), total %d sats conserved",
		srv.Engine, len(booked), unknownBooked, len(load.unknown), total)
	if len(load.acked) == 0 {
		t.Error("no send was acknowledged: the load did not run")
	}
}

func isApology(body string) bool { return strings.HasPrefix(body, "END Sorry, the service is busy") }

// isUnconfirmed is the screen of a send whose outcome could not be told.
func isUnconfirmed(body string) bool {
	return strings.HasPrefix(body, "END Sorry, we could not confirm")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

var restartSessions atomic.Int64

func restartSessionID() string {
	return fmt.Sprintf("ATUid_restart_%d_%d", time.Now().UnixNano(), restartSessions.Add(1))
}

// restartGateway is the USSD gateway of the load: it records, rather than
// fails on, what it gets, for it runs outside the test's goroutine.
type restartGateway struct {
	base, token string
	client      *http.Client

	dumpOnce sync.Once
	dump     string // the goroutines when a hop was first late
}

type restartHop struct {
	text       string
	start, end time.Time
	status     int
	body       string
	err        error
}

func (g *restartGateway) hop(session, number, text string) restartHop {
	h := restartHop{text: text, start: time.Now()}
	// The server runs in this process: the first hop past its deadline
	// leaves a dump of the goroutines to show what it waits for.
	late := time.AfterFunc(restartHopDeadline+restartHopMargin, func() {
		g.dumpOnce.Do(func() {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 2) //nolint:errcheck // a strings.Builder
			g.dump = b.String()
		})
	})
	defer late.Stop()
	resp, err := g.client.PostForm(g.base+"/ussd?token="+url.QueryEscape(g.token), url.Values{
		"sessionId": {session}, "phoneNumber": {number}, "networkCode": {"63902"},
		"serviceCode": {"*384*1234#"}, "text": {text},
	})
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		h.status, h.body = resp.StatusCode, string(b)
	}
	h.end, h.err = time.Now(), err
	return h
}

func (g *restartGateway) readyz() int {
	resp, err := g.client.Get(g.base + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// restartLoad is the concurrent sessions' journeys and what they saw.
type restartLoad struct {
	gw    *restartGateway
	users []string
	pin   string

	mu   sync.Mutex
	hops []restartHop
	// The sends by amount (each attempt a different one): acknowledged
	// ("Sent"), unknown (an apology or no answer at the PIN), and never
	// confirmed or refused.
	acked, unknown, notSent map[int64]bool
	amounts                 atomic.Int64
}

func (l *restartLoad) record(h restartHop) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hops = append(l.hops, h)
}

func (l *restartLoad) mark(set *map[int64]bool, n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *set == nil {
		*set = map[int64]bool{}
	}
	(*set)[n] = true
}

// run walks journeys until stop: a send (half of them), a balance, or a
// new registration. A journey ends at its first unexpected screen (the
// apology while the database is down).
func (l *restartLoad) run(t *testing.T, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		from := l.users[rand.N(len(l.users))]
		session := restartSessionID()
		var inputs []string
		// step sends one more input and says whether the screen is the
		// one wanted.
		step := func(number, in, want string) (restartHop, bool) {
			text := ""
			if in != "" || len(inputs) > 0 {
				inputs = append(inputs, in)
				text = strings.Join(inputs, "*")
			}
			h := l.gw.hop(session, number, text)
			l.record(h)
			ok := h.err == nil && strings.Contains(h.body, want)
			// A subscriber reads the screen and types; after an
			// apology they try again a little later.
			if ok {
				time.Sleep(time.Duration(10+rand.N(40)) * time.Millisecond)
			} else {
				time.Sleep(time.Duration(100+rand.N(200)) * time.Millisecond)
			}
			return h, ok
		}
		switch r := rand.N(10); {
		case r < 5:
			to := from
			for to == from {
				to = l.users[rand.N(len(l.users))]
			}
			n := l.amounts.Add(1)
			ok := true
			for _, s := range [][2]string{{"", "CON Umeme"}, {"1", "phone number"}, {to, "Amount in sats"},
				{strconv.FormatInt(n, 10), fmt.Sprintf("Send %s sats", group(n))}, {"1", "Enter your PIN"}} {
				if _, ok = step(from, s[0], s[1]); !ok {
					break
				}
			}
			if !ok {
				l.mark(&l.notSent, n)
				continue
			}
			switch h, ok := step(from, l.pin, fmt.Sprintf("END Sent %s sats", group(n))); {
			case ok:
				l.mark(&l.acked, n)
			case h.err != nil || isApology(h.body) || isUnconfirmed(h.body):
				l.mark(&l.unknown, n)
			default:
				l.mark(&l.notSent, n) // refused: the check below finds it if it moved
			}
		case r < 8:
			for _, s := range [][2]string{{"", "CON Umeme"}, {"3", "Enter your PIN"}, {l.pin, "END Balance"}} {
				if _, ok := step(from, s[0], s[1]); !ok {
					break
				}
			}
		default:
			number := storetest.Phone(t)
			for _, s := range [][2]string{{"", "Create account"}, {"1", "Choose a PIN"}, {l.pin, "again"}, {l.pin, "Account ready"}} {
				if _, ok := step(number, s[0], s[1]); !ok {
					break
				}
			}
		}
	}
}

// group writes n with thousands separators, as the screens do.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// settling is the time past the deadline a hop's screen may have taken to
// settle an unanswered COMMIT: restartSettle for a transfer's outcome
// ("Sent", or "could not confirm"), none for any other screen.
func settling(body string) time.Duration {
	if strings.HasPrefix(body, "END Sent ") || strings.Contains(body, "could not confirm") {
		return restartSettle
	}
	return 0
}

// check reports every hop that was not a 200 CON/END answer within the
// deadline, and counts the hops and the apologies.
func (l *restartLoad) check(t *testing.T) (hops, apologies int) {
	t.Helper()
	bad := 0
	for _, h := range l.hops {
		took := h.end.Sub(h.start)
		var why string
		switch {
		case h.err != nil:
			why = fmt.Sprintf("no answer: %v", h.err)
		case h.status != http.StatusOK:
			why = fmt.Sprintf("status %d", h.status)
		case !strings.HasPrefix(h.body, "CON ") && !strings.HasPrefix(h.body, "END "):
			why = "not a screen"
		case took > restartHopDeadline+restartHopMargin+settling(h.body):
			why = fmt.Sprintf("took %s, over the %s deadline", took.Round(time.Millisecond), restartHopDeadline)
		}
		if why != "" {
			if bad++; bad <= 20 {
				t.Errorf("hop %q at %s: %s (%q)", h.text, h.start.Format("15:04:05.000"), why, h.body)
			}
		}
		if isApology(h.body) {
			apologies++
		}
	}
	if bad > 20 {
		t.Errorf("… %d bad hops in all", bad)
	}
	if bad > 0 && l.gw.dump != "" {
		t.Logf("the goroutines when a hop was first late:\n%s", l.gw.dump)
	}
	return len(l.hops), apologies
}

func (l *restartLoad) slowest() time.Duration {
	var d []time.Duration
	for _, h := range l.hops {
		d = append(d, h.end.Sub(h.start))
	}
	if len(d) == 0 {
		return 0
	}
	return slices.Max(d)
}
