package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// mpesaCmd runs the operator's M-Pesa commands: pending lists the top-ups
// and withdrawals not finished; resolve asks Daraja about one now and
// finishes it as Daraja says (a top-up at once; a withdrawal's answer comes
// to the running server's callback, as Transaction Status answers);
// resolve --paid RECEIPT or --not-paid, with --reason, decides by hand what
// Daraja cannot answer, in the audit log.
func mpesaCmd(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	if len(args) == 0 || (args[0] != "pending" && args[0] != "resolve") {
		return fmt.Errorf("mpesa: want pending or resolve\n%s", usage)
	}
	verb := args[0]
	fs := flag.NewFlagSet("mpesa "+verb, flag.ContinueOnError)
	id := fs.Int64("id", 0, "the top-up's or withdrawal's transaction id (resolve)")
	paid := fs.String("paid", "", "resolve by hand: M-Pesa's receipt of a top-up left to the operator (credited once)")
	notPaid := fs.Bool("not-paid", false, "resolve by hand: a top-up left to the operator, or a withdrawal Daraja has not found for a day, was not paid")
	operator, reason := operatorFlags(fs)
	a, err := openApp(ctx, fs, args[1:], log)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	if verb == "resolve" && (*paid != "" || *notPaid) {
		return decideMpesa(ctx, out, a.Wallet, *id, *paid, *notPaid, wallet.Action{Operator: *operator, Reason: *reason})
	}
	if verb == "pending" {
		open, err := a.Wallet.DueMpesaRequests(ctx, time.Now().Add(100*365*24*time.Hour), 1000)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d M-Pesa requests not finished\n", len(open))
		for _, r := range open {
			printRequest(ctx, out, a.Wallet, r)
		}
		return nil
	}
	if a.Ramp == nil {
		return fmt.Errorf("mpesa resolve: M-Pesa is not configured (MPESA_BASE_URL)")
	}
	if *id <= 0 {
		return fmt.Errorf("mpesa resolve: --id is required")
	}
	r, err := a.Wallet.MpesaRequest(ctx, *id)
	if err != nil {
		return fmt.Errorf("mpesa resolve: %w", err)
	}
	printRequest(ctx, out, a.Wallet, r)
	if r.NextCheckAt == nil {
		fmt.Fprintf(out, "request %d is finished: nothing to resolve\n", r.TransactionID)
		return nil
	}
	if err := a.Ramp.Check(ctx, r); err != nil {
		return fmt.Errorf("mpesa resolve: %d: %w", r.TransactionID, err)
	}
	r, err = a.Wallet.MpesaRequest(ctx, *id)
	if err != nil {
		return err
	}
	if r.Kind == store.MpesaWithdraw && r.NextCheckAt != nil {
		fmt.Fprintln(out, "asked Daraja's Transaction Status: the answer comes to the server's callback; run `server mpesa pending` later")
	}
	printRequest(ctx, out, a.Wallet, r)
	return nil
}

// printRequest writes a request with its transaction, the number masked.
func printRequest(ctx context.Context, out io.Writer, w *wallet.Service, r store.MpesaRequest) {
	status := "?"
	if t, err := w.Transaction(ctx, r.TransactionID); err == nil {
		status = string(t.Status)
	}
	next := "finished"
	if r.NextCheckAt != nil {
		next = "next check " + r.NextCheckAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(out, "%d %s %s KES %d to/from %s, receipt %q, result %q, asked %d times, %s, created %s\n", r.TransactionID, r.Kind, status,
		r.AmountKES, wallet.MaskPhone(r.Phone), r.Receipt, r.ResultCode, r.Checks, next, r.CreatedAt.UTC().Format(time.RFC3339))
}

// decideMpesa records an operator's decision on a request Daraja cannot
// answer (wallet.ResolveMpesa): a top-up left to the operator paid with a
// receipt or not paid, a withdrawal not found for a day not paid.
func decideMpesa(ctx context.Context, out io.Writer, w *wallet.Service, id int64, receipt string, notPaid bool, a wallet.Action) error {
	switch {
	case id <= 0:
		return fmt.Errorf("mpesa resolve: --id is required")
	case receipt != "" && notPaid:
		return fmt.Errorf("mpesa resolve: --paid and --not-paid exclude each other")
	}
	r, err := w.MpesaRequest(ctx, id)
	if err != nil {
		return fmt.Errorf("mpesa resolve: %w", err)
	}
	printRequest(ctx, out, w, r)
	if err := w.ResolveMpesa(ctx, id, wallet.MpesaDecision{Paid: receipt != "", Receipt: receipt}, a); err != nil {
		return fmt.Errorf("mpesa resolve: %d: %w", id, err)
	}
	decision := "not paid"
	if receipt != "" {
		decision = "paid, receipt " + receipt
	}
	fmt.Fprintf(out, "%s %d decided %s by %s (recorded)\n", r.Kind, id, decision, a.Operator)
	if r, err = w.MpesaRequest(ctx, id); err == nil {
		printRequest(ctx, out, w, r)
	}
	return err
}
