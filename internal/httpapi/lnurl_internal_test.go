package httpapi

import (
	"net/netip"
	"strings"
	"testing"
)

// TestPayerComment: what a LUD-12 comment becomes on a receipt, and which
// ones are refused.
func TestPayerComment(t *testing.T) {
	cases := []struct {
		in, want, reason string
	}{
		{in: "", want: ""},
		{in: "asante 🐐", want: "asante ?"},
		{in: "  line\none\ttab\r\n", want: "line one tab"},
		{in: "pay \u202eevil\u202c", want: "pay ?evil?"},
		{in: "Received\u2028M-PESA: call 0700000000", want: "Received M-PESA: call 0700000000"},
		{in: "zero\u200bwidth\ufeff", want: "zero?width?"},
		{in: strings.Repeat("é", 80), want: strings.Repeat("?", 80)},
		{in: strings.Repeat("é", 81), reason: "longer than 80"},
		{in: "bad \xff byte", reason: "not valid text"},
	}
	for _, c := range cases {
		got, reason := payerComment(c.in)
		if got != c.want || !strings.Contains(reason, c.reason) || (c.reason == "") != (reason == "") {
			t.Errorf("payerComment(%q) = %q, %q; want %q, %q", c.in, got, reason, c.want, c.reason)
		}
	}
}

// TestClientKey: an IPv4 client is counted by its address, an IPv6 one by
// its /64.
func TestClientKey(t *testing.T) {
	cases := map[string]string{
		"192.0.2.7":                "192.0.2.7",
		"2001:db8:1:2:aaaa::1":     "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff::": "2001:db8:1:2::/64",
	}
	for in, want := range cases {
		if got := clientKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("clientKey(%s) = %s, want %s", in, got, want)
		}
	}
}
