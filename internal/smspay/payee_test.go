package smspay

import (
	"errors"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/lightning"
)

// TestSMSPayeeNote: another node's invoice is named by the node; its
// description is kept as a quoted note only when it cannot pass for a
// phone number, a USSD code or the service.
func TestSMSPayeeNote(t *testing.T) {
	const key = "02AB12CDEF0123456789"
	for _, c := range []struct{ desc, want string }{
		{"", "node 02ab12cd"},
		{"   ", "node 02ab12cd"},
		{"Coffee\nat Java", `node 02ab12cd "Coffee at Java"`},
		{`say "hi"`, `node 02ab12cd "say 'hi'"`},
		{"a description far longer than any screen can hold", `node 02ab12cd "a description f..."`},
		{"order 123456", `node 02ab12cd "order 123456"`},
		// Numbers, however written.
		{"+254712345678", "node 02ab12cd"},
		{"0712 345 678", "node 02ab12cd"},
		{"to (0712) 345-678 please", "node 02ab12cd"},
		{"254.712.345.678", "node 02ab12cd"},
		// A USSD code.
		{"dial *384*1234#", "node 02ab12cd"},
		{"*483#", "node 02ab12cd"},
		// The service's name.
		{"Umeme refund", "node 02ab12cd"},
		{"U-M-E-M-E support", "node 02ab12cd"},
		{"from umeme.co.ke", "node 02ab12cd"},
	} {
		got := nodePayee(lightning.DecodedInvoice{Destination: key, Description: c.desc})
		if got != c.want {
			t.Errorf("description %q: payee %q, want %q", c.desc, got, c.want)
		}
		who, note := SplitPayee(got)
		if who != "node 02ab12cd" || strings.Contains(note, `"`) || len(note) > maxNote {
			t.Errorf("SplitPayee(%q) = %q, %q", got, who, note)
		}
	}
	for _, p := range []string{"+254712345678", "shop@example.com", `shop"x@example.com`} {
		if who, note := SplitPayee(p); who != p || note != "" {
			t.Errorf("SplitPayee(%q) = %q, %q", p, who, note)
		}
	}
	if got := nodeName("02ab"); got != "node ?" {
		t.Errorf("a short key: %q", got)
	}
}

// TestSMSAddressForLog: the name of an address that is a number's digits
// never reaches a log whole, in the address or in an error repeating it.
func TestSMSAddressForLog(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"254712345678@umeme.example", "*********678@umeme.example"},
		{"shop@example.com", "shop@example.com"},
		{"0712a@example.com", "0712a@example.com"},
	} {
		if got := addressForLog(c.in); got != c.want {
			t.Errorf("addressForLog(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	err := errors.New("lightning address: no user 254712345678 at https://umeme.example/.well-known/lnurlp/254712345678")
	if got := scrubAddress(err, "254712345678@umeme.example"); strings.Contains(got, "254712345678") || !strings.Contains(got, "*********678") {
		t.Errorf("scrubAddress: %q", got)
	}
	if got := scrubAddress(nil, "254712345678@umeme.example"); got != "" {
		t.Errorf("scrubAddress(nil) = %q", got)
	}
}
