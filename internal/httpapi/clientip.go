package httpapi

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// clientIP is the address of the client a request comes from: the direct
// peer, unless that peer is one of TrustedProxies, in which case
// X-Forwarded-For is read from the right and the first address that is not
// itself a trusted proxy is the client (the addresses to its left were
// written by the client and prove nothing). IPv4-mapped IPv6 addresses come
// out as IPv4. The zero Addr means the address cannot be known (a peer
// that is not an IP address, or a trusted proxy that forwarded garbage).
func (s *Server) clientIP(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	client := peer.Addr().Unmap().WithZone("")
	if !s.trustedProxy(client) {
		return client
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for _, h := range slices.Backward(hops) {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			return netip.Addr{}
		}
		client = a.Unmap().WithZone("")
		if !s.trustedProxy(client) {
			return client
		}
	}
	// Every hop is a trusted proxy: the left-most is the furthest one we
	// can name.
	return client
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	return containsAddr(s.TrustedProxies, a)
}

func containsAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
