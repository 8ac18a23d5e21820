package galera_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbadmin"
	"github.com/umeme-wallet/umeme/internal/galera"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

const (
	sat      = int64(1000) // msat
	pin      = "2791"
	gwToken  = "galera-gateway-token"
	minority = galera.Nodes - 1 // the node the isolation phase cuts off
)

// TestGalera runs the MySQL mode on a three-node MariaDB Galera cluster it
// starts itself (scripts/galera/cluster.sh, in a temporary folder, on free
// ports, so it runs beside a developer's make galera), with one server per
// node, each writing through its own node at the same time:
//
//   - BankAcrossNodes: concurrent transfers among shared accounts through
//     every node; certification conflicts (1213 at COMMIT) are retried and
//     counted, the total is conserved, no balance is negative, every
//     acknowledged transfer is in the books once, reconcile passes on every
//     node and every table has the same checksum on every node;
//   - SessionsHopNodes: USSD sessions whose every hop lands on the next
//     server, hence the next node (wsrep_sync_wait=1 in the URL makes each
//     read see the hop before);
//   - IsolatedNode: under load, one node is cut off (gmcast.isolate=1): the
//     majority keeps serving, the minority's server answers every hop with
//     the "try again later" apology and its /readyz with 503, and nothing
//     moves there; back (isolate=0), it is Synced again, nothing was lost
//     and reconcile passes on every node.
func TestGalera(t *testing.T) {
	cl := startCluster(t)
	t.Logf("cluster of %d nodes Synced in %s", galera.Nodes, cl.Took.Round(100*time.Millisecond))
	name := dbadmin.RandomName("umeme_galera")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := dbadmin.Create(ctx, "mysql", cl.URLs[0], name); err != nil {
		t.Fatal(err)
	}
	var urls [galera.Nodes]string
	for i, u := range cl.URLs {
		dbURL, err := dbadmin.WithDatabase(u, name)
		if err != nil {
			t.Fatal(err)
		}
		urls[i] = dbURL + "?wsrep_sync_wait=1"
	}
	w := startWorld(t, urls)

	b := newBank(t, w, 24, 10_000*sat)
	t.Run("BankAcrossNodes", func(t *testing.T) {
		before := w.retries()
		t0 := time.Now()
		var wg sync.WaitGroup
		for node := range galera.Nodes {
			for worker := range 3 {
				wg.Go(func() { b.transfer(t, node, fmt.Sprintf("bank-%d-%d", node, worker), 40, nil) })
			}
		}
		wg.Wait()
		took := time.Since(t0)
		retries := w.retries()
		for node := range galera.Nodes {
			c := b.count(node)
			t.Logf("node %d: %d transfers completed, %d refused for balance, %d transactions retried", node+1, c.ok, c.refused, retries[node]-before[node])
		}
		total := sum(retries) - sum(before)
		ok := b.total().ok
		t.Logf("%d transfers completed in %s through %d nodes; %d transactions retried after a conflict (%.1f per 100 completed)",
			ok, took.Round(time.Millisecond), galera.Nodes, total, 100*float64(total)/float64(max(ok, 1)))
		if c := b.total(); c.ok == 0 || c.refused == 0 {
			t.Fatalf("the workload must both complete and refuse transfers: %+v", c)
		}
		if total == 0 {
			t.Error("no transaction was retried: writes through three nodes at once never conflicted, so the retry path was not exercised")
		}
		b.verify(t, w, cl, name)
	})

	t.Run("SessionsHopNodes", func(t *testing.T) {
		var wg sync.WaitGroup
		for k := range galera.Nodes {
			wg.Go(func() { sessionsHopNodes(t, w, k) })
		}
		wg.Wait()
		if !t.Failed() {
			t.Logf("%d payers and payees registered, paid and checked their balances with every hop on the next node", galera.Nodes)
		}
		mustReconcile(t, w)
	})

	t.Run("IsolatedNode", func(t *testing.T) {
		isolatedNode(t, w, cl, b, name)
	})
}

