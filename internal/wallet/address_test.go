package wallet_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestAddressNames: which names an address can have, and which a user can
// choose.
func TestAddressNames(t *testing.T) {
	cases := []struct {
		name      string
		phone     string // the number a name of digits stands for
		parse     error  // ParseAddressName
		choose    error  // CheckChosenName
		canonical string // the name as read
	}{
		{name: "254712345678", phone: "+254712345678", choose: wallet.ErrInvalidName},
		{name: "14155550123", phone: "+14155550123", choose: wallet.ErrInvalidName},
		{name: "0712345678", parse: wallet.ErrUnknownAddress, choose: wallet.ErrInvalidName},
		{name: "2540712345678", parse: wallet.ErrUnknownAddress, choose: wallet.ErrInvalidName},
		{name: "254", parse: wallet.ErrUnknownAddress, choose: wallet.ErrInvalidName},
		{name: "alice", canonical: "alice"},
		{name: "Alice", canonical: "alice", choose: wallet.ErrInvalidName},
		{name: "m2k", canonical: "m2k"},
		{name: strings.Repeat("a", 20), canonical: strings.Repeat("a", 20)},
		{name: strings.Repeat("a", 21), parse: wallet.ErrUnknownAddress, choose: wallet.ErrInvalidName},
		{name: "ab", parse: wallet.ErrUnknownAddress, choose: wallet.ErrInvalidName},
		{name: "mama-mboga", parse: wallet.ErrUnknownAddress, choose: wallet.ErrInvalidName},
		{name: "jo.doe", parse: wallet.ErrUnknownAddress, choose: wallet.ErrInvalidName},
		{name: "", parse: wallet.ErrUnknownAddress, choose: wallet.ErrInvalidName},
		{name: "admin", canonical: "admin", choose: wallet.ErrNameReserved},
		{name: "support", canonical: "support", choose: wallet.ErrNameReserved},
		{name: "mpesaagent", canonical: "mpesaagent", choose: wallet.ErrNameReserved},
		{name: "umemesupport", canonical: "umemesupport", choose: wallet.ErrNameReserved},
		{name: "safaricomcare", canonical: "safaricomcare", choose: wallet.ErrNameReserved},
	}
	for _, c := range cases {
		got, err := wallet.ParseAddressName(c.name)
		if !errors.Is(err, c.parse) {
			t.Errorf("ParseAddressName(%q): %v, want %v", c.name, err, c.parse)
		}
		if err == nil && (got.Phone != c.phone || (c.canonical != "" && got.Name != c.canonical)) {
			t.Errorf("ParseAddressName(%q) = %+v", c.name, got)
		}
		if err := wallet.CheckChosenName(c.name); !errors.Is(err, c.choose) {
			t.Errorf("CheckChosenName(%q): %v, want %v", c.name, err, c.choose)
		}
	}
}

