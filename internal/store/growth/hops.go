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
			body, err := ussdHop(ctx, client, endpoint, session, phone, text)
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

func ussdHop(ctx context.Context, c *http.Client, endpoint, session, phone, text string) (string, error) {
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
