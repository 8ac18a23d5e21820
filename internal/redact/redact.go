// Package redact holds the one rule for showing a phone number in logs,
// errors and texts: all but its last three digits hidden. A leaf package,
// so that the rail clients (M-Pesa, SMS) use it without importing the
// wallet.
package redact

import "strings"

// Phone hides all but the last three characters of a number.
func Phone(p string) string {
	if len(p) <= 3 {
		return "***"
	}
	return strings.Repeat("*", len(p)-3) + p[len(p)-3:]
}
