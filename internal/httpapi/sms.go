package httpapi

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// maxSMSCallbackBytes bounds the body of an SMS callback: a delivery
// report is a few hundred bytes.
const maxSMSCallbackBytes = 16 << 10

// DeliveryRecorder records the gateway's delivery reports (the outbox,
// notify.Outbox); false when no sent message matches or its report is
// already final.
type DeliveryRecorder interface {
	RecordDelivery(ctx context.Context, r store.DeliveryReport) (bool, error)
}

// SMSRoutes are Africa's Talking's SMS callbacks, served under
// /sms/{Token}/ when Token (SMS_CALLBACK_TOKEN) is set: delivery reports at
// /delivery, and the texts people send the service's number at /inbound
// (when Inbound is set). The gateway does not sign them: the secret
// token in the path is what keeps strangers out, and a wrong one is a 404,
// like a path that does not exist. Africa's Talking sends them from the
// addresses it sends the USSD callbacks from: when Server.AllowedIPs
// (USSD_ALLOWED_IPS) names those, a callback from any other is a 403.
type SMSRoutes struct {
	Token string
	// Reports records delivery reports.
	Reports DeliveryRecorder
	// Inbound takes incoming texts (smsinbound.go); nil: not served.
	Inbound InboundTexts
	// Now is the clock of the reports (default time.Now).
	Now func() time.Time
}

// smsRoutes registers the SMS callbacks.
func (s *Server) smsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /sms/{token}/delivery", s.smsCallback(s.smsDelivery))
	if s.SMS.Inbound != nil {
		mux.HandleFunc("POST /sms/{token}/inbound", s.smsCallback(s.smsInbound))
	}
}

// smsCallback checks the token and the client address, and bounds and
// parses the form, before handle runs. A refusal is logged without the
// path, which holds the token.
func (s *Server) smsCallback(handle http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.PathValue("token")), []byte(s.SMS.Token)) != 1 {
			http.NotFound(w, r)
			return
		}
		if ip := s.clientIP(r); len(s.AllowedIPs) > 0 && (!ip.IsValid() || !containsAddr(s.AllowedIPs, ip)) {
			s.Log.Warn("sms callback from an address not allowed", "client", ip.String(), "peer", r.RemoteAddr)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxSMSCallbackBytes)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		handle(w, r)
	}
}

// Delivery statuses: a final one says the message reached the phone or
// never will; an interim one that it is still on its way. A status this
// list does not know is recorded as interim (a later final one still
// lands) and logged.
var (
	finalDelivery   = []string{"Success", "Failed", "Rejected", "AbsentSubscriber", "Expired"}
	interimDelivery = []string{"Sent", "Submitted", "Buffered"}
)

// smsDelivery records a delivery report (form fields id, status,
// phoneNumber, networkCode, failureReason, retryCount). It answers 200 "OK"
// whether or not the report matched a message, and to a repeated one: the
// gateway need not send it again. Only a failure to record it is a 500,
// which the gateway may retry.
func (s *Server) smsDelivery(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	id, status := strings.TrimSpace(f.Get("id")), strings.TrimSpace(f.Get("status"))
	if id == "" || status == "" {
		http.Error(w, "id and status are required", http.StatusBadRequest)
		return
	}
	rep := store.DeliveryReport{MessageID: asciiField(id, 128), Status: asciiField(status, 32),
		FailureReason: asciiField(strings.TrimSpace(f.Get("failureReason")), 64), Now: s.smsNow()}
	rep.RetryCount, _ = strconv.Atoi(strings.TrimSpace(f.Get("retryCount")))
	rep.RetryCount = min(max(rep.RetryCount, 0), 1000)
	switch {
	case containsFold(finalDelivery, status):
		rep.Final = true
	case !containsFold(interimDelivery, status):
		s.Log.Warn("sms delivery report with an unknown status; recorded as interim", "status", rep.Status, "message_id", rep.MessageID)
	}
	matched, err := s.SMS.Reports.RecordDelivery(r.Context(), rep)
	if err != nil {
		s.Log.Error("sms delivery report not recorded", "message_id", rep.MessageID, "status", rep.Status, "err", err)
		http.Error(w, "not recorded", http.StatusInternalServerError)
		return
	}
	if !matched {
		s.Log.Debug("sms delivery report matched no message, or came after a final one", "message_id", rep.MessageID,
			"status", rep.Status, "to", wallet.MaskPhone(f.Get("phoneNumber")), "network", f.Get("networkCode"))
	}
	writeText(w, http.StatusOK, "OK")
}

func (s *Server) smsNow() time.Time {
	if s.SMS.Now != nil {
		return s.SMS.Now()
	}
	return time.Now()
}

// asciiField makes a report's field fit its column: printable ASCII (any
// other byte becomes ?), at most n bytes. The gateway's values are ASCII;
// this keeps an odd one from failing the record, and so the answer.
func asciiField(s string, n int) string {
	b := []byte(s[:min(len(s), n)])
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// containsFold reports whether list holds s, ignoring case.
func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
