package smspay

import (
	"regexp"
	"strings"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Who a request pays, as the approval screen and the "dial to approve"
// SMS name them. The payee (PaymentRequest.Payee, and the Counterparty of
// its notification) is what the service itself established, never what
// the invoice's maker wrote:
//   - one of our users' invoices: that user's number, from the wallet;
//   - a Lightning Address the user typed: that address;
//   - another node's invoice: "node " and the first 8 hex digits of its
//     key, maybe followed by the invoice's description, cleaned, cut and
//     in double quotes: the maker's own words, shown as such
//     (SplitPayee), never where a payee goes. A description that looks
//     like a phone number or names the service is not kept at all: a
//     stranger's node must not read as one of our users, or as Umeme.

// nodePrefix begins the payee of another node's invoice.
const nodePrefix = "node "

var (
	// ussdCode is anything like a USSD code (*384*1234#, *483#).
	ussdCode = regexp.MustCompile(`\*[0-9]`)
	// digitRun is a run of digits as long as a phone number's shortest.
	digitRun = regexp.MustCompile(`[0-9]{7,}`)
)

// serviceName is the service's name, which no stranger's words may use.
const serviceName = "umeme"

// nodePayee is the payee of another node's invoice: the node, and its
// description as a note when one may be shown.
func nodePayee(inv lightning.DecodedInvoice) string {
	p := nodeName(inv.Destination)
	if n := note(inv.Description); n != "" {
		p += ` "` + n + `"`
	}
	return p
}

// nodeName is a node's key in short.
func nodeName(pubkey string) string {
	if len(pubkey) < 8 {
		return nodePrefix + "?"
	}
	return nodePrefix + strings.ToLower(pubkey[:8])
}

// note is an invoice's description fit to show as its maker's words:
// plain GSM-7 on one line, without double quotes, at most maxNote
// characters; "" when there is none or it may not be shown: one that
// holds a phone number or a USSD code, or names the service (however
// spaced or punctuated).
func note(desc string) string {
	d := strings.TrimSpace(lightning.CleanText(desc, 1024))
	d = strings.TrimSpace(strings.ReplaceAll(d, `"`, "'"))
	if d == "" {
		return ""
	}
	var letters, digits strings.Builder
	for _, r := range strings.ToLower(d) {
		switch {
		case r >= 'a' && r <= 'z':
			letters.WriteRune(r)
			digits.WriteByte('x')
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == ' ', r == '-', r == '.', r == '(', r == ')', r == '/', r == '+', r == '_', r == ',':
			// Separators a number is written with: they do not break
			// its digits apart.
		default:
			digits.WriteByte('x')
		}
	}
	if strings.Contains(letters.String(), serviceName) || digitRun.MatchString(digits.String()) || ussdCode.MatchString(d) {
		return ""
	}
	return strings.TrimSpace(lightning.CleanText(d, maxNote))
}

// SplitPayee reads a request's payee: who is paid, and the note of
// another node's invoice ("" when there is none).
func SplitPayee(p string) (who, note string) {
	if strings.HasPrefix(p, nodePrefix) {
		if who, rest, ok := strings.Cut(p, ` "`); ok {
			return who, strings.TrimSuffix(rest, `"`)
		}
	}
	return p, ""
}

// addressForLog is a Lightning Address fit for a log. A name of digits
// is masked as a phone number is (every Umeme wallet's address is its
// number's digits, wallet.LightningName).
func addressForLog(address string) string {
	name, domain, ok := strings.Cut(address, "@")
	if !ok || !allDigits(name) {
		return address
	}
	return wallet.MaskPhone(name) + "@" + domain
}

// scrubAddress is an error about an address fit for a log: a name of
// digits that the error repeats (a URL, a server's reason) is masked.
func scrubAddress(err error, address string) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if name, _, ok := strings.Cut(address, "@"); ok && allDigits(name) {
		msg = strings.ReplaceAll(msg, name, wallet.MaskPhone(name))
	}
	return msg
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
