package mpesa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxCallbackBytes bounds a callback body; ParseSTKCallback and
// ParseResult refuse longer ones (a handler should read through
// http.MaxBytesReader with at least this much).
const MaxCallbackBytes = 64 << 10

// Accepted is the body to answer a Daraja callback with, after it has been
// recorded.
var Accepted = []byte(`{"ResultCode":0,"ResultDesc":"Accepted"}`)

// ErrMalformedCallback refuses a callback body that cannot be read.
var ErrMalformedCallback = errors.New("mpesa: malformed callback")

// STKResult is the outcome of an STK push as its callback reports it.
// ResultCode 0 is paid; the payment fields are empty on failures.
type STKResult struct {
	MerchantRequestID string
	CheckoutRequestID string
	ResultCode        int
	ResultDesc        string
	// AmountKES is the amount paid, whole shillings.
	AmountKES int64
	// Receipt is the M-Pesa receipt (MpesaReceiptNumber).
	Receipt string
	// TransactionDate is as Daraja wrote it, YYYYMMDDHHmmss Nairobi time.
	TransactionDate string
	// Phone is the payer as 2547…/2541…, or "" when the callback gave
	// none or a masked one.
	Phone string
}

// item is a CallbackMetadata Item or a ResultParameter: Name or Key, and a
// Value that may be missing.
type item struct {
	Name  string   `json:"Name"`
	Key   string   `json:"Key"`
	Value flexText `json:"Value"`
}

// items reads an item list that Daraja may send as an array or, with one
// item, as a bare object.
type items []item

func (l *items) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var one item
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = items{one}
		return nil
	}
	var many []item
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

func (l items) toMap() map[string]string {
	m := make(map[string]string, len(l))
	for _, it := range l {
		k := it.Name
		if k == "" {
			k = it.Key
		}
		if k != "" {
			m[k] = string(it.Value)
		}
	}
	return m
}

// ParseSTKCallback reads the body Daraja posts to an STK push's
// CallBackURL. It is lenient in form (numbers as strings and the reverse,
// items in any order, an item without Value, no CallbackMetadata on a
// failure) and strict in money: a success must carry an amount and a
// receipt, and a fractional amount (10.5) is refused, never rounded; 10,
// "10", 10.0 and "10.00" are ten shillings. On such an error the result
// still holds the ids read, so the push can be found and looked at.
func ParseSTKCallback(body []byte) (STKResult, error) {
	if len(body) > MaxCallbackBytes {
		return STKResult{}, fmt.Errorf("%w: body over %d bytes", ErrMalformedCallback, MaxCallbackBytes)
	}
	var env struct {
		Body struct {
			StkCallback *struct {
				MerchantRequestID string
				CheckoutRequestID string
				ResultCode        *flexInt
				ResultDesc        string
				CallbackMetadata  struct {
					Item items
				}
			} `json:"stkCallback"`
		}
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return STKResult{}, fmt.Errorf("%w: %v", ErrMalformedCallback, err)
	}
	cb := env.Body.StkCallback
	if cb == nil || cb.CheckoutRequestID == "" || cb.ResultCode == nil {
		return STKResult{}, fmt.Errorf("%w: no stkCallback with CheckoutRequestID and ResultCode", ErrMalformedCallback)
	}
	r := STKResult{
		MerchantRequestID: cb.MerchantRequestID,
		CheckoutRequestID: cb.CheckoutRequestID,
		ResultCode:        int(cb.ResultCode.n),
		ResultDesc:        cb.ResultDesc,
	}
	meta := cb.CallbackMetadata.Item.toMap()
	r.Receipt = meta["MpesaReceiptNumber"]
	r.TransactionDate = meta["TransactionDate"]
	if p, err := NormalisePhone(meta["PhoneNumber"]); err == nil {
		r.Phone = p
	}
	if a, ok := meta["Amount"]; ok && a != "" {
		n, err := parseKES(a)
		if err != nil {
			return r, fmt.Errorf("%w: Amount: %v", ErrMalformedCallback, err)
		}
		r.AmountKES = n
	}
	if r.ResultCode == 0 && (r.AmountKES == 0 || r.Receipt == "") {
		return r, fmt.Errorf("%w: success without Amount or MpesaReceiptNumber", ErrMalformedCallback)
	}
	return r, nil
}

// Result is an asynchronous result Daraja posts to a ResultURL or
// QueueTimeOutURL: a B2C result, a queue time-out, or a Transaction Status
// result. ResultCode 0 is success (for a B2C: paid). Params holds every
// ResultParameter, Key → Value as text ("" when the Value is missing);
// it is empty on failures, which carry none.
type Result struct {
	ResultType               int
	ResultCode               int
	ResultDesc               string
	OriginatorConversationID string
	ConversationID           string
	TransactionID            string
	Params                   map[string]string
}

// ParseResult reads a {"Result":{…}} body, as leniently as
// ParseSTKCallback.
func ParseResult(body []byte) (Result, error) {
	if len(body) > MaxCallbackBytes {
		return Result{}, fmt.Errorf("%w: body over %d bytes", ErrMalformedCallback, MaxCallbackBytes)
	}
	var env struct {
		Result *struct {
			ResultType               flexInt
			ResultCode               *flexInt
			ResultDesc               string
			OriginatorConversationID flexText
			ConversationID           flexText
			TransactionID            flexText
			ResultParameters         struct {
				ResultParameter items
			}
		}
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrMalformedCallback, err)
	}
	res := env.Result
	if res == nil || res.ResultCode == nil || (res.OriginatorConversationID == "" && res.ConversationID == "") {
		return Result{}, fmt.Errorf("%w: no Result with ResultCode and a conversation id", ErrMalformedCallback)
	}
	return Result{
		ResultType:               int(res.ResultType.n),
		ResultCode:               int(res.ResultCode.n),
		ResultDesc:               res.ResultDesc,
		OriginatorConversationID: string(res.OriginatorConversationID),
		ConversationID:           string(res.ConversationID),
		TransactionID:            string(res.TransactionID),
		Params:                   res.ResultParameters.ResultParameter.toMap(),
	}, nil
}

// AmountKES is the amount of the result, from TransactionAmount (B2C) or
// Amount (Transaction Status), in whole shillings; ok is false when
// neither is there. A fractional amount is an error, never rounded.
func (r Result) AmountKES() (amount int64, ok bool, err error) {
	for _, k := range []string{"TransactionAmount", "Amount"} {
		if v := r.Params[k]; v != "" {
			n, err := parseKES(v)
			if err != nil {
				return 0, true, fmt.Errorf("%w: %s: %v", ErrMalformedCallback, k, err)
			}
			return n, true, nil
		}
	}
	return 0, false, nil
}

// Receipt is the M-Pesa receipt of the result, from TransactionReceipt
// (B2C) or ReceiptNo (Transaction Status); "" when neither is there.
func (r Result) Receipt() string {
	if v := r.Params["TransactionReceipt"]; v != "" {
		return v
	}
	return r.Params["ReceiptNo"]
}

// TransactionStatus is the TransactionStatus parameter of a Transaction
// Status result ("Completed", "Pending", …). A B2C is known paid only when
// the result's ResultCode is 0 and this is "Completed".
func (r Result) TransactionStatus() string { return r.Params["TransactionStatus"] }
