package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/umeme-wallet/umeme/internal/ussd"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// apology is the screen for any hop that could not be answered properly:
// the gateway must always get 200 and a CON/END body, never an error.
const apology = "END Sorry, the service is busy. Please try again later.\nSamahani, jaribu tena baadaye."

// ussdHop answers one hop of the gateway's session callback, and logs it in
// one line (session, masked phone, screen, outcome, latency; never the
// text, which carries PINs) and counts it.
func (s *Server) ussdHop(w http.ResponseWriter, r *http.Request) {
	began := time.Now()
	var req ussd.Request
	reply := ussd.Reply{Outcome: outcomeApology}
	// Whatever fails, even a bug, the subscriber gets a screen.
	defer func() {
		if p := recover(); p != nil {
			s.Log.Error("ussd hop panicked", "panic", p, "stack", string(debug.Stack()))
			writeText(w, http.StatusOK, apology)
			reply = ussd.Reply{Outcome: outcomePanic}
		}
		took := time.Since(began)
		s.Metrics.Hop(reply.State, reply.Outcome, took)
		s.Log.Info("ussd hop", "session", truncate(req.SessionID, 128), "phone", wallet.MaskPhone(req.PhoneNumber), "screen", reply.State,
			"outcome", reply.Outcome, "ms", float64(took.Microseconds())/1000)
	}()
	if !s.gatewayAllowed(r) {
		reply.Outcome = outcomeForbidden
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if err := r.ParseForm(); err != nil {
		reply.Outcome = outcomeBadRequest
		writeText(w, http.StatusOK, apology)
		return
	}
	req = ussd.Request{
		SessionID:   r.PostFormValue("sessionId"),
		PhoneNumber: r.PostFormValue("phoneNumber"),
		NetworkCode: r.PostFormValue("networkCode"),
		ServiceCode: r.PostFormValue("serviceCode"),
		Text:        r.PostFormValue("text"),
	}
	// The gateway waits about 10 s; answer well before, whatever happens.
	ctx, cancel := context.WithTimeout(r.Context(), s.hopTimeout())
	defer cancel()
	got, err := s.USSD.Handle(ctx, req)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		s.Metrics.HopDeadlineMissed()
		if err != nil {
			got.Outcome = outcomeDeadline
		}
	}
	if err != nil {
		level := s.Log.Error
		if errors.Is(err, ussd.ErrBadRequest) {
			level = s.Log.Warn
			got.Outcome = outcomeBadRequest
		} else if got.Outcome == "" {
			got.Outcome = outcomeApology
		}
		level("ussd hop not answered", "session", req.SessionID, "phone", wallet.MaskPhone(req.PhoneNumber), "err", err)
		got.Body = apology
	}
	reply = got
	writeText(w, http.StatusOK, reply.Body)
}

// The outcomes of hops the engine did not answer (its own are
// ussd.Outcome*).
const (
	outcomeApology    = "apology"     // an error: the busy apology
	outcomeDeadline   = "deadline"    // past USSD_HOP_TIMEOUT: the busy apology
	outcomeBadRequest = "bad_request" // no session id, an impossible number, an unreadable form
	outcomeForbidden  = "forbidden"   // not the gateway (403)
	outcomePanic      = "panic"       // a bug, recovered: the busy apology
)

func (s *Server) hopTimeout() time.Duration {
	if s.HopTimeout > 0 {
		return s.HopTimeout
	}
	return 3 * time.Second
}

// gatewayAllowed tells the gateway from anyone else: the callback token
// (none configured refuses all, unless OpenGateway) and, when configured,
// the client address. A refusal is logged without the token.
func (s *Server) gatewayAllowed(r *http.Request) bool {
	reason := ""
	switch {
	case s.CallbackToken == "" && !s.OpenGateway:
		reason = "no callback token configured"
	case s.CallbackToken != "" && subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(s.CallbackToken)) != 1:
		reason = "missing or wrong token"
	case len(s.AllowedIPs) > 0:
		if ip := s.clientIP(r); !ip.IsValid() || !containsAddr(s.AllowedIPs, ip) {
			reason = "client address not allowed"
		}
	}
	if reason == "" {
		return true
	}
	s.Log.Warn("gateway request refused", "path", r.URL.Path, "reason", reason, "client", s.clientIP(r).String(), "peer", r.RemoteAddr)
	return false
}

// ussdEvent records the gateway's end-of-session notification. It never
// moves money.
func (s *Server) ussdEvent(w http.ResponseWriter, r *http.Request) {
	if !s.gatewayAllowed(r) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostFormValue("sessionId")
	duration, _ := strconv.ParseInt(r.PostFormValue("durationInMillis"), 10, 64)
	hops, _ := strconv.Atoi(r.PostFormValue("hopsCount"))
	ctx, cancel := context.WithTimeout(r.Context(), s.hopTimeout())
	defer cancel()
	err := s.USSD.EndSession(ctx, ussd.SessionEnd{
		SessionID: id, Status: truncate(r.PostFormValue("status"), 16), DurationMs: duration, Hops: hops,
	})
	switch {
	case errors.Is(err, ussd.ErrUnknownSession):
		s.Log.Warn("ussd event for an unknown session", "session", id)
	case err != nil:
		s.Log.Error("ussd event not recorded", "session", id, "err", err)
		http.Error(w, "not recorded", http.StatusServiceUnavailable)
		return
	}
	writeText(w, http.StatusOK, "OK")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
