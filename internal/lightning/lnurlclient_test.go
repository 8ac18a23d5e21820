package lightning

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// countingServer serves h on loopback (over TLS when secure) and counts
// the requests that reach it.
func countingServer(t *testing.T, secure bool, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	})
	srv := httptest.NewUnstartedServer(wrapped)
	if secure {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &hits
}

// trusting is a client that trusts the certificate of httptest's TLS
// servers, so that only the client's own checks can refuse.
func trusting(srv *httptest.Server, allowPrivate bool) *LNURLClient {
	return &LNURLClient{AllowPrivate: allowPrivate, Timeout: 5 * time.Second,
		tlsConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()}
}

func payRequestJSON(min, max int64) string {
	b, _ := json.Marshal(PayRequest{Tag: "payRequest", Callback: "https://example.com/cb", MinSendable: min, MaxSendable: max, Metadata: "[]"})
	return string(b)
}

// TestLNURLClientSSRF: a Lightning Address cannot point the server at
// itself or its networks. Outside development the address actually dialled
// is checked, also when reached through a name; redirects to another host
// or to plain http are refused; answers over 64 KiB are refused; a
// stranger's error text comes out cut and clean. In development, loopback
// is reachable.
func TestLNURLClientSSRF(t *testing.T) {
	ctx := context.Background()
	secure, secureHits := countingServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, payRequestJSON(1_000, 2_000))
	})
	_, port, _ := net.SplitHostPort(secure.Listener.Addr().String())

	t.Run("ProductionRefusesLoopbackAtDial", func(t *testing.T) {
		c := trusting(secure, false)
		for _, addr := range []string{"alice@127.0.0.1:" + port, "alice@localhost:" + port} {
			_, err := c.FetchInvoice(ctx, addr, 1_500)
			if err == nil || !strings.Contains(err.Error(), "loopback address: refused") {
				t.Errorf("%s: %v", addr, err)
			}
		}
		if n := secureHits.Load(); n != 0 {
			t.Fatalf("the loopback server was reached %d times", n)
		}
		// The same client, allowed to: the server answers (so the refusal
		// above was the dial check, not TLS or a missing server).
		if err := trusting(secure, true).getJSON(ctx, secure.URL+"/.well-known/lnurlp/alice", &PayRequest{}); err != nil || secureHits.Load() != 1 {
			t.Fatalf("with AllowPrivate: %v (%d hits)", err, secureHits.Load())
		}
	})

	t.Run("InternalAddresses", func(t *testing.T) {
		for _, c := range []struct {
			addr string
			kind string
		}{
			{"127.0.0.1", "loopback"}, {"::1", "loopback"}, {"::ffff:127.0.0.1", "loopback"},
			{"10.1.2.3", "private"}, {"172.16.0.1", "private"}, {"192.168.1.1", "private"}, {"fd00::1", "private"},
			{"169.254.169.254", "link-local"}, {"::ffff:169.254.169.254", "link-local"}, {"fe80::1", "link-local"},
			{"100.64.0.1", "CGNAT"}, {"::ffff:100.100.100.100", "CGNAT"},
			{"224.0.0.1", "link-local"}, {"239.1.2.3", "multicast"}, {"ff02::1", "link-local"}, {"ff05::2", "multicast"},
			{"0.0.0.0", "unspecified"}, {"::", "unspecified"}, {"0.1.2.3", "this-network"},
			{"64:ff9b::a9fe:a9fe", "NAT64"}, {"2002:a9fe:a9fe::1", "6to4"}, {"255.255.255.255", "reserved"},
			{"192.0.2.7", "documentation"}, {"198.51.100.7", "documentation"}, {"203.0.113.7", "documentation"},
			{"2001:db8::1", "documentation"}, {"192.88.99.1", "6to4 relay"}, {"168.63.129.16", "cloud platform"},
			{"::ffff:0:a9fe:a9fe", "IPv4-translated"}, {"100::1", "discard"},
			{"1.1.1.1", ""}, {"2606:4700:4700::1111", ""}, {"::ffff:8.8.8.8", ""},
		} {
			if got := internalAddress(netip.MustParseAddr(c.addr)); got != c.kind {
				t.Errorf("%s: %q, want %q", c.addr, got, c.kind)
			}
		}
	})

	t.Run("DevelopmentKeepsLinkLocalShut", func(t *testing.T) {
		dev := &LNURLClient{AllowPrivate: true}
		for addr, open := range map[string]bool{
			"127.0.0.1:443": true, "10.0.0.1:443": true, "[fd00::1]:443": true,
			"169.254.169.254:80": false, "[fe80::1]:443": false, "100.64.0.1:443": false, "224.0.0.1:443": false,
		} {
			if err := dev.checkDial("tcp", addr, nil); (err == nil) != open {
				t.Errorf("development dial to %s: %v, want open=%v", addr, err, open)
			}
		}
	})

	t.Run("Redirects", func(t *testing.T) {
		plain, plainHits := countingServer(t, false, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) })
		other, otherHits := countingServer(t, true, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) })
		var origin *httptest.Server
		origin, _ = countingServer(t, true, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/to-http":
				http.Redirect(w, r, plain.URL+"/", http.StatusFound)
			case "/to-other-host":
				http.Redirect(w, r, other.URL+"/", http.StatusFound)
			case "/to-same-host":
				http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
			case "/loop":
				http.Redirect(w, r, "/loop", http.StatusFound)
			case "/ok":
				fmt.Fprint(w, payRequestJSON(1_000, 2_000))
			}
		})
		// Development mode, so that loopback test servers are reachable:
		// the redirect rules hold there too.
		c := trusting(origin, true)
		for _, tc := range []struct{ path, want string }{
			{"/to-http", "https only"}, {"/to-other-host", "another host"}, {"/loop", "redirects"},
		} {
			if err := c.getJSON(ctx, origin.URL+tc.path, &PayRequest{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.path, err, tc.want)
			}
		}
		if plainHits.Load() != 0 || otherHits.Load() != 0 {
			t.Fatalf("a redirect was followed: %d to http, %d to another host", plainHits.Load(), otherHits.Load())
		}
		var pr PayRequest
		if err := c.getJSON(ctx, origin.URL+"/to-same-host", &pr); err != nil || pr.MaxSendable != 2_000 {
			t.Fatalf("a same-host https redirect: %+v %v", pr, err)
		}
	})

	t.Run("SizeTimeAndReason", func(t *testing.T) {
		release := make(chan struct{})
		srv, _ := countingServer(t, true, func(w http.ResponseWriter, r *http.Request) {
			// A JSON object of exactly n bytes.
			object := func(n int) string { return `{"tag":"` + strings.Repeat("x", n-len(`{"tag":""}`)) + `"}` }
			switch r.URL.Path {
			case "/at-limit":
				fmt.Fprint(w, object(64<<10))
			case "/over-limit":
				fmt.Fprint(w, object(64<<10+1))
			case "/declared-over-limit":
				w.Header().Set("Content-Length", fmt.Sprint(1<<20))
				w.WriteHeader(http.StatusOK)
			case "/hang":
				<-release
			case "/reason":
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(lnurlError{Status: "ERROR", //nolint:errcheck
					Reason: "Service unavailable\x1b[2J\r\nFAKE LOG LINE level=ERROR\u202e\U0001F4A5 {evil} " + strings.Repeat("very long ", 50)})
			}
		})
		defer close(release)
		c := trusting(srv, true)
		c.Timeout = 300 * time.Millisecond
		var v map[string]any
		if err := c.getJSON(ctx, srv.URL+"/at-limit", &v); err != nil {
			t.Fatalf("an answer of exactly 64 KiB: %v", err)
		}
		for _, path := range []string{"/over-limit", "/declared-over-limit"} {
			if err := c.getJSON(ctx, srv.URL+path, &v); err == nil || !strings.Contains(err.Error(), "exceeds") {
				t.Errorf("%s: %v", path, err)
			}
		}
		if err := c.getJSON(ctx, srv.URL+"/hang", &v); err == nil {
			t.Error("a server that never answers was waited for")
		}
		err := c.getJSON(ctx, srv.URL+"/reason", &v)
		if err == nil {
			t.Fatal("an error answer was taken")
		}
		reason := strings.TrimPrefix(err.Error(), ErrAddress.Error()+": ")
		if !strings.HasPrefix(reason, "Service unavailable ?2J FAKE LOG LINE level=ERROR?? ?evil? very long") || len(reason) > 80 {
			t.Fatalf("reason %q (%d characters)", reason, len(reason))
		}
		for _, r := range reason {
			if r < 0x20 || r > 0x7e || strings.ContainsRune("^{}\\[]~|`", r) {
				t.Fatalf("reason %q holds %q", reason, r)
			}
		}
	})

	t.Run("DevelopmentReachesLoopback", func(t *testing.T) {
		dev, devHits := countingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/.well-known/lnurlp/alice" {
				fmt.Fprint(w, payRequestJSON(1_000, 2_000))
			}
		})
		host := strings.TrimPrefix(dev.URL, "http://")
		c := &LNURLClient{AllowPrivate: true}
		for _, addr := range []string{"alice@" + host, "alice@localhost:" + host[strings.LastIndex(host, ":")+1:]} {
			// The amount is outside the payRequest's range: the answer was read.
			if _, err := c.FetchInvoice(ctx, addr, 5_000); err == nil || !strings.Contains(err.Error(), "outside 1000-2000") {
				t.Errorf("%s: %v", addr, err)
			}
		}
		if devHits.Load() != 2 {
			t.Fatalf("%d requests reached the development server", devHits.Load())
		}
		// Production speaks https only: the same plain-http server is not
		// spoken to, whatever the address.
		if _, err := (&LNURLClient{}).FetchInvoice(ctx, "alice@"+host, 1_500); err == nil || devHits.Load() != 2 {
			t.Fatalf("production reached a plain-http loopback server: %v", err)
		}
	})
}

