package darajasim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const codeBadRequest = "400.002.02"

func (s *Sim) oauth(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("grant_type") != "client_credentials" {
		s.fail(w, http.StatusBadRequest, "400.008.02", "Invalid grant type passed")
		return
	}
	key, secret, ok := r.BasicAuth()
	if !ok || !equal(key, s.cfg.ConsumerKey) || !equal(secret, s.cfg.ConsumerSecret) {
		s.fail(w, http.StatusBadRequest, "400.008.01", "Invalid Authentication passed")
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	secs := int64(s.cfg.TokenLifetime / time.Second)
	if secs < 1 {
		secs = 1
	}
	s.mu.Lock()
	s.tokens[tok] = s.cfg.Now().Add(time.Duration(secs) * time.Second)
	s.mu.Unlock()
	// Daraja writes expires_in as a string.
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tok, "expires_in": strconv.FormatInt(secs, 10)})
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authed checks the bearer token and decodes the JSON body into fields.
func (s *Sim) authed(h func(http.ResponseWriter, fields)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			s.fail(w, http.StatusUnauthorized, "404.001.04", "Invalid Authentication Header")
			return
		}
		s.mu.Lock()
		exp, known := s.tokens[tok]
		s.mu.Unlock()
		if !known || !s.cfg.Now().Before(exp) {
			s.fail(w, http.StatusUnauthorized, "404.001.03", "Invalid Access Token")
			return
		}
		var f fields
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&f); err != nil {
			s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid JSON")
			return
		}
		h(w, f)
	}
}

// fields is a request body; Daraja takes most values as a string or a
// number alike.
type fields map[string]any

func (f fields) str(k string) string {
	switch v := f[k].(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	default:
		return ""
	}
}

// whole reads a whole number; "10.00" is 10, "10.5" is not a number.
func (f fields) whole(k string) (int64, bool) {
	t := f.str(k)
	i, frac, _ := strings.Cut(t, ".")
	if strings.Trim(frac, "0") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(i, 10, 64)
	return n, err == nil
}

var darajaPhone = regexp.MustCompile(`^254[17][0-9]{8}$`)

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func lengthIn(s string, lo, hi int) bool {
	n := utf8.RuneCountInString(s)
	return n >= lo && n <= hi
}

// stkTxn is one STK push.
type stkTxn struct {
	merchantID, checkoutID string
	phone                  string
	amount                 int64
	reference              string
	callbackURL            string
	delivery               Delivery
	decided                bool
	resultCode             int
	receipt                string
	at                     time.Time
}

// checkSTKPassword checks the shortcode, the timestamp's distance from now
// and the password derived from them.
func (s *Sim) checkSTKPassword(w http.ResponseWriter, f fields) bool {
	if f.str("BusinessShortCode") != s.cfg.ShortCode {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid BusinessShortCode")
		return false
	}
	ts := f.str("Timestamp")
	t, err := time.ParseInLocation("20060102150405", ts, nairobi)
	if err != nil || t.Sub(s.cfg.Now()).Abs() > s.cfg.TimestampSkew {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid Timestamp")
		return false
	}
	want := base64.StdEncoding.EncodeToString([]byte(s.cfg.ShortCode + s.cfg.PassKey + ts))
	if !equal(f.str("Password"), want) {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid Password")
		return false
	}
	return true
}

