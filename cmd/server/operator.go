package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"time"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The operator's user tools and the payout pause: server admin user,
// freeze, unfreeze, pin-reset, pause and resume. Every one that changes
// something is recorded with --operator (default $USER) and --reason in the
// audit log, in the same transaction as the change.

// operatorVerbs are the admin verbs of this file.
var operatorVerbs = map[string]func(ctx context.Context, verb string, args []string, out io.Writer, log *slog.Logger) error{
	"user": adminUser, "freeze": adminFreeze, "unfreeze": adminFreeze, "pin-reset": adminPINReset,
	"pause": adminPause, "resume": adminPause,
}

// operatorFlags adds --operator and --reason to a command's flags.
func operatorFlags(fs *flag.FlagSet) (operator, reason *string) {
	operator = fs.String("operator", defaultOperator(), "who does it, for the audit log (default $USER)")
	reason = fs.String("reason", "", "why, for the audit log (required)")
	return operator, reason
}

// defaultOperator is $USER, or the account the command runs as.
func defaultOperator() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// adminUser prints what support needs of one user.
func adminUser(ctx context.Context, _ string, args []string, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("admin user", flag.ContinueOnError)
	phone := fs.String("phone", "", "the user's phone number")
	n := fs.Int("last", 10, "how many of the latest transactions to list")
	a, err := openApp(ctx, fs, args, log)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	if *phone == "" {
		return errors.New("admin user: --phone is required")
	}
	r, err := a.Wallet.UserReport(ctx, *phone, max(1, min(*n, 100)))
	if err != nil {
		return fmt.Errorf("admin user: %w", err)
	}
	u, zone := r.User, a.Wallet.Config().DayZone
	fmt.Fprintf(out, "user %d %s (%s), language %s, since %s\n", u.ID, wallet.MaskPhone(u.Phone), u.Status, u.Language, u.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(out, "  lightning address name %s\n", u.LightningName)
	status := "can send"
	if u.FrozenAt != nil {
		status = "FROZEN since " + u.FrozenAt.In(zone).Format("2006-01-02 15:04 MST") + ": receives, sends nothing"
	}
	fmt.Fprintf(out, "  %s\n", status)
	switch {
	case u.LockedUntil != nil && time.Now().Before(*u.LockedUntil):
		fmt.Fprintf(out, "  PIN locked until %s (%d lockouts)\n", u.LockedUntil.In(zone).Format("2006-01-02 15:04 MST"), u.LockoutCount)
	case u.FailedPINAttempts > 0:
		fmt.Fprintf(out, "  %d wrong PINs in a row\n", u.FailedPINAttempts)
	}
	if u.PINResetAt != nil {
		due := "pending"
		if a.Wallet.PINResetDue(u) {
			due = "in effect: the next dial chooses a new PIN"
		}
		fmt.Fprintf(out, "  PIN reset %s, from %s\n", due, u.PINResetAt.In(zone).Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintf(out, "  balance %d msat (%d sats)\n", r.Account.BalanceMsat, r.Account.BalanceMsat/1000)
	fmt.Fprintf(out, "  sent today %d of %d sats (daily limit)\n", r.SentTodayMsat/1000, r.DailyLimitMsat/1000)
	fmt.Fprintf(out, "pending operations: %d\n", len(r.Pending))
	for _, t := range r.Pending {
		fmt.Fprintf(out, "  %d %s %d msat, held %d msat, since %s\n", t.ID, t.Type, t.AmountMsat, t.HeldMsat, t.CreatedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(out, "open USSD sessions: %d\n", len(r.Sessions))
	for _, s := range r.Sessions {
		fmt.Fprintf(out, "  %s at %s, %d hops, last %s\n", s.SessionID, s.State, s.Hops, s.LastActivityAt.Format(time.RFC3339))
	}
	fmt.Fprintf(out, "latest transactions: %d\n", len(r.Latest))
	for _, t := range r.Latest {
		with := ""
		if t.CounterpartyPhone != "" {
			with = " with " + wallet.MaskPhone(t.CounterpartyPhone)
		}
		fmt.Fprintf(out, "  %d %s %s %s %d msat fee %d msat%s, %s\n", t.ID, t.CreatedAt.Format(time.RFC3339), t.Type, t.Status, t.AmountMsat, t.FeeMsat, with, t.Direction)
	}
	fmt.Fprintf(out, "operator actions: %d\n", len(r.Audit))
	for _, x := range r.Audit {
		fmt.Fprintf(out, "  %d %s %s by %s: %q %s\n", x.ID, x.CreatedAt.Format(time.RFC3339), x.Action, x.Operator, x.Reason, x.Detail)
	}
	return nil
}

// adminFreeze freezes or unfreezes an account.
func adminFreeze(ctx context.Context, verb string, args []string, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("admin "+verb, flag.ContinueOnError)
	phone := fs.String("phone", "", "the user's phone number")
	operator, reason := operatorFlags(fs)
	a, err := openApp(ctx, fs, args, log)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	if *phone == "" {
		return fmt.Errorf("admin %s: --phone is required", verb)
	}
	act := wallet.Action{Operator: *operator, Reason: *reason}
	change := a.Wallet.Freeze
	if verb == "unfreeze" {
		change = a.Wallet.Unfreeze
	}
	changed, err := change(ctx, *phone, act)
	if err != nil {
		return fmt.Errorf("admin %s: %w", verb, err)
	}
	if !changed {
		fmt.Fprintf(out, "%s: already so, nothing recorded\n", wallet.MaskPhone(*phone))
		return nil
	}
	fmt.Fprintf(out, "%s: %s by %s (recorded)\n", wallet.MaskPhone(*phone), map[string]string{"freeze": "frozen", "unfreeze": "unfrozen"}[verb], *operator)
	return nil
}

// adminPINReset schedules a PIN reset after PIN_RESET_DELAY (or --delay),
// texting the user at once; --cancel withdraws a pending one.
func adminPINReset(ctx context.Context, _ string, args []string, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("admin pin-reset", flag.ContinueOnError)
	phone := fs.String("phone", "", "the user's phone number")
	cancel := fs.Bool("cancel", false, "withdraw a pending reset instead")
	delay := fs.Duration("delay", -1, "how long until the reset takes effect (default PIN_RESET_DELAY, 24h)")
	operator, reason := operatorFlags(fs)
	a, err := openApp(ctx, fs, args, log)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	if *phone == "" {
		return errors.New("admin pin-reset: --phone is required")
	}
	act := wallet.Action{Operator: *operator, Reason: *reason}
	if *cancel {
		changed, err := a.Wallet.CancelPINReset(ctx, *phone, act)
		if err != nil {
			return fmt.Errorf("admin pin-reset --cancel: %w", err)
		}
		if !changed {
			fmt.Fprintf(out, "%s: no PIN reset pending, nothing recorded\n", wallet.MaskPhone(*phone))
			return nil
		}
		fmt.Fprintf(out, "%s: PIN reset cancelled by %s (recorded); the old PIN stands\n", wallet.MaskPhone(*phone), *operator)
		return nil
	}
	if *delay < 0 {
		*delay = a.Config.Ops.PINResetDelay
	}
	at, err := a.Wallet.SchedulePINReset(ctx, *phone, *delay, act)
	if err != nil {
		return fmt.Errorf("admin pin-reset: %w", err)
	}
	fmt.Fprintf(out, "%s: PIN reset by %s (recorded), in effect from %s; the user is told by SMS now\n",
		wallet.MaskPhone(*phone), *operator, at.In(a.Wallet.Config().DayZone).Format("2006-01-02 15:04 MST"))
	return nil
}

// adminPause pauses or resumes the payouts by hand (the watchdog's own
// pause is lifted only by the watchdog, when the coverage is back).
func adminPause(ctx context.Context, verb string, args []string, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("admin "+verb, flag.ContinueOnError)
	operator, reason := operatorFlags(fs)
	a, err := openApp(ctx, fs, args, log)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	act := wallet.Action{Operator: *operator, Reason: *reason}
	change := a.Wallet.Pause
	if verb == "resume" {
		change = a.Wallet.Resume
	}
	changed, err := change(ctx, act)
	if err != nil {
		return fmt.Errorf("admin %s: %w", verb, err)
	}
	if changed {
		fmt.Fprintf(out, "payouts %sd by %s (recorded)\n", verb, *operator)
	} else {
		fmt.Fprintf(out, "payouts already so by hand, nothing recorded\n")
	}
	p, err := a.Wallet.PauseState(ctx)
	if err != nil {
		return err
	}
	switch {
	case p.Auto:
		fmt.Fprintf(out, "PAUSED by the watchdog: %s\n", p.AutoReason)
	case p.Manual:
		fmt.Fprintf(out, "PAUSED by %s: %s\n", p.Operator, p.ManualReason)
	default:
		fmt.Fprintln(out, "payouts running")
	}
	return nil
}