// TestAmountsCannotOverflow: amounts lnd reports beyond any real sum come
// out as -1, which the wallet refuses; the LNURL client refuses amounts
// out of range, and payRequests whose bounds make no sense, before using
// them.
func TestAmountsCannotOverflow(t *testing.T) {
	for _, c := range []struct {
		in   uint64
		want int64
	}{
		{0, 0}, {1, 1}, {uint64(store.MaxMsat), store.MaxMsat}, {uint64(store.MaxMsat) + 1, -1},
		{math.MaxInt64, -1}, {1 << 63, -1}, {math.MaxUint64, -1},
	} {
		if got := MsatFromNode(c.in); got != c.want {
			t.Errorf("MsatFromNode(%d) = %d, want %d", c.in, got, c.want)
		}
	}

	ctx := context.Background()
	var answer atomic.Value
	srv, hits := countingServer(t, false, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, answer.Load()) })
	addr := "alice@" + strings.TrimPrefix(srv.URL, "http://")
	c := &LNURLClient{AllowPrivate: true}
	answer.Store(payRequestJSON(1_000, math.MaxInt64))
	for _, amount := range []int64{0, -1, math.MinInt64, store.MaxMsat + 1, math.MaxInt64} {
		if _, err := c.FetchInvoice(ctx, addr, amount); err == nil || !strings.Contains(err.Error(), "amount of") {
			t.Errorf("amount %d: %v", amount, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("out-of-range amounts reached the network %d times", hits.Load())
	}
	for _, pr := range []string{payRequestJSON(-5, 2_000), payRequestJSON(0, 2_000), payRequestJSON(3_000, 2_000),
		`{"tag":"payRequest","minSendable":1000,"maxSendable":18446744073709551615}`} {
		answer.Store(pr)
		if _, err := c.FetchInvoice(ctx, addr, 1_500); err == nil {
			t.Errorf("payRequest %s was used", pr)
		}
	}
}
