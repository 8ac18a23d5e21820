// Package app wires the server together: configuration in, the database
// opened and migrated, the HTTP edge listening. Tests start the whole server
// on ":0" with a temporary database, exactly as cmd/server does.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/httpapi"
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/lightning/lndnode"
	"github.com/umeme-wallet/umeme/internal/metrics"
	"github.com/umeme-wallet/umeme/internal/notify"
	"github.com/umeme-wallet/umeme/internal/ramp"
	"github.com/umeme-wallet/umeme/internal/rates"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/ussd"
	"github.com/umeme-wallet/umeme/internal/wallet"
	"github.com/umeme-wallet/umeme/internal/watchdog"
)

// App is a running server.
type App struct {
	Config config.Config
	Log    *slog.Logger
	DB     database.DB
	Wallet *wallet.Service
	USSD   *ussd.Engine
	// Receiver and Payer exist when a Lightning node is configured.
	Receiver *lightning.Receiver
	Payer    *lightning.Payer
	SMSPay   *smspay.Service // texted invoices, with Lightning and SMS_CALLBACK_TOKEN (smspay.go)
	// Rates is the BTC/KES source (nil without one); Ramp exists when
	// M-Pesa is configured.
	Rates *rates.Cache
	Ramp  *ramp.Ramp
	// Outbox sends the notifications' texts (sms.go).
	Outbox *notify.Outbox
	// Watchdog pauses payouts the node cannot cover (watchdog.go); nil
	// without a Lightning node or with WATCHDOG_MIN_RATIO=0.
	Watchdog *watchdog.Watchdog
	// Metrics is the registry GET /metrics serves on METRICS_ADDR; other
	// parts add their gauges with Metrics.Register.
	Metrics  *metrics.Metrics
	node     *lndnode.Lazy
	stopDial context.CancelFunc

	stopCleanup context.CancelFunc
	cleanupDone chan struct{}
	// rails holds the rate refresher, the M-Pesa reconciler, the SMS
	// outbox's sender, and the M-Pesa requests hops left to finish in the
	// background (ramp.Ramp.Work).
	rails         sync.WaitGroup
	lightningDone chan struct{}

	ln   net.Listener
	srv  *http.Server
	done chan error

	metricsLn  net.Listener
	metricsSrv *http.Server
}

// Open opens and migrates the database; nothing listens yet.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	db, err := database.Open(ctx, cfg.DatabaseURL, database.Options{MaxConns: cfg.DBMaxConns, Migrate: true, Isolation: cfg.DBIsolation})
	if err != nil {
		return nil, err
	}
	if cfg.PINPepper == "" {
		log.Warn("PIN_PEPPER is not set: a copy of the database alone is enough to brute-force PINs; set it in production")
	}
	a := &App{Config: cfg, Log: log, DB: db, Metrics: metrics.New()}
	if err := a.openSMS(); err != nil {
		db.Close()
		return nil, err
	}
	// The wallet's commits that queue a text wake the sender (sms.go), and
	// each commit's money events are counted and logged.
	ledger, err := a.Metrics.Ledger(ctx, notify.WakeOnQueue(db, a.Outbox), log)
	if err != nil {
		db.Close()
		return nil, err
	}
	w, err := wallet.New(ctx, ledger, cfg.Wallet())
	if err != nil {
		db.Close()
		return nil, err
	}
	a.Wallet = w
	if a.Rates, err = a.openRates(); err != nil {
		db.Close()
		return nil, err
	}
	ucfg := ussd.Config{
		Domain: cfg.PublicDomain, PINForBalance: cfg.PINForBalance, Rate: rateShown{a.Rates},
		HopsPerMinute: cfg.HopsPerMinute, PINsPerMinute: cfg.PINsPerMinute, Now: cfg.Ops.Now,
	}
	if ucfg.Mpesa, err = a.openMpesa(a.Rates); err != nil {
		db.Close()
		return nil, err
	}
	if cfg.LNDAddress != "" {
		// Connecting goes on in the background: the server starts while
		// lnd is down, and the Lightning items say "try later" meanwhile.
		dialCtx, cancel := context.WithCancel(context.Background())
		a.stopDial = cancel
		node := lndnode.Dial(dialCtx, lndnode.Config{
			Address: cfg.LNDAddress, TLSCertPath: cfg.LNDTLSCertPath, MacaroonPath: cfg.LNDMacaroonPath, Network: cfg.LNDNetwork,
		}, log)
		a.node = node
		a.Receiver = &lightning.Receiver{Node: node, Wallet: w, Log: log, AddressExpiry: cfg.LNURLInvoiceExpiry, MaxUnpaid: cfg.LNURLMaxUnpaid}
		a.Payer = &lightning.Payer{Node: node, Wallet: w, Log: log}
		addresses := &lightning.LNURLClient{Node: node, AllowPrivate: cfg.Development()}
		a.SMSPay = a.openSMSPay(node, addresses)
		ucfg.Lightning = &ussd.Lightning{Receiver: a.Receiver, Payer: a.Payer, Addresses: addresses, Requests: a.SMSPay}
	}
	a.USSD = ussd.New(ucfg, w, db, log)
	a.Watchdog = a.openWatchdog()
	if err := a.Metrics.Observe(a.metricSources()); err != nil {
		db.Close()
		return nil, err
	}
	if err := a.watchdogGauges(); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// watchdogGauges export the watchdog's last check: whether payouts are