// startCluster starts a cluster in a folder of its own on free ports and
// stops it when the test ends. Without Galera on the machine the test
// skips, unless REQUIRE_GALERA=1 (CI), when it fails.
func startCluster(t *testing.T) *galera.Cluster {
	t.Helper()
	if err := galera.Installed(); err != nil {
		if os.Getenv("REQUIRE_GALERA") == "1" {
			t.Fatalf("REQUIRE_GALERA=1 but %v", err)
		}
		t.Skipf("%v; REQUIRE_GALERA=1 makes this a failure", err)
	}
	// The daemons run as the mysql user, which must reach the folder: not
	// t.TempDir, whose parent is private to us.
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "galera", "cluster.sh"))
	if err != nil {
		t.Fatal(err)
	}
	// A run that panicked could not stop its cluster: stop it now.
	pattern := filepath.Join(os.TempDir(), "umeme-galera-*")
	for _, dir := range galera.StopOrphans(script, pattern) {
		t.Logf("stopped the cluster a finished test process left in %s", dir)
	}
	dir, err := os.MkdirTemp("", "umeme-galera-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ports, err := galera.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := galera.Start(ctx, script, dir, ports)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := cl.Stop(ctx); err != nil {
			t.Errorf("stop the cluster: %v", err)
		}
	})
	return cl
}

// world is one server per node, and a wallet on each server's database
// for the bank workload (with a long authorization, so that one PIN check
// serves the whole test).
type world struct {
	apps    [galera.Nodes]*app.App
	wallets [galera.Nodes]*wallet.Service
	logs    [galera.Nodes]*logTail
}

func startWorld(t *testing.T, urls [galera.Nodes]string) *world {
	t.Helper()
	w := &world{}
	// The first server migrates the schema; the others find it done (DDL
	// is cluster-wide: migrations run from one place).
	for i, u := range urls {
		cfg := config.Default()
		cfg.DatabaseURL = u
		cfg.ListenAddr = "127.0.0.1:0"
		cfg.PublicDomain = "umeme.test"
		cfg.HopsPerMinute, cfg.PINsPerMinute = 0, 0
		cfg.USSDCallbackToken = gwToken
		w.logs[i] = &logTail{}
		a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(w.logs[i], &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			t.Fatalf("server %d: %v", i+1, err)
		}
		if err := a.Start(); err != nil {
			a.Close(context.Background())
			t.Fatalf("server %d: %v", i+1, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a.Close(ctx)
			if t.Failed() {
				t.Logf("server %d's last warnings and errors:\n%s", i+1, w.logs[i])
			}
		})
		wcfg := cfg.Wallet()
		wcfg.AuthorizationTTL = time.Hour
		wcfg.DailyLimitMsat = 1 << 60
		ws, err := wallet.New(context.Background(), a.DB, wcfg)
		if err != nil {
			t.Fatal(err)
		}
		w.apps[i], w.wallets[i] = a, ws
	}
	return w
}

// retries are the transactions each server's store ran again.
func (w *world) retries() [galera.Nodes]int64 {
	var r [galera.Nodes]int64
	for i, a := range w.apps {
		r[i] = a.DB.Retries()
	}
	return r
}

func sum(a [galera.Nodes]int64) int64 {
	var s int64
	for _, v := range a {
		s += v
	}
	return s
}

func mustReconcile(t *testing.T, w *world) {
	t.Helper()
	for i, ws := range w.wallets {
		rep, err := ws.Reconcile(context.Background())
		if err != nil {
			t.Fatalf("reconcile on node %d: %v", i+1, err)
		}
		if !rep.OK() {
			t.Fatalf("reconcile on node %d found violations: %+v", i+1, rep)
		}
	}
}

// member is a funded account of the bank workload.
type member struct {
	user wallet.User
	auth wallet.Authorization
}

// outcome counts a node's transfers by what their callers were told.
type outcome struct {
	ok, refused, unavailable, retryable, commitLost int
}

