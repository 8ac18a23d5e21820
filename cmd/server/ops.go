package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// openApp opens the database and wallet for a one-shot operator command.
func openApp(ctx context.Context, fs *flag.FlagSet, args []string, log *slog.Logger) (*app.App, error) {
	cfg, err := config.Load(fs, args)
	if err != nil {
		return nil, err
	}
	return app.Open(ctx, cfg, log)
}

// reconcile checks the ledger's invariants over the whole database and
// prints a report, as text or (--json) as one JSON object for monitoring;
// with --lnd it also compares the Lightning account with the node. Any
// violation makes the command fail.
func reconcile(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	withNode := fs.Bool("lnd", false, "also compare the Lightning account with lnd's settled invoices and payments (LND_* settings)")
	a, err := openApp(ctx, fs, args, log)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	rep, err := a.Wallet.Reconcile(ctx)
	if err != nil {
		return err
	}
	if *withNode {
		if err := a.WaitLightning(ctx, 30*time.Second); err != nil {
			return fmt.Errorf("reconcile --lnd: %w", err)
		}
		ln, err := lightning.ReconcileNode(ctx, a.Receiver.Node, a.Wallet)
		if err != nil {
			return err
		}
		rep.Lightning = &ln
	}
	if *asJSON {
		if err := printJSON(out, a.DB.Engine(), rep); err != nil {
			return err
		}
	} else {
		printReport(out, a.DB.Engine(), rep)
	}
	if !rep.OK() {
		return errViolations
	}
	return nil
}

// printJSON writes the report as one JSON object: the engine, whether the
// books balance, and every list of violations (empty lists as []).
func printJSON(out io.Writer, engine string, rep store.ReconcileReport) error {
	rep.UnbalancedTransactions = nonNil(rep.UnbalancedTransactions)
	rep.BalanceDrift = nonNil(rep.BalanceDrift)
	rep.NegativeUserAccounts = nonNil(rep.NegativeUserAccounts)
	rep.ReservationMismatches = nonNil(rep.ReservationMismatches)
	rep.ShapeViolations = nonNil(rep.ShapeViolations)
	rep.ChainBreaks = nonNil(rep.ChainBreaks)
	rep.DayCounterMismatches = nonNil(rep.DayCounterMismatches)
	rep.AuditViolations = nonNil(rep.AuditViolations)
	if rep.Lightning != nil {
		ln := *rep.Lightning
		ln.Mismatches = nonNil(ln.Mismatches)
		rep.Lightning = &ln
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Engine string `json:"engine"`
		OK     bool   `json:"ok"`
		store.ReconcileReport
	}{engine, rep.OK(), rep})
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// printReport writes the report for a person: one line per check, then the
// violations it found.
func printReport(out io.Writer, engine string, rep store.ReconcileReport) {
	fmt.Fprintf(out, "reconcile on %s\n", engine)
	check := func(name string, n int) {
		status := "ok"
		if n > 0 {
			status = fmt.Sprintf("%d VIOLATIONS", n)
		}
		fmt.Fprintf(out, "  %-52s %s\n", name, status)
	}
	check("transactions whose entries sum to zero", len(rep.UnbalancedTransactions))
	for _, v := range rep.UnbalancedTransactions {
		fmt.Fprintf(out, "    transaction %d sums to %d msat\n", v.TransactionID, v.SumMsat)
	}
	check("cached balances equal to their entries", len(rep.BalanceDrift))
	for _, v := range rep.BalanceDrift {
		fmt.Fprintf(out, "    account %d caches %d msat, ledger says %d msat\n", v.AccountID, v.BalanceMsat, v.LedgerMsat)
	}
	check("user balances not negative", len(rep.NegativeUserAccounts))
	for _, v := range rep.NegativeUserAccounts {
		fmt.Fprintf(out, "    account %d holds %d msat\n", v.AccountID, v.BalanceMsat)
	}
	check("reservations held only by pending operations", len(rep.ReservationMismatches))
	for _, v := range rep.ReservationMismatches {
		fmt.Fprintf(out, "    transaction %d (%s) holds %d msat\n", v.TransactionID, v.Status, v.HeldMsat)
	}
	check("entries as each transaction's row calls for", len(rep.ShapeViolations))
	for _, v := range rep.ShapeViolations {
		fmt.Fprintf(out, "    transaction %d (%s %s): %s\n", v.TransactionID, v.Status, v.Type, v.Reason)
	}
	check("user accounts' hash chains intact", len(rep.ChainBreaks))
	for _, v := range rep.ChainBreaks {
		fmt.Fprintf(out, "    account %d: %s\n", v.AccountID, v.Reason)
	}
	check("daily counters equal to their entries", len(rep.DayCounterMismatches))
	for _, v := range rep.DayCounterMismatches {
		fmt.Fprintf(out, "    account %d counts %d msat on day %d, its entries %d msat on day %d\n", v.AccountID, v.CounterMsat, v.CounterDay, v.LedgerMsat, v.LedgerDay)
	}
	check("operators' audit log intact and complete", len(rep.AuditViolations))
	for _, v := range rep.AuditViolations {
		switch {
		case v.AuditID != 0:
			fmt.Fprintf(out, "    audit row %d: %s\n", v.AuditID, v.Reason)
		case v.UserID != 0:
			fmt.Fprintf(out, "    user %d: %s\n", v.UserID, v.Reason)
		default:
			fmt.Fprintf(out, "    %s\n", v.Reason)
		}
	}
	total := 0
	if rep.TotalMsat != 0 {
		total = 1
		fmt.Fprintf(out, "    all balances sum to %d msat\n", rep.TotalMsat)
	}
	check("all balances sum to zero", total)
	if ln := rep.Lightning; ln != nil {
		check("Lightning account equal to the node's records", len(ln.Mismatches))
		for _, v := range ln.Mismatches {
			fmt.Fprintf(out, "    %s %s (transaction %d): ledger %d msat, node %d msat: %s\n", v.Kind, v.PaymentHash, v.TransactionID, v.LedgerMsat, v.NodeMsat, v.Reason)
		}
	}
	if rep.OK() {
		fmt.Fprintln(out, "books balance")
	}
}