// paused (by it or by hand) and the coverage ratio it measured.
func (a *App) watchdogGauges() error {
	if a.Watchdog == nil {
		return nil
	}
	err := a.Metrics.GaugeFunc("umeme_payouts_paused", "1 when outgoing Lightning payments and M-Pesa withdrawals were paused at the watchdog's last check (by it or by an operator)", func() float64 {
		if a.Watchdog.State().Paused {
			return 1
		}
		return 0
	})
	if err != nil {
		return err
	}
	return a.Metrics.GaugeFunc("umeme_watchdog_coverage_ratio", "what covers the users' money over what they are owed, at the watchdog's last check", func() float64 {
		return a.Watchdog.State().Ratio
	})
}

// metricSources are what the scrape-time gauges read.
func (a *App) metricSources() metrics.Sources {
	src := metrics.Sources{Store: a.DB, Log: a.Log}
	if a.Rates != nil {
		src.RateAge = a.Rates.Age
	}
	if a.Receiver != nil {
		src.InvoiceIndexes = func(ctx context.Context) (uint64, uint64, error) {
			node, err := a.node.LatestAddIndex(ctx)
			return a.Receiver.SeenAddIndex(), node, err
		}
	}
	return src
}

// Start listens on the configured address and serves in the background.
// It refuses settings a server must not run with (config.CheckServe).
func (a *App) Start() error {
	if err := a.Config.CheckServe(); err != nil {
		return err
	}
	tuneGC()
	if a.Config.Development() {
		a.Log.Warn("APP_ENV=development: gateway requests are accepted without USSD_CALLBACK_TOKEN when it is unset, " +
			"and Lightning Addresses may resolve to loopback and private addresses, loopback ones over plain http; never run production like this")
	}
	ln, err := net.Listen("tcp", a.Config.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	a.ln = ln
	var lnPing httpapi.Pinger
	if a.node != nil {
		lnPing = a.node
	}
	api := &httpapi.Server{Lightning: lnPing, DB: a.DB, USSD: a.USSD, Log: a.Log, CallbackToken: a.Config.USSDCallbackToken, HopTimeout: a.Config.USSDHopTimeout,
		OpenGateway: a.Config.Development(), AllowedIPs: a.Config.USSDAllowedIPs, TrustedProxies: a.Config.TrustedProxies,
		Wallet: a.Wallet, Receiver: a.Receiver, Domain: a.Config.PublicDomain,
		LNURLLimits: httpapi.LNURLLimits{PerClient: a.Config.LNURLPerClient, PerName: a.Config.LNURLPerName, Global: a.Config.LNURLGlobal,
			Window: a.Config.LNURLLimitWindow},
		Ramp: a.Ramp, MpesaCallbackToken: a.Config.Mpesa.CallbackToken, MpesaAllowedIPs: a.Config.Mpesa.AllowedIPs,
		SMS: a.smsRoutes(), Metrics: a.Metrics}
	a.srv = &http.Server{
		Handler:           api.Routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	a.done = make(chan error, 1)
	go func() { a.done <- a.srv.Serve(ln) }()
	if err := a.startMetrics(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopCleanup, a.cleanupDone = cancel, make(chan struct{})
	go a.cleanupLoop(ctx)
	if a.Rates != nil {
		a.rails.Go(func() { a.Rates.Run(ctx) }) //nolint:errcheck // it ends with ctx
	}
	if a.Ramp != nil {
		a.rails.Go(func() { a.Ramp.Run(ctx, 0) })
	}
	a.startSMS(ctx)
	if a.Receiver != nil {
		a.lightningDone = make(chan struct{})
		go func() { a.Receiver.Watch(ctx); close(a.lightningDone) }()
		go a.resumePayments(ctx)
	}
	if a.Watchdog != nil {
		a.rails.Go(func() {
			select {
			case <-a.node.Connected():
				a.Watchdog.Run(ctx)
			case <-ctx.Done():
			}
		})
	}
	a.Log.Info("listening", "addr", ln.Addr().String(), "engine", a.DB.Engine(), "isolation", a.Config.DBIsolation.String())
	return nil
}

// Addr is the address the server listens on (useful after ":0").
func (a *App) Addr() string { return a.ln.Addr().String() }

// startMetrics serves GET /metrics on METRICS_ADDR, when set: a listener
// of its own, so that the public one never shows it.
func (a *App) startMetrics() error {
	if a.Config.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.Config.MetricsAddr)
	if err != nil {
		a.srv.Close()
		return fmt.Errorf("listen for metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	a.metricsLn = ln
	a.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go a.metricsSrv.Serve(ln) //nolint:errcheck // ends with Shutdown
	a.Log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

// MetricsAddr is the address GET /metrics listens on ("" when off).
func (a *App) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// Close shuts the server down gracefully within ctx, then closes the
// database. The HTTP server stops first: a hop can leave an M-Pesa request
// to finish in the background (rails), and none may start after the wait
// for them, which is bounded by the requests' own 30 s, not by ctx: a
// request sent must have Daraja's answer recorded.
func (a *App) Close(ctx context.Context) error {
	var err error
	if a.srv != nil {
		err = a.srv.Shutdown(ctx)
		if serveErr := <-a.done; !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, serveErr)
		}
	}
	if a.metricsSrv != nil {
		err = errors.Join(err, a.metricsSrv.Shutdown(ctx))
	}
	if a.stopCleanup != nil {
		a.stopCleanup()
		<-a.cleanupDone
		if a.Ramp != nil {
			a.Ramp.Stop() // no hop adds to rails after the wait
		}
		a.rails.Wait()
		if a.lightningDone != nil {
			<-a.lightningDone
		}
	}
	if a.node != nil {
		a.stopDial()
		defer a.node.Close()
	}
	if a.SMSPay != nil {
		a.SMSPay.Close(ctx) // the texts it was still acting on
	}
	// How often transactions collided (deadlocks, serialization failures)
	// and were run again over this process's life.
	a.Log.Info("database transactions", "transactions", a.DB.Transactions(), "retries", a.DB.Retries())
	return errors.Join(err, a.DB.Close())
}

// cleanupLoop closes idle sessions and expires overdue invoices periodically.
func (a *App) cleanupLoop(ctx context.Context) {
	defer close(a.cleanupDone)
	every := a.Config.CleanupEvery
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			res, err := a.Wallet.CleanupExpired(ctx, a.Config.SessionIdle)
			if err != nil {
				if ctx.Err() == nil {
					a.Log.Error("cleanup failed", "err", err)
				}
				continue
			}
			if res.Sessions > 0 || res.Invoices > 0 || res.AddressInvoices > 0 {
				a.Log.Info("cleanup", "sessions_closed", res.Sessions, "invoices_expired", res.Invoices, "address_invoices_deleted", res.AddressInvoices)
			}
		}
	}
}

// resumePayments re-attaches to pending payments once lnd is connected, and
// every minute after (a payment whose stream was lost is followed again).
// A payment another follower holds (another server, or this one before a
// crash) is left to it; while there are some, rounds come every third of
// a lease, so that a dead server's payments are taken over within about a
// lease and a third.
func (a *App) resumePayments(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-a.node.Connected():
	}
	for {
		next := time.Minute
		others, err := a.Payer.ResumeOnce(ctx)
		if err != nil && ctx.Err() == nil {
			a.Log.Error("re-attaching to pending payments failed", "err", err)
		}
		if others > 0 {
			// A third of a lease: a lease left by a dead follower is taken
			// within that much of running out.
			next = min(next, a.Payer.LeaseDuration()/3)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
	}
}

// WaitLightning waits until the Lightning node is connected (for one-shot
// commands, which cannot answer "try later").
func (a *App) WaitLightning(ctx context.Context, timeout time.Duration) error {
	if a.node == nil {
		return errors.New("no Lightning node configured (LND_ADDRESS)")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case <-a.node.Connected():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lnd not reachable within %s", timeout)
	}
}