// erErrorDuringCommit is what a node answers a COMMIT it could not
// replicate because it lost the primary component on the way ("Error while
// appending streaming replication fragment"): the outcome is unknown.
const erErrorDuringCommit = 1180

// bank is the Jepsen bank workload: transfers among a fixed set of funded
// accounts, many larger than the sender holds. It remembers every
// transfer's key by what its caller was told.
type bank struct {
	wallets [galera.Nodes]*wallet.Service
	members []member
	start   int64

	mu      sync.Mutex
	counts  [galera.Nodes]outcome
	done    [galera.Nodes][]time.Time // when each completed transfer returned
	ok      map[string]bool           // acknowledged: in the books exactly once
	refused map[string]bool           // refused for balance: not in the books
	unknown map[string]bool           // an error: in the books at most once
}

func newBank(t *testing.T, w *world, accounts int, start int64) *bank {
	t.Helper()
	ctx := context.Background()
	b := &bank{wallets: w.wallets, start: start, ok: map[string]bool{}, refused: map[string]bool{}, unknown: map[string]bool{}}
	for i := range accounts {
		ws := w.wallets[i%galera.Nodes]
		u, _, err := ws.EnsureUser(ctx, storetest.Phone(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.Register(ctx, u.ID, pin); err != nil {
			t.Fatal(err)
		}
		if _, err := ws.Adjust(ctx, u.Phone, start, "galera bank funding", "fund:"+u.Phone); err != nil {
			t.Fatal(err)
		}
		auth, err := ws.VerifyPIN(ctx, u.ID, pin)
		if err != nil {
			t.Fatal(err)
		}
		b.members = append(b.members, member{user: u, auth: auth})
	}
	return b
}

// transfer runs n transfers through a node's wallet (until stop says so
// when n is 0). On the majority every call must be completed or refused
// for balance; allowUnavailable lets the calls through a cut-off node fail
// with ErrUnavailable or, once the retries are spent, ErrRetryable.
func (b *bank) transfer(t *testing.T, node int, prefix string, n int, stop *atomic.Bool) {
	b.transferOn(t, node, prefix, n, stop, false)
}

func (b *bank) transferOn(t *testing.T, node int, prefix string, n int, stop *atomic.Bool, allowUnavailable bool) {
	w := b.wallets[node]
	rng := rand.New(rand.NewPCG(uint64(node), uint64(len(prefix))+uint64(time.Now().UnixNano())))
	for i := 0; n == 0 || i < n; i++ {
		if stop != nil && stop.Load() {
			return
		}
		from, to := b.members[rng.IntN(len(b.members))], b.members[rng.IntN(len(b.members))]
		if from.user.ID == to.user.ID {
			continue
		}
		amount := (1 + rng.Int64N(3*b.start/sat)) * sat
		key := fmt.Sprintf("%s-%d", prefix, i)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := w.Transfer(ctx, from.auth, to.user.Phone, amount, key)
		cancel()
		b.mu.Lock()
		c := &b.counts[node]
		var me *mysql.MySQLError
		switch {
		case err == nil:
			c.ok++
			b.ok[key] = true
			b.done[node] = append(b.done[node], time.Now())
		case errors.Is(err, wallet.ErrInsufficientBalance):
			c.refused++
			b.refused[key] = true
		case allowUnavailable && errors.Is(err, store.ErrUnavailable):
			c.unavailable++
			b.unknown[key] = true
		case allowUnavailable && errors.Is(err, store.ErrRetryable):
			c.retryable++
			b.unknown[key] = true
		case allowUnavailable && errors.As(err, &me) && me.Number == erErrorDuringCommit,
			allowUnavailable && errors.Is(err, wallet.ErrOutcomeUnknown):
			// The node lost the primary component while it committed (or
			// its COMMIT's answer was lost, and the cut-off node can
			// neither end the session nor be read): the write set may
			// have reached the others, or not.
			c.commitLost++
			b.unknown[key] = true
		default:
			b.unknown[key] = true
			t.Errorf("transfer %s through node %d: %v", key, node+1, err)
		}
		b.mu.Unlock()
		if err != nil && !errors.Is(err, wallet.ErrInsufficientBalance) {
			time.Sleep(10 * time.Millisecond) // a cut-off node answers at once
		}
		if t.Failed() {
			return
		}
	}
}

func (b *bank) count(node int) outcome {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.counts[node]
}

func (b *bank) total() outcome {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s outcome
	for _, c := range b.counts {
		s.ok += c.ok
		s.refused += c.refused
		s.unavailable += c.unavailable
		s.retryable += c.retryable
		s.commitLost += c.commitLost
	}
	return s
}

// verify checks the books on every node: the total conserved, no negative
// balance, every acknowledged transfer recorded once, no refused one
// recorded, reconcile clean; then that every node holds the same data.
func (b *bank) verify(t *testing.T, w *world, cl *galera.Cluster, database string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for node, ws := range w.wallets {
		var total int64
		sends := map[string]int{}
		for _, m := range b.members {
			bal, err := ws.Balance(ctx, m.user.ID)
			if err != nil {
				t.Fatalf("node %d: %v", node+1, err)
			}
			if bal < 0 {
				t.Errorf("node %d: negative balance %d of user %d", node+1, bal, m.user.ID)
			}
			total += bal
			for before := int64(0); ; {
				page, err := ws.History(ctx, m.user.ID, before, 100)
				if err != nil {
					t.Fatalf("node %d: %v", node+1, err)
				}
				for _, tx := range page {
					if tx.Type == store.TypeSend && tx.Status == store.StatusCompleted {
						sends[tx.IdempotencyKey]++
					}
				}
				if len(page) < 100 {
					break
				}
				before = page[len(page)-1].ID
			}
		}
		if want := int64(len(b.members)) * b.start; total != want {
			t.Errorf("node %d: money was created or lost: total %d msat, want %d", node+1, total, want)
		}
		b.mu.Lock()
		var lost, doubled, phantom, unknownIn int
		for k := range b.ok {
			switch sends[k] {
			case 0:
				lost++
			case 1:
			default:
				doubled++
			}
		}
		for k, n := range sends {
			switch {
			case b.ok[k]:
			case b.unknown[k] && n == 1:
				unknownIn++
			default:
				phantom++ // refused, never tried, or recorded twice
			}
		}
		acknowledged, unknown := len(b.ok), len(b.unknown)
		b.mu.Unlock()
		if lost+doubled+phantom > 0 {
			t.Errorf("node %d: of %d acknowledged transfers %d are not in the books and %d are there twice; %d recorded transfers were refused or never made",
				node+1, acknowledged, lost, doubled, phantom)
		}
		if node == 0 && unknown > 0 {
			t.Logf("%d transfers ended in an error; %d of them were recorded (once) all the same: %v", unknown, unknownIn, recordedUnknown(b, sends))
		}
	}
	mustReconcile(t, w)
	sums, err := cl.SameData(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CHECKSUM TABLE identical on all %d nodes for all %d tables (ledger_entries %d)", galera.Nodes, len(sums), sums["ledger_entries"])
}

func recordedUnknown(b *bank, sends map[string]int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var keys []string
	for k := range b.unknown {
		if sends[k] > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// gateway posts hops to the servers as Africa's Talking would.
type gateway struct{ bases [galera.Nodes]string }

func newGateway(w *world) *gateway {
	g := &gateway{}
	for i, a := range w.apps {
		g.bases[i] = "http://" + a.Addr()
	}
	return g
}

var sessionSeq atomic.Int64

// phone is a subscriber whose sessions' hops go to one server after the
// other.
type phone struct {
	g       *gateway
	number  string
	session string
	inputs  []string
	next    int // the node of the next hop
}

func (p *phone) dial(node int) (string, error) {
	p.session = fmt.Sprintf("ATUid_galera_%d_%d", time.Now().UnixNano(), sessionSeq.Add(1))
	p.inputs = nil
	p.next = node % galera.Nodes
	return p.hop("")
}

func (p *phone) press(in string) (string, error) {
	p.inputs = append(p.inputs, in)
	return p.hop(strings.Join(p.inputs, "*"))
}

// hop posts one hop to the next node's server, and moves on to the next.
func (p *phone) hop(text string) (string, error) {
	node := p.next
	p.next = (p.next + 1) % galera.Nodes
	return p.g.post(node, p.session, p.number, text)
}

func (g *gateway) post(node int, session, number, text string) (string, error) {
	client := http.Client{Timeout: 15 * time.Second}
	resp, err := client.PostForm(g.bases[node]+"/ussd?token="+gwToken, url.Values{
		"sessionId": {session}, "phoneNumber": {number}, "networkCode": {"63902"},
		"serviceCode": {"*384*1234#"}, "text": {text},
	})
	if err != nil {
		return "", fmt.Errorf("hop %q on server %d: %w", text, node+1, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || !(strings.HasPrefix(string(body), "CON ") || strings.HasPrefix(string(body), "END ")) {
		return "", fmt.Errorf("hop %q on server %d: status %d, body %q", text, node+1, resp.StatusCode, body)
	}
	return string(body), nil
}

// script is one session: the inputs (the first "" is the dial) and what
// each screen must say.
type step struct{ in, want string }

func (p *phone) run(node int, steps ...step) error {
	for i, s := range steps {
		var got string
		var err error
		if i == 0 {
			got, err = p.dial(node)
		} else {
			got, err = p.press(s.in)
		}
		if err != nil {
			return err
		}
		if !strings.Contains(got, s.want) {
			return fmt.Errorf("%s: after %q on server %d the screen is %q, want %q", p.number, strings.Join(p.inputs, "*"), (p.next+galera.Nodes-1)%galera.Nodes+1, got, s.want)
		}
	}
	return nil
}

func register(p *phone, node int) error {
	return p.run(node, step{"", "1. Create account"}, step{"1", "Choose a PIN"}, step{pin, "again"}, step{pin, "Account ready"})
}

// sessionsHopNodes: a payer and a payee register, the payer sends and both
// read their balances, every hop on the next server's node; the payee's
// balance is read on another node right after the send's commit.
func sessionsHopNodes(t *testing.T, w *world, k int) {
	g := newGateway(w)
	payer := &phone{g: g, number: storetest.Phone(t)}
	payee := &phone{g: g, number: storetest.Phone(t)}
	if err := register(payer, k); err != nil {
		t.Error(err)
		return
	}
	if err := register(payee, k+1); err != nil {
		t.Error(err)
		return
	}
	if _, err := w.wallets[(k+2)%galera.Nodes].Adjust(context.Background(), payer.number, 5_000*sat, "galera ussd funding", "fund:"+payer.number); err != nil {
		t.Error(err)
		return
	}
	national := "0" + strings.TrimPrefix(payee.number, "+254")
	err := payer.run(k, step{"", "1. Send"}, step{"1", "Send to phone number"}, step{national, "Amount in sats"},
		step{"1500", "Send 1,500 sats"}, step{"1", "Enter your PIN"}, step{pin, "Sent 1,500 sats"})
	if err == nil {
		err = payee.run(payer.next, step{"", "3. Balance"}, step{"3", "Enter your PIN"}, step{pin, "Balance: 1,500 sats"})
	}
	if err == nil {
		err = payer.run(payee.next, step{"", "3. Balance"}, step{"3", "Enter your PIN"}, step{pin, "Balance: 3,500 sats"})
	}
	if err != nil {
		t.Error(err)
	}
}

// isolatedNode cuts the minority node off under load and lets it back.
func isolatedNode(t *testing.T, w *world, cl *galera.Cluster, b *bank, database string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g := newGateway(w)
	// A registered, funded subscriber who keeps trying to send through the
	// minority's server.
	sender := &phone{g: g, number: storetest.Phone(t)}
	if err := register(sender, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.wallets[0].Adjust(ctx, sender.number, 50_000*sat, "galera isolation funding", "fund:"+sender.number); err != nil {
		t.Fatal(err)
	}
	// The payee is no member of the bank, whose total stays its own.
	payee := storetest.Phone(t)

	// Phases: 0 before the cut, 1 cut off (the node said non-Primary), 2
	// let back (isolate=0 sent), 3 the node is Synced again.
	var phase atomic.Int32
	var stop atomic.Bool
	var wg sync.WaitGroup
	// However the phase ends (a Fatal too), the load stops first.
	defer func() { stop.Store(true); wg.Wait() }()
	before := b.total()
	var majorityDuringCut atomic.Int64
	for node := range minority {
		for worker := range 2 {
			wg.Go(func() {
				b.transfer(t, node, fmt.Sprintf("cut-%d-%d", node, worker), 0, &stop)
			})
		}
	}
	// The minority's wallet: its calls may be refused as unavailable.
	wg.Go(func() { b.transferOn(t, minority, "cut-minority", 0, &stop, true) })

	// The minority's USSD: sessions of sends, all hops on its server.
	type answer struct {
		phase  int32
		screen string
		took   time.Duration
		err    error
	}
	var amu sync.Mutex
	var answers []answer
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			steps := []string{"", "1", payee, "100", "1", pin}
			session := fmt.Sprintf("ATUid_galera_cut_%d_%d", time.Now().UnixNano(), i)
			for j := range steps {
				p0 := phase.Load()
				t0 := time.Now()
				screen, err := g.post(minority, session, sender.number, strings.Join(steps[1:j+1], "*"))
				a := answer{phase: p0, screen: screen, took: time.Since(t0), err: err}
				if p1 := phase.Load(); p1 != p0 {
					a.phase = -1 // the phase changed during the hop: either answer is right
				}
				amu.Lock()
				answers = append(answers, a)
				amu.Unlock()
				if err != nil || strings.HasPrefix(screen, "END ") {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	time.Sleep(time.Second)
	tCut := time.Now()
	if err := cl.Isolate(ctx, minority, true); err != nil {
		t.Fatal(err)
	}
	detected := time.Since(tCut)
	phase.Store(1)
	// The majority forms a primary component of two by itself, and serves:
	// it completes transfers again (until then the cluster waits for the
	// cut-off node, evs.suspect_timeout).
	for node := range minority {
		if err := cl.WaitPrimary(ctx, node, 2); err != nil {
			t.Fatal(err)
		}
	}
	okAtCut := b.total().ok
	for b.total().ok-okAtCut < 50 {
		if ctx.Err() != nil {
			t.Fatalf("the majority completed %d transfers in the first %s after the cut", b.total().ok-okAtCut, time.Since(tCut))
		}
		time.Sleep(20 * time.Millisecond)
	}
	readyDuring := readiness(w)
	time.Sleep(2 * time.Second)
	majorityDuringCut.Store(int64(b.total().ok - okAtCut))
	phase.Store(2)
	tBack := time.Now()
	if err := cl.Isolate(ctx, minority, false); err != nil {
		t.Fatal(err)
	}
	rejoined := time.Since(tBack)
	phase.Store(3)
	// The minority's server serves again: a normal screen, and ready.
	var served time.Duration
	for {
		screen, err := g.post(minority, fmt.Sprintf("ATUid_galera_back_%d", time.Now().UnixNano()), sender.number, "")
		if err == nil && strings.HasPrefix(screen, "CON ") {
			served = time.Since(tBack)
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the minority's server did not serve again after the node rejoined: %q %v", screen, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	readyAfter := readiness(w)
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()

	b.mu.Lock()
	for node := range galera.Nodes {
		var line []string
		for sec := -1; sec < 14; sec++ {
			n := 0
			for _, at := range b.done[node] {
				if d := at.Sub(tCut); d >= time.Duration(sec)*time.Second && d < time.Duration(sec+1)*time.Second {
					n++
				}
			}
			line = append(line, fmt.Sprint(n))
		}
		t.Logf("node %d: transfers completed per second from 1 s before the cut: %s", node+1, strings.Join(line, " "))
	}
	b.mu.Unlock()
	t.Logf("node %d cut off: non-Primary after %s; the majority completed %d transfers while it was cut off",
		minority+1, detected.Round(time.Millisecond), majorityDuringCut.Load())
	t.Logf("node %d let back: Synced in a cluster of %d after %s; its server answered a normal screen %s after isolate=0",
		minority+1, galera.Nodes, rejoined.Round(time.Millisecond), served.Round(time.Millisecond))
	if majorityDuringCut.Load() == 0 {
		t.Error("the majority completed no transfer while the minority was cut off")
	}
	if want := [galera.Nodes]int{200, 200, 503}; readyDuring != want {
		t.Errorf("/readyz while node %d was cut off: %v, want %v", minority+1, readyDuring, want)
	}
	if want := [galera.Nodes]int{200, 200, 200}; readyAfter != want {
		t.Errorf("/readyz after node %d rejoined: %v, want %v", minority+1, readyAfter, want)
	}
	after := b.total()
	c := b.count(minority)
	t.Logf("bank during the phase: %d completed, %d refused for balance; through the minority's wallet: %d completed, %d unavailable (1047), %d retryable after the retries (1205, a causal wait that could not finish), %d commits of unknown outcome (1180)",
		after.ok-before.ok, after.refused-before.refused, c.ok, c.unavailable, c.retryable, c.commitLost)

	// Every hop answered 200 with a screen; while the node was cut off, each
	// was the apology, quickly; never a sent or failed payment.
	var cutAnswers, apologies, unconfirmed int
	var slowest, slowestAll time.Duration
	amu.Lock()
	for _, a := range answers {
		if a.err != nil {
			t.Errorf("a hop on the minority's server: %v", a.err)
			continue
		}
		slowestAll = max(slowestAll, a.took)
		if a.phase != 1 {
			continue
		}
		cutAnswers++
		slowest = max(slowest, a.took)
		switch {
		case strings.HasPrefix(a.screen, "END ") && strings.Contains(a.screen, "try again later"):
			apologies++
		case strings.HasPrefix(a.screen, "END ") && strings.Contains(a.screen, "could not confirm"):
			// A send whose COMMIT was cut on the node as it lost the
			// others: it may have happened, and the subscriber is told to
			// look before sending again.
			unconfirmed++
		default:
			t.Errorf("the minority's server answered %q while its node was cut off; want the apology", a.screen)
		}
	}
	amu.Unlock()
	t.Logf("the minority's server answered %d hops while its node was cut off: %d apologies (\"try again later\"), %d sends not confirmed, the slowest in %s",
		cutAnswers, apologies, unconfirmed, slowest.Round(time.Millisecond))
	// A hop answers by its deadline (3 s) unless it is blocked in a COMMIT,
	// which takes no context: until the others declare the cut-off node
	// gone (evs.suspect_timeout, 5 s) the whole cluster holds its commits,
	// and such a hop answers when its commit returns. The gateway waits
	// about 10 s; this bound is the deadline plus that wait, with room.
	hopBound := w.apps[minority].Config.USSDHopTimeout + 9*time.Second
	t.Logf("the slowest hop on the minority's server in the whole phase took %s (hop deadline %s)", slowestAll.Round(time.Millisecond), w.apps[minority].Config.USSDHopTimeout)
	if slowestAll > hopBound {
		t.Errorf("a hop took %s, more than %s", slowestAll, hopBound)
	}
	if cutAnswers == 0 {
		t.Error("no hop reached the minority's server while its node was cut off")
	}
	b.verify(t, w, cl, database)
}

// readiness is each server's /readyz status code.
func readiness(w *world) [galera.Nodes]int {
	var codes [galera.Nodes]int
	for i, a := range w.apps {
		resp, err := http.Get("http://" + a.Addr() + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		codes[i] = resp.StatusCode
	}
	return codes
}

// logTail keeps the last lines a server logged.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimRight(string(p), "\n"))
	if len(l.lines) > 40 {
		l.lines = slices.Clone(l.lines[len(l.lines)-40:])
	}
	return len(p), nil
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
