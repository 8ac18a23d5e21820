package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestAmountsCannotOverflow: `server admin credit|debit` refuses amounts
// whose msat would overflow or exceed all the bitcoin there is, and credits
// above the balance cap, on every engine; each refusal changes nothing,
// later credits still work, and the books balance.
func TestAmountsCannotOverflow(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := dbtest.URL(t, engine)
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			phone := storetest.Phone(t)
			var out bytes.Buffer
			book := func(verb, sats string) error {
				out.Reset()
				return admin(ctx, []string{verb, "-phone", phone, "-sats", sats, "-reason", "test", "-database-url", url}, &out, log)
			}
			if err := book("credit", "5000"); err != nil {
				t.Fatal(err)
			}
			db, err := database.Open(ctx, url, database.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			w, err := wallet.New(ctx, db, wallet.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			// state is what a refused command must leave as it was.
			state := func() [3]int64 {
				t.Helper()
				u, err := w.UserByPhone(ctx, phone)
				if err != nil {
					t.Fatal(err)
				}
				bal, err := w.Balance(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				var adj store.Account
				if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					adj, err = tx.SystemAccount(ctx, store.AccountAdjustments)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				rows, err := w.History(ctx, u.ID, 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				return [3]int64{bal, adj.BalanceMsat, int64(len(rows))}
			}
			before := state()
			for _, c := range []struct {
				verb, sats string
				want       error
			}{
				{"credit", "9223372036854775", wallet.ErrInvalidAmount},    // the review's: fits int64 as msat, by 807
				{"credit", "9223372036854776", wallet.ErrInvalidAmount},    // overflows as msat
				{"credit", "9223372036854775807", wallet.ErrInvalidAmount}, // int64's largest
				{"credit", "2100000000000001", wallet.ErrInvalidAmount},    // one sat more than 21 million bitcoin
				{"debit", "9223372036854775", wallet.ErrInvalidAmount},
				{"debit", "2100000000000001", wallet.ErrInvalidAmount},
				{"credit", "19995001", wallet.ErrLimitExceeded}, // one sat above the 20M sat cap
				{"credit", "2100000000000000", wallet.ErrLimitExceeded},
				{"debit", "5001", wallet.ErrInsufficientBalance},
			} {
				if err := book(c.verb, c.sats); !errors.Is(err, c.want) {
					t.Errorf("admin %s --sats %s: %v, want %v", c.verb, c.sats, err, c.want)
				}
				if after := state(); after != before {
					t.Fatalf("admin %s --sats %s changed %v to %v", c.verb, c.sats, before, after)
				}
			}
			// Later credits still work, up to the cap exactly.
			if err := book("credit", "19995000"); err != nil || !strings.Contains(out.String(), "balance now 20000000 sats") {
				t.Fatalf("a credit to the cap: %v %q", err, out.String())
			}
			out.Reset()
			if err := reconcile(ctx, []string{"-database-url", url}, &out, log); err != nil || !strings.Contains(out.String(), "books balance") {
				t.Fatalf("reconcile: %v\n%s", err, out.String())
			}
		})
	}
}
