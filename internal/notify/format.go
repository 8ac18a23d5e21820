package notify

import (
	"strconv"
	"strings"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// maxParty is the most characters of a counterparty a text shows: a
// Lightning Address can be long enough to crowd out the message.
const maxParty = 48

// maxNote is the most characters of an invoice's own words a "dial to
// approve" text quotes (smspay keeps no more).
const maxNote = 18

// amount words an msat amount in lang: "12,345 sats", "sats 12,345".
func amount(lang string, msat int64) string { return text(lang, kSats, sats(msat)) }

// sats writes an msat amount in sats with commas between thousands, and
// the msat remainder as decimals only when there is one (12,345.5): a
// receipt must not round away what arrived.
func sats(msat int64) string {
	u := uint64(msat) // the magnitude, even of the smallest int64
	sign := ""
	if msat < 0 {
		u, sign = -u, "-"
	}
	s := sign + group(strconv.FormatUint(u/1000, 10))
	if rem := u % 1000; rem != 0 {
		s += "." + strings.TrimRight(strconv.FormatUint(1000+rem, 10)[1:], "0")
	}
	return s
}

// group writes a string of digits with commas between thousands.
func group(digits string) string {
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// party is how a text names a counterparty: a phone number masked as in
// the logs (a text can be read by whoever holds the phone, and a receipt
// must not hand out the sender's number), anything else made plain GSM-7
// on one line and cut to maxParty characters. "" stays "".
func party(cp string) string {
	cp = strings.TrimSpace(cp)
	if cp == "" {
		return ""
	}
	if isPhone(cp) {
		return wallet.MaskPhone(cp)
	}
	return shorten(lightning.CleanText(cp, 4*maxParty), maxParty)
}

// isPhone reports whether s is a phone number: digits, maybe after a plus.
func isPhone(s string) bool {
	digits := strings.TrimPrefix(s, "+")
	if len(digits) < 7 || len(digits) > 15 {
		return false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// shorten cuts s (plain ASCII) to n characters. A Lightning Address keeps
// its whole domain when it can, since the domain is what says who is
// paid; the name is cut instead.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const dots = "..."
	if at := strings.LastIndexByte(s, '@'); at > 0 {
		domain := s[at:]
		if keep := n - len(dots) - len(domain); keep >= 4 {
			return s[:keep] + dots + domain
		}
	}
	head := (n - len(dots)) / 2
	return s[:head] + dots + s[len(s)-(n-len(dots)-head):]
}

// clean makes a stranger's text (a payer's comment, a reason) plain GSM-7
// on one line, at most n characters.
func clean(s string, n int) string { return strings.TrimSpace(lightning.CleanText(s, n)) }
