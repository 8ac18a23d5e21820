package rates

import (
	"strconv"
)

// FormatKES writes whole shillings for a USSD screen: "KES 1,234",
// "KES -50".
func FormatKES(kes int64) string {
	if kes < 0 {
		// Through uint64 so that math.MinInt64 does not overflow.
		return "KES -" + groupThousands(strconv.FormatUint(uint64(-(kes+1))+1, 10))
	}
	return "KES " + groupThousands(strconv.FormatInt(kes, 10))
}

// FormatRate writes a rate for a USSD screen, short (well under its 182
// characters): "1 BTC = KES 12,345,679", rounded to the nearest whole
// shilling, halves up.
func FormatRate(r Rate) string {
	m := r.MilliKESPerBTC
	kes := m / 1000
	if rem := m % 1000; rem >= 500 {
		kes++
	} else if rem <= -500 {
		kes--
	}
	return "1 BTC = " + FormatKES(kes)
}

func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	out := make([]byte, 0, len(digits)+len(digits)/3)
	first := len(digits) % 3
	if first == 0 {
		first = 3
	}
	out = append(out, digits[:first]...)
	for i := first; i < len(digits); i += 3 {
		out = append(out, ',')
		out = append(out, digits[i:i+3]...)
	}
	return string(out)
}
