package smspay

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// command is what a text asks for: an invoice to pay, or an amount to pay
// to a Lightning Address.
type command struct {
	Invoice string // a BOLT11 string, lower case
	Address string // name@domain, lower case
	Sats    int64  // with Address: the amount
}

// maxText is the longest text read at all. The gateway passes about 1600
// characters; a longer one is no command, whatever it holds.
const maxText = 2000

// maxAddress bounds a Lightning Address taken from a text: the reply names
// it (the outbox's counterparty column holds 64 characters).
const maxAddress = 64

var (
	// addressRE is name@domain as the LNURL client accepts it, in lower case.
	addressRE = regexp.MustCompile(`^[a-z0-9\-_.]+@[a-z0-9\-.]+\.[a-z]{2,}(:[0-9]{1,5})?$|^[a-z0-9\-_.]+@(localhost|127\.0\.0\.1)(:[0-9]{1,5})?$`)
	// satsRE is a whole number of sats, with commas between thousands or
	// none.
	satsRE = regexp.MustCompile(`^[0-9]{1,3}(,[0-9]{3})+$|^[0-9]+$`)
)

// parse reads a text: a BOLT11 invoice alone (any case, an optional
// "lightning:" prefix, surrounding whitespace), "pay <invoice>", or
// "pay <name@domain> <sats>". Anything else is no command (false).
func parse(text string) (command, bool) {
	if len(text) > maxText {
		return command{}, false
	}
	fields := strings.Fields(text)
	switch {
	case len(fields) == 1:
		return invoiceCommand(fields[0])
	case len(fields) == 2 && strings.EqualFold(fields[0], "pay"):
		return invoiceCommand(fields[1])
	case len(fields) == 3 && strings.EqualFold(fields[0], "pay"):
		return addressCommand(fields[1], fields[2])
	}
	return command{}, false
}

// invoiceCommand reads a word that should be a BOLT11 invoice. Bech32 is
// all lower or all upper case (QR codes carry upper case); the node decodes
// lower case.
func invoiceCommand(word string) (command, bool) {
	s := strings.ToLower(word)
	s = strings.TrimPrefix(s, "lightning:")
	if !strings.HasPrefix(s, "ln") || strings.HasPrefix(s, "lnurl") || len(s) < 20 {
		return command{}, false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return command{}, false
		}
	}
	return command{Invoice: s}, true
}

// addressCommand reads "name@domain" and an amount in whole sats.
func addressCommand(address, amount string) (command, bool) {
	address = strings.TrimPrefix(strings.ToLower(address), "lightning:")
	if len(address) > maxAddress || !addressRE.MatchString(address) || !satsRE.MatchString(amount) {
		return command{}, false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(amount, ",", ""), 10, 64)
	if err != nil {
		return command{}, false
	}
	if _, err := wallet.MsatFromSats(n); err != nil {
		return command{}, false
	}
	return command{Address: address, Sats: n}, true
}