// admin books an operator's manual credit or debit, or pays an invoice.
func admin(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	if len(args) > 0 && args[0] == "pay" {
		return adminPay(ctx, args[1:], out, log)
	}
	if len(args) > 0 && args[0] == "payment" {
		return adminPayment(ctx, args[1:], out, log)
	}
	if len(args) > 0 {
		if f, ok := operatorVerbs[args[0]]; ok {
			return f(ctx, args[0], args[1:], out, log)
		}
	}
	if len(args) == 0 || (args[0] != "credit" && args[0] != "debit") {
		return fmt.Errorf("admin: want credit, debit, pay, payment, user, freeze, unfreeze, pin-reset, pause or resume\n%s", usage)
	}
	verb := args[0]
	fs := flag.NewFlagSet("admin "+verb, flag.ContinueOnError)
	phone := fs.String("phone", "", "the user's phone number")
	sats := fs.Int64("sats", 0, "amount in sats (positive)")
	operator, reason := operatorFlags(fs)
	key := fs.String("key", "", "idempotency key: the same key books once (default: a fresh one)")
	a, err := openApp(ctx, fs, args[1:], log)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	if *phone == "" || *sats <= 0 || *reason == "" {
		return fmt.Errorf("admin %s: --phone, a positive --sats and --reason are required", verb)
	}
	// Bounded before it is multiplied into msat.
	amount, err := wallet.MsatFromSats(*sats)
	if err != nil {
		return fmt.Errorf("admin %s: --sats: %w", verb, err)
	}
	if *key == "" {
		b := make([]byte, 12)
		rand.Read(b)
		*key = "admin:" + hex.EncodeToString(b)
	}
	if verb == "debit" {
		amount = -amount
	}
	t, err := a.Wallet.OperatorAdjust(ctx, *phone, amount, wallet.Action{Operator: *operator, Reason: *reason}, *key)
	if err != nil {
		return err
	}
	bal, err := a.Wallet.Balance(ctx, t.UserID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s of %d sats booked as transaction %d (key %s); balance now %d sats\n", verb, *sats, t.ID, t.IdempotencyKey, bal/1000)
	return nil
}

// cleanup runs the periodic cleanup once.
func cleanup(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	idle := fs.Duration("idle", 5*time.Minute, "close sessions idle for longer than this")
	a, err := openApp(ctx, fs, args, log)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	res, err := a.Wallet.CleanupExpired(ctx, *idle)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "closed %d idle sessions, expired %d invoices, deleted %d stale address invoices\n", res.Sessions, res.Invoices, res.AddressInvoices)
	return nil
}

// adminPay pays a BOLT11 invoice from a user's account for the operator and
// waits for the outcome; one still unknown when it ends stays reserved and
// is finished by the server, which re-attaches to it at start.
func adminPay(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("admin pay", flag.ContinueOnError)
	phone := fs.String("phone", "", "the paying user's phone number")
	invoice := fs.String("invoice", "", "the BOLT11 invoice")
	key := fs.String("key", "", "idempotency key: the same key pays once (default: a fresh one)")
	a, err := openApp(ctx, fs, args, log)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	if err := a.WaitLightning(ctx, 30*time.Second); err != nil {
		return fmt.Errorf("admin pay: %w", err)
	}
	if *phone == "" || *invoice == "" {
		return fmt.Errorf("admin pay: --phone and --invoice are required")
	}
	if *key == "" {
		b := make([]byte, 12)
		rand.Read(b)
		*key = "admin-pay:" + hex.EncodeToString(b)
	}
	auth, err := a.Wallet.OperatorAuthorization(ctx, *phone)
	if err != nil {
		return err
	}
	p, err := a.Payer.Pay(ctx, auth, *invoice, *key)
	if err != nil {
		return err
	}
	if p.Internal {
		if p.Transaction.Status == store.StatusPending {
			fmt.Fprintf(out, "payment %d of an invoice of one of our users: reserved, but lnd did not confirm the invoice's cancel; the server finishes it (or: server admin payment resolve --id %d)\n", p.Transaction.ID, p.Transaction.ID)
			return nil
		}
		fmt.Fprintf(out, "paid inside the ledger as transaction %d (an invoice of one of our users)\n", p.Transaction.ID)
		return nil
	}
	if p.Transaction.Status == store.StatusPending {
		fmt.Fprintf(out, "payment %d reserved, sending\n", p.Transaction.ID)
	}
	a.Payer.Wait()
	t, err := a.Wallet.Transaction(ctx, p.Transaction.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "payment %d %s: %d sats, fee %d msat\n", t.ID, t.Status, t.AmountMsat/1000, t.FeeMsat)
	return nil
}

