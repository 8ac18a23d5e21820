// Package atsim is a fake of Africa's Talking's SMS service: an
// http.Handler that answers POST /version1/messaging as the real API does
// (apiKey header, form fields, 201 JSON with one Recipient per number),
// posts delivery reports and inbound texts to the application's URLs, and
// lets a test or a person script what the gateway does next (a status
// code, an HTTP error, a slow or lost answer).
//
// It is independent of internal/sms on purpose: both reading a field the
// same wrong way would hide the mistake. It serves tests and the local
// simulator of `make run` alike; its control is Go methods and, for a
// person, Control's small HTTP API.
package atsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/sms"
)

// Nairobi is East Africa Time, UTC+3 all year, the zone of the dates
// Africa's Talking writes.
var Nairobi = time.FixedZone("EAT", 3*60*60)

// NetworkCode is the network the simulator reports (Safaricom).
const NetworkCode = "63902"

// Cost is what every accepted message is billed, as the API writes it.
const Cost = "KES 0.8000"

// authFailure is Africa's Talking's plain-text answer to a wrong apiKey or
// username.
const authFailure = "The supplied authentication is invalid"

// Config is the simulated account.
type Config struct {
	Username string
	APIKey   string
	// AutoDeliver posts a "Success" delivery report, in the background, for
	// every accepted message, once a delivery URL is set.
	AutoDeliver bool
	// Client posts delivery reports and inbound texts (default: 5 s
	// timeout, no redirects).
	Client *http.Client
	// Now is the clock of messages and inbound dates (default time.Now).
	Now func() time.Time
}

// Message is one message the simulator accepted for one number.
type Message struct {
	ID   string
	To   string
	From string // the request's from, "" when none was given
	Text string
	At   time.Time
}

// Request is one request to the messaging endpoint. Header holds the
// apiKey: for a test's assertions, never for a log.
type Request struct {
	At         time.Time
	Header     http.Header
	Form       url.Values
	HTTPStatus int // 0 when no answer was sent (dropped, or the client left)
}

// Sim is the simulator. Its methods are safe for concurrent use.
type Sim struct {
	cfg Config
	hc  *http.Client
	mux *http.ServeMux

	mu          sync.Mutex
	queue       []Outcome
	messages    []Message
	byID        map[string]int // message id → index in messages
	requests    []Request
	reports     []Report
	deliveryURL string
	changed     chan struct{} // closed and replaced on every accepted message
	closed      bool
	sending     sync.WaitGroup
}

// New returns a simulator of the account cfg describes.
func New(cfg Config) *Sim {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.Client
	if hc == nil {
		hc = &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	s := &Sim{cfg: cfg, hc: hc, byID: map[string]int{}, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /version1/messaging", s.messaging)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Not Found", http.StatusNotFound)
	})
	s.mux = mux
	return s
}

// Handler serves Africa's Talking's SMS API.
func (s *Sim) Handler() http.Handler { return s.mux }

// Close stops background delivery reports and waits for those being
// posted. Nothing is posted after it.
func (s *Sim) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.sending.Wait()
}

// Messages is every accepted message, oldest first.
func (s *Sim) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Count is how many accepted messages went to the number to.
func (s *Sim) Count(to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.messages {
		if m.To == to {
			n++
		}
	}
	return n
}

// Requests is every request to the messaging endpoint, oldest first.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// WaitFor waits until at least n messages were accepted, or ctx ends.
func (s *Sim) WaitFor(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		have, ch := len(s.messages), s.changed
		s.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("atsim: %d of %d messages: %w", have, n, ctx.Err())
		}
	}
}

