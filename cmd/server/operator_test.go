package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// Test_freezePINResetAndPauseCommands drives the operator's user tools on
// every engine: freeze and unfreeze (a repeat records nothing), a PIN reset
// and its cancel, pause and resume, each recorded with the operator ($USER
// by default, or --operator) and --reason; `admin user` shows the state and
// the actions; reconcile passes, and fails once an audit row is edited.
func Test_freezePINResetAndPauseCommands(t *testing.T) {
	t.Setenv("USER", "env-operator")
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			url := dbtest.URL(t, engine)
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			phone := storetest.Phone(t)
			var out bytes.Buffer
			cmd := func(args ...string) string {
				t.Helper()
				out.Reset()
				if err := admin(ctx, append(args, "-database-url", url), &out, log); err != nil {
					t.Fatalf("admin %v: %v\n%s", args, err, out.String())
				}
				return out.String()
			}
			has := func(got string, wants ...string) {
				t.Helper()
				for _, w := range wants {
					if !strings.Contains(got, w) {
						t.Fatalf("%q lacks %q", got, w)
					}
				}
			}
			cmd("credit", "-phone", phone, "-sats", "5000", "-reason", "float")
			// A PIN reset needs a registered user.
			a, err := app.Open(ctx, config.Config{DatabaseURL: url}, log)
			if err != nil {
				t.Fatal(err)
			}
			u, err := a.Wallet.UserByPhone(ctx, phone)
			if err == nil {
				err = a.Wallet.Register(ctx, u.ID, "7391")
			}
			a.DB.Close()
			if err != nil {
				t.Fatal(err)
			}
			out.Reset()
			if err := admin(ctx, []string{"freeze", "-phone", phone, "-database-url", url}, &out, log); err == nil {
				t.Fatal("a freeze without a reason was done")
			}
			has(cmd("freeze", "-phone", phone, "-reason", "phone reported stolen"), "frozen by env-operator (recorded)")
			has(cmd("freeze", "-phone", phone, "-reason", "again"), "already so, nothing recorded")
			has(cmd("pin-reset", "-phone", phone, "-reason", "owner forgot it", "-operator", "alice"), "PIN reset by alice (recorded), in effect from", "told by SMS now")
			has(cmd("user", "-phone", phone), "FROZEN since", "PIN reset pending", "balance 5000000 msat", "sent today 0 of",
				"pin-reset by alice: \"owner forgot it\"", "freeze by env-operator: \"phone reported stolen\"")
			has(cmd("pin-reset", "-phone", phone, "-cancel", "-reason", "owner called back"), "PIN reset cancelled")
			has(cmd("unfreeze", "-phone", phone, "-reason", "owner identified"), "unfrozen by env-operator")
			has(cmd("pause", "-reason", "node maintenance", "-operator", "bob"), "payouts paused by bob (recorded)", "PAUSED by bob: node maintenance")
			has(cmd("resume", "-reason", "done", "-operator", "bob"), "payouts resumed by bob (recorded)", "payouts running")
			has(cmd("user", "-phone", phone), "can send", "operator actions: 5", "unfreeze by env-operator", "pin-reset-cancel by env-operator", "credit by env-operator: \"float\" transaction 1, 5000000 msat")

			out.Reset()
			if err := reconcile(ctx, []string{"-database-url", url}, &out, log); err != nil || !strings.Contains(out.String(), "operators' audit log intact and complete             ok") {
				t.Fatalf("reconcile: %v\n%s", err, out.String())
			}
			dbtest.RawExec(t, url, "UPDATE admin_audit SET reason = 'edited' WHERE action = 'freeze'")
			out.Reset()
			if err := reconcile(ctx, []string{"-database-url", url}, &out, log); !errors.Is(err, errViolations) || !strings.Contains(out.String(), "hash does not match the row") {
				t.Fatalf("reconcile of an edited audit row: %v\n%s", err, out.String())
			}
		})
	}
}
