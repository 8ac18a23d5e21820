package redact

import "testing"

func TestPhone(t *testing.T) {
	for in, want := range map[string]string{"": "***", "12": "***", "123": "***", "+254712345678": "**********678"} {
		if got := Phone(in); got != want {
			t.Errorf("Phone(%q) = %q, want %q", in, got, want)
		}
	}
}
