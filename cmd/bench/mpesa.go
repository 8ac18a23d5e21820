package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/httpapi"
	"github.com/umeme-wallet/umeme/internal/mpesa"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/ramp"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// mpesaBench measures the time from Daraja's success callback reaching the
// server to the top-up's credit committed (the callback is answered only
// after the commit): top-ups are started through the Daraja simulator over
// loopback HTTP, which is told to send no callback, and the bench posts
// each success callback itself and times its answer.
func mpesaBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mpesa", flag.ContinueOnError)
	engines := fs.String("engines", "postgres,mysql,sqlite", "engines to measure")
	n := fs.Int("n", 300, "top-ups per engine")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list, err := engineList(*engines)
	if err != nil {
		return err
	}
	for _, engine := range list {
		if err := mpesaOn(ctx, engine, *n); err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
	}
	return nil
}

func mpesaOn(ctx context.Context, engine string, n int) error {
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
	w, err := wallet.New(ctx, db, cfg)
	if err != nil {
		return err
	}
	sim, err := darajasim.New(darajasim.Config{ConsumerKey: "k", ConsumerSecret: "s", ShortCode: "174379", PassKey: "p",
		B2CShortCode: "600000", InitiatorName: "i", InitiatorPassword: "ip"})
	if err != nil {
		return err
	}
	defer sim.Close()
	sim.SetSTKDefault(darajasim.STKOutcome{Delivery: darajasim.DeliverNone})
	simURL, stopSim, err := serve(sim)
	if err != nil {
		return err
	}
	defer stopSim()
	client, err := mpesa.New(mpesa.Config{BaseURL: simURL, ConsumerKey: "k", ConsumerSecret: "s", ShortCode: "174379", PassKey: "p",
		B2CShortCode: "600000", InitiatorName: "i", InitiatorPassword: "ip", CertPEM: sim.CertPEM()})
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := &ramp.Ramp{Wallet: w, Daraja: ramp.Client{C: client}, Log: log}
	const token = "bench-callback-token-0123456789"
	apiURL, stopAPI, err := serve((&httpapi.Server{DB: db, Log: log, Ramp: r, MpesaCallbackToken: token}).Routes())
	if err != nil {
		return err
	}
	defer stopAPI()
	r.Config.CallbackBase = apiURL + "/cb/" + token

	var lat latencies
	for i := range n {
		phone := fmt.Sprintf("+2547%08d", 10_000_000+i)
		u, _, err := w.EnsureUser(ctx, phone)
		if err != nil {
			return err
		}
		if err := w.Register(ctx, u.ID, "2791"); err != nil {
			return err
		}
		q := wallet.MpesaQuote{KES: 100, Msat: 800_000, RateMilliKESPerBTC: 12_500_000_000, ExpiresAt: time.Now().Add(time.Minute)}
		t, err := r.Buy(ctx, u.ID, q, "bench-"+strconv.Itoa(i))
		if err != nil {
			return err
		}
		req, err := w.MpesaRequest(ctx, t.ID)
		if err != nil {
			return err
		}
		body := fmt.Sprintf(`{"Body":{"stkCallback":{"MerchantRequestID":"m-%d","CheckoutRequestID":%q,"ResultCode":0,"ResultDesc":"The service request is processed successfully.",`+
			`"CallbackMetadata":{"Item":[{"Name":"Amount","Value":100},{"Name":"MpesaReceiptNumber","Value":"BENCH%06d"},{"Name":"Balance"},`+
			`{"Name":"TransactionDate","Value":20261127120000},{"Name":"PhoneNumber","Value":%s}]}}}}`, i, req.CheckoutRequestID, i, req.Phone)
		start := time.Now()
		resp, err := http.Post(r.Config.CallbackBase+ramp.PathSTK, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("callback answered %d", resp.StatusCode)
		}
		if got, err := w.Transaction(ctx, t.ID); err != nil || got.Status != store.StatusCompleted {
			return fmt.Errorf("top-up %d not credited after its callback was answered: %s %v", t.ID, got.Status, err)
		}
	}
	fmt.Printf("mpesa %s: success callback to committed credit, %d top-ups one at a time: p50 %s, p99 %s, max %s\n",
		engine, n, ms(lat.percentile(50)), ms(lat.percentile(99)), ms(lat.percentile(100)))
	return nil
}

// serve serves h on a loopback port until stop.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
