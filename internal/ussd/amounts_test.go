package ussd

import (
	"testing"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestAmountsCannotOverflow: an amount typed at a USSD screen is accepted
// only when its msat fit the ledger's bound, so the flows' n*1000 cannot
// overflow; anything else is an invalid amount.
func TestAmountsCannotOverflow(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64 // 0: refused
	}{
		{"1", 1}, {"1,500", 1_500}, {"999999999999", 999_999_999_999},
		{"0", 0}, {"-5", 0}, {"", 0}, {"1e9", 0}, {"+7", 7},
		{"9223372036854775", 0}, {"9223372036854775807", 0}, {"9223372036854775808", 0},
		{"2100000000000001", 0}, {"1000000000000", 0},
	} {
		n, ok := parseSats(c.in)
		if ok != (c.want > 0) || (ok && n != c.want) {
			t.Errorf("parseSats(%q) = %d, %v; want %d", c.in, n, ok, c.want)
			continue
		}
		if ok {
			if msat, err := wallet.MsatFromSats(n); err != nil || msat != n*1000 {
				t.Errorf("%q: %d msat, %v", c.in, msat, err)
			}
		}
	}
}
