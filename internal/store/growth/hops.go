package growth

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// HistoryHops opens Transactions n times as random users of ids
// [first, last] through a server's USSD endpoint (endpoint is the full URL
// of POST /ussd, with its token): dial, 4, the PIN, then 9 for the next
// page. It returns the latency of every history hop (the page after the
// PIN, and the next one), and fails on any answer that is not a history
// screen.
func HistoryHops(ctx context.Context, endpoint, pin string, first, last int64, n int, seed uint64) ([]time.Duration, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	rng := rand.New(rand.NewPCG(seed, 7))
	lat := make([]time.Duration, 0, 2*n)
	for i := range n {
		user := first + rng.Int64N(last-first+1)
		phone, session := Phone(user), fmt.Sprintf("growth-probe-%d-%d-%d", seed, i, time.Now().UnixNano())
		for step, text := range []string{"", "4", "4*" + pin, "4*" + pin + "*9"} {
			t0 := time.Now()
			body, err := USSDHop(ctx, client, endpoint, session, phone, text)
			d := time.Since(t0)
			if err != nil {
				return lat, err
			}
			if !strings.HasPrefix(body, "CON ") || strings.Contains(body, "Sorry") {
				return lat, fmt.Errorf("user %d, hop %q: %q", user, text, body)
			}
			if step >= 2 {
				if step == 2 && (!strings.Contains(body, "0. Back") || strings.Contains(body, "PIN")) {
					return lat, fmt.Errorf("user %d: not a history page: %q", user, body)
				}
				lat = append(lat, d)
			}
		}
	}
	return lat, nil
}

// USSDHop posts one hop of a session to a USSD endpoint as Africa's
// Talking does (its form fields) and returns the answer; any status but
// 200 is an error.
func USSDHop(ctx context.Context, c *http.Client, endpoint, session, phone, text string) (string, error) {
	form := url.Values{"sessionId": {session}, "phoneNumber": {phone}, "networkCode": {"63902"}, "serviceCode": {"*384*1234#"}, "text": {text}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

// Percentile is the p-th percentile (0-100) of latencies.
func Percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[int(p/100*float64(len(s)-1))]
}

// Size is one step of a growth run: the users and transactions the
// database holds once it is seeded (cumulative).
type Size struct{ Users, Transactions int }

// Step is what a growth run saw at one size.
type Step struct {
	Size   Size
	Seeded Result
	// Reconciled is how long Reconcile took, when it ran (0 otherwise).
	Reconciled time.Duration
	// Hops are the latencies of the measured history hops.
	Hops     []time.Duration
	P50, P99 time.Duration
}

// Run grows s through sizes (each above the one before), and at each one
// measures probes history sessions as random users of every cohort so far,
// after a few unmeasured ones, through the USSD endpoint of a server on s
// whose users' PIN is pin (pinHash, as the server hashes it). reconcile
// says at which steps to reconcile the whole ledger first (nil: the
// first). step, when set, hears of each step as it ends.
func Run(ctx context.Context, s store.Store, endpoint, pin, pinHash string, sizes []Size, probes int,
	reconcile func(i int) bool, progress func(Progress), step func(Step)) ([]Step, error) {
	var steps []Step
	var prev Size
	var first int64
	for i, size := range sizes {
		if size.Users <= prev.Users || size.Transactions-prev.Transactions < size.Users-prev.Users {
			return steps, fmt.Errorf("growth: size %+v does not grow from %+v", size, prev)
		}
		res, err := Seed(ctx, s, Options{Users: size.Users - prev.Users, Transactions: size.Transactions - prev.Transactions,
			PINHash: pinHash, Seed: uint64(i + 1), End: time.Now(), Progress: progress})
		if err != nil {
			return steps, err
		}
		st := Step{Size: size, Seeded: res}
		if (reconcile == nil && i == 0) || (reconcile != nil && reconcile(i)) {
			t0 := time.Now()
			if err := Reconcile(ctx, s); err != nil {
				return steps, err
			}
			st.Reconciled = time.Since(t0)
		}
		if i == 0 {
			first = res.FirstUser
		}
		if _, err := HistoryHops(ctx, endpoint, pin, first, res.LastUser, 20, 99); err != nil {
			return steps, err
		}
		if st.Hops, err = HistoryHops(ctx, endpoint, pin, first, res.LastUser, probes, uint64(i+1)); err != nil {
			return steps, err
		}
		st.P50, st.P99 = Percentile(st.Hops, 50), Percentile(st.Hops, 99)
		steps = append(steps, st)
		if step != nil {
			step(st)
		}
		prev = size
	}
	return steps, nil
}

// Reconcile checks the whole ledger of s in one snapshot, and fails on any
// violation.
func Reconcile(ctx context.Context, s store.Store) error {
	var rep store.ReconcileReport
	err := s.Snapshot(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		rep, err = tx.Reconcile(ctx)
		return err
	})
	if err == nil && !rep.OK() {
		err = fmt.Errorf("growth: the seeded ledger does not reconcile: %+v", rep)
	}
	return err
}
