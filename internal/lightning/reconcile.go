package lightning

import (
	"context"
	"fmt"
	"slices"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// ReconcileNode compares the ledger's Lightning account with the node's own
// records, payment hash by payment hash: every invoice the ledger credited
// through the node was settled there for the amount credited; every
// payment the ledger settled through the node succeeded there for the
// amount and fee booked; no invoice the ledger settled inside itself, and
// no payment it refunded, was paid on the node as well; and the node has no
// settled invoice or succeeded payment the ledger does not know. Payments
// still pending in the ledger are left out: their funds are on the reserved
// account, not the Lightning one, until the payer books the node's outcome.
//
// The two sides are read one after the other, not in one instant: an
// invoice settled, or a payment finished, between the two reads shows as a
// mismatch that the next run no longer reports. Run it when the node is
// quiet, or run it again.
func ReconcileNode(ctx context.Context, node Node, w *wallet.Service) (store.LightningReport, error) {
	var rep store.LightningReport
	balance, movements, err := w.LightningLedger(ctx)
	if err != nil {
		return rep, err
	}
	invoices, err := node.ListInvoices(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile node: %w", err)
	}
	payments, err := node.ListPayments(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile node: %w", err)
	}
	rep.LedgerMsat = balance
	settled := map[string]int64{}
	for _, inv := range invoices {
		if inv.State == InvoiceSettled {
			settled[inv.PaymentHash] = inv.AmountPaidMsat
			rep.NodeMsat -= inv.AmountPaidMsat
		}
	}
	succeeded := map[string]int64{}
	for _, p := range payments {
		if p.State == PaymentSucceeded {
			succeeded[p.PaymentHash] = p.AmountMsat + p.FeeMsat
			rep.NodeMsat += p.AmountMsat + p.FeeMsat
		}
	}
	mismatch := func(m store.LightningMovement, kind string, node int64, why string) {
		rep.Mismatches = append(rep.Mismatches, store.LightningMismatch{
			PaymentHash: m.PaymentHash, TransactionID: m.TransactionID, Kind: kind, LedgerMsat: m.LightningMsat, NodeMsat: node, Reason: why,
		})
	}
	seenInvoice, seenPayment := map[string]bool{}, map[string]bool{}
	for _, m := range movements {
		switch m.Type {
		case store.TypeInvoice:
			seenInvoice[m.PaymentHash] = true
			paid, onNode := settled[m.PaymentHash]
			switch {
			case m.Status == store.StatusCompleted && m.LightningMsat != 0 && !onNode:
				mismatch(m, "invoice", 0, "credited through the node, but not settled there")
			case m.Status == store.StatusCompleted && m.LightningMsat != 0 && paid != -m.LightningMsat:
				mismatch(m, "invoice", -paid, "credited another amount than the node settled")
			case m.Status == store.StatusCompleted && m.LightningMsat == 0 && onNode:
				mismatch(m, "invoice", -paid, "settled in the ledger and on the node as well")
			case m.Status != store.StatusCompleted && onNode:
				mismatch(m, "invoice", -paid, fmt.Sprintf("settled on the node, %s in the ledger", m.Status))
			}
		case store.TypePayment:
			seenPayment[m.PaymentHash] = true
			sent, onNode := succeeded[m.PaymentHash]
			switch {
			case m.Status == store.StatusPending:
			case m.Status == store.StatusCompleted && m.LightningMsat != 0 && !onNode:
				mismatch(m, "payment", 0, "settled through the node, but it did not succeed there")
			case m.Status == store.StatusCompleted && m.LightningMsat != 0 && sent != m.LightningMsat:
				mismatch(m, "payment", sent, "booked another amount and fee than the node paid")
			case m.Status == store.StatusCompleted && m.LightningMsat == 0 && onNode:
				mismatch(m, "payment", sent, "paid in the ledger and through the node as well")
			case m.Status == store.StatusFailed && onNode:
				mismatch(m, "payment", sent, "refunded in the ledger, but it succeeded on the node")
			}
		}
	}
	for _, hash := range sortedKeys(settled) {
		if !seenInvoice[hash] {
			mismatch(store.LightningMovement{PaymentHash: hash}, "invoice", -settled[hash], "settled on the node, unknown to the ledger")
		}
	}
	for _, hash := range sortedKeys(succeeded) {
		if !seenPayment[hash] {
			mismatch(store.LightningMovement{PaymentHash: hash}, "payment", succeeded[hash], "paid by the node, unknown to the ledger")
		}
	}
	if len(rep.Mismatches) == 0 && rep.LedgerMsat != rep.NodeMsat {
		rep.Mismatches = append(rep.Mismatches, store.LightningMismatch{Kind: "total", LedgerMsat: rep.LedgerMsat, NodeMsat: rep.NodeMsat,
			Reason: "the Lightning account holds another total than the node's invoices and payments add up to"})
	}
	return rep, nil
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