// adminPayment shows a payment with what lnd says of it, or resolves a
// pending one as lnd says: settled with its fee, refunded on a failure (or
// when lnd never started it and its invoice has expired); refused while lnd
// is unreachable or still trying.
func adminPayment(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "resolve") {
		return fmt.Errorf("admin payment: want show or resolve\n%s", usage)
	}
	verb := args[0]
	fs := flag.NewFlagSet("admin payment "+verb, flag.ContinueOnError)
	id := fs.Int64("id", 0, "the payment's transaction id")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for lnd to answer")
	a, err := openApp(ctx, fs, args[1:], log)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	if *id <= 0 {
		return fmt.Errorf("admin payment %s: --id is required", verb)
	}
	t, err := a.Wallet.Transaction(ctx, *id)
	if err != nil {
		return fmt.Errorf("admin payment %s: transaction %d: %w", verb, *id, err)
	}
	if t.Type != store.TypePayment {
		return fmt.Errorf("admin payment %s: transaction %d is a %s, not a payment", verb, t.ID, t.Type)
	}
	printPayment(out, t)
	lndErr := a.WaitLightning(ctx, *wait)
	if verb == "show" {
		if lndErr != nil {
			fmt.Fprintf(out, "lnd: unreachable (%v)\n", lndErr)
			return nil
		}
		v, err := a.Payer.Inspect(ctx, t)
		if err != nil {
			fmt.Fprintf(out, "lnd: no answer (%v)\n", err)
			return nil
		}
		fmt.Fprintf(out, "lnd: %s\n", describeView(v))
		return nil
	}
	if lndErr != nil {
		return fmt.Errorf("admin payment resolve: nothing changed: %w", lndErr)
	}
	if t.Status != store.StatusPending {
		fmt.Fprintf(out, "payment %d is already %s: nothing to resolve\n", t.ID, t.Status)
		return nil
	}
	got, err := a.Payer.Resolve(ctx, t.ID)
	if err != nil {
		if got.Status != store.StatusPending {
			fmt.Fprintf(out, "payment %d resolved: %s\n", got.ID, got.Status)
		}
		return fmt.Errorf("admin payment resolve: payment %d %s: %w", t.ID, got.Status, err)
	}
	fmt.Fprintf(out, "payment %d resolved: %s: %d sats, fee %d msat\n", got.ID, got.Status, got.AmountMsat/1000, got.FeeMsat)
	return nil
}

// printPayment writes what the ledger knows of a payment.
func printPayment(out io.Writer, t store.Transaction) {
	fmt.Fprintf(out, "payment %d: %s, %d msat, fee %d msat, user %d, created %s, updated %s\n", t.ID, t.Status, t.AmountMsat, t.FeeMsat,
		t.UserID, t.CreatedAt.Format(time.RFC3339), t.UpdatedAt.Format(time.RFC3339))
	fmt.Fprintf(out, "  hash %s, key %s\n", t.PaymentHash, t.IdempotencyKey)
	if t.CounterpartyPhone != "" {
		fmt.Fprintf(out, "  to %s (one of our users)\n", wallet.MaskPhone(t.CounterpartyPhone))
	}
}

// describeView says in a line what lnd says of a payment.
func describeView(v lightning.NodeView) string {
	expired := ""
	if v.Expired {
		expired = " (its invoice has expired)"
	}
	if v.Internal {
		state := map[lightning.InvoiceState]string{lightning.InvoiceOpen: "open", lightning.InvoiceAccepted: "accepted",
			lightning.InvoiceSettled: "settled (paid from outside)", lightning.InvoiceCanceled: "cancelled"}[v.Invoice]
		return "an invoice of our own node, settled in the ledger; on lnd the invoice is " + state + expired
	}
	switch {
	case !v.Known:
		return "no record of the payment" + expired
	case v.State == lightning.PaymentSucceeded:
		return fmt.Sprintf("succeeded, routing fee %d msat", v.FeeMsat)
	case v.State == lightning.PaymentFailed:
		return "failed: " + v.Reason
	}
	return "in flight"
}
