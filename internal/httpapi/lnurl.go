package httpapi

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// lnurlPay answers GET /.well-known/lnurlp/{name}: the payRequest of a
// user's Lightning Address.
func (s *Server) lnurlPay(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := s.Wallet.UserByLightningName(r.Context(), name); err != nil {
		s.lnurlRefuse(w, err, "unknown address")
		return
	}
	writeJSON(w, http.StatusOK, s.Receiver.PayRequestFor(name, s.Domain, s.baseURL()))
}

// lnurlCallback answers GET /lnurlp/{name}/callback?amount=msat with an
// invoice for exactly that amount, committing to the address's metadata.
func (s *Server) lnurlCallback(w http.ResponseWriter, r *http.Request) {
	u, err := s.Wallet.UserByLightningName(r.Context(), r.PathValue("name"))
	if err != nil {
		s.lnurlRefuse(w, err, "unknown address")
		return
	}
	amount, err := strconv.ParseInt(r.URL.Query().Get("amount"), 10, 64)
	pr := s.Receiver.PayRequestFor(u.LightningName, s.Domain, s.baseURL())
	if err != nil || amount < pr.MinSendable || amount > pr.MaxSendable {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "ERROR", "reason": "amount must be " +
			strconv.FormatInt(pr.MinSendable, 10) + " to " + strconv.FormatInt(pr.MaxSendable, 10) + " msat"})
		return
	}
	bolt11, err := s.Receiver.InvoiceForAddress(r.Context(), u, s.Domain, amount)
	if err != nil {
		s.lnurlRefuse(w, err, "cannot receive this amount now")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pr": bolt11, "routes": []any{}})
}

// lnurlRefuse answers LNURL's error form: 404 for an unknown name, 400 for
// what the user cannot receive, 503 when the node or database fails.
func (s *Server) lnurlRefuse(w http.ResponseWriter, err error, reason string) {
	status := http.StatusServiceUnavailable
	switch {
	case errors.Is(err, wallet.ErrUnknownUser):
		status = http.StatusNotFound
	case errors.Is(err, wallet.ErrLimitExceeded), errors.Is(err, wallet.ErrInvalidAmount):
		status = http.StatusBadRequest
	default:
		s.Log.Error("lnurl request failed", "err", err)
		reason = "temporarily unavailable"
	}
	writeJSON(w, status, map[string]string{"status": "ERROR", "reason": reason})
}

// baseURL is the server's public URL: https, except for a loopback domain
// (tests, a local try-out).
func (s *Server) baseURL() string {
	host := s.Domain
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return "http://" + s.Domain
	}
	return "https://" + s.Domain
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client is gone
}
