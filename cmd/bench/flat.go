package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/dbadmin"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// flatGo sends MariaDB's flat_transfer (scripts/bench/transfer.lua
// --one_trip=2, a one-CALL design the store does not have) from this
// process, as the store's Go client would send such a transfer: through
// database/sql and the MariaDB driver, a statement prepared once, clients
// goroutines for duration, each transfer between two random funded
// accounts paying w's transfer fee (w.TransferFee; feeBps names it in the
// printed line) to the fees account. It returns
// transfers/s, and fails unless the wallet's books (w) reconcile after it.
// What it reaches, against the baseline, is the most the wallet could get
// on this server from that design, with none of the wallet's own Go work.
func flatGo(ctx context.Context, dbURL string, clients int, duration time.Duration, w *wallet.Service, feeBps int64) (float64, error) {
	cfg, err := dbadmin.MySQLConfig(dbURL)
	if err != nil {
		return 0, err
	}
	if out, err := exec.CommandContext(ctx, "sysbench", sysbenchArgs("scripts/bench/transfer.lua", cfg, "prepare")...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("flat: %w\n%s", err, out)
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(clients)
	db.SetMaxIdleConns(clients)
	type member struct {
		user, account int64
		phone         string
	}
	// The funded accounts and the fees account, as transfer.lua reads them.
	rows, err := db.QueryContext(ctx, `SELECT u.id, u.phone, a.id FROM users u JOIN accounts a ON a.user_id = u.id
		WHERE u.phone LIKE '+2547%' AND u.status = 'active' ORDER BY u.id`)
	if err != nil {
		return 0, err
	}
	var members []member
	for rows.Next() {
		var m member
		if err := rows.Scan(&m.user, &m.phone, &m.account); err != nil {
			rows.Close()
			return 0, err
		}
		members = append(members, m)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	var fees int64
	if err := db.QueryRowContext(ctx, "SELECT id FROM accounts WHERE code = 'fees'").Scan(&fees); err != nil {
		return 0, err
	}
	if len(members) < 2 || fees >= members[0].account {
		return 0, errors.New("flat: needs two funded accounts, all after the fees account")
	}
	call, err := db.PrepareContext(ctx, "CALL flat_transfer(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return 0, err
	}
	defer call.Close()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	client0, server0, start := processCPU(), serverCPU("mysql"), time.Now()
	deadline := start.Add(duration)
	var mu sync.Mutex
	var done int
	var firstErr error
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))
			n := 0
			var err error
			for ; err == nil && time.Now().Before(deadline); n++ {
				a := rng.IntN(len(members))
				s, r := members[a], members[(a+1+rng.IntN(len(members)-1))%len(members)]
				amount := int64(1+rng.IntN(100)) * 1000
				now := time.Now().UTC().Truncate(time.Microsecond)
				_, err = call.ExecContext(ctx, s.user, amount, w.TransferFee(amount), r.phone, fmt.Sprintf("flat-%s-%d-%d", run, c, n), now,
					r.user, s.phone, fees, s.account, r.account, w.Day(now), now.UnixMicro())
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				n-- // the loop counted the failed one
				if firstErr == nil {
					firstErr = err
				}
			}
			done += n
		})
	}
	wg.Wait()
	cpu := cpuShare{client: processCPU() - client0, server: serverCPU("mysql") - server0, elapsed: time.Since(start), n: done}
	if firstErr != nil {
		return 0, fmt.Errorf("flat: %w", firstErr)
	}
	v := float64(done) / cpu.elapsed.Seconds()
	fmt.Printf("mysql flat transfer (this Go process, %d clients, %s, fee %s, one CALL): %.0f transfers/s; %s\n", clients, duration, bps(feeBps), v, cpu)
	if err := reconcile(ctx, w); err != nil {
		return 0, fmt.Errorf("flat: %w", err)
	}
	return v, nil
}
