package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/umeme-wallet/umeme/internal/smspay"
)

// SMSInbound takes the texts people send the service's number: Africa's
// Talking's incoming-message callback, at POST /sms/{Token}/inbound. The
// gateway does not sign its callbacks, so the secret token in the path
// keeps strangers out (a wrong one is answered 404, like a path that does
// not exist).
type SMSInbound struct {
	Token   string
	Service InboundTexts
}

// InboundTexts is what the callback hands a text to (smspay.Service).
type InboundTexts interface {
	// Accept records a text and returns; what the text asks for is done
	// in the background. ErrMalformed: no text could be recorded.
	Accept(ctx context.Context, in smspay.Inbound) error
}

// maxInboundBody bounds the callback's form: a text of the ~1600
// characters the gateway passes, percent-encoded, and the other fields.
const maxInboundBody = 16 << 10

// smsInboundRoutes mounts the callback when it is configured.
func (s *Server) smsInboundRoutes(mux *http.ServeMux) {
	if s.SMSInbound == nil || s.SMSInbound.Token == "" || s.SMSInbound.Service == nil {
		return
	}
	mux.HandleFunc("POST /sms/{token}/inbound", s.smsInbound)
}

// smsInbound records a text and answers at once: 200 once it is recorded
// (or was before: a repeated callback), 400 for a form that holds no text,
// 500 when it could not be recorded (the gateway may try again). The text
// itself is never logged.
func (s *Server) smsInbound(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.PathValue("token")), []byte(s.SMSInbound.Token)) != 1 {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxInboundBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	in := smspay.Inbound{
		GatewayID: r.PostFormValue("id"), From: r.PostFormValue("from"), To: r.PostFormValue("to"),
		Text: r.PostFormValue("text"), Date: r.PostFormValue("date"), LinkID: r.PostFormValue("linkId"),
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err := s.SMSInbound.Service.Accept(ctx, in)
	switch {
	case errors.Is(err, smspay.ErrMalformed):
		s.Log.Warn("sms: inbound callback refused", "network", truncate(r.PostFormValue("networkCode"), 8), "err", err)
		http.Error(w, "bad text", http.StatusBadRequest)
	case err != nil:
		s.Log.Error("sms: inbound text not recorded", "err", err)
		http.Error(w, "not recorded", http.StatusInternalServerError)
	default:
		writeText(w, http.StatusOK, "OK")
	}
}
