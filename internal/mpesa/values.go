package mpesa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/umeme-wallet/umeme/internal/redact"
)

// flexInt is an integer Daraja may send as a JSON number or a string
// ("3599", 0, "1032"). A fractional or out-of-range value is refused, and
// so is a blank one: a ResultCode decides a credit or a refund, and "" must
// never read as 0 (paid).
type flexInt struct{ n int64 }

func (f *flexInt) UnmarshalJSON(b []byte) error {
	t, ok, err := scalarText(b)
	if err != nil {
		return err
	}
	if !ok || t == "" {
		return fmt.Errorf("%w: a blank number", ErrMalformedCallback)
	}
	n, err := parseWhole(t)
	if err != nil {
		return err
	}
	f.n = n
	return nil
}

// flexText is any JSON scalar as text: a string as it is, a number as
// written (20191219102115 stays those digits, never 2.0191219102115e13), a
// boolean as true/false; null or absent is "".
type flexText string

func (f *flexText) UnmarshalJSON(b []byte) error {
	t, _, err := scalarText(b)
	*f = flexText(t)
	return err
}

// scalarText reads one JSON scalar as text; ok is false for null.
func scalarText(b []byte) (string, bool, error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return "", false, nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false, err
		}
		return strings.TrimSpace(s), true, nil
	case b[0] == '{' || b[0] == '[':
		return "", false, errors.New("expected a scalar, got an object or array")
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err == nil {
			return n.String(), true, nil
		}
		var v bool
		if err := json.Unmarshal(b, &v); err != nil {
			return "", false, err
		}
		return strconv.FormatBool(v), true, nil
	}
}

// parseWhole reads a whole number written as Daraja may write it: "10",
// "10.0", "10.00", "-1". A fraction other than zeros ("10.5") and
// exponents are refused, never rounded; so is anything past int64.
func parseWhole(t string) (int64, error) {
	intPart, frac, hasDot := strings.Cut(t, ".")
	if hasDot && (frac == "" || strings.Trim(frac, "0") != "") {
		return 0, fmt.Errorf("not a whole number: %q", t)
	}
	if strings.Trim(frac, "0123456789") != "" {
		return 0, fmt.Errorf("not a whole number: %q", t)
	}
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a whole number: %q", t)
	}
	return n, nil
}

// parseKES reads an amount of shillings: whole and positive.
func parseKES(t string) (int64, error) {
	n, err := parseWhole(t)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("amount %d is not positive", n)
	}
	return n, nil
}

// NormalisePhone turns a Kenyan mobile number into Daraja's form,
// 2547XXXXXXXX or 2541XXXXXXXX. It accepts +254…, 254… and the national
// 07…/01…; spaces and dashes are ignored; anything else is refused. The
// error shows only the last three digits.
func NormalisePhone(s string) (string, error) {
	p := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(p, "+254"):
		p = p[1:]
	case strings.HasPrefix(p, "254"):
	case strings.HasPrefix(p, "0"):
		p = "254" + p[1:]
	default:
		p = ""
	}
	if len(p) != 12 || (p[3] != '7' && p[3] != '1') || strings.Trim(p, "0123456789") != "" {
		return "", fmt.Errorf("%w: phone %s is not a Kenyan mobile number", ErrInvalidRequest, redact.Phone(s))
	}
	return p, nil
}
