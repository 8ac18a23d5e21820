package smspay

import "strings"

// The node refuses an invoice of another network as it refuses garbage
// (lightning.ErrInvalidInvoice). The reply should tell the two apart: "ask
// for an invoice on this network" helps, "we could not read that" does
// not. So a string the node refused is read here: a well-formed bech32
// string (its checksum holds) whose prefix names a Bitcoin network other
// than the node's is an invoice of another network.

// invoiceNetworks maps the currency part of a BOLT11 prefix ("ln" +
// currency + amount) to the network it names, in the names lndnode.Config
// takes.
var invoiceNetworks = map[string]string{
	"bc":   "mainnet",
	"tb":   "testnet",
	"tbs":  "signet",
	"bcrt": "regtest",
	"sb":   "simnet",
}

// networkOf names the network a BOLT11 string is for, or "" when it is no
// well-formed bech32 string with a known prefix.
func networkOf(bolt11 string) string {
	s := strings.ToLower(bolt11)
	sep := strings.LastIndexByte(s, '1')
	if sep < 3 || len(s)-sep-1 < 6 || !strings.HasPrefix(s, "ln") {
		return ""
	}
	hrp, data := s[:sep], s[sep+1:]
	if !bech32Valid(hrp, data) {
		return ""
	}
	currency := hrp[2:]
	if i := strings.IndexAny(currency, "0123456789"); i >= 0 {
		currency = currency[:i]
	}
	return invoiceNetworks[currency]
}

// sameNetwork reports whether two network names take the same invoices
// (testnet3 and testnet4 share "lntb").
func sameNetwork(a, b string) bool {
	family := func(n string) string {
		if strings.HasPrefix(n, "testnet") {
			return "testnet"
		}
		return n
	}
	return family(a) == family(b)
}

// bech32Charset is bech32's alphabet, by value.
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// bech32Valid checks a bech32 checksum (BIP 173). BOLT11 strings are
// longer than BIP 173's 90 characters, which the checksum does not mind.
func bech32Valid(hrp, data string) bool {
	values := make([]byte, 0, 2*len(hrp)+1+len(data))
	for i := range len(hrp) {
		c := hrp[i]
		if c < 33 || c > 126 {
			return false
		}
		values = append(values, c>>5)
	}
	values = append(values, 0)
	for i := range len(hrp) {
		values = append(values, hrp[i]&31)
	}
	for i := range len(data) {
		v := strings.IndexByte(bech32Charset, data[i])
		if v < 0 {
			return false
		}
		values = append(values, byte(v))
	}
	return bech32Polymod(values) == 1
}

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range 5 {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}
