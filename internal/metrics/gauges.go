package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Sources are what the scrape-time gauges read. Store is required; the
// others are nil when the server has no such part.
type Sources struct {
	Store store.Store
	// InvoiceIndexes gives the add index of the last invoice the watcher
	// saw and the node's latest (asked of the node within ctx).
	InvoiceIndexes func(ctx context.Context) (seen, node uint64, err error)
	// RateAge is the age of the exchange rate served, false while none.
	RateAge func() (time.Duration, bool)
	// Timeout bounds the database's and the node's answers at one scrape
	// (default 2 s): a slow database makes the gauges go missing (and
	// umeme_metrics_source_up 0), never the scrape hang.
	Timeout time.Duration
	Log     *slog.Logger
	Now     func() time.Time
}

// The operations whose backlog is always exported, even when none is
// pending (a series that vanishes cannot be alerted on).
var watchedTypes = []store.TransactionType{store.TypePayment, store.TypeWithdraw, store.TypeTopup}

// Observe registers the gauges read from src at each scrape.
func (m *Metrics) Observe(src Sources) error {
	if src.Timeout <= 0 {
		src.Timeout = 2 * time.Second
	}
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.Log == nil {
		src.Log = slog.New(slog.DiscardHandler)
	}
	c := &scrapeCollector{src: src}
	s := src.Store
	return m.Register(c,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "umeme_store_retries_total",
			Help: "Transaction attempts run again after a retryable failure (deadlock, serialization failure, busy).",
		}, func() float64 { return float64(s.Retries()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "umeme_store_transactions_total",
			Help: "Transactions (InTx and Autocommit calls) run; retries over these is the retry rate.",
		}, func() float64 { return float64(s.Transactions()) }),
	)
}

var (
	descPending = prometheus.NewDesc("umeme_pending_transactions",
		"Transactions pending, by type (payment, withdraw and topup always present).", []string{"type"}, nil)
	descPendingAge = prometheus.NewDesc("umeme_pending_oldest_age_seconds",
		"Age of the oldest pending transaction of a type (0 when none).", []string{"type"}, nil)
	descOutbox    = prometheus.NewDesc("umeme_outbox_pending", "Texts queued and not yet sent (or given up).", nil, nil)
	descOutboxAge = prometheus.NewDesc("umeme_outbox_oldest_age_seconds", "Age of the oldest text still queued (0 when none).", nil, nil)
	descLiab      = prometheus.NewDesc("umeme_user_liabilities_msat",
		"What the operator owes users: their balances and the money held for their operations under way, in msat.", nil, nil)
	descSystem = prometheus.NewDesc("umeme_system_account_balance_msat",
		"Balance of each of the operator's ledger accounts, in msat.", []string{"account"}, nil)
	descPool = prometheus.NewDesc("umeme_db_pool_connections",
		"Database connections by state (in_use, idle, open, max).", []string{"state"}, nil)
	descPoolWaits = prometheus.NewDesc("umeme_db_pool_waits_total", "Waits for a free database connection.", nil, nil)
	descPoolWait  = prometheus.NewDesc("umeme_db_pool_wait_seconds_total", "Time spent waiting for a free database connection.", nil, nil)
	descSeen      = prometheus.NewDesc("umeme_lightning_invoice_add_index",
		"Add index of invoices: the last the watcher saw (seen) and the node's latest (node).", []string{"source"}, nil)
	descLag = prometheus.NewDesc("umeme_lightning_invoice_watcher_lag",
		"Invoices the node added that the watcher has not seen yet (node's add index minus the watcher's).", nil, nil)
	descRateAge = prometheus.NewDesc("umeme_rate_age_seconds", "Age of the BTC/KES rate served.", nil, nil)
	descUp      = prometheus.NewDesc("umeme_metrics_source_up",
		"Whether a source of the scrape-time gauges answered within the timeout (database, lightning).", []string{"source"}, nil)
)

// scrapeCollector reads the database and the node when Prometheus asks;
// one scrape at a time.
type scrapeCollector struct {
	src Sources
	mu  sync.Mutex
}

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPending, descPendingAge, descOutbox, descOutboxAge, descLiab, descSystem,
		descPool, descPoolWaits, descPoolWait, descSeen, descLag, descRateAge, descUp} {
		ch <- d
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	up := func(source string, err error) {
		v := 1.0
		if err != nil {
			v = 0
			c.src.Log.Warn("metrics: source did not answer", "source", source, "err", err)
		}
		gauge(descUp, v, source)
	}

	p := c.src.Store.Pool()
	gauge(descPool, float64(p.InUse), "in_use")
	gauge(descPool, float64(p.Idle), "idle")
	gauge(descPool, float64(p.Open), "open")
	gauge(descPool, float64(p.MaxOpen), "max")
	ch <- prometheus.MustNewConstMetric(descPoolWaits, prometheus.CounterValue, float64(p.WaitCount))
	ch <- prometheus.MustNewConstMetric(descPoolWait, prometheus.CounterValue, p.WaitDuration.Seconds())

	if c.src.RateAge != nil {
		if age, ok := c.src.RateAge(); ok {
			gauge(descRateAge, age.Seconds())
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), c.src.Timeout)
	defer cancel()
	now := c.src.Now()
	db, err := c.readDB(ctx)
	up("database", err)
	if err == nil {
		for _, b := range db.pending {
			gauge(descPending, float64(b.Count), string(b.Type))
			gauge(descPendingAge, ageOf(b, now), string(b.Type))
		}
		gauge(descOutbox, float64(db.outbox.Count))
		gauge(descOutboxAge, ageOf(db.outbox, now))
		var system int64
		for _, code := range systemAccounts {
			gauge(descSystem, float64(db.system[code]), string(code))
			if code != store.AccountReserved {
				system += db.system[code]
			}
		}
		// The ledger sums to zero (reconcile checks it), so what users
		// hold with what is reserved for them is the other accounts'
		// sum, negated: five rows read instead of every user's.
		gauge(descLiab, float64(-system))
	}

	if c.src.InvoiceIndexes != nil {
		seen, node, err := c.src.InvoiceIndexes(ctx)
		up("lightning", err)
		if err == nil {
			gauge(descSeen, float64(seen), "seen")
			gauge(descSeen, float64(node), "node")
			gauge(descLag, float64(max(int64(node)-int64(seen), 0)))
		}
	}
}

func ageOf(b store.Backlog, now time.Time) float64 {
	if b.Count == 0 || b.Oldest.IsZero() {
		return 0
	}
	return max(now.Sub(b.Oldest).Seconds(), 0)
}

type dbGauges struct {
	pending []store.Backlog
	outbox  store.Backlog
	system  map[store.SystemAccountCode]int64
}

// readDB reads the gauges' rows, each statement on its own (no snapshot is
// needed, and none is held).
func (c *scrapeCollector) readDB(ctx context.Context) (dbGauges, error) {
	g := dbGauges{system: map[store.SystemAccountCode]int64{}}
	err := c.src.Store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		pending, err := tx.PendingBacklog(ctx)
		if err != nil {
			return err
		}
		have := map[store.TransactionType]bool{}
		for _, b := range pending {
			have[b.Type] = true
		}
		for _, t := range watchedTypes {
			if !have[t] {
				pending = append(pending, store.Backlog{Type: t})
			}
		}
		g.pending = pending
		if g.outbox, err = tx.OutboxBacklog(ctx); err != nil {
			return err
		}
		for _, code := range systemAccounts {
			a, err := tx.SystemAccount(ctx, code)
			if err != nil {
				return err
			}
			g.system[code] = a.BalanceMsat
		}
		return nil
	})
	return g, err
}
