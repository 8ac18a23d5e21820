package wallet_test

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestAmountsCannotOverflow: on every engine, amounts beyond any real sum
// (operators' adjustments, paid amounts and fees reported by lnd, top-ups,
// fee allowances, raw postings whose sum wraps around) are refused before
// any arithmetic and change nothing; an operator's credit obeys the balance
// cap; a payment whose fee is refused stays reserved.
func TestAmountsCannotOverflow(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, clk := newWallet(t, db, func(c *wallet.Config) { c.AuthorizationTTL = time.Hour })
		m := register(t, w, 10_000*sat)
		history := func() []store.Transaction {
			t.Helper()
			rows, err := w.History(ctx, m.user.ID, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		unchanged := func(what string, rows int) {
			t.Helper()
			if b := balance(t, w, m.user.ID); b != 10_000*sat {
				t.Fatalf("%s: balance moved to %d", what, b)
			}
			if n := len(history()); n != rows {
				t.Fatalf("%s: %d transactions, want %d", what, n, rows)
			}
		}
		rows := len(history())

		for _, amount := range []int64{math.MinInt64, -store.MaxMsat - 1, store.MaxMsat + 1, 9_223_372_036_854_775_000, math.MaxInt64} {
			if _, err := w.Adjust(ctx, m.user.Phone, amount, "huge", storetest.Token(t, 8)); !errors.Is(err, wallet.ErrInvalidAmount) {
				t.Errorf("adjust %d: %v", amount, err)
			}
			unchanged("a huge adjustment", rows)
		}
		cfg := w.Config()
		if _, err := w.Adjust(ctx, m.user.Phone, cfg.MaxBalanceMsat-10_000*sat+1, "over the cap", "cap+1"); !errors.Is(err, wallet.ErrLimitExceeded) {
			t.Errorf("a credit one msat over the cap: %v", err)
		}
		unchanged("a credit over the cap", rows)
		if _, err := w.CreditTopup(ctx, wallet.Topup{Phone: m.user.Phone, AmountMsat: math.MaxInt64, MpesaReceipt: storetest.Token(t, 10)}); !errors.Is(err, wallet.ErrInvalidAmount) {
			t.Errorf("a huge top-up: %v", err)
		}
		unchanged("a huge top-up", rows)

		// Raw postings: a sum that wraps around to zero, and entries beyond
		// any real amount, are refused by the ledger itself.
		var sys [3]store.Account
		err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			for i, code := range []store.SystemAccountCode{store.AccountFees, store.AccountMpesa, store.AccountLightning} {
				var err error
				if sys[i], err = tx.SystemAccount(ctx, code); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, entries := range [][]store.Entry{
			{{AccountID: sys[0].ID, AmountMsat: math.MaxInt64}, {AccountID: sys[1].ID, AmountMsat: math.MaxInt64}, {AccountID: sys[2].ID, AmountMsat: 2}},
			{{AccountID: sys[0].ID, AmountMsat: store.MaxMsat + 1}, {AccountID: sys[1].ID, AmountMsat: -store.MaxMsat - 1}},
			{{AccountID: sys[0].ID, AmountMsat: 5, DayOutMsat: math.MaxInt64}, {AccountID: sys[1].ID, AmountMsat: -5}},
		} {
			err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				id, err := tx.InsertTransaction(ctx, store.NewTransaction{Type: store.TypeAdjustment, Direction: store.DirectionIn,
					Status: store.StatusCompleted, AmountMsat: 5, IdempotencyKey: storetest.Token(t, 12), Now: clk.Now()})
				if err != nil {
					return err
				}
				return tx.PostEntries(ctx, id, entries, store.NoLimits, clk.Now())
			})
			if !errors.Is(err, store.ErrAmountRange) {
				t.Errorf("posting %+v: %v", entries, err)
			}
		}

		// What lnd reports: paid amounts beyond any real one (-1 is what
		// lightning.MsatFromNode makes of them) are not credited.
		hash := storetest.Token(t, 32)
		if _, err := w.CreateInvoice(ctx, wallet.NewInvoice{UserID: m.user.ID, Invoice: "lnbcrt5u1" + storetest.Token(t, 40),
			PaymentHash: hash, AmountMsat: 500 * sat, ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		rows++
		for _, paid := range []int64{-1, store.MaxMsat + 1, math.MaxInt64} {
			if ok, err := w.MarkInvoicePaid(ctx, hash, paid); ok || !errors.Is(err, wallet.ErrInvalidAmount) {
				t.Errorf("paid %d: %v %v", paid, ok, err)
			}
		}
		if inv, err := w.InvoiceStatus(ctx, hash); err != nil || inv.Status != store.InvoicePending {
			t.Fatalf("the invoice after refused amounts: %+v %v", inv, err)
		}
		unchanged("refused paid amounts", rows)

		// A fee allowance that would wrap the hold around is refused; a
		// rail fee beyond any real one leaves the payment reserved.
		if _, err := w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: 1_000 * sat, AllowanceMsat: math.MaxInt64,
			Invoice: "lnbcrt10u1x", PaymentHash: storetest.Token(t, 32), IdempotencyKey: "wrap"}); !errors.Is(err, wallet.ErrInvalidAmount) {
			t.Errorf("a wrapping allowance: %v", err)
		}
		unchanged("a wrapping allowance", rows)
		pay, err := w.Reserve(ctx, m.auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: 1_000 * sat, AllowanceMsat: 20 * sat,
			Invoice: "lnbcrt10u1y", PaymentHash: storetest.Token(t, 32), IdempotencyKey: "pay"})
		if err != nil {
			t.Fatal(err)
		}
		held := balance(t, w, m.user.ID)
		for _, fee := range []int64{-1, store.MaxMsat + 1, math.MaxInt64} {
			if ok, err := w.Settle(ctx, wallet.Settlement{TransactionID: pay.ID, RailFeeMsat: fee}); ok || !errors.Is(err, wallet.ErrInvalidAmount) {
				t.Errorf("settle with fee %d: %v %v", fee, ok, err)
			}
		}
		if got, err := w.Transaction(ctx, pay.ID); err != nil || got.Status != store.StatusPending || balance(t, w, m.user.ID) != held {
			t.Fatalf("after refused fees the payment must stay reserved: %+v %v", got, err)
		}
		if ok, err := w.Settle(ctx, wallet.Settlement{TransactionID: pay.ID, RailFeeMsat: 3 * sat}); !ok || err != nil {
			t.Fatalf("settle with a real fee: %v %v", ok, err)
		}
		mustReconcile(t, w)
	})
}

