package atsim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DeliveryStatuses are the statuses a delivery report may carry.
var DeliveryStatuses = []string{"Success", "Failed", "Rejected", "Buffered", "Sent", "Submitted"}

// Report is one delivery report posted, and how it was answered. HTTPStatus
// is 0 and Err set when no answer came.
type Report struct {
	At         time.Time
	URL        string
	MessageID  string
	Status     string
	HTTPStatus int
	Err        string
}

// SetDeliveryURL sets where delivery reports go (the application's
// delivery-report callback, as registered with Africa's Talking).
func (s *Sim) SetDeliveryURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveryURL = u
}

// Reports is every delivery report posted, oldest first.
func (s *Sim) Reports() []Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Report(nil), s.reports...)
}

// Deliver posts a delivery report of an accepted message to the delivery
// URL, as Africa's Talking's form: id, status, phoneNumber, networkCode,
// failureReason (only when given, as for Failed and Rejected) and
// retryCount. It fails if there is no URL, the id was never accepted, the
// status is not one of DeliveryStatuses, or the receiver does not answer
// 2xx.
func (s *Sim) Deliver(ctx context.Context, messageID, status, failureReason string) error {
	if !slices.Contains(DeliveryStatuses, status) {
		return fmt.Errorf("%w: %q is none of %s", errBadStatus, status, strings.Join(DeliveryStatuses, ", "))
	}
	s.mu.Lock()
	u := s.deliveryURL
	i, ok := s.byID[messageID]
	var to string
	if ok {
		to = s.messages[i].To
	}
	s.mu.Unlock()
	if u == "" {
		return errNoDeliveryURL
	}
	if !ok {
		return fmt.Errorf("%w: %q", errUnknownMessage, messageID)
	}
	form := url.Values{
		"id":          {messageID},
		"status":      {status},
		"phoneNumber": {to},
		"networkCode": {NetworkCode},
		"retryCount":  {"0"},
	}
	if failureReason != "" {
		form.Set("failureReason", failureReason)
	}
	rep := Report{At: s.cfg.Now(), URL: u, MessageID: messageID, Status: status}
	resp, err := s.postForm(ctx, u, form)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		rep.HTTPStatus = resp.StatusCode
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			err = fmt.Errorf("atsim: delivery report answered HTTP %d", resp.StatusCode)
		}
	}
	if rep.HTTPStatus == 0 && err != nil {
		rep.Err = err.Error()
	}
	s.mu.Lock()
	s.reports = append(s.reports, rep)
	s.mu.Unlock()
	return err
}

// autoDeliver posts a Success report of id in the background, if a
// delivery URL is set by then. Called with s.mu held.
func (s *Sim) autoDeliver(id string) {
	if s.closed || s.deliveryURL == "" {
		return
	}
	s.sending.Add(1)
	go func() {
		defer s.sending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The outcome is in Reports; nobody waits for it here.
		_ = s.Deliver(ctx, id, "Success", "")
	}()
}

// SendInbound posts an incoming text to url as Africa's Talking does: the
// form fields from, to (the short code), text, date ("2026-12-06
// 14:05:01", Nairobi time), a unique id, linkId and networkCode. The
// caller closes the response's body.
func (s *Sim) SendInbound(ctx context.Context, url, from, to, text string) (*http.Response, error) {
	form := map[string][]string{
		"from":        {from},
		"to":          {to},
		"text":        {text},
		"date":        {s.cfg.Now().In(Nairobi).Format(time.DateTime)},
		"id":          {uuid()},
		"linkId":      {uuid()},
		"networkCode": {NetworkCode},
	}
	resp, err := s.postForm(ctx, url, form)
	if err != nil {
		return nil, fmt.Errorf("atsim: inbound: %w", err)
	}
	return resp, nil
}

// uuid is a random version-4 UUID, the form of the API's inbound ids.
func uuid() string {
	h := randomHex(16)
	b := []byte(h)
	b[12] = '4'
	b[16] = "89ab"[b[16]%4]
	return fmt.Sprintf("%s-%s-%s-%s-%s", b[0:8], b[8:12], b[12:16], b[16:20], b[20:32])
}
