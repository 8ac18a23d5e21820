package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/metrics/metricstest"
)

// TestMetricsMoveAfterUSSDJourney: on each engine, /metrics (on its own
// listener, absent from the public one) is scraped over HTTP before and
// after a USSD journey (registration, a funded send, a repeated hop, a bad
// request): the hop counters and the latency histogram grew by exactly the
// hops made, by screen and outcome; the money moved, the transactions and
// the liabilities by exactly what the journey moved; the database gauges
// are there.
func TestMetricsMoveAfterUSSDJourney(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := startApp(t, engine, func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" })
		scrapeURL := "http://" + a.MetricsAddr() + "/metrics"
		if resp, err := http.Get("http://" + a.Addr() + "/metrics"); err != nil {
			t.Fatal(err)
		} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("the public listener answers /metrics with %d", resp.StatusCode)
		}
		before := metricstest.Scrape(t, scrapeURL)
		for _, typ := range []string{"payment", "withdraw", "topup"} {
			if v, ok := before.Sum("umeme_pending_transactions", "type", typ); !ok || v != 0 {
				t.Fatalf("pending %s: %v %v on a fresh database", typ, v, ok)
			}
		}
		if v := before.Value("umeme_user_liabilities_msat"); v != 0 {
			t.Fatalf("liabilities %v on a fresh database", v)
		}

		alice, bob := newPhone(t, a), newPhone(t, a)
		register(t, alice, "7391")
		fund(t, a, alice, 5000)
		expect(t, alice.send(bob.number, "1500", "7391"), "END Sent 1,500 sats")
		alice.again() // the gateway's retry: the same screen
		hops := alice.hops + bob.hops
		// A hop without a session id: the apology, counted as a bad request.
		status, body := postForm(t, "http://"+a.Addr()+"/ussd?token="+url.QueryEscape(a.Config.USSDCallbackToken),
			url.Values{"phoneNumber": {alice.number}, "text": {""}})
		if status != http.StatusOK || !strings.HasPrefix(body, "END ") {
			t.Fatalf("bad hop: %d %q", status, body)
		}
		hops++

		began := time.Now()
		after := metricstest.Scrape(t, scrapeURL)
		t.Logf("a scrape on %s took %s", engine, time.Since(began).Round(10*time.Microsecond))
		delta := func(name string, labels ...string) float64 {
			return after.Value(name, labels...) - before.Value(name, labels...)
		}
		if d := delta("umeme_ussd_hops_total"); d != float64(hops) {
			t.Fatalf("hops counted %v, made %d", d, hops)
		}
		if d := delta("umeme_ussd_hop_duration_seconds"); d != float64(hops) {
			t.Fatalf("hop latencies observed %v, hops made %d", d, hops)
		}
		for _, c := range []struct {
			labels []string
			want   float64
		}{
			{[]string{"outcome", "repeat"}, 1},
			{[]string{"outcome", "bad_request", "screen", "none"}, 1},
			{[]string{"screen", "send_pin", "outcome", "end"}, 1},
			{[]string{"screen", "welcome", "outcome", "continue"}, 1},
		} {
			if d := delta("umeme_ussd_hops_total", c.labels...); d != c.want {
				t.Fatalf("hops %v: %v, want %v (screens %v)", c.labels, d, c.want, after.LabelValues("umeme_ussd_hops_total", "screen"))
			}
		}
		// The screen is the state a hop leaves the session in: the PIN
		// prompt, the PIN's answer (the END) and its repetition.
		if d := delta("umeme_ussd_hop_duration_seconds", "screen", "send_pin"); d != 3 {
			t.Fatalf("send_pin latencies observed: %v", d)
		}
		for _, c := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"umeme_money_moved_msat_total", []string{"kind", "transfer"}, 1_500_000},
			{"umeme_money_moved_msat_total", []string{"kind", "adjustment_credit"}, 5_000_000},
			{"umeme_transactions_total", []string{"type", "send", "state", "completed"}, 1},
			{"umeme_transactions_total", []string{"type", "adjustment", "state", "completed"}, 1},
			{"umeme_user_liabilities_msat", nil, 5_000_000},
			{"umeme_system_account_balance_msat", []string{"account", "adjustments"}, -5_000_000},
			{"umeme_ussd_hop_deadline_misses_total", nil, 0},
		} {
			if d := delta(c.name, c.labels...); d != c.want {
				t.Fatalf("%s%v moved by %v, want %v", c.name, c.labels, d, c.want)
			}
		}
		for _, c := range []struct {
			name   string
			labels []string
		}{
			{"umeme_metrics_source_up", []string{"source", "database"}},
			{"umeme_db_pool_connections", []string{"state", "max"}},
			{"umeme_db_pool_connections", []string{"state", "open"}},
		} {
			if v, ok := after.Sum(c.name, c.labels...); !ok || v < 1 {
				t.Fatalf("%s%v = %v (present %v), want at least 1", c.name, c.labels, v, ok)
			}
		}
		if d := delta("umeme_store_transactions_total"); d < float64(hops) {
			t.Fatalf("store transactions grew by %v over %d hops", d, hops)
		}
		for _, name := range []string{"umeme_outbox_pending", "umeme_outbox_oldest_age_seconds", "umeme_store_retries_total",
			"umeme_db_pool_waits_total", "umeme_pending_oldest_age_seconds", "go_goroutines"} {
			if !after.Has(name) {
				t.Fatalf("no %s in the scrape", name)
			}
		}
		t.Logf("after the journey on %s:\n%s", engine, strings.Join(after.Lines("umeme_ussd_hops_total", "umeme_money_*",
			"umeme_transactions_total", "umeme_user_liabilities_msat", "umeme_outbox_*", "umeme_pending_*", "umeme_db_pool_*", "umeme_store_retries_total"), "\n"))
	})
}

// TestMetricsHopDeadlineMiss: a hop that runs past USSD_HOP_TIMEOUT gets
// the apology, and is counted as a deadline miss with outcome "deadline".
func TestMetricsHopDeadlineMiss(t *testing.T) {
	a := startApp(t, "sqlite", func(c *config.Config) {
		c.MetricsAddr = "127.0.0.1:0"
		c.USSDHopTimeout = time.Nanosecond
	})
	p := newPhone(t, a)
	expect(t, p.dial(), "END Sorry, the service is busy")
	m := metricstest.Scrape(t, "http://"+a.MetricsAddr()+"/metrics")
	if v := m.Value("umeme_ussd_hop_deadline_misses_total"); v != 1 {
		t.Fatalf("deadline misses %v, want 1", v)
	}
	if v := m.Value("umeme_ussd_hops_total", "outcome", "deadline"); v != 1 {
		t.Fatalf("hops with outcome deadline %v, want 1", v)
	}
}
