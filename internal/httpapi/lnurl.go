package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/ratelimit"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The Lightning Address endpoints (LUD-06 pay, LUD-16 names, LUD-12
// comments) answer anyone, so they are built not to be abused:
//
//   - every answer, errors included, is HTTP 200 JSON with
//     Access-Control-Allow-Origin: *, because LNURL clients (browser
//     wallets among them, LUD-01) read the JSON, not the status, and show an
//     error's reason only from {"status":"ERROR","reason":…}. That holds for
//     a refusal by the rate limits too: a 429 would reach the payer as
//     "request failed" instead of the reason, so it carries Retry-After;
//   - each client address and each name has a budget of requests per window
//     on each endpoint;
//   - the digits of any valid number answer alike whether or not the number
//     has an account (see wallet.ParseAddressName), and a malformed name
//     gets the answer of an unknown one.

// LNURLLimits bound the requests of the Lightning Address endpoints, each
// endpoint counted on its own.
type LNURLLimits struct {
	// PerClient is how many requests one client address (an IPv6 client by
	// its /64) may make per Window, PerName how many may name one address,
	// Global how many callbacks (invoices on the node) all clients together
	// may make; 0 turns one off.
	PerClient, PerName, Global int
	Window                     time.Duration
}

// The reasons an LNURL client shows its user.
const (
	reasonUnknown     = "Unknown Lightning Address."
	reasonTooMany     = "Too many requests. Please try again in a minute."
	reasonUnavailable = "Temporarily unavailable. Please try again later."
)

// lnurlLimiters makes the rate limiters LNURL's limits ask for.
func (s *Server) lnurlLimiters() {
	window := s.LNURLLimits.Window
	if window <= 0 {
		window = time.Minute
	}
	if s.LNURLLimits.PerClient > 0 {
		s.lnurlByClient = ratelimit.New(s.LNURLLimits.PerClient, window)
	}
	if s.LNURLLimits.PerName > 0 {
		s.lnurlByName = ratelimit.New(s.LNURLLimits.PerName, window)
	}
	if s.LNURLLimits.Global > 0 {
		s.lnurlGlobal = ratelimit.New(s.LNURLLimits.Global, window)
	}
}

// lnurlPay answers GET /.well-known/lnurlp/{name}: the payRequest of an
// address.
func (s *Server) lnurlPay(w http.ResponseWriter, r *http.Request) {
	name, ok := s.lnurlAdmit(w, r, "pay")
	if !ok {
		return
	}
	to, err := s.Wallet.ResolveAddress(r.Context(), name)
	if err != nil {
		s.lnurlRefuse(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.Receiver.PayRequestFor(to.Name, s.Domain, s.baseURL()))
}

// lnurlCallback answers GET /lnurlp/{name}/callback?amount=msat[&comment=…]
// with an invoice for exactly that amount, committing to the address's
// metadata, that keeps the payer's comment for the receipt.
func (s *Server) lnurlCallback(w http.ResponseWriter, r *http.Request) {
	name, ok := s.lnurlAdmit(w, r, "callback")
	if !ok {
		return
	}
	q := r.URL.Query()
	cfg := s.Wallet.Config()
	amount, err := strconv.ParseInt(q.Get("amount"), 10, 64)
	if err != nil || amount < cfg.MinAmountMsat || amount > cfg.MaxAmountMsat {
		lnurlError(w, amountReason(cfg))
		return
	}
	comment, reason := payerComment(q.Get("comment"))
	if reason != "" {
		lnurlError(w, reason)
		return
	}
	to, err := s.Wallet.ResolveAddress(r.Context(), name)
	if err != nil {
		s.lnurlRefuse(w, err)
		return
	}
	bolt11, err := s.Receiver.InvoiceForAddress(r.Context(), to, s.Domain, amount, comment)
	if err != nil {
		s.lnurlRefuse(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pr": bolt11, "routes": []any{}})
}

// lnurlPreflight answers a browser's CORS preflight of an LNURL endpoint.
func (s *Server) lnurlPreflight(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "*")
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// lnurlAdmit lets one request for the name in the path through: within its
// client's budget first, then a well-formed name (a malformed one gets the
// answer of an unknown one), within the name's budget. When it returns
// false it has answered.
func (s *Server) lnurlAdmit(w http.ResponseWriter, r *http.Request, endpoint string) (wallet.AddressName, bool) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	now := time.Now()
	if s.lnurlByClient != nil && !s.lnurlByClient.Allow(endpoint+" "+clientKey(s.clientIP(r)), now) {
		s.lnurlTooMany(w)
		return wallet.AddressName{}, false
	}
	name, err := wallet.ParseAddressName(r.PathValue("name"))
	if err != nil {
		lnurlError(w, reasonUnknown)
		return wallet.AddressName{}, false
	}
	if s.lnurlByName != nil && !s.lnurlByName.Allow(endpoint+" "+name.Name, now) {
		s.lnurlTooMany(w)
		return wallet.AddressName{}, false
	}
	// Every callback is an invoice on the node: a flood spread over many
	// addresses and names still meets one budget.
	if endpoint == "callback" && s.lnurlGlobal != nil && !s.lnurlGlobal.Allow(endpoint, now) {
		s.lnurlTooMany(w)
		return wallet.AddressName{}, false
	}
	return name, true
}

// clientKey is what a client's budget is kept under: its address, or the
// /64 of an IPv6 one (one subscriber's usual allocation).
func clientKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func (s *Server) lnurlTooMany(w http.ResponseWriter) {
	window := s.LNURLLimits.Window
	if window <= 0 {
		window = time.Minute
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((window+time.Second-1)/time.Second)))
	lnurlError(w, reasonTooMany)
}

// payerComment checks a LUD-12 comment and makes it fit for a receipt:
// control characters, and the bidirectional ones that could make a receipt
// read other than it is, become spaces. reason says why it was refused.
func payerComment(c string) (string, string) {
	if !utf8.ValidString(c) {
		return "", "The comment is not valid text."
	}
	if utf8.RuneCountInString(c) > lightning.CommentAllowed {
		return "", fmt.Sprintf("The comment is longer than %d characters.", lightning.CommentAllowed)
	}
	// What a receipt (an SMS, a USSD screen) can carry, and nothing that
	// could pose as a line of the operator's own: plain GSM-7 only, line
	// and paragraph separators and invisible characters included.
	return strings.TrimSpace(lightning.CleanText(c, lightning.CommentAllowed)), ""
}

func amountReason(cfg wallet.Config) string {
	return "Amount must be " + strconv.FormatInt(cfg.MinAmountMsat, 10) + " to " + strconv.FormatInt(cfg.MaxAmountMsat, 10) + " msat."
}

// lnurlRefuse answers a failure in LNURL's error form; what is not the
// payer's doing is logged once and told as "temporarily unavailable".
func (s *Server) lnurlRefuse(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, wallet.ErrUnknownAddress):
		lnurlError(w, reasonUnknown)
	case errors.Is(err, wallet.ErrInvalidAmount), errors.Is(err, wallet.ErrLimitExceeded):
		lnurlError(w, amountReason(s.Wallet.Config()))
	case errors.Is(err, lightning.ErrUnavailable):
		s.Log.Warn("lnurl request while the lightning node is unavailable", "err", err)
		lnurlError(w, reasonUnavailable)
	default:
		s.Log.Error("lnurl request failed", "err", err)
		lnurlError(w, reasonUnavailable)
	}
}

// lnurlError is LNURL's error answer: HTTP 200, which every client reads.
func lnurlError(w http.ResponseWriter, reason string) {
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}{"ERROR", reason})
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
