package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// TestOperatorCommands drives `server admin` and `server reconcile` against
// every engine, including a reconcile that must fail.
func TestOperatorCommands(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := dbtest.URL(t, engine)
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			phone := storetest.Phone(t)
			var out bytes.Buffer
			opArgs := func(verb string, extra ...string) []string {
				return append([]string{verb}, extra...)
			}
			if err := migrate(ctx, []string{"up", "-database-url", url}, &out); err != nil {
				t.Fatal(err)
			}
			// The flag after the action reached the command.
			if !strings.Contains(out.String(), "on "+engine) {
				t.Fatalf("migrate up answered %q, not from %s", out.String(), engine)
			}
			if err := admin(ctx, opArgs("credit", "-phone", phone, "-sats", "5000", "-reason", "float", "-key", "k1", "-database-url", url), &out, log); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "balance now 5000 sats") {
				t.Fatalf("credit said %q", out.String())
			}
			out.Reset()
			if err := admin(ctx, opArgs("credit", "-phone", phone, "-sats", "5000", "-reason", "float", "-key", "k1", "-database-url", url), &out, log); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "balance now 5000 sats") {
				t.Fatalf("a repeated key credited again: %q", out.String())
			}
			out.Reset()
			if err := admin(ctx, opArgs("debit", "-phone", phone, "-sats", "6000", "-reason", "x", "-database-url", url), &out, log); err == nil {
				t.Fatal("an overdrawing debit was booked")
			}
			if err := admin(ctx, opArgs("debit", "-phone", phone, "-sats", "1200", "-reason", "x", "-database-url", url), &out, log); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "balance now 3800 sats") {
				t.Fatalf("debit said %q", out.String())
			}
			out.Reset()
			if err := reconcile(ctx, []string{"-database-url", url}, &out, log); err != nil {
				t.Fatalf("reconcile: %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "books balance") {
				t.Fatalf("reconcile said %q", out.String())
			}

			// Break the cache behind the wallet's back: reconcile must fail.
			dbtest.RawExec(t, url, "UPDATE accounts SET balance_msat = balance_msat + 1 WHERE kind = 'user'")
			out.Reset()
			err := reconcile(ctx, []string{"-database-url", url}, &out, log)
			if !errors.Is(err, errViolations) || !strings.Contains(out.String(), "VIOLATIONS") {
				t.Fatalf("reconcile of a broken ledger: %v\n%s", err, out.String())
			}
		})
	}
}
