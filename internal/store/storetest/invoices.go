package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testInvoices: an invoice is unique by hash and by text, reads back as it
// was written, expires with its transaction row once overdue, may still be
// paid after our clock expired it, is paid once, and holds the invoice
// stream's start back only while unpaid.
func testInvoices(t *testing.T, s store.Store) {
	userID, _, _ := NewFundedUser(t, s, 0)
	mk := func(expires time.Time) (store.NewInvoice, int64) {
		var txID int64
		hash := Token(t, 32)
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			n := newTxn(t, userID, store.TypeInvoice, store.StatusPending, 5000, base)
			n.PaymentHash = hash
			var err error
			txID, err = tx.InsertTransaction(ctx, n)
			return err
		})
		return store.NewInvoice{UserID: userID, TransactionID: txID, Invoice: "lnbcrt50n1" + Token(t, 40), PaymentHash: hash,
			AmountMsat: 5000, Description: "umeme", AddIndex: 7, ExpiresAt: expires, Now: base}, txID
	}
	live, _ := mk(base.Add(time.Hour))
	overdue, overdueTx := mk(base.Add(-time.Minute))
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, n := range []store.NewInvoice{live, overdue} {
			if _, err := tx.InsertInvoice(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	for name, n := range map[string]store.NewInvoice{
		"payment hash": {UserID: userID, Invoice: "lnbcrt1" + Token(t, 30), PaymentHash: live.PaymentHash, AmountMsat: 1, ExpiresAt: base, Now: base},
		"invoice":      {UserID: userID, Invoice: live.Invoice, PaymentHash: Token(t, 32), AmountMsat: 1, ExpiresAt: base, Now: base},
	} {
		err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertInvoice(ctx, n)
			return err
		})
		mustKind(t, err, store.ErrConflict, "duplicate invoice "+name)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		inv, err := tx.InvoiceByPaymentHash(ctx, live.PaymentHash)
		if err != nil {
			return err
		}
		if inv.Status != store.InvoicePending || inv.AmountMsat != 5000 || inv.Invoice != live.Invoice || inv.AddIndex != 7 ||
			!inv.ExpiresAt.Equal(live.ExpiresAt) || inv.PaidAt != nil {
			t.Fatalf("invoice read back wrong: %+v", inv)
		}
		n, err := tx.ExpireInvoices(ctx, base)
		if err != nil || n < 1 {
			t.Fatalf("ExpireInvoices: %d %v", n, err)
		}
		if inv, _ := tx.InvoiceByPaymentHash(ctx, live.PaymentHash); inv.Status != store.InvoicePending {
			t.Fatalf("a live invoice expired: %+v", inv)
		}
		if inv, _ := tx.InvoiceByPaymentHash(ctx, overdue.PaymentHash); inv.Status != store.InvoiceExpired {
			t.Fatalf("an overdue invoice did not expire: %+v", inv)
		}
		if txn, _ := tx.TransactionByID(ctx, overdueTx); txn.Status != store.StatusExpired {
			t.Fatalf("the overdue invoice's transaction did not expire: %+v", txn)
		}
		// Both unpaid (one pending, one expired within the window) hold the
		// invoice stream back; an expiry before the window does not.
		if min, err := tx.MinUnpaidInvoiceAddIndex(ctx, base.Add(-time.Hour)); err != nil || min != 7 {
			t.Fatalf("MinUnpaidInvoiceAddIndex: %d %v", min, err)
		}
		paidAt := base.Add(time.Minute)
		ok, err := tx.MarkInvoicePaid(ctx, live.PaymentHash, 5000, paidAt)
		if err != nil || !ok {
			t.Fatalf("MarkInvoicePaid: %v %v", ok, err)
		}
		ok, err = tx.MarkInvoicePaid(ctx, live.PaymentHash, 5000, paidAt)
		if err != nil || ok {
			t.Fatalf("second MarkInvoicePaid must not apply: %v %v", ok, err)
		}
		// The node may settle an invoice our clock already expired.
		ok, err = tx.MarkInvoicePaid(ctx, overdue.PaymentHash, 6000, paidAt)
		if err != nil || !ok {
			t.Fatalf("MarkInvoicePaid of an expired invoice: %v %v", ok, err)
		}
		inv, _ = tx.InvoiceByPaymentHash(ctx, overdue.PaymentHash)
		if inv.Status != store.InvoicePaid || inv.AmountPaidMsat != 6000 || inv.PaidAt == nil || !inv.PaidAt.Equal(paidAt) {
			t.Fatalf("paid invoice: %+v", inv)
		}
		ok, err = tx.MarkInvoicePaid(ctx, Token(t, 32), 1, paidAt)
		if err != nil || ok {
			t.Fatalf("MarkInvoicePaid of an unknown hash: %v %v", ok, err)
		}
		_, err = tx.InvoiceByPaymentHash(ctx, Token(t, 32))
		mustKind(t, err, store.ErrNotFound, "unknown invoice")
		idx, err := tx.MaxInvoiceAddIndex(ctx)
		if err != nil || idx < 7 {
			t.Fatalf("MaxInvoiceAddIndex: %d %v", idx, err)
		}
		// Both invoices are paid now: neither holds the stream back.
		if min, err := tx.MinUnpaidInvoiceAddIndex(ctx, base.Add(-time.Hour)); err != nil || min != 0 {
			t.Fatalf("MinUnpaidInvoiceAddIndex after payment: %d %v", min, err)
		}
		return nil
	})
}

