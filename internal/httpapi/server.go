// Package httpapi is the server's HTTP edge: every route is registered in
// Routes, and the handlers answer from the services they are given.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/metrics"
	"github.com/umeme-wallet/umeme/internal/ramp"
	"github.com/umeme-wallet/umeme/internal/ratelimit"
	"github.com/umeme-wallet/umeme/internal/ussd"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Pinger reports whether a dependency answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server holds what the handlers need.
type Server struct {
	// DB is the database /readyz checks.
	DB   Pinger
	USSD *ussd.Engine
	// Wallet, Receiver and Domain serve Lightning Addresses; the routes
	// exist only when a Lightning node is configured (Receiver set).
	Wallet   *wallet.Service
	Receiver *lightning.Receiver
	Domain   string
	// Lightning, when set, is the node /readyz checks as well.
	Lightning Pinger
	Log       *slog.Logger
	// CallbackToken must come with every gateway request as the "token"
	// query parameter. Without one the gateway endpoints refuse everything,
	// unless OpenGateway (development only) lets them answer anyone.
	CallbackToken string
	OpenGateway   bool
	// AllowedIPs, when not empty, are the only client addresses the gateway
	// endpoints answer (see clientIP).
	AllowedIPs []netip.Prefix
	// TrustedProxies are the direct peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// HopTimeout bounds the work of one USSD hop (default 3 s).
	HopTimeout time.Duration
	// ReadyTimeout bounds the database check of /readyz.
	ReadyTimeout time.Duration
	// LNURLLimits bound the Lightning Address endpoints (zero: no limits).
	LNURLLimits LNURLLimits
	// Ramp, when set, receives Daraja's callbacks under
	// /cb/{MpesaCallbackToken}/ (mpesa.go), from MpesaAllowedIPs if set.
	Ramp               *ramp.Ramp
	MpesaCallbackToken string
	MpesaAllowedIPs    []netip.Prefix
	// SMS, when set with a token, receives Africa's Talking's SMS
	// callbacks under /sms/{token}/ (sms.go).
	SMS *SMSRoutes
	// Metrics counts the hops (nil: not counted).
	Metrics *metrics.Metrics

	lnurlByClient, lnurlByName, lnurlGlobal *ratelimit.Limiter
}

// Routes registers every route in one place.
func (s *Server) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("POST /ussd", s.ussdHop)
	mux.HandleFunc("POST /ussd/events", s.ussdEvent)
	if s.Receiver != nil {
		s.lnurlLimiters()
		mux.HandleFunc("GET /.well-known/lnurlp/{name}", s.lnurlPay)
		mux.HandleFunc("OPTIONS /.well-known/lnurlp/{name}", s.lnurlPreflight)
		mux.HandleFunc("GET /lnurlp/{name}/callback", s.lnurlCallback)
		mux.HandleFunc("OPTIONS /lnurlp/{name}/callback", s.lnurlPreflight)
	}
	if s.Ramp != nil {
		s.mpesaRoutes(mux)
	}
	if s.SMS != nil && s.SMS.Token != "" {
		s.smsRoutes(mux)
	}
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok\n")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	timeout := s.ReadyTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		s.Log.Warn("readiness: database unreachable", "err", err)
		writeText(w, http.StatusServiceUnavailable, "database unreachable\n")
		return
	}
	if s.Lightning != nil {
		if err := s.Lightning.Ping(ctx); err != nil {
			s.Log.Warn("readiness: lightning node unreachable", "err", err)
			writeText(w, http.StatusServiceUnavailable, "lightning node unreachable\n")
			return
		}
	}
	writeText(w, http.StatusOK, "ready\n")
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(body)) //nolint:errcheck // the client is gone
}
