package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/redact"
)

// maxAnswerBytes bounds what is read of one answer: a real one is a few
// hundred bytes.
const maxAnswerBytes = 64 << 10

// DefaultTimeout bounds one Send when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Config is what AT needs to reach Africa's Talking.
type Config struct {
	// BaseURL is the API root: https://api.africastalking.com, or
	// https://api.sandbox.africastalking.com for the sandbox (username
	// "sandbox"). No trailing path.
	BaseURL  string
	Username string
	APIKey   string
	// From is the approved sender id or short code; empty sends from
	// Africa's Talking's shared default.
	From string
	// HTTPClient defaults to a plain client. Whatever is given, AT uses a
	// copy that refuses redirects: the apiKey is a custom header, which Go
	// would forward to any host a redirect names.
	HTTPClient *http.Client
	// Timeout bounds one Send, whatever the HTTPClient's own (default
	// DefaultTimeout).
	Timeout time.Duration
	// Logger receives the warnings an operator should see (default
	// slog.Default()).
	Logger *slog.Logger
}

// AT sends through Africa's Talking's bulk SMS API
// (POST {BaseURL}/version1/messaging). It is safe for concurrent use.
type AT struct {
	endpoint string
	cfg      Config
	hc       *http.Client
	log      *slog.Logger
}

var _ Sender = (*AT)(nil)

var errRedirect = errors.New("redirect refused")

