// Command server is Umeme's single binary: the USSD/HTTP server by default,
// and the operator's commands beside it.
//
//	server [serve]                 run the server
//	server migrate up|down|version manage the schema
//	server reconcile [--json] [--lnd] check the whole ledger (and the node)
//	server admin credit|debit      book a manual adjustment
//	server admin pay               pay a Lightning invoice for a user
//	server admin payment           show or resolve a payment as lnd says
//	server admin user|freeze|unfreeze|pin-reset|pause|resume
//	                               the operator's user tools and payout pause
//	server cleanup                 close idle sessions, expire invoices
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/store/migrations"
)

func main() {
	// First, before anything of ours runs, and for serve only (the other
	// commands gain nothing from it): the memory setting the runtime reads
	// only at start (app.MadviseFree). This does not return when it starts
	// the program again.
	if cmd, _ := command(os.Args[1:]); cmd == "serve" {
		if err := app.ExecWithRuntimeSettings(); err != nil {
			fmt.Fprintf(os.Stderr, "server: running without GODEBUG=%s: %v\n", app.MadviseFree, err)
		}
	}
	log, err := config.NewLogger(os.Stderr, os.Getenv("LOG_FORMAT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1:], log); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "server:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errViolations is returned by commands whose check found problems.
var errViolations = errors.New("violations found")

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// command splits the arguments into the command (serve when none is
// named) and its own arguments.
func command(args []string) (string, []string) {
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "serve", args
}

func run(ctx context.Context, args []string, log *slog.Logger) error {
	cmd, args := command(args)
	switch cmd {
	case "serve":
		return serve(ctx, args, log)
	case "migrate":
		return migrate(ctx, args, os.Stdout)
	case "reconcile":
		return reconcile(ctx, args, os.Stdout, log)
	case "admin":
		return admin(ctx, args, os.Stdout, log)
	case "cleanup":
		return cleanup(ctx, args, os.Stdout, log)
	case "mpesa":
		return mpesaCmd(ctx, args, os.Stdout, log)
	case "help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage:
  server [serve] [flags]            run the server
  server migrate up|down|version    apply, revert one, or show migrations
  server reconcile [--json] [--lnd] check the ledger (--lnd: and the Lightning node);
                                    exit 1 on any violation
  server admin credit|debit --phone P --sats N --reason R [--key K] [--operator O]
                                    book a manual adjustment
  server admin pay --phone P --invoice BOLT11 [--key K]
                                    pay a Lightning invoice from a user's account
                                    (once: an invoice already paid or being paid
                                    is refused)
  server admin payment show --id N [--wait 30s]
                                    a payment as the ledger and lnd see it
  server admin payment resolve --id N [--wait 30s]
                                    finish a pending payment as lnd says: settle
                                    it, or refund it if lnd failed it or never
                                    started it and its invoice expired; refused
                                    while lnd is unreachable or still trying
  server admin user --phone P [--last 10]
                                    a user's status, balance, today's sends, pending
                                    operations, open sessions, latest transactions
  server admin freeze|unfreeze --phone P --reason R [--operator O]
                                    stop (or allow again) all sending; receiving goes on
  server admin pin-reset --phone P --reason R [--delay D] [--cancel] [--operator O]
                                    reset the PIN after PIN_RESET_DELAY (24h), texting
                                    the user now; the next dial after it sets a new PIN
  server admin pause|resume --reason R [--operator O]
                                    pause (resume) Lightning payments out and M-Pesa
                                    withdrawals by hand; the watchdog never lifts this
                                    Every admin action is recorded with --operator
                                    (default $USER) and --reason in the audit log.
  server mpesa pending              the M-Pesa top-ups and withdrawals not finished
  server mpesa resolve --id N       ask Daraja about one now and finish it as Daraja
                                    says (a withdrawal's answer comes to the running
                                    server's callback)
  server mpesa resolve --id N --paid RECEIPT|--not-paid --reason WHY
                                    decide by hand what Daraja cannot answer: a
                                    top-up sent but never acknowledged (credited
                                    once with the user's M-Pesa receipt, or failed),
                                    a withdrawal not found for a day (refunded);
                                    recorded in the audit log
  server cleanup [--idle 5m]        close idle USSD sessions, expire invoices`

func serve(ctx context.Context, args []string, log *slog.Logger) error {
	cfg, err := config.Load(flag.NewFlagSet("serve", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	// Refused settings stop the server before it touches the database
	// (App.Start checks them again, for servers started in-process).
	if err := cfg.CheckServe(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	if err := a.Start(); err != nil {
		a.DB.Close()
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return a.Close(shutdownCtx)
}

func migrate(ctx context.Context, args []string, out io.Writer) error {
	// The action comes first (server migrate up -database-url …): the flag
	// package stops at the first argument that is not a flag.
	if len(args) == 0 {
		return fmt.Errorf("migrate: want up, down or version")
	}
	action, args := args[0], args[1:]
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	cfg, err := config.Load(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate: unexpected arguments %q", fs.Args())
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, database.Options{MaxConns: 1, Isolation: cfg.DBIsolation})
	if err != nil {
		return err
	}
	defer db.Close()
	switch action {
	case "up":
		err = db.Migrate(migrations.Up)
	case "down":
		err = db.Migrate(migrations.Down)
	case "version":
	default:
		return fmt.Errorf("migrate: want up, down or version, got %q", action)
	}
	if err != nil {
		return err
	}
	v, dirty, err := db.MigrationVersion()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "schema version %d (dirty: %v) on %s\n", v, dirty, db.Engine())
	return nil
}