// TestLightningNames: a chosen name is its user's for good; a name moved
// away from keeps paying its user and nobody else can take it; a user holds
// at most MaxLightningNames.
func TestLightningNames(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, _ := newWallet(t, db, nil)
		alice, bob := register(t, w, 0), register(t, w, 0)
		name := "a" + storetest.Token(t, 4)
		if got, err := w.SetLightningName(ctx, alice.user.ID, strings.ToUpper(name)); err != nil || got != name {
			t.Fatalf("choose: %q %v", got, err)
		}
		if _, err := w.SetLightningName(ctx, bob.user.ID, name); !errors.Is(err, wallet.ErrNameTaken) {
			t.Fatalf("a taken name: %v", err)
		}
		if _, err := w.SetLightningName(ctx, alice.user.ID, name+"x"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.SetLightningName(ctx, bob.user.ID, name); !errors.Is(err, wallet.ErrNameTaken) {
			t.Fatalf("a name given up went to someone else: %v", err)
		}
		to, err := w.ResolveAddress(ctx, wallet.AddressName{Name: name})
		if err != nil || to.UserID != alice.user.ID || to.Phone != alice.user.Phone {
			t.Fatalf("the name given up resolves to %+v %v", to, err)
		}
		if got, err := w.SetLightningName(ctx, alice.user.ID, name); err != nil || got != name {
			t.Fatalf("back to an own name: %q %v", got, err)
		}
		if u, _ := w.UserByPhone(ctx, alice.user.Phone); u.LightningName != name {
			t.Fatalf("the name shown: %q", u.LightningName)
		}
		for i := 2; i < wallet.MaxLightningNames; i++ {
			if _, err := w.SetLightningName(ctx, alice.user.ID, name+strings.Repeat("y", i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.SetLightningName(ctx, alice.user.ID, name+"z"); !errors.Is(err, wallet.ErrTooManyNames) {
			t.Fatalf("name %d: %v", wallet.MaxLightningNames+1, err)
		}
		for _, bad := range []string{"admin", "12345", "x"} {
			if _, err := w.SetLightningName(ctx, bob.user.ID, bad); err == nil {
				t.Fatalf("%q was accepted", bad)
			}
		}
		if _, err := w.ResolveAddress(ctx, wallet.AddressName{Name: "nobody" + storetest.Token(t, 3)}); !errors.Is(err, wallet.ErrUnknownAddress) {
			t.Fatalf("an unknown name: %v", err)
		}
	})
}

// TestAddressInvoiceCredit: an invoice issued to an anonymous payer of the
// address of a number without an account creates no user and no
// transaction row; paid (by racing watchers), it creates the user once,
// credits the money to wait for its owner, and carries the payer's comment
// to the transaction and the receipt. Unpaid ones never show in the history
// and are deleted after they expired; one paid inside the ledger by another
// user credits the same way.
func TestAddressInvoiceCredit(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, clk := newWallet(t, db, nil)
		phone := storetest.Phone(t)
		issue := func(phone, comment string, expiry time.Duration) string {
			t.Helper()
			hash := storetest.Token(t, 32)
			inv, err := w.CreateInvoice(ctx, wallet.NewInvoice{Phone: phone, Origin: store.InvoiceByAddress, PayerComment: comment,
				Invoice: "lnbcrt7u1" + storetest.Token(t, 40), PaymentHash: hash, AmountMsat: 700 * sat, Description: "Lightning Address payment",
				ExpiresAt: clk.Now().Add(expiry)})
			if err != nil || inv.TransactionID != 0 || inv.UserID != 0 {
				t.Fatalf("address invoice: %+v %v", inv, err)
			}
			return hash
		}
		paid := issue(phone, "asante sana 🐐", time.Hour)
		unpaid := issue(phone, "", time.Minute)
		if _, err := w.UserByPhone(ctx, phone); !errors.Is(err, wallet.ErrUnknownUser) {
			t.Fatalf("an address invoice created a user: %v", err)
		}
		var credited atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				ok, err := w.MarkInvoicePaid(ctx, paid, 700*sat)
				if err != nil {
					t.Errorf("mark paid: %v", err)
				}
				if ok {
					credited.Add(1)
				}
			})
		}
		wg.Wait()
		if credited.Load() != 1 {
			t.Fatalf("credited %d times", credited.Load())
		}
		u, err := w.UserByPhone(ctx, phone)
		if err != nil || u.Status != store.UserUnregistered || balance(t, w, u.ID) != 700*sat {
			t.Fatalf("the money does not wait for the number: %+v %v", u, err)
		}
		hist, err := w.History(ctx, u.ID, 0, 10)
		if err != nil || len(hist) != 1 || hist[0].Status != store.StatusCompleted || hist[0].Description != "asante sana 🐐" {
			t.Fatalf("history: %+v %v", hist, err)
		}
		err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			notes, err := tx.NotificationsOf(ctx, hist[0].ID)
			if err == nil && (len(notes) != 1 || notes[0].Kind != store.NotifyReceived || notes[0].Body != "asante sana 🐐" || notes[0].Phone != phone) {
				t.Fatalf("receipt: %+v", notes)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if inv, _ := w.InvoiceStatus(ctx, paid); inv.UserID != u.ID || inv.TransactionID != hist[0].ID {
			t.Fatalf("paid invoice: %+v", inv)
		}

		// Paid inside the ledger by another user, to a second new number.
		payer := register(t, w, 5000*sat)
		other := storetest.Phone(t)
		own := issue(other, "for the rent", time.Hour)
		// The node's cancel between the two steps is the payer's job.
		held, err := w.ReserveOwnInvoice(ctx, payer.auth, own, "pay-own-"+own)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := w.SettleOwnInvoice(ctx, held.ID); err != nil || !ok {
			t.Fatalf("settle own invoice: %v %v", ok, err)
		}
		ou, err := w.UserByPhone(ctx, other)
		if err != nil || balance(t, w, ou.ID) != 700*sat || balance(t, w, payer.user.ID) != 4300*sat {
			t.Fatalf("paid in the ledger: %+v %v", ou, err)
		}
		self := issue(payer.user.Phone, "", time.Hour)
		if _, err := w.ReserveOwnInvoice(ctx, payer.auth, self, "pay-self"); !errors.Is(err, wallet.ErrSelfTransfer) {
			t.Fatalf("paying one's own address invoice: %v", err)
		}

		// The unpaid one expires and, two days on, is gone.
		clk.Advance(2 * time.Minute)
		if res, err := w.CleanupExpired(ctx, time.Minute); err != nil || res.AddressInvoices != 0 {
			t.Fatalf("cleanup: %+v %v", res, err)
		}
		if st, _ := w.InvoiceStatus(ctx, unpaid); st.Status != store.InvoiceExpired {
			t.Fatalf("overdue address invoice: %+v", st)
		}
		clk.Advance(49 * time.Hour)
		if res, err := w.CleanupExpired(ctx, time.Minute); err != nil || res.AddressInvoices < 1 {
			t.Fatalf("cleanup two days on: %+v %v", res, err)
		}
		if _, err := w.InvoiceStatus(ctx, unpaid); !errors.Is(err, wallet.ErrNotFound) {
			t.Fatalf("a stale unpaid address invoice was kept: %v", err)
		}
		if _, err := w.InvoiceStatus(ctx, paid); err != nil {
			t.Fatalf("a paid address invoice was deleted: %v", err)
		}
		mustReconcile(t, w)
	})
}