func (s *Sim) stkPush(w http.ResponseWriter, f fields) {
	if !s.checkSTKPassword(w, f) {
		return
	}
	tt := f.str("TransactionType")
	if tt != "CustomerPayBillOnline" && tt != "CustomerBuyGoodsOnline" {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid TransactionType")
		return
	}
	amount, ok := f.whole("Amount")
	if !ok || amount < 1 || amount > 250_000 {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid Amount")
		return
	}
	phone := f.str("PhoneNumber")
	if !darajaPhone.MatchString(phone) {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid PhoneNumber")
		return
	}
	if !darajaPhone.MatchString(f.str("PartyA")) {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid PartyA")
		return
	}
	if tt == "CustomerPayBillOnline" && f.str("PartyB") != s.cfg.ShortCode {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid PartyB")
		return
	}
	cb := f.str("CallBackURL")
	if !validURL(cb) {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid CallBackURL")
		return
	}
	if !lengthIn(f.str("AccountReference"), 1, 12) {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid AccountReference")
		return
	}
	if !lengthIn(f.str("TransactionDesc"), 1, 13) {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid TransactionDesc")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.phoneLock[phone]; busy {
		s.fail(w, http.StatusInternalServerError, "500.001.1001",
			"Unable to lock subscriber, a transaction is already in process for the current subscriber")
		return
	}
	o := s.stkOut.next(phone)
	s.hold(w, o.Answer.After)
	if o.Answer.Refuse {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Request refused")
		return
	}
	now := s.cfg.Now()
	t := &stkTxn{
		merchantID:  s.id("sim-m-"),
		checkoutID:  "ws_CO_" + now.In(nairobi).Format("02012006150405") + s.id("-"),
		phone:       phone,
		amount:      amount,
		reference:   f.str("AccountReference"),
		callbackURL: cb,
		at:          now,
	}
	s.stk[t.checkoutID] = t
	s.phoneLock[phone] = t.checkoutID
	t.delivery = o.Delivery
	writeJSON(w, http.StatusOK, map[string]string{
		"MerchantRequestID":   t.merchantID,
		"CheckoutRequestID":   t.checkoutID,
		"ResponseCode":        "0",
		"ResponseDescription": "Success. Request accepted for processing",
		"CustomerMessage":     "Success. Request accepted for processing",
	})
	switch o.Delivery {
	case DeliverManual:
	case DeliverLate:
		s.later(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.decideSTK(t, o.ResultCode, 1)
		})
	case DeliverNone:
		s.decideSTK(t, o.ResultCode, 0)
	case DeliverTwice:
		s.decideSTK(t, o.ResultCode, 2)
	default:
		s.decideSTK(t, o.ResultCode, 1)
	}
}

// decideSTK settles a push and posts its callback times times. Called with
// s.mu held.
func (s *Sim) decideSTK(t *stkTxn, code, times int) {
	if t.decided {
		return
	}
	t.decided, t.resultCode = true, code
	delete(s.phoneLock, t.phone)
	cb := map[string]any{
		"MerchantRequestID": t.merchantID,
		"CheckoutRequestID": t.checkoutID,
		"ResultCode":        code,
		"ResultDesc":        describe(code),
	}
	if code == ResultPaid {
		t.receipt = s.receipt()
		phone, _ := strconv.ParseInt(t.phone, 10, 64)
		date, _ := strconv.ParseInt(s.cfg.Now().In(nairobi).Format("20060102150405"), 10, 64)
		cb["CallbackMetadata"] = map[string]any{"Item": []map[string]any{
			{"Name": "Amount", "Value": t.amount},
			{"Name": "MpesaReceiptNumber", "Value": t.receipt},
			{"Name": "Balance"},
			{"Name": "TransactionDate", "Value": date},
			{"Name": "PhoneNumber", "Value": phone},
		}}
	}
	if times > 0 {
		s.post("stk", t.callbackURL, map[string]any{"Body": map[string]any{"stkCallback": cb}}, times)
	}
}

func (s *Sim) stkQuery(w http.ResponseWriter, f fields) {
	if !s.checkSTKPassword(w, f) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.stk[f.str("CheckoutRequestID")]
	switch {
	case !ok:
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid CheckoutRequestID")
	case !t.decided:
		s.fail(w, http.StatusInternalServerError, "500.001.1001", "The transaction is being processed")
	default:
		// Daraja writes the query's ResultCode as a string.
		writeJSON(w, http.StatusOK, map[string]string{
			"ResponseCode":        "0",
			"ResponseDescription": "The service request has been accepted successsfully",
			"MerchantRequestID":   t.merchantID,
			"CheckoutRequestID":   t.checkoutID,
			"ResultCode":          strconv.Itoa(t.resultCode),
			"ResultDesc":          describe(t.resultCode),
		})
	}
}

