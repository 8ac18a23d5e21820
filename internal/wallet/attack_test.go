package wallet_test

import (
	"context"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/rates"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestMpesaAttackQuoteMsatNotCheckedAgainstRate: StartTopup (and Reserve for a
// withdrawal) take the quote's msat as given: nothing recomputes it from
// the KES, the rate and the spread that are stored beside it
// (rates.QuoteMsat exists "so a stored quote can be checked"). A quote
// whose msat was changed on its way (the USSD buffer, a future API
// caller) buys 1,000× the bitcoin for KES 10, and the request row records
// a rate that contradicts its own transaction.
func TestMpesaAttackQuoteMsatNotCheckedAgainstRate(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		w, c := newWallet(t, db, func(cfg *wallet.Config) { cfg.AuthorizationTTL = time.Hour })
		m := register(t, w, 0)
		q := quote(c, 10, 80_000)
		fair, err := rates.QuoteMsat(rates.SideBuy, q.KES, rates.Rate{MilliKESPerBTC: q.RateMilliKESPerBTC}, q.SpreadBps)
		if err != nil {
			t.Fatal(err)
		}
		q.Msat = fair * 1000
		tp, _, err := w.StartTopup(ctx, m.user.ID, q, 90*time.Second, "topup-forged-quote")
		if err == nil {
			t.Fatalf("a top-up of KES %d at %d milli-KES/BTC started for %d msat (the quote's own rate gives %d)",
				q.KES, q.RateMilliKESPerBTC, tp.AmountMsat, fair)
		}
	})
}
