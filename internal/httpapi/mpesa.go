package httpapi

import (
	"crypto/subtle"
	"io"
	"net/http"

	"github.com/umeme-wallet/umeme/internal/mpesa"
	"github.com/umeme-wallet/umeme/internal/ramp"
)

// The M-Pesa callbacks live under /cb/{token}/: Daraja's callbacks are not
// signed, so the secret token in the path is what keeps strangers out (a
// wrong one is answered 404, like a path that does not exist), with
// MpesaAllowedIPs where the operator knows Daraja's addresses. Safaricom
// refuses callback URLs with the words mpesa, safaricom, exe, cmd, sql or
// query, hence the short names.
func (s *Server) mpesaRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /cb/{token}"+ramp.PathSTK, s.mpesaCallback(s.stkCallback))
	mux.HandleFunc("POST /cb/{token}"+ramp.PathB2CResult, s.mpesaCallback(s.b2cResult))
	mux.HandleFunc("POST /cb/{token}"+ramp.PathB2CTimeout, s.mpesaCallback(s.b2cTimeout))
	mux.HandleFunc("POST /cb/{token}"+ramp.PathStatus+"/{id}", s.mpesaCallback(s.statusResult))
	mux.HandleFunc("POST /cb/{token}"+ramp.PathStatusWait+"/{id}", s.mpesaCallback(s.statusTimeout))
}

// mpesaCallback checks the token and the client address, reads the body
// (at most mpesa.MaxCallbackBytes), and answers Daraja's "Accepted" once
// handle has recorded the callback, or a callback that matches nothing (it
// is logged, and nothing is credited). A body that cannot be read is 400;
// a failure to record it is 500, and the reconciler asks Daraja later.
func (s *Server) mpesaCallback(handle func(r *http.Request, body []byte) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		if s.MpesaCallbackToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.MpesaCallbackToken)) != 1 {
			http.NotFound(w, r)
			return
		}
		if ip := s.clientIP(r); len(s.MpesaAllowedIPs) > 0 && (!ip.IsValid() || !containsAddr(s.MpesaAllowedIPs, ip)) {
			s.Log.Warn("mpesa callback from an address not allowed", "ip", s.clientIP(r).String())
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, mpesa.MaxCallbackBytes+1))
		if err != nil || len(body) > mpesa.MaxCallbackBytes {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := handle(r, body); err != nil {
			s.Log.Error("mpesa callback not recorded; the reconciler will ask Daraja", "path", routeOf(r), "err", err)
			http.Error(w, "not recorded", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(mpesa.Accepted) //nolint:errcheck // Daraja is gone
	}
}

// routeOf names a callback's route without its token.
func routeOf(r *http.Request) string { return r.Pattern }

func (s *Server) stkCallback(r *http.Request, body []byte) error {
	res, err := ramp.STKCallback(body)
	if err != nil {
		s.Log.Warn("mpesa: unreadable STK callback ignored", "err", err)
		return nil
	}
	return s.Ramp.HandleSTK(r.Context(), res)
}

func (s *Server) b2cResult(r *http.Request, body []byte) error {
	res, err := ramp.ResultCallback(body)
	if err != nil {
		s.Log.Warn("mpesa: unreadable B2C result ignored", "err", err)
		return nil
	}
	return s.Ramp.HandleB2CResult(r.Context(), res)
}

func (s *Server) b2cTimeout(r *http.Request, body []byte) error {
	res, err := ramp.ResultCallback(body)
	if err != nil {
		s.Log.Warn("mpesa: unreadable queue time-out ignored", "err", err)
		return nil
	}
	return s.Ramp.HandleB2CTimeout(r.Context(), res.OriginatorConversationID)
}

func (s *Server) statusResult(r *http.Request, body []byte) error {
	res, err := ramp.ResultCallback(body)
	if err != nil {
		s.Log.Warn("mpesa: unreadable status result ignored", "err", err)
		return nil
	}
	return s.Ramp.HandleStatus(r.Context(), r.PathValue("id"), res)
}

// statusTimeout: a status query timed out in Daraja's queue; the
// reconciler asks again on its schedule.
func (s *Server) statusTimeout(_ *http.Request, _ []byte) error { return nil }