// Prompt is an STK prompt waiting for a person (DeliverManual).
type Prompt struct {
	CheckoutRequestID string
	Phone             string
	AmountKES         int64
	AccountReference  string
	At                time.Time
}

// Prompts lists the manual prompts still open, oldest first.
func (s *Sim) Prompts() []Prompt {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []Prompt
	for _, t := range s.stk {
		if !t.decided && t.delivery == DeliverManual {
			ps = append(ps, Prompt{t.checkoutID, t.phone, t.amount, t.reference, t.at})
		}
	}
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].At.Before(ps[j-1].At); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	return ps
}

// Approve pays a manual prompt, as a user entering the right PIN.
func (s *Sim) Approve(checkoutID string) error { return s.answer(checkoutID, ResultPaid) }

// Cancel refuses a manual prompt (1032).
func (s *Sim) Cancel(checkoutID string) error { return s.answer(checkoutID, ResultCancelled) }

// WrongPIN ends a manual prompt with a wrong PIN (2001).
func (s *Sim) WrongPIN(checkoutID string) error {
	return s.answer(checkoutID, ResultInitiatorInvalid)
}

// Ignore ends a manual prompt as one nobody answered (1037).
func (s *Sim) Ignore(checkoutID string) error { return s.answer(checkoutID, ResultUnreachable) }

func (s *Sim) answer(checkoutID string, code int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.stk[checkoutID]
	if !ok || t.decided || t.delivery != DeliverManual {
		return errNotPending
	}
	s.decideSTK(t, code, 1)
	return nil
}

// b2cTxn is one B2C payment.
type b2cTxn struct {
	originatorID, conversationID string
	phone                        string
	amount                       int64
	resultURL, timeoutURL        string
	decided                      bool
	resultCode                   int
	receipt                      string
	at, finalised                time.Time
}

// checkInitiator decrypts the SecurityCredential. A credential that does
// not decrypt is refused now; one that decrypts to the wrong password (or
// names the wrong initiator) is accepted and fails later with 2001, as
// Daraja does.
func (s *Sim) checkInitiator(w http.ResponseWriter, name, credential string) (valid, answered bool) {
	ct, err := base64.StdEncoding.DecodeString(credential)
	if err != nil || len(ct) == 0 {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid SecurityCredential")
		return false, true
	}
	pw, err := rsa.DecryptPKCS1v15(nil, s.key, ct)
	if err != nil {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid SecurityCredential")
		return false, true
	}
	return equal(string(pw), s.cfg.InitiatorPassword) && equal(name, s.cfg.InitiatorName), false
}

func (s *Sim) b2cPay(w http.ResponseWriter, f fields) {
	valid, answered := s.checkInitiator(w, f.str("InitiatorName"), f.str("SecurityCredential"))
	if answered {
		return
	}
	oid := f.str("OriginatorConversationID")
	amount, ok := f.whole("Amount")
	phone := f.str("PartyB")
	switch c := f.str("CommandID"); {
	case oid == "":
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid OriginatorConversationID")
	case c != "BusinessPayment" && c != "SalaryPayment" && c != "PromotionPayment":
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid CommandID")
	case !ok || amount < 10 || amount > 250_000:
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid Amount")
	case f.str("PartyA") != s.cfg.B2CShortCode:
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid PartyA")
	case !darajaPhone.MatchString(phone):
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid PartyB")
	case !validURL(f.str("ResultURL")):
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid ResultURL")
	case !validURL(f.str("QueueTimeOutURL")):
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid QueueTimeOutURL")
	case !lengthIn(f.str("Remarks"), 1, 100):
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid Remarks")
	default:
		s.acceptB2C(w, oid, phone, amount, f.str("ResultURL"), f.str("QueueTimeOutURL"), valid)
	}
}

