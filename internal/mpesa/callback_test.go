package mpesa_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/mpesa"
)

func stkBody(result, items string) string {
	meta := ""
	if items != "" {
		meta = `,"CallbackMetadata":{"Item":` + items + `}`
	}
	return `{"Body":{"stkCallback":{"MerchantRequestID":"m-1","CheckoutRequestID":"ws_CO_1",` +
		`"ResultCode":` + result + `,"ResultDesc":"desc"` + meta + `}}}`
}

func TestMpesaParseSTKCallback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		body    string
		want    mpesa.STKResult
		wantErr bool
	}{
		{
			name: "documented shape",
			body: stkBody(`0`, `[{"Name":"Amount","Value":500},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},`+
				`{"Name":"Balance"},{"Name":"TransactionDate","Value":20191219102115},{"Name":"PhoneNumber","Value":254708374149}]`),
			want: mpesa.STKResult{ResultCode: 0, AmountKES: 500, Receipt: "NLJ7RT61SV", TransactionDate: "20191219102115", Phone: "254708374149"},
		},
		{
			name: "strings for numbers, other order, Amount 10.00",
			body: stkBody(`"0"`, `[{"Name":"PhoneNumber","Value":"254112345678"},{"Name":"TransactionDate","Value":"20261127123456"},`+
				`{"Name":"MpesaReceiptNumber","Value":"SIM1"},{"Name":"Amount","Value":"10.00"}]`),
			want: mpesa.STKResult{AmountKES: 10, Receipt: "SIM1", TransactionDate: "20261127123456", Phone: "254112345678"},
		},
		{
			name: "amount 10.0 as a number, Balance with null",
			body: stkBody(`0`, `[{"Name":"Amount","Value":10.0},{"Name":"MpesaReceiptNumber","Value":"SIM2"},{"Name":"Balance","Value":null}]`),
			want: mpesa.STKResult{AmountKES: 10, Receipt: "SIM2"},
		},
		{
			name: "masked phone",
			body: `{"Body":{"stkCallback":{"MerchantRequestID":"m-1","CheckoutRequestID":"ws_CO_1","ResultCode":0,"ResultDesc":"desc",` +
				`"CallbackMetadata":{"Item":[{"Name":"Amount","Value":"7"},{"Name":"MpesaReceiptNumber","Value":"SIM3"},{"Name":"PhoneNumber","Value":"2547 ***** 126"}]}}}}`,
			want: mpesa.STKResult{AmountKES: 7, Receipt: "SIM3"},
		},
		{
			name: "failure without metadata",
			body: stkBody(`1032`, ``),
			want: mpesa.STKResult{ResultCode: 1032},
		},
		{
			name: "a single item as an object",
			body: `{"Body":{"stkCallback":{"MerchantRequestID":"m-1","CheckoutRequestID":"ws_CO_1","ResultCode":1037,"ResultDesc":"desc",` +
				`"CallbackMetadata":{"Item":{"Name":"Balance"}}}}}`,
			want: mpesa.STKResult{ResultCode: 1037},
		},
		{
			name: "failure code as a string",
			body: stkBody(`"2001"`, ``),
			want: mpesa.STKResult{ResultCode: 2001},
		},
		{name: "fractional amount", body: stkBody(`0`, `[{"Name":"Amount","Value":10.5},{"Name":"MpesaReceiptNumber","Value":"X"}]`), wantErr: true},
		{name: "fractional amount string", body: stkBody(`0`, `[{"Name":"Amount","Value":"10.50"},{"Name":"MpesaReceiptNumber","Value":"X"}]`), wantErr: true},
		{name: "negative amount", body: stkBody(`0`, `[{"Name":"Amount","Value":-10},{"Name":"MpesaReceiptNumber","Value":"X"}]`), wantErr: true},
		{name: "exponent amount", body: stkBody(`0`, `[{"Name":"Amount","Value":1e3},{"Name":"MpesaReceiptNumber","Value":"X"}]`), wantErr: true},
		{name: "huge amount", body: stkBody(`0`, `[{"Name":"Amount","Value":99999999999999999999},{"Name":"MpesaReceiptNumber","Value":"X"}]`), wantErr: true},
		{name: "success without receipt", body: stkBody(`0`, `[{"Name":"Amount","Value":10}]`), wantErr: true},
		{name: "success without metadata", body: stkBody(`0`, ``), wantErr: true},
		{name: "fractional result code", body: stkBody(`0.5`, ``), wantErr: true},
		{name: "no result code", body: `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1"}}}`, wantErr: true},
		{name: "not a callback", body: `{"Result":{}}`, wantErr: true},
		{name: "not JSON", body: `<xml/>`, wantErr: true},
		{name: "too long", body: stkBody(`1032`, ``)[:10] + strings.Repeat(" ", mpesa.MaxCallbackBytes) + stkBody(`1032`, ``)[10:], wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mpesa.ParseSTKCallback([]byte(tc.body))
			if tc.wantErr {
				if !errors.Is(err, mpesa.ErrMalformedCallback) {
					t.Fatalf("want ErrMalformedCallback, got %+v, %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.MerchantRequestID, tc.want.CheckoutRequestID, tc.want.ResultDesc = "m-1", "ws_CO_1", "desc"
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestMpesaParseResult(t *testing.T) {
	t.Parallel()
	b2cPaid := `{"Result":{"ResultType":0,"ResultCode":0,"ResultDesc":"The service request is processed successfully.",
	"OriginatorConversationID":"wd-1","ConversationID":"AG_1","TransactionID":"NLJ41HAY6Q",
	"ResultParameters":{"ResultParameter":[{"Key":"TransactionAmount","Value":10},{"Key":"TransactionReceipt","Value":"NLJ41HAY6Q"},
	{"Key":"B2CRecipientIsRegisteredCustomer","Value":"Y"},{"Key":"B2CChargesPaidAccountAvailableFunds","Value":-4510.00},
	{"Key":"TransactionCompletedDateTime","Value":"19.12.2019 11:45:50"},{"Key":"B2CUtilityAccountAvailableFunds","Value":10116.00}]},
	"ReferenceData":{"ReferenceItem":{"Key":"QueueTimeoutURL","Value":"https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"}}}}`
	r, err := mpesa.ParseResult([]byte(b2cPaid))
	if err != nil {
		t.Fatal(err)
	}
	amount, ok, err := r.AmountKES()
	if r.ResultCode != 0 || r.OriginatorConversationID != "wd-1" || r.ConversationID != "AG_1" || r.TransactionID != "NLJ41HAY6Q" ||
		r.Receipt() != "NLJ41HAY6Q" || amount != 10 || !ok || err != nil ||
		r.Params["B2CChargesPaidAccountAvailableFunds"] != "-4510.00" || r.Params["B2CRecipientIsRegisteredCustomer"] != "Y" {
		t.Errorf("B2C result %+v", r)
	}

	status := `{"Result":{"ResultType":"0","ResultCode":"0","ResultDesc":"ok","OriginatorConversationID":"ts-1","ConversationID":"AG_2",
	"TransactionID":"OEI2AK4Q16","ResultParameters":{"ResultParameter":[{"Key":"ReceiptNo","Value":"LGR919G2AV"},
	{"Key":"TransactionStatus","Value":"Completed"},{"Key":"Amount","Value":"500.00"},{"Key":"DebitPartyCharges"},
	{"Key":"InitiatedTime","Value":20170727102115}]}}}`
	r, err = mpesa.ParseResult([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	amount, ok, err = r.AmountKES()
	if r.Receipt() != "LGR919G2AV" || r.TransactionStatus() != "Completed" || amount != 500 || !ok || err != nil ||
		r.Params["InitiatedTime"] != "20170727102115" || r.Params["DebitPartyCharges"] != "" {
		t.Errorf("status result %+v", r)
	}
	if _, present := r.Params["DebitPartyCharges"]; !present {
		t.Error("a parameter without Value is missing from Params")
	}

	failed := `{"Result":{"ResultType":0,"ResultCode":2001,"ResultDesc":"The initiator information is invalid.",
	"OriginatorConversationID":"wd-2","ConversationID":"AG_3","TransactionID":"NLJ0000000"}}`
	r, err = mpesa.ParseResult([]byte(failed))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := r.AmountKES(); r.ResultCode != 2001 || ok || r.Receipt() != "" || len(r.Params) != 0 {
		t.Errorf("failure %+v", r)
	}

	one := `{"Result":{"ResultCode":0,"ConversationID":"AG_4","ResultParameters":{"ResultParameter":{"Key":"TransactionAmount","Value":"10.5"}}}}`
	r, err = mpesa.ParseResult([]byte(one))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.AmountKES(); !errors.Is(err, mpesa.ErrMalformedCallback) {
		t.Errorf("fractional TransactionAmount: %v", err)
	}

	for name, body := range map[string]string{
		"no Result":          `{"Body":{}}`,
		"no ResultCode":      `{"Result":{"ConversationID":"AG_1"}}`,
		"no conversation id": `{"Result":{"ResultCode":0}}`,
		"object as value":    `{"Result":{"ResultCode":0,"ConversationID":"A","ResultParameters":{"ResultParameter":[{"Key":"x","Value":{}}]}}}`,
		"too long":           `{"Result":{"ResultCode":0,"ConversationID":"A","ResultDesc":"` + strings.Repeat("x", mpesa.MaxCallbackBytes) + `"}}`,
	} {
		if _, err := mpesa.ParseResult([]byte(body)); !errors.Is(err, mpesa.ErrMalformedCallback) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMpesaRetryable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err                    *mpesa.APIError
		retry, locked, pending bool
	}{
		{&mpesa.APIError{HTTPStatus: 500, ErrorCode: "500.001.1001", ErrorMessage: "Unable to lock subscriber, a transaction is already in process for the current subscriber"}, false, true, false},
		{&mpesa.APIError{HTTPStatus: 500, ErrorCode: "500.001.1001", ErrorMessage: "The transaction is being processed"}, false, false, true},
		{&mpesa.APIError{HTTPStatus: 500, ErrorCode: "500.003.02", ErrorMessage: "System is busy"}, true, false, false},
		{&mpesa.APIError{HTTPStatus: 502, ErrorMessage: "Bad Gateway"}, true, false, false},
		{&mpesa.APIError{HTTPStatus: 429, ErrorMessage: "Too Many Requests"}, true, false, false},
		{&mpesa.APIError{HTTPStatus: 400, ErrorCode: "400.002.02", ErrorMessage: "Bad Request - Invalid Amount"}, false, false, false},
		{&mpesa.APIError{HTTPStatus: 200, ErrorCode: "1", ErrorMessage: "Rejected"}, false, false, false},
	} {
		if mpesa.Retryable(tc.err) != tc.retry || mpesa.IsSubscriberLocked(tc.err) != tc.locked || mpesa.IsBeingProcessed(tc.err) != tc.pending {
			t.Errorf("%v: retryable %v, locked %v, pending %v", tc.err, mpesa.Retryable(tc.err), mpesa.IsSubscriberLocked(tc.err), mpesa.IsBeingProcessed(tc.err))
		}
	}
	if mpesa.Retryable(nil) || mpesa.Retryable(errors.New("x")) {
		t.Error("unclassified errors are retryable")
	}
}
