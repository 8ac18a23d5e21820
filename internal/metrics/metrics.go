// Package metrics is the server's one seam to Prometheus: the registry
// GET /metrics serves (on its own listener, METRICS_ADDR), the instruments
// the code paths report to, and the gauges read from the database and the
// node when Prometheus scrapes, never on a hop's path.
//
// No label carries a phone number, a session or any user's value: labels
// are screens, outcomes, kinds, types and states, all bounded sets.
//
// Other parts of the server add their own collectors through Register
// (say a watchdog's "paused" gauge): one registry, one endpoint.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the registry and the instruments. A nil *Metrics is valid
// and records nothing, so that code given none (tests, one-shot commands)
// needs no check.
type Metrics struct {
	reg *prometheus.Registry

	hops           *prometheus.CounterVec
	hopSeconds     *prometheus.HistogramVec
	deadlineMisses prometheus.Counter
	moved          *prometheus.CounterVec
	transactions   *prometheus.CounterVec
}

// HopBuckets are the latency histogram's bounds, in seconds: a hop should
// answer in tens of milliseconds, and the gateway gives up near 10 s.
var HopBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5, 10}

// New returns the instruments on a fresh registry, with the Go runtime's
// and the process's own collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		hops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "umeme_ussd_hops_total",
			Help: "USSD hops answered, by the screen (state) the session was left in and the outcome.",
		}, []string{"screen", "outcome"}),
		hopSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "umeme_ussd_hop_duration_seconds",
			Help:    "Time to answer one USSD hop, by screen.",
			Buckets: HopBuckets,
		}, []string{"screen"}),
		deadlineMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "umeme_ussd_hop_deadline_misses_total",
			Help: "USSD hops that ran past USSD_HOP_TIMEOUT (answered with the apology).",
		}),
		moved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "umeme_money_moved_msat_total",
			Help: "Money moved by committed ledger postings, in msat, by kind.",
		}, []string{"kind"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "umeme_transactions_total",
			Help: "Transactions created or finished, by type and the state they reached.",
		}, []string{"type", "state"}),
	}
	m.reg.MustRegister(m.hops, m.hopSeconds, m.deadlineMisses, m.moved, m.transactions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds collectors to the registry /metrics serves: the seam for
// other parts of the server (a watchdog's gauges, say). A name registered
// twice is an error.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	if m == nil {
		return nil
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// GaugeFunc registers a gauge whose value f gives at each scrape (f must be
// cheap and must not block: it runs on the scrape).
func (m *Metrics) GaugeFunc(name, help string, f func() float64) error {
	return m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Handler serves the registry in Prometheus' text format. A collector
// that fails leaves its series out of the scrape, not the others (and
// counts in promhttp_metric_handler_errors_total).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Hop records one answered hop.
func (m *Metrics) Hop(screen, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	if screen == "" {
		screen = "none"
	}
	m.hops.WithLabelValues(screen, outcome).Inc()
	m.hopSeconds.WithLabelValues(screen).Observe(took.Seconds())
}

// HopDeadlineMissed records a hop that ran past its deadline.
func (m *Metrics) HopDeadlineMissed() {
	if m == nil {
		return
	}
	m.deadlineMisses.Inc()
}