func (s *Sim) acceptB2C(w http.ResponseWriter, oid, phone string, amount int64, resultURL, timeoutURL string, valid bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.b2c[oid]; dup {
		// Never paid twice. (Daraja's exact code for this is not
		// documented; the simulator answers 409 with "Duplicate".)
		s.fail(w, http.StatusConflict, "409.001.01", "Duplicate OriginatorConversationID")
		return
	}
	o := s.b2cOut.next(phone)
	s.hold(w, o.Answer.After)
	if o.Answer.Refuse {
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Request refused")
		return
	}
	now := s.cfg.Now()
	t := &b2cTxn{
		originatorID:   oid,
		conversationID: "AG_" + now.In(nairobi).Format("20060102") + "_" + s.id("sim"),
		phone:          phone,
		amount:         amount,
		resultURL:      resultURL,
		timeoutURL:     timeoutURL,
		at:             now,
	}
	s.b2c[oid] = t
	code := o.ResultCode
	if !valid {
		code = ResultInitiatorInvalid
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"ConversationID":           t.conversationID,
		"OriginatorConversationID": oid,
		"ResponseCode":             "0",
		"ResponseDescription":      "Accept the service request successfully.",
	})
	switch o.Delivery {
	case DeliverQueueTimeout:
		s.post("b2c-timeout", t.timeoutURL, map[string]any{"Result": map[string]any{
			"ResultType":               0,
			"ResultCode":               1,
			"ResultDesc":               "The service request timed out in the queue.",
			"OriginatorConversationID": oid,
			"ConversationID":           t.conversationID,
			"TransactionID":            "",
		}}, 1)
		s.later(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.decideB2C(t, code, 0)
		})
	case DeliverLate:
		s.later(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.decideB2C(t, code, 1)
		})
	case DeliverNone:
		s.decideB2C(t, code, 0)
	case DeliverTwice:
		s.decideB2C(t, code, 2)
	default:
		s.decideB2C(t, code, 1)
	}
}