// testAddressInvoices: an invoice for an anonymous payer of an address is
// recorded by the number alone, lists among the number's unpaid ones until
// it is paid, expired or due, gets its user and transaction row when paid,
// and is deleted once it expired unpaid long enough ago.
func testAddressInvoices(t *testing.T, s store.Store) {
	phone := Phone(t)
	userID, _, _ := NewFundedUser(t, s, 0)
	digits := strings.TrimPrefix(phone, "+")
	mk := func(expires time.Time) store.NewInvoice {
		return store.NewInvoice{Phone: phone, Origin: store.InvoiceByAddress, PayerComment: "for the goat 🐐", AddressName: digits,
			Invoice: "lnbcrt50n1" + Token(t, 40), PaymentHash: Token(t, 32), AmountMsat: 5000, Description: "address", AddIndex: 9,
			ExpiresAt: expires, Now: base}
	}
	older, newer, overdue, paid := mk(base.Add(time.Hour)), mk(base.Add(time.Hour)), mk(base.Add(-time.Minute)), mk(base.Add(time.Hour))
	// Overdue too, but a payment of ours (inside the ledger) still holds
	// funds for it: its row must stay for the settlement.
	held := mk(base.Add(-time.Minute))
	// Asked for under a name the number's owner chose: capped apart.
	chosen := mk(base.Add(time.Hour))
	chosen.AddressName = "mama" + Token(t, 3)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, n := range []store.NewInvoice{older, newer, overdue, paid, held, chosen} {
			if _, err := tx.InsertInvoice(ctx, n); err != nil {
				return err
			}
		}
		payment := newTxn(t, userID, store.TypePayment, store.StatusPending, 5000, base)
		payment.PaymentHash = held.PaymentHash
		if _, err := tx.InsertTransaction(ctx, payment); err != nil {
			return err
		}
		// One the user asked for, of another origin, never counts.
		_, err := tx.InsertInvoice(ctx, store.NewInvoice{UserID: userID, Phone: phone, Invoice: "lnbcrt1" + Token(t, 30),
			PaymentHash: Token(t, 32), AmountMsat: 1, ExpiresAt: base.Add(time.Hour), Now: base})
		return err
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		inv, err := tx.InvoiceByPaymentHash(ctx, older.PaymentHash)
		if err != nil {
			return err
		}
		if inv.UserID != 0 || inv.TransactionID != 0 || inv.Phone != phone || inv.Origin != store.InvoiceByAddress ||
			inv.PayerComment != older.PayerComment || inv.Status != store.InvoicePending {
			t.Fatalf("address invoice read back wrong: %+v", inv)
		}
		ok, err := tx.MarkInvoicePaid(ctx, paid.PaymentHash, 5000, base)
		if err != nil || !ok {
			t.Fatalf("MarkInvoicePaid: %v %v", ok, err)
		}
		txID, err := tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeInvoice, store.StatusCompleted, 5000, base))
		if err != nil {
			return err
		}
		if err := tx.SetInvoiceReceipt(ctx, paid.PaymentHash, userID, txID, base); err != nil {
			return err
		}
		if inv, _ := tx.InvoiceByPaymentHash(ctx, paid.PaymentHash); inv.UserID != userID || inv.TransactionID != txID {
			t.Fatalf("receipt not recorded: %+v", inv)
		}
		hashes, err := tx.UnpaidAddressInvoices(ctx, phone, digits, base)
		if err != nil {
			return err
		}
		if len(hashes) != 2 || hashes[0] != newer.PaymentHash || hashes[1] != older.PaymentHash {
			t.Fatalf("unpaid address invoices: %v, want the newer then the older", hashes)
		}
		if hashes, _ := tx.UnpaidAddressInvoices(ctx, phone, chosen.AddressName, base); len(hashes) != 1 || hashes[0] != chosen.PaymentHash {
			t.Fatalf("unpaid address invoices of the chosen name: %v, want its own only", hashes)
		}
		if ok, err := tx.ExpireInvoice(ctx, older.PaymentHash, base); err != nil || !ok {
			t.Fatalf("ExpireInvoice: %v %v", ok, err)
		}
		if ok, err := tx.ExpireInvoice(ctx, paid.PaymentHash, base); err != nil || ok {
			t.Fatalf("ExpireInvoice of a paid invoice: %v %v", ok, err)
		}
		if hashes, _ := tx.UnpaidAddressInvoices(ctx, phone, digits, base); len(hashes) != 1 || hashes[0] != newer.PaymentHash {
			t.Fatalf("unpaid address invoices after an expiry: %v", hashes)
		}
		if _, err := tx.ExpireInvoices(ctx, base); err != nil {
			return err
		}
		// Expired unpaid: the older (one hour ahead) and the overdue one
		// (a minute ago); only what expired before the cut-off goes.
		n, err := tx.DeleteStaleAddressInvoices(ctx, base)
		if err != nil || n != 1 {
			t.Fatalf("DeleteStaleAddressInvoices: %d %v, want the overdue one", n, err)
		}
		_, err = tx.InvoiceByPaymentHash(ctx, overdue.PaymentHash)
		mustKind(t, err, store.ErrNotFound, "a stale address invoice")
		if n, err := tx.DeleteStaleAddressInvoices(ctx, base.Add(2*time.Hour)); err != nil || n != 1 {
			t.Fatalf("DeleteStaleAddressInvoices later: %d %v, want the expired older one only", n, err)
		}
		for _, h := range []string{newer.PaymentHash, paid.PaymentHash, held.PaymentHash} {
			if _, err := tx.InvoiceByPaymentHash(ctx, h); err != nil {
				t.Fatalf("a pending, paid or held address invoice was deleted: %v", err)
			}
		}
		return nil
	})
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertInvoice(ctx, store.NewInvoice{Origin: store.InvoiceByAddress, Invoice: "lnbcrt1" + Token(t, 30),
			PaymentHash: Token(t, 32), AmountMsat: 1, ExpiresAt: base, Now: base})
		return err
	})
	if err == nil {
		t.Fatal("an invoice with neither a user nor a number was recorded")
	}
}
