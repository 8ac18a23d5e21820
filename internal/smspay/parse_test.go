package smspay

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"
)

// TestSMSParse: the forms a text may take, and what is not one of them.
func TestSMSParse(t *testing.T) {
	inv := "lnbcrt50u1pjexample0qqqsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3"
	for _, c := range []struct {
		text string
		want command
		ok   bool
	}{
		{inv, command{Invoice: inv}, true},
		{"  " + strings.ToUpper(inv) + "\n", command{Invoice: inv}, true},
		{"lightning:" + inv, command{Invoice: inv}, true},
		{"LIGHTNING:" + strings.ToUpper(inv), command{Invoice: inv}, true},
		{"pay " + inv, command{Invoice: inv}, true},
		{"Pay\tlightning:" + inv, command{Invoice: inv}, true},
		{"pay alice@example.com 5000", command{Address: "alice@example.com", Sats: 5000}, true},
		{"PAY Alice@Example.COM 5,000", command{Address: "alice@example.com", Sats: 5000}, true},
		{"pay a.b-c_d@pay.example.co.ke 1,234,567", command{Address: "a.b-c_d@pay.example.co.ke", Sats: 1234567}, true},
		{"pay bob@localhost:8080 21", command{Address: "bob@localhost:8080", Sats: 21}, true},

		{"", command{}, false},
		{"hello", command{}, false},
		{"pay", command{}, false},
		{"pay alice@example.com", command{}, false},
		{"pay alice@example.com 0", command{}, false},
		{"pay alice@example.com -5", command{}, false},
		{"pay alice@example.com 5.5", command{}, false},
		{"pay alice@example.com 50,00", command{}, false},
		{"pay alice@example.com 99999999999999999999", command{}, false},
		{"pay alice@example.com 5000 now", command{}, false},
		{"send alice@example.com 5000", command{}, false},
		{"pay alice 5000", command{}, false},
		{"pay alice@example 5000", command{}, false},
		{"pay " + strings.Repeat("a", 60) + "@example.com 5000", command{}, false},
		{"pay <script>@example.com 5000", command{}, false},
		{inv + " " + inv, command{}, false},
		{"lnurl1dp68gurn8ghj7um9wfmxjcm99e3k7mf0v9cxj0m385ekvcenxc6r2c35xvukxefcv5mkvv34x5ekzd3ev56nyd3hxqurzepexejxxepnxscrvwfnv9nxzcn9xq6xyefhvgcxxcmyxymnserxfq5fns", command{}, false},
		{"lnbc1", command{}, false},
		{"lnbc1pjé" + strings.Repeat("q", 30), command{}, false},
		{strings.Repeat("a", maxText+1), command{}, false},
		{"pay " + inv + strings.Repeat(" ", maxText), command{}, false},
	} {
		got, ok := parse(c.text)
		if ok != c.ok || got != c.want {
			t.Errorf("parse(%.60q) = %+v %v, want %+v %v", c.text, got, ok, c.want, c.ok)
		}
	}
}

// TestSMSNetworkOf: a well-formed invoice names its network by its prefix;
// one character changed breaks the checksum, and the string names none.
func TestSMSNetworkOf(t *testing.T) {
	for _, c := range []struct {
		params *chaincfg.Params
		want   string
	}{
		{&chaincfg.MainNetParams, "mainnet"}, {&chaincfg.TestNet3Params, "testnet"}, {&chaincfg.SigNetParams, "signet"},
		{&chaincfg.RegressionNetParams, "regtest"}, {&chaincfg.SimNetParams, "simnet"},
	} {
		for _, sats := range []int64{0, 1, 5000, 2_100_000_000} {
			bolt11 := CraftInvoice(t, c.params, sats, time.Now(), time.Hour)
			if got := networkOf(bolt11); got != c.want {
				t.Errorf("%s invoice of %d sats: networkOf = %q", c.want, sats, got)
			}
			if got := networkOf(strings.ToUpper(bolt11)); got != c.want {
				t.Errorf("%s invoice in upper case: networkOf = %q", c.want, got)
			}
			i, other := len(bolt11)-10, "q"
			if bolt11[i] == 'q' {
				other = "p"
			}
			flipped := bolt11[:i] + other + bolt11[i+1:]
			if got := networkOf(flipped); got != "" {
				t.Errorf("%s invoice with a character changed: networkOf = %q", c.want, got)
			}
		}
	}
	for _, s := range []string{"", "ln", "lnbc1qqqqqq", "lnxx1" + strings.Repeat("q", 20), "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"} {
		if got := networkOf(s); got != "" {
			t.Errorf("networkOf(%q) = %q", s, got)
		}
	}
	if !sameNetwork("testnet", "testnet4") || sameNetwork("testnet", "signet") || sameNetwork("mainnet", "regtest") {
		t.Error("sameNetwork")
	}
}

// CraftInvoice signs an invoice for params' network with a throwaway key:
// sats 0 makes it amountless, an expiry after at (which may be past) sets
// when it expires.
func CraftInvoice(t testing.TB, params *chaincfg.Params, sats int64, at time.Time, expiry time.Duration) string {
	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	var hash, addr [32]byte
	rand.Read(hash[:])
	rand.Read(addr[:])
	opts := []func(*zpay32.Invoice){zpay32.Description("crafted"), zpay32.Expiry(expiry), zpay32.PaymentAddr(addr)}
	if sats > 0 {
		opts = append(opts, zpay32.Amount(lnwire.MilliSatoshi(sats*1000)))
	}
	inv, err := zpay32.NewInvoice(params, hash, at, opts...)
	if err != nil {
		t.Fatal(err)
	}
	bolt11, err := inv.Encode(zpay32.MessageSigner{SignCompact: func(msg []byte) ([]byte, error) {
		return ecdsa.SignCompact(key, chainhash.HashB(msg), true), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return bolt11
}