// messaging answers POST /version1/messaging.
func (s *Sim) messaging(w http.ResponseWriter, r *http.Request) {
	// The request is on record before any answer leaves, so that a
	// client that has its answer (or its dropped connection) finds it.
	s.mu.Lock()
	idx := len(s.requests)
	s.requests = append(s.requests, Request{At: s.cfg.Now(), Header: r.Header.Clone()})
	s.mu.Unlock()
	status := func(code int) int {
		s.mu.Lock()
		s.requests[idx].HTTPStatus = code
		s.mu.Unlock()
		return code
	}
	answer := func(code int, text string) { http.Error(w, text, status(code)) }

	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		answer(http.StatusBadRequest, "Invalid request body")
		return
	}
	s.mu.Lock()
	s.requests[idx].Form = r.PostForm
	s.mu.Unlock()
	if !equal(r.Header.Get("apiKey"), s.cfg.APIKey) || !equal(r.PostForm.Get("username"), s.cfg.Username) {
		answer(http.StatusUnauthorized, authFailure)
		return
	}
	for _, f := range []string{"to", "message"} {
		if strings.TrimSpace(r.PostForm.Get(f)) == "" {
			answer(http.StatusBadRequest, fmt.Sprintf("Request is missing required form field '%s'", f))
			return
		}
	}

	o := s.next()
	if o.Delay > 0 {
		t := time.NewTimer(o.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			// The client gave up first: nothing was accepted.
			t.Stop()
			return
		}
	}
	if o.Drop {
		drop(w)
		return
	}
	if o.HTTPStatus != 0 && (o.HTTPStatus < 200 || o.HTTPStatus > 299) {
		answer(o.HTTPStatus, http.StatusText(o.HTTPStatus))
		return
	}
	if o.RawBody != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status(statusOr(o.HTTPStatus, http.StatusCreated)))
		_, _ = io.WriteString(w, o.RawBody)
		return
	}

	data := s.accept(r.PostForm, o)
	if o.DropAfterAccept {
		drop(w)
		return
	}
	code := statusOr(o.HTTPStatus, http.StatusCreated)
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		// The API answers XML unless JSON is asked for.
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status(code))
		_ = xml.NewEncoder(w).Encode(xmlAnswer(data))
		return
	}
	body, err := encodeAnswer(data, o.StringStatusCode)
	if err != nil {
		answer(http.StatusInternalServerError, "Internal Server Error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status(code))
	_, _ = w.Write(body)
}

// recipient is one entry of an answer's Recipients.
type recipient struct {
	StatusCode int
	Number     string
	Status     string
	Cost       string
	MessageID  string
}

type answerData struct {
	Message    string
	Recipients []recipient
}

// accept decides each number's status, records the accepted messages and
// starts their automatic delivery reports.
func (s *Sim) accept(form url.Values, o Outcome) answerData {
	if o.NoRecipients {
		return answerData{Message: "InvalidSenderId"}
	}
	var data answerData
	var sent int
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, to := range strings.Split(form.Get("to"), ",") {
		to = strings.TrimSpace(to)
		code := o.StatusCode
		if code == 0 {
			code = StatusSent
			if !sms.IsE164(to) {
				code = StatusInvalidPhoneNumber
			}
		}
		rc := recipient{StatusCode: code, Number: to, Status: StatusName(code), Cost: "0", MessageID: "None"}
		if code >= 100 && code <= 102 {
			rc.Cost, rc.MessageID = Cost, "ATXid_"+randomHex(16)
			s.byID[rc.MessageID] = len(s.messages)
			s.messages = append(s.messages, Message{ID: rc.MessageID, To: to, From: form.Get("from"),
				Text: form.Get("message"), At: s.cfg.Now()})
			if s.cfg.AutoDeliver {
				s.autoDeliver(rc.MessageID)
			}
			sent++
		}
		data.Recipients = append(data.Recipients, rc)
	}
	if sent > 0 {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	cost := "0"
	if sent > 0 {
		cost = fmt.Sprintf("KES %.4f", 0.8*float64(sent)) // display text only, as the API's
	}
	data.Message = fmt.Sprintf("Sent to %d/%d Total Cost: %s", sent, len(data.Recipients), cost)
	return data
}

// encodeAnswer is the JSON answer, with status codes as strings when
// asked (a client must read both).
func encodeAnswer(d answerData, codesAsText bool) ([]byte, error) {
	rcpts := make([]map[string]any, 0, len(d.Recipients))
	for _, rc := range d.Recipients {
		var code any = rc.StatusCode
		if codesAsText {
			code = fmt.Sprint(rc.StatusCode)
		}
		rcpts = append(rcpts, map[string]any{
			"statusCode": code, "number": rc.Number, "status": rc.Status,
			"cost": rc.Cost, "messageId": rc.MessageID,
		})
	}
	return json.Marshal(map[string]any{
		"SMSMessageData": map[string]any{"Message": d.Message, "Recipients": rcpts},
	})
}

type xmlRecipient struct {
	StatusCode int    `xml:"statusCode"`
	Number     string `xml:"number"`
	Status     string `xml:"status"`
	Cost       string `xml:"cost"`
	MessageID  string `xml:"messageId"`
}

type xmlResponse struct {
	XMLName    xml.Name       `xml:"AfricasTalkingResponse"`
	Message    string         `xml:"SMSMessageData>Message"`
	Recipients []xmlRecipient `xml:"SMSMessageData>Recipients>Recipient"`
}

func xmlAnswer(d answerData) xmlResponse {
	x := xmlResponse{Message: d.Message}
	for _, rc := range d.Recipients {
		x.Recipients = append(x.Recipients, xmlRecipient(rc))
	}
	return x
}

// drop closes the connection without answering.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot be hijacked: abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func statusOr(s, def int) int {
	if s != 0 {
		return s
	}
	return def
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Deliver's refusals.
var (
	errUnknownMessage = errors.New("atsim: no accepted message with that id")
	errBadStatus      = errors.New("atsim: unknown delivery status")
	errNoDeliveryURL  = errors.New("atsim: no delivery URL set")
)

// postForm posts a form with the simulator's client.
func (s *Sim) postForm(ctx context.Context, url string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(form.Encode())))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.hc.Do(req)
}
