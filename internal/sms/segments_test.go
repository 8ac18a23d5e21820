package sms

import (
	"strings"
	"testing"
)

func TestSMSSegments(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	zh := func(n int) string { return strings.Repeat("ж", n) } // Cyrillic: one UTF-16 unit, not GSM-7
	for _, c := range []struct {
		name    string
		text    string
		parts   int
		unicode bool
	}{
		{"empty", "", 1, false},
		{"short", "You received 1,000 sats.", 1, false},
		{"every basic character", gsm7, 1, false},
		{"accents GSM-7 has", "café Ñoño ù Ä ö ü à è É ¿¡ £¥§ ΔΩ", 1, false},
		{"160 septets", a(160), 1, false},
		{"161 septets", a(161), 2, false},
		{"2 full parts", a(306), 2, false},
		{"one more", a(307), 3, false},
		{"3 full parts", a(459), 3, false},
		{"4 parts", a(460), 4, false},
		{"extension counts 2: 160 septets", strings.Repeat("€", 80), 1, false},
		{"extension counts 2: 162 septets", strings.Repeat("€", 81), 2, false},
		{"extension characters", "^{}\\[~]|€\f", 1, false},
		{"159 + extension", a(159) + "[", 2, false},
		// 306 septets fill two parts exactly, but the escape pair cannot
		// be cut, so the second part starts at it and overflows.
		{"escape not cut across parts", a(152) + "€" + a(152), 3, false},
		{"c cedilla is not GSM-7", "ç", 1, true},
		{"u acute is not GSM-7 (u grave is)", "Nandú", 1, true},
		{"i diaeresis is not GSM-7", "naïve", 1, true},
		{"curly quotes", "\u201cquoted\u201d", 1, true},
		{"backtick", "`", 1, true},
		{"invalid UTF-8", "abc\xff", 1, true},
		{"70 units", zh(70), 1, true},
		{"71 units", zh(71), 2, true},
		{"2 full UCS-2 parts", zh(134), 2, true},
		{"3 UCS-2 parts", zh(135), 3, true},
		{"emoji are 2 units: 70", strings.Repeat("🙂", 35), 1, true},
		{"emoji are 2 units: 72", strings.Repeat("🙂", 36), 2, true},
		{"surrogate pair not cut across parts", zh(66) + "🙂" + zh(66), 3, true},
		{"one unicode character turns it all to UCS-2", a(159) + "ç", 3, true},
		{"GSM-7 text of 70 with one emoji", a(68) + "🙂", 1, true},
		{"GSM-7 text of 71 with one emoji", a(69) + "🙂", 2, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			parts, unicode := Segments(c.text)
			if parts != c.parts || unicode != c.unicode {
				t.Errorf("Segments(%q) = %d, %v; want %d, %v", c.text, parts, unicode, c.parts, c.unicode)
			}
			if GSM7(c.text) == c.unicode {
				t.Errorf("GSM7(%q) = %v, but Segments says unicode %v", c.text, GSM7(c.text), unicode)
			}
		})
	}
}
