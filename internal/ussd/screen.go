package ussd

import (
	"fmt"
	"strings"
)

// MaxScreen is the most characters one screen may carry, "CON "/"END "
// prefix included (the usual USSD limit; some networks show only 160).
const MaxScreen = 182

// Screen is what one hop shows: lines of text, and whether the session ends.
type Screen struct {
	Lines []string
	End   bool
}

// gsm7 is the GSM 03.38 default alphabet; gsm7ext the characters of its
// extension table, which take two septets each.
const (
	gsm7    = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7ext = "^{}\\[~]|€\f"
)

// Render turns a screen into the gateway's answer ("CON …" or "END …"). It
// refuses a screen that is longer than MaxScreen septets or holds a
// character outside GSM-7, rather than let the network mangle it.
func Render(s Screen) (string, error) {
	prefix := "CON "
	if s.End {
		prefix = "END "
	}
	body := prefix + strings.Join(s.Lines, "\n")
	n := 0
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsm7, r):
			n++
		case strings.ContainsRune(gsm7ext, r):
			n += 2
		default:
			return "", fmt.Errorf("screen has a character outside GSM-7: %q", r)
		}
	}
	if n > MaxScreen {
		return "", fmt.Errorf("screen of %d characters exceeds %d: %q", n, MaxScreen, body)
	}
	return body, nil
}