// NewAT checks cfg and returns the adapter.
func NewAT(cfg Config) (*AT, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("sms: config: BaseURL must be an http(s) URL")
	}
	if cfg.Username == "" || cfg.APIKey == "" {
		return nil, errors.New("sms: config: username and apiKey are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return errRedirect }
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &AT{
		endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/version1/messaging",
		cfg:      cfg,
		hc:       hc,
		log:      log,
	}, nil
}

// Send posts one message. A nil error means Africa's Talking took it
// (status 100, 101 or 102); otherwise the error is a *Error, permanent only
// when the number itself can never receive (403, 404, 406, 409).
//
// A retryable error does not prove that nothing was sent: when the answer
// is lost (a timeout, a dropped connection) the text may have gone out,
// and a retry sends it twice. For a text that is the lesser harm.
func (a *AT) Send(ctx context.Context, m Message) (Result, error) {
	if err := validate(m); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()

	form := url.Values{}
	form.Set("username", a.cfg.Username)
	form.Set("to", m.To)
	form.Set("message", m.Text)
	if a.cfg.From != "" {
		form.Set("from", a.cfg.From)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Result{}, &Error{Operator: true, Reason: "build request", Err: err}
	}
	req.Header.Set("apiKey", a.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")

	resp, err := a.hc.Do(req)
	if errors.Is(err, errRedirect) {
		// A redirect means a wrong BaseURL (http for https, an old host).
		a.log.Error("sms: Africa's Talking answered with a redirect; check the base URL", "base_url", a.cfg.BaseURL)
		return Result{}, &Error{Operator: true, Reason: "redirect refused; the operator must check the base URL", Err: a.scrub(err)}
	}
	if err != nil {
		return Result{}, &Error{Reason: "no answer from Africa's Talking", Err: a.scrub(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return Result{}, &Error{HTTPStatus: resp.StatusCode, Reason: "answer cut off", Err: a.scrub(err)}
	}
	switch st := resp.StatusCode; {
	case st == http.StatusOK || st == http.StatusCreated:
		return a.recipientResult(m, st, body)
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		e := &Error{Operator: true, HTTPStatus: st,
			Reason: "Africa's Talking refused the username or apiKey; the operator must fix the credentials: " + a.answerText(body)}
		a.log.Error("sms: Africa's Talking refused the credentials", "http_status", st, "username", a.cfg.Username)
		return Result{}, e
	case st == http.StatusTooManyRequests || st >= 500:
		return Result{}, &Error{HTTPStatus: st, Reason: "Africa's Talking unavailable: " + a.answerText(body)}
	default:
		// Some other refusal of the request itself (a 400 for a missing
		// field, a 404 for a wrong BaseURL): the message is not at fault.
		a.log.Error("sms: Africa's Talking refused the request", "http_status", st, "answer", a.answerText(body))
		return Result{}, &Error{Operator: true, HTTPStatus: st, Reason: "Africa's Talking refused the request: " + a.answerText(body)}
	}
}

// recipientResult reads a 200/201 answer: the recipient's status decides.
func (a *AT) recipientResult(m Message, httpStatus int, body []byte) (Result, error) {
	var r answer
	if err := json.Unmarshal(body, &r); err != nil {
		return Result{}, &Error{HTTPStatus: httpStatus, Reason: "unreadable answer (not the expected JSON)"}
	}
	rcpts := r.SMSMessageData.Recipients
	var rc *recipient
	switch {
	case len(rcpts) == 1:
		rc = &rcpts[0]
	case len(rcpts) > 1:
		for i := range rcpts {
			if string(rcpts[i].Number) == m.To {
				rc = &rcpts[i]
				break
			}
		}
	}
	if rc == nil {
		// Africa's Talking answers this way to, among others, a sender id
		// it does not accept: the summary says why.
		summary := a.scrubText(clip(string(r.SMSMessageData.Message)))
		a.log.Warn("sms: Africa's Talking answered without our recipient", "to", redact.Phone(m.To),
			"recipients", len(rcpts), "summary", summary)
		return Result{}, &Error{Operator: true, HTTPStatus: httpStatus,
			Reason: fmt.Sprintf("answer without the recipient (%d listed): %q", len(rcpts), summary)}
	}
	code, known := rc.StatusCode.n, rc.StatusCode.ok
	status := clip(string(rc.Status))
	if !known {
		code, known = codeByName(status)
	}
	if !known {
		a.log.Warn("sms: recipient without a status code", "to", redact.Phone(m.To), "status", status)
		return Result{}, &Error{Operator: true, HTTPStatus: httpStatus, Status: status,
			Reason: "recipient status without a code"}
	}
	if status == "" {
		status = StatusName(code)
	}
	switch classify(code) {
	case classSent:
		id := clip(string(rc.MessageID))
		if id == "" {
			a.log.Warn("sms: sent without a message id; its delivery report cannot be matched", "to", redact.Phone(m.To), "status_code", code)
		}
		return Result{Sent: true, MessageID: id, Cost: clip(string(rc.Cost)), StatusCode: code, Status: status}, nil
	case classPermanent:
		return Result{}, &Error{Permanent: true, StatusCode: code, Status: status, HTTPStatus: httpStatus,
			Reason: "recipient " + redact.Phone(m.To) + " cannot receive"}
	case classRetryable:
		return Result{}, &Error{StatusCode: code, Status: status, HTTPStatus: httpStatus,
			Reason: "not sent to " + redact.Phone(m.To) + " this time"}
	default:
		// 402 InvalidSenderId, or a code this adapter does not know: the
		// operator can fix the sender id; an unknown code needs a reader.
		a.log.Warn("sms: Africa's Talking status needs the operator", "status_code", code, "status", status,
			"to", redact.Phone(m.To), "from", a.cfg.From)
		return Result{}, &Error{Operator: true, StatusCode: code, Status: status, HTTPStatus: httpStatus,
			Reason: "not sent to " + redact.Phone(m.To) + "; the operator must look"}
	}
}

// answer is the JSON of a 200/201 answer.
type answer struct {
	SMSMessageData struct {
		Message    flexText    `json:"Message"`
		Recipients []recipient `json:"Recipients"`
	} `json:"SMSMessageData"`
}

type recipient struct {
	StatusCode flexCode `json:"statusCode"`
	Number     flexText `json:"number"`
	Status     flexText `json:"status"`
	Cost       flexText `json:"cost"`
	MessageID  flexText `json:"messageId"`
}

// flexCode is a status code sent as a JSON number (101) or a string
// ("101"); ok is false when it is absent, null, blank or not a whole
// number, and then the status text decides.
type flexCode struct {
	n  int
	ok bool
}

func (f *flexCode) UnmarshalJSON(b []byte) error {
	var t flexText
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	s := strings.TrimSpace(string(t))
	if s == "" || len(s) > 6 || strings.Trim(s, "0123456789") != "" {
		return nil
	}
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	f.n, f.ok = n, true
	return nil
}

// flexText is any JSON scalar as text: a string as it is, a number as
// written, null as "". An object or array is an error.
type flexText string

func (f *flexText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexText(s)
	case b[0] == '{' || b[0] == '[':
		return errors.New("expected a scalar")
	default:
		var n json.RawMessage
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexText(n)
	}
	return nil
}

// answerText is an error answer's body for an error string: plain text
// (Africa's Talking's errors are plain text) clipped and scrubbed; an
// HTML page (a proxy's) is left out.
func (a *AT) answerText(body []byte) string {
	t := strings.TrimSpace(string(body))
	if t == "" || strings.HasPrefix(t, "<") {
		return "(no readable detail)"
	}
	return a.scrubText(clip(t))
}

// scrubText removes the apiKey from text taken from elsewhere, in case an
// answer or a proxy ever echoes the request's headers.
func (a *AT) scrubText(s string) string {
	return strings.ReplaceAll(s, a.cfg.APIKey, "[apiKey]")
}

// scrub is err with the apiKey removed from its text, keeping it
// reachable through errors.Is/As when nothing had to be removed (the
// usual case: the key is a header, and transport errors name the URL).
func (a *AT) scrub(err error) error {
	if !strings.Contains(err.Error(), a.cfg.APIKey) {
		return err
	}
	return errors.New(a.scrubText(err.Error()))
}