// decideB2C settles a payment and posts its result times times. Called
// with s.mu held.
func (s *Sim) decideB2C(t *b2cTxn, code, times int) {
	if t.decided {
		return
	}
	t.decided, t.resultCode, t.finalised = true, code, s.cfg.Now()
	t.receipt = s.receipt()
	res := map[string]any{
		"ResultType":               0,
		"ResultCode":               code,
		"ResultDesc":               describe(code),
		"OriginatorConversationID": t.originatorID,
		"ConversationID":           t.conversationID,
		"TransactionID":            t.receipt,
		"ReferenceData": map[string]any{
			"ReferenceItem": map[string]any{"Key": "QueueTimeoutURL", "Value": t.timeoutURL},
		},
	}
	if code == ResultPaid {
		s.receipts[t.receipt] = t
		res["ResultParameters"] = map[string]any{"ResultParameter": []map[string]any{
			{"Key": "TransactionAmount", "Value": t.amount},
			{"Key": "TransactionReceipt", "Value": t.receipt},
			{"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
			{"Key": "B2CChargesPaidAccountAvailableFunds", "Value": 0.00},
			{"Key": "ReceiverPartyPublicName", "Value": t.phone + " - SIM CUSTOMER"},
			{"Key": "TransactionCompletedDateTime", "Value": t.finalised.In(nairobi).Format("02.01.2006 15:04:05")},
			{"Key": "B2CUtilityAccountAvailableFunds", "Value": 100000.00},
			{"Key": "B2CWorkingAccountAvailableFunds", "Value": 100000.00},
		}}
	}
	if times > 0 {
		s.post("b2c-result", t.resultURL, map[string]any{"Result": res}, times)
	}
}

func (s *Sim) transactionStatus(w http.ResponseWriter, f fields) {
	valid, answered := s.checkInitiator(w, f.str("Initiator"), f.str("SecurityCredential"))
	if answered {
		return
	}
	original := f.str("OriginalConversationID")
	if original == "" {
		original = f.str("OriginatorConversationID")
	}
	txID := f.str("TransactionID")
	switch {
	case f.str("CommandID") != "TransactionStatusQuery":
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid CommandID")
	case f.str("PartyA") != s.cfg.B2CShortCode:
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid PartyA")
	case f.str("IdentifierType") != "4":
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid IdentifierType")
	case original == "" && txID == "":
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid TransactionID")
	case !validURL(f.str("ResultURL")):
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid ResultURL")
	case !validURL(f.str("QueueTimeOutURL")):
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid QueueTimeOutURL")
	case !lengthIn(f.str("Remarks"), 1, 100):
		s.fail(w, http.StatusBadRequest, codeBadRequest, "Bad Request - Invalid Remarks")
	default:
		s.acceptStatus(w, original, txID, f.str("ResultURL"), valid)
	}
}

func (s *Sim) acceptStatus(w http.ResponseWriter, original, txID, resultURL string, valid bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	conv := "AG_" + now.In(nairobi).Format("20060102") + "_" + s.id("simts")
	own := s.id("sim-ts-")
	writeJSON(w, http.StatusOK, map[string]string{
		"ConversationID":           conv,
		"OriginatorConversationID": own,
		"ResponseCode":             "0",
		"ResponseDescription":      "Accept the service request successfully.",
	})
	// The result is posted at once (in the background), as the payment
	// stands now: a payment still waiting after a queue time-out shows as
	// Pending.
	s.post("status-result", resultURL, map[string]any{"Result": s.statusResult(original, txID, conv, own, valid)}, 1)
}

// statusResult describes a B2C as Transaction Status reports it. Called
// with s.mu held.
func (s *Sim) statusResult(original, txID, conv, own string, valid bool) map[string]any {
	res := map[string]any{
		"ResultType":               0,
		"OriginatorConversationID": own,
		"ConversationID":           conv,
		"TransactionID":            s.receipt(),
	}
	t := s.b2c[original]
	if t == nil && txID != "" {
		t = s.receipts[txID]
	}
	switch {
	case !valid:
		res["ResultCode"], res["ResultDesc"] = ResultInitiatorInvalid, describe(ResultInitiatorInvalid)
	case t == nil:
		res["ResultCode"], res["ResultDesc"] = ResultNotFound, describe(ResultNotFound)
	case t.decided && t.resultCode != ResultPaid:
		res["ResultCode"], res["ResultDesc"] = t.resultCode, describe(t.resultCode)
	default:
		status, receipt, finalised := "Completed", t.receipt, t.finalised.In(nairobi).Format("20060102150405")
		if !t.decided {
			status, receipt, finalised = "Pending", "", ""
		}
		res["ResultCode"], res["ResultDesc"] = ResultPaid, describe(ResultPaid)
		res["ResultParameters"] = map[string]any{"ResultParameter": []map[string]any{
			{"Key": "DebitPartyName", "Value": s.cfg.B2CShortCode + " - UMEME SIM"},
			{"Key": "CreditPartyName", "Value": t.phone + " - SIM CUSTOMER"},
			{"Key": "OriginatorConversationID", "Value": t.originatorID},
			{"Key": "InitiatedTime", "Value": mustInt(t.at.In(nairobi).Format("20060102150405"))},
			{"Key": "DebitAccountType", "Value": "Utility Account"},
			{"Key": "DebitPartyCharges"},
			{"Key": "TransactionReason"},
			{"Key": "ReasonType", "Value": "Business Payment to Individual via API"},
			{"Key": "TransactionStatus", "Value": status},
			{"Key": "FinalisedTime", "Value": finalised},
			{"Key": "Amount", "Value": json.Number(fmt.Sprintf("%d.00", t.amount))},
			{"Key": "ConversationID", "Value": t.conversationID},
			{"Key": "ReceiptNo", "Value": receipt},
		}}
	}
	return res
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
