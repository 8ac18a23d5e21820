package wallet

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/umeme-wallet/umeme/internal/redact"
)

// NormalizePhone turns the ways people write a number (0712 345 678,
// 254712345678, +254712345678) into one E.164 form, reading national numbers
// in the default region (e.g. "KE").
func NormalizePhone(raw, region string) (string, error) {
	s := strings.TrimSpace(raw)
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		if r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' {
			return -1
		}
		return 'x'
	}, s)
	if digits == "" || strings.ContainsRune(digits, 'x') || len(digits) > 15 {
		return "", fmt.Errorf("%w: %q", ErrInvalidPhone, raw)
	}
	candidates := []string{s}
	if !strings.HasPrefix(s, "+") && !strings.HasPrefix(digits, "0") {
		// A number written with its country code but without the plus.
		candidates = append([]string{"+" + digits}, candidates...)
	}
	for _, c := range candidates {
		num, err := phonenumbers.Parse(c, region)
		if err != nil || !phonenumbers.IsValidNumber(num) {
			continue
		}
		return phonenumbers.Format(num, phonenumbers.E164), nil
	}
	return "", fmt.Errorf("%w: %q", ErrInvalidPhone, raw)
}

// LightningName is the Lightning Address name of a phone number: its digits.
func LightningName(e164 string) string { return strings.TrimPrefix(e164, "+") }

// MaskPhone hides all but the last three digits, for logs and screens.
func MaskPhone(phone string) string { return redact.Phone(phone) }
