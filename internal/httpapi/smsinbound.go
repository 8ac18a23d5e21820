package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/umeme-wallet/umeme/internal/smspay"
)

// InboundTexts is what the callback hands a text to (smspay.Service).
type InboundTexts interface {
	// Accept records a text and returns; what the text asks for is done
	// in the background. ErrMalformed: no text could be recorded.
	Accept(ctx context.Context, in smspay.Inbound) error
}

// smsInbound (POST /sms/{token}/inbound, behind smsCallback's token check
// and body bound) records a text and answers at once: 200 once it is recorded
// (or was before: a repeated callback), 400 for a form that holds no text,
// 500 when it could not be recorded (the gateway may try again). The text
// itself is never logged.
func (s *Server) smsInbound(w http.ResponseWriter, r *http.Request) {
	in := smspay.Inbound{
		GatewayID: r.PostFormValue("id"), From: r.PostFormValue("from"), To: r.PostFormValue("to"),
		Text: r.PostFormValue("text"), Date: r.PostFormValue("date"), LinkID: r.PostFormValue("linkId"),
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err := s.SMS.Inbound.Accept(ctx, in)
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
