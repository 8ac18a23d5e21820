package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestRampCrashResolveCommands drives `server mpesa resolve --paid|--not-paid`
// on every engine over what the ramp's crash handling leaves to the
// operator: a top-up sent but never acknowledged is credited once with the
// user's receipt (a repeat, and the receipt on another top-up, are
// refused), another is failed as not paid, and a withdrawal Transaction
// Status has not found for a day is refunded; a decision without --reason,
// and a refund of a withdrawal not yet a day old, are refused. Each is in
// the audit log, and reconcile passes.
func TestRampCrashResolveCommands(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			url := dbtest.URL(t, engine)
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			a, err := app.Open(ctx, config.Config{DatabaseURL: url}, log)
			if err != nil {
				t.Fatal(err)
			}
			defer a.DB.Close()
			// A wallet on the same database whose clock is 25 hours behind:
			// what it does happened yesterday.
			cfg := a.Wallet.Config()
			cfg.Now = func() time.Time { return time.Now().Add(-25 * time.Hour) }
			yesterday, err := wallet.New(ctx, a.DB, cfg)
			if err != nil {
				t.Fatal(err)
			}
			phone := storetest.Phone(t)
			if _, err := a.Wallet.Adjust(ctx, phone, 10_000_000, "float", "float"); err != nil {
				t.Fatal(err)
			}
			u, err := a.Wallet.UserByPhone(ctx, phone)
			if err == nil {
				err = a.Wallet.Register(ctx, u.ID, "7391")
			}
			if err != nil {
				t.Fatal(err)
			}
			quote := func(now time.Time) wallet.MpesaQuote {
				return wallet.MpesaQuote{KES: 125, Msat: 1_000_000, RateMilliKESPerBTC: 12_500_000_000, ExpiresAt: now.Add(time.Minute)}
			}
			// Two top-ups whose pushes were sent and never acknowledged.
			unconfirmed := func(key string) int64 {
				t.Helper()
				tp, _, err := a.Wallet.StartTopup(ctx, u.ID, quote(time.Now()), time.Minute, key)
				if err == nil {
					_, _, err = a.Wallet.MarkMpesaSent(ctx, tp.ID)
				}
				if err == nil {
					_, _, err = a.Wallet.HoldUnconfirmedTopup(ctx, tp.ID, time.Now().Add(time.Hour))
				}
				if err != nil {
					t.Fatal(err)
				}
				return tp.ID
			}
			tp1, tp2 := unconfirmed("t1"), unconfirmed("t2")
			// Withdrawals sent yesterday and today, each not found by
			// Transaction Status.
			notFound := func(w *wallet.Service, key string) int64 {
				t.Helper()
				auth, err := w.VerifyPIN(ctx, u.ID, "7391")
				if err != nil {
					t.Fatal(err)
				}
				q := quote(time.Now())
				if w == yesterday {
					q = quote(cfg.Now())
				}
				wd, _, err := w.ReserveFresh(ctx, auth, wallet.Reservation{Type: store.TypeWithdraw, AmountMsat: q.Msat, CounterpartyPhone: auth.Phone(),
					Description: "KES 125 to M-Pesa", IdempotencyKey: key, Mpesa: &wallet.MpesaWithdrawal{Quote: q, CheckAfter: time.Minute}})
				if err == nil {
					_, _, err = w.MarkMpesaSent(ctx, wd.ID)
				}
				if err == nil {
					_, err = w.NoteMpesaResult(ctx, wd.ID, wallet.MpesaNotFound, "The transaction does not exist", time.Now().Add(time.Minute))
				}
				if err != nil {
					t.Fatal(err)
				}
				return wd.ID
			}
			old, fresh := notFound(yesterday, "w1"), notFound(a.Wallet, "w2")
			before, _ := a.Wallet.Balance(ctx, u.ID)

			var out bytes.Buffer
			run := func(args ...string) (string, error) {
				out.Reset()
				err := mpesaCmd(ctx, append(args, "-database-url", url), &out, log)
				return out.String(), err
			}
			ok := func(want string, args ...string) {
				t.Helper()
				got, err := run(args...)
				if err != nil || !strings.Contains(got, want) {
					t.Fatalf("mpesa %v: %v\n%s\nwant %q", args, err, got, want)
				}
			}
			refused := func(want string, args ...string) {
				t.Helper()
				got, err := run(args...)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("mpesa %v was not refused with %q: %v\n%s", args, want, err, got)
				}
			}
			id := func(n int64) string { return strconv.FormatInt(n, 10) }
			refused("reason", "resolve", "-id", id(tp1), "-paid", "SIMRCPT001", "-operator", "alice")
			refused("exclude", "resolve", "-id", id(tp1), "-paid", "SIMRCPT001", "-not-paid", "-reason", "x")
			ok("topup "+id(tp1)+" decided paid, receipt SIMRCPT001 by alice (recorded)",
				"resolve", "-id", id(tp1), "-paid", "SIMRCPT001", "-reason", "user showed the M-Pesa message", "-operator", "alice")
			refused("not a request only an operator can decide", "resolve", "-id", id(tp1), "-paid", "SIMRCPT001", "-reason", "again")
			refused("does not match", "resolve", "-id", id(tp2), "-paid", "SIMRCPT001", "-reason", "same receipt")
			ok("topup "+id(tp2)+" decided not paid by alice", "resolve", "-id", id(tp2), "-not-paid", "-reason", "M-Pesa statement shows nothing", "-operator", "alice")
			refused("not one Transaction Status has not found for a day", "resolve", "-id", id(fresh), "-not-paid", "-reason", "too early")
			ok("withdraw "+id(old)+" decided not paid by bob", "resolve", "-id", id(old), "-not-paid", "-reason", "not found for a day", "-operator", "bob")

			after, _ := a.Wallet.Balance(ctx, u.ID)
			if after != before+1_000_000+1_000_000+a.Wallet.ServiceFee(1_000_000) {
				t.Errorf("balance %d → %d: want one top-up credited and one withdrawal refunded", before, after)
			}
			for id, want := range map[int64]store.TransactionStatus{tp1: store.StatusCompleted, tp2: store.StatusFailed, old: store.StatusFailed, fresh: store.StatusPending} {
				if got, _ := a.Wallet.Transaction(ctx, id); got.Status != want {
					t.Errorf("transaction %d is %s, want %s", id, got.Status, want)
				}
			}
			rep, err := a.Wallet.UserReport(ctx, phone, 10)
			if err != nil || len(rep.Audit) != 3 {
				t.Fatalf("audit log: %v %+v", err, rep.Audit)
			}
			out.Reset()
			if err := reconcile(ctx, []string{"-database-url", url}, &out, log); err != nil || !strings.Contains(out.String(), "operators' audit log intact and complete             ok") {
				t.Fatalf("reconcile: %v\n%s", err, out.String())
			}
		})
	}
}
