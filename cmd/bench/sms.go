package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/notify"
	"github.com/umeme-wallet/umeme/internal/sms"
	"github.com/umeme-wallet/umeme/internal/sms/atsim"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// smsBench measures the outbox's sender against the Africa's Talking
// simulator over loopback HTTP, through the real adapter, on each engine:
// its throughput draining queued receipts (each rendered from the
// database: the user's language and the balance after its transfer), and
// the time from a transfer committed to its receipt reaching the gateway,
// with the sender polling and with it woken after each commit.
func smsBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sms", flag.ContinueOnError)
	engines := fs.String("engines", "postgres,mysql,sqlite", "engines to measure")
	n := fs.Int("n", 2000, "messages drained for the throughput")
	transfers := fs.Int("transfers", 200, "transfers timed one by one, per mode")
	batch := fs.Int("batch", notify.DefaultBatch, "rows one round claims (SMS_BATCH)")
	poll := fs.Duration("poll", notify.DefaultPoll, "the sender's poll (SMS_POLL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list, err := engineList(*engines)
	if err != nil {
		return err
	}
	for _, engine := range list {
		if err := smsOn(ctx, engine, *n, *transfers, *batch, *poll); err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
	}
	return nil
}

func smsOn(ctx context.Context, engine string, n, transfers, batch int, poll time.Duration) error {
	dbURL, drop, err := benchDatabase(ctx, engine)
	if err != nil {
		return err
	}
	defer drop()
	db, err := database.Open(ctx, dbURL, database.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := wallet.DefaultConfig()
	cfg.AuthorizationTTL = time.Hour
	w, err := wallet.New(ctx, db, cfg)
	if err != nil {
		return err
	}
	const user, key = "umeme", "atsk_bench_key"
	sim := atsim.New(atsim.Config{Username: user, APIKey: key})
	defer sim.Close()
	simURL, stopSim, err := serve(sim.Handler())
	if err != nil {
		return err
	}
	defer stopSim()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	at, err := sms.NewAT(sms.Config{BaseURL: simURL, Username: user, APIKey: key, Logger: log})
	if err != nil {
		return err
	}
	outbox := func() (*notify.Outbox, error) {
		return notify.NewOutbox(notify.OutboxConfig{Store: db, Sender: at, Log: log, Batch: batch, Poll: poll, ServiceCode: "*384*1234#"})
	}

	payer, err := fundedPayer(ctx, w, "+254700000001", 10_000_000_000)
	if err != nil {
		return err
	}
	next := 0
	transfer := func(w *wallet.Service) (string, error) {
		next++
		to := fmt.Sprintf("+2547%08d", 10_000_000+next)
		_, err := w.Transfer(ctx, payer, to, 10_000, fmt.Sprintf("bench-sms-%d", next))
		return to, err
	}

	// Throughput: n receipts queued, then drained round after round.
	for range n {
		if _, err := transfer(w); err != nil {
			return err
		}
	}
	o, err := outbox()
	if err != nil {
		return err
	}
	start := time.Now()
	for {
		t, err := o.RunOnce(ctx)
		if err != nil {
			return err
		}
		if t.Claimed == 0 {
			break
		}
		if t.Sent != t.Claimed {
			return fmt.Errorf("round %+v: not all sent", t)
		}
	}
	took := time.Since(start)
	if got := len(sim.Messages()); got != n {
		return fmt.Errorf("%d messages at the gateway for %d receipts", got, n)
	}
	fmt.Printf("sms %s: sender throughput, %d receipts, batch %d, %d sends at a time: %.0f messages/s (%.2fs)\n",
		engine, n, batch, notify.DefaultConcurrency, float64(n)/took.Seconds(), took.Seconds())

	// Latency: transfers at random moments, the sender running; woken by
	// the wallet's commits (notify.WakeOnQueue, as the server runs it), or
	// only polling.
	for _, wake := range []bool{false, true} {
		o, err := outbox()
		if err != nil {
			return err
		}
		tw := w
		if wake {
			if tw, err = wallet.New(ctx, notify.WakeOnQueue(db, o), cfg); err != nil {
				return err
			}
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { o.Run(rctx); close(done) }()
		before := len(sim.Messages())
		committed := map[string]time.Time{}
		for range transfers {
			time.Sleep(rand.N(100 * time.Millisecond)) // a random phase of the poll
			to, err := transfer(tw)
			if err != nil {
				stop()
				return err
			}
			// Taken when Transfer returns, its commit done: a woken
			// sender can beat it, and then the time counts as 0 or less.
			committed[to] = time.Now()
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = sim.WaitFor(wctx, before+transfers)
		cancel()
		if err != nil {
			stop()
			return err
		}
		var lat latencies
		for _, m := range sim.Messages() {
			if at, ok := committed[m.To]; ok {
				lat = append(lat, m.At.Sub(at))
			}
		}
		stop()
		<-done
		mode := fmt.Sprintf("polling every %s", poll)
		if wake {
			mode = fmt.Sprintf("woken after each commit (poll %s)", poll)
		}
		fmt.Printf("sms %s: committed transfer to its receipt at the gateway, %d transfers, sender %s: p50 %s, p99 %s, max %s\n",
			engine, transfers, mode, ms(lat.percentile(50)), ms(lat.percentile(99)), ms(lat.percentile(100)))
	}
	return nil
}

// fundedPayer registers a number, credits it msat and returns its
// authorization.
func fundedPayer(ctx context.Context, w *wallet.Service, phone string, msat int64) (wallet.Authorization, error) {
	u, _, err := w.EnsureUser(ctx, phone)
	if err != nil {
		return wallet.Authorization{}, err
	}
	if err := w.Register(ctx, u.ID, "2791"); err != nil {
		return wallet.Authorization{}, err
	}
	if _, err := w.Adjust(ctx, phone, msat, "bench funding", "bench-fund"); err != nil {
		return wallet.Authorization{}, err
	}
	return w.VerifyPIN(ctx, u.ID, "2791")
}
