package httpapi

import (
	"net/http"
	"net/netip"
)

// clientIP is the address of the client that sent r, as the per-client
// limits count it: the peer of the connection. (Behind a reverse proxy that
// is the proxy; believing a forwarded address needs the list of proxies
// trusted to set it.) The zero Addr when the peer cannot be read.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
