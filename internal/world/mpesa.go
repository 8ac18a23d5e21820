package world

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/sms"
)

// M-Pesa texts its customers itself when money moves: a paid STK push
// ("… sent to Umeme") and a B2C payout ("You have received …"). The
// simulator writes them from Daraja's callbacks, the record of what M-Pesa
// decided, once per receipt (a callback posted twice is one payment).

// nairobi is East Africa Time, M-Pesa's clock.
var nairobi = time.FixedZone("EAT", 3*60*60)

// mpesaText is one M-Pesa confirmation on a phone.
type mpesaText struct {
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// mpesaTexts are the confirmations written so far, by phone (E.164).
type mpesaTexts struct {
	mu       sync.Mutex
	read     int // callbacks read so far
	receipts map[string]bool
	byPhone  map[string][]mpesaText
}

// mpesaTexts reads the callbacks Daraja posted since the last call and
// returns p's confirmations, oldest first.
func (w *World) mpesaTexts(p string) []mpesaText {
	cbs := w.daraja.Callbacks()
	m := &w.mpesa
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byPhone == nil {
		m.byPhone, m.receipts = map[string][]mpesaText{}, map[string]bool{}
	}
	for _, cb := range cbs[min(m.read, len(cbs)):] {
		phone, receipt, text, ok := confirmation(cb, w.cfg.Business)
		if !ok || m.receipts[receipt] {
			continue
		}
		m.receipts[receipt] = true
		m.byPhone[phone] = append(m.byPhone[phone], mpesaText{Text: text, At: cb.At.UTC()})
	}
	m.read = len(cbs)
	return append([]mpesaText{}, m.byPhone[p]...)
}

// confirmation is M-Pesa's text for a callback that moved money: the
// customer's phone (E.164), the receipt and the text.
func confirmation(cb darajasim.Callback, business string) (phone, receipt, text string, ok bool) {
	when := cb.At.In(nairobi).Format("2/1/06 at 3:04 PM")
	var amount int64
	switch cb.Kind {
	case "stk":
		var body struct {
			Body struct {
				STKCallback struct {
					ResultCode int
					Metadata   struct {
						Item []struct {
							Name  string
							Value json.RawMessage
						}
					} `json:"CallbackMetadata"`
				} `json:"stkCallback"`
			}
		}
		if json.Unmarshal(cb.Body, &body) != nil || body.Body.STKCallback.ResultCode != 0 {
			return "", "", "", false
		}
		for _, it := range body.Body.STKCallback.Metadata.Item {
			switch it.Name {
			case "Amount":
				json.Unmarshal(it.Value, &amount) //nolint:errcheck
			case "MpesaReceiptNumber":
				json.Unmarshal(it.Value, &receipt) //nolint:errcheck
			case "PhoneNumber":
				var n json.Number
				json.Unmarshal(it.Value, &n) //nolint:errcheck
				phone = "+" + n.String()
			}
		}
		text = fmt.Sprintf("%s Confirmed. Ksh%d.00 sent to %s on %s.", receipt, amount, business, when)
	case "b2c-result":
		var body struct {
			Result struct {
				ResultCode       int
				ResultParameters struct {
					ResultParameter []struct {
						Key   string
						Value json.RawMessage
					}
				}
			}
		}
		if json.Unmarshal(cb.Body, &body) != nil || body.Result.ResultCode != 0 {
			return "", "", "", false
		}
		for _, p := range body.Result.ResultParameters.ResultParameter {
			switch p.Key {
			case "TransactionAmount":
				json.Unmarshal(p.Value, &amount) //nolint:errcheck
			case "TransactionReceipt":
				json.Unmarshal(p.Value, &receipt) //nolint:errcheck
			case "ReceiverPartyPublicName":
				var name string
				json.Unmarshal(p.Value, &name) //nolint:errcheck
				digits, _, _ := strings.Cut(name, " ")
				phone = "+" + digits
			}
		}
		text = fmt.Sprintf("%s Confirmed. You have received Ksh%d.00 from %s on %s.", receipt, amount, business, when)
	default:
		return "", "", "", false
	}
	return phone, receipt, text, receipt != "" && amount > 0 && sms.IsE164(phone)
}
