package sms

import (
	"strings"
	"unicode/utf16"
)

// gsm7 is the GSM 03.38 default alphabet, one septet each; gsm7ext the
// characters of its extension table, which take two (an escape and the
// character).
const (
	gsm7    = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7ext = "^{}\\[~]|€\f"
)

// What one message carries: a text alone in one message has the whole
// payload; a split text loses room in each part to the header (UDH) that
// tells the phone how to join them.
const (
	gsm7Single = 160 // septets
	gsm7Part   = 153
	ucs2Single = 70 // UTF-16 code units
	ucs2Part   = 67
)

// septets is what r takes in GSM-7: 1, 2 for the extension table, 0 when
// GSM-7 cannot carry it.
func septets(r rune) int {
	switch {
	case strings.ContainsRune(gsm7, r):
		return 1
	case strings.ContainsRune(gsm7ext, r):
		return 2
	}
	return 0
}

// GSM7 reports whether text can be sent in the GSM-7 alphabet (with its
// extension table), that is without falling back to UCS-2, which more than
// halves what a message carries.
func GSM7(text string) bool {
	for _, r := range text {
		if septets(r) == 0 {
			return false
		}
	}
	return true
}

// Segments says how many messages text is sent as, and whether it must go
// as UCS-2 (one character outside GSM-7 is enough). GSM-7 carries 160
// septets in one message and 153 per part of a split one, an extension
// character taking two; UCS-2 carries 70 UTF-16 code units, 67 per part.
// The parts are counted as phones and gateways fill them: an extension
// character's two septets, or a surrogate pair's two units, are never cut
// across two parts, so a text can need one part more than its length
// divided by the part's size. An empty text is still one message.
func Segments(text string) (parts int, unicode bool) {
	unicode = !GSM7(text)
	single, part := gsm7Single, gsm7Part
	size := septets
	if unicode {
		single, part = ucs2Single, ucs2Part
		size = func(r rune) int {
			if n := utf16.RuneLen(r); n > 0 {
				return n
			}
			return 1 // not a valid rune: sent as U+FFFD
		}
	}
	total := 0
	for _, r := range text {
		total += size(r)
	}
	if total <= single {
		return 1, unicode
	}
	parts, used := 1, 0
	for _, r := range text {
		n := size(r)
		if used+n > part {
			parts, used = parts+1, 0
		}
		used += n
	}
	return parts, unicode
}