// TestSQLiteMoneyIsInteger: SQLite turns an integer sum that overflows
// into REAL, silently, after which no balance can be read. After large and
// boundary postings (credits to the balance cap, invoices of all the
// bitcoin there is, and the overflowing ones refused), every money column
// of every table still holds integers.
func TestSQLiteMoneyIsInteger(t *testing.T) {
	ctx := context.Background()
	url := dbtest.URL(t, "sqlite")
	db, err := database.Open(ctx, url, database.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, clk := newWallet(t, db, nil)
	cfg := w.Config()

	// Operators' credits: to the cap exactly, then nothing more; the
	// review's amounts, which used to take the adjustments account past
	// int64, are refused.
	capped, rich, other := register(t, w, 0), register(t, w, 0), register(t, w, 0)
	if _, err := w.Adjust(ctx, capped.user.Phone, cfg.MaxBalanceMsat, "to the cap", "cap"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Adjust(ctx, capped.user.Phone, 1, "over the cap", "cap+1"); !errors.Is(err, wallet.ErrLimitExceeded) {
		t.Fatalf("a credit over the cap: %v", err)
	}
	for i, amount := range []int64{9_223_372_036_854_775_000, 1_000_000_000_000_000_000, store.MaxMsat} {
		if _, err := w.Adjust(ctx, other.user.Phone, amount, "huge", storetest.Token(t, 8)); err == nil {
			t.Fatalf("adjustment %d of %d msat was booked", i, amount)
		}
	}

	// Money that arrived is credited whatever the cap: invoices of all
	// the bitcoin there is, until one more would overflow the balance.
	invoice := func(amount int64) string {
		t.Helper()
		hash := storetest.Token(t, 32)
		if _, err := w.CreateInvoice(ctx, wallet.NewInvoice{UserID: rich.user.ID, Invoice: "lnbcrt1" + storetest.Token(t, 40),
			PaymentHash: hash, AmountMsat: amount, ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return hash
	}
	for range 4 {
		if ok, err := w.MarkInvoicePaid(ctx, invoice(store.MaxMsat), store.MaxMsat); !ok || err != nil {
			t.Fatalf("an invoice of %d msat: %v %v", store.MaxMsat, ok, err)
		}
	}
	if ok, err := w.MarkInvoicePaid(ctx, invoice(store.MaxMsat), store.MaxMsat); ok || !errors.Is(err, store.ErrAmountRange) {
		t.Fatalf("a credit past int64: %v %v", ok, err)
	}
	if ok, err := w.MarkInvoicePaid(ctx, invoice(1_000), store.MaxMsat+1); ok || !errors.Is(err, wallet.ErrInvalidAmount) {
		t.Fatalf("a paid amount beyond all the bitcoin there is: %v %v", ok, err)
	}
	if b := balance(t, w, rich.user.ID); b != 4*store.MaxMsat {
		t.Fatalf("rich holds %d", b)
	}
	// The largest transfer from a balance near int64.
	if _, err := w.Transfer(ctx, rich.auth, other.user.Phone, cfg.MaxAmountMsat, "big"); err != nil {
		t.Fatal(err)
	}

	raw, err := sql.Open("sqlite", strings.TrimPrefix(url, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cols, err := raw.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND p.name LIKE '%msat' ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	var columns [][2]string
	for cols.Next() {
		var c [2]string
		if err := cols.Scan(&c[0], &c[1]); err != nil {
			t.Fatal(err)
		}
		columns = append(columns, c)
	}
	if err := cols.Err(); err != nil {
		t.Fatal(err)
	}
	cols.Close()
	if len(columns) < 6 {
		t.Fatalf("found only these money columns: %v", columns)
	}
	for _, c := range columns {
		var bad, rows int
		q := `SELECT COALESCE(SUM(typeof(` + c[1] + `) NOT IN ('integer', 'null')), 0), COUNT(*) FROM ` + c[0]
		if err := raw.QueryRowContext(ctx, q).Scan(&bad, &rows); err != nil {
			t.Fatalf("%s.%s: %v", c[0], c[1], err)
		}
		if bad > 0 {
			t.Errorf("%s.%s: %d of %d values are not integers", c[0], c[1], bad, rows)
		}
	}
	mustReconcile(t, w)
}
