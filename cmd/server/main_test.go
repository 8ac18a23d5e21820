package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/fleet"
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

// TestReconcileJSON runs the built binary as monitoring would: `server
// reconcile --json` prints one JSON report and exits 0 on sound books, and
// on a broken ledger still prints the report, names the violation and exits
// 1.
func TestReconcileJSON(t *testing.T) {
	bin := fleet.Build(t, t.TempDir())
	type report struct {
		Engine               string            `json:"engine"`
		OK                   bool              `json:"ok"`
		ShapeViolations      []json.RawMessage `json:"shape_violations"`
		ChainBreaks          []json.RawMessage `json:"chain_breaks"`
		DayCounterMismatches []struct {
			AccountID   int64 `json:"account_id"`
			CounterMsat int64 `json:"counter_msat"`
			LedgerMsat  int64 `json:"ledger_msat"`
		} `json:"day_counter_mismatches"`
		TotalMsat *int64 `json:"total_msat"`
	}
	run := func(t *testing.T, url string, args ...string) (report, int, string) {
		t.Helper()
		cmd := fleet.Command(bin, map[string]string{"DATABASE_URL": url, "PIN_PEPPER": "test"}, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var rep report
		if args[0] == "reconcile" {
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("stdout is not one JSON report: %v\n%s\nstderr: %s", err, stdout.String(), stderr.String())
			}
		}
		return rep, code, stdout.String() + stderr.String()
	}
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			url := dbtest.URL(t, engine)
			phone := storetest.Phone(t)
			if _, code, out := run(t, url, "admin", "credit", "--phone", phone, "--sats", "700", "--reason", "float"); code != 0 {
				t.Fatalf("credit: exit %d\n%s", code, out)
			}
			rep, code, out := run(t, url, "reconcile", "--json")
			if code != 0 || !rep.OK || rep.Engine != engine || rep.ShapeViolations == nil || rep.ChainBreaks == nil || rep.TotalMsat == nil || *rep.TotalMsat != 0 {
				t.Fatalf("reconcile of sound books: exit %d, %+v\n%s", code, rep, out)
			}
			dbtest.RawExec(t, url, "UPDATE accounts SET day_out_msat = day_out_msat + 5 WHERE kind = 'user'")
			rep, code, out = run(t, url, "reconcile", "--json")
			if code != 1 || rep.OK || len(rep.DayCounterMismatches) != 1 || rep.DayCounterMismatches[0].CounterMsat != 5 || rep.DayCounterMismatches[0].LedgerMsat != 0 {
				t.Fatalf("reconcile of a tampered counter: exit %d, %+v\n%s", code, rep, out)
			}
		})
	}
}
