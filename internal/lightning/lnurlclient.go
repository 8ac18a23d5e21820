package lightning

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// LNURLClient resolves other people's Lightning Addresses into invoices,
// checking everything a paying wallet must. A user types the address, so
// the client also guards the server against being sent where it should not
// go: it speaks https only, connects only to public addresses (checked on
// the address actually dialled, so a DNS answer that changes between lookup
// and connection cannot slip through), follows a redirect only to https on
// the same host, reads at most 64 KiB and gives up after Timeout.
type LNURLClient struct {
	Node Node
	// AllowPrivate lets addresses reach loopback, private and other
	// internal addresses, and loopback ones over plain http. It is for
	// development (APP_ENV=development) and tests that serve an address on
	// this machine; never for production.
	AllowPrivate bool
	// Timeout bounds each request, reading the answer included (default 10 s).
	Timeout time.Duration

	// tlsConfig replaces the system's TLS settings (tests that serve their
	// own certificate).
	tlsConfig *tls.Config
	once      sync.Once
	hc        *http.Client
}

const (
	// maxLNURLResponse is the most an LNURL answer may be; a larger one is
	// an error, not silently cut.
	maxLNURLResponse = 64 << 10
	// maxLNURLRedirects is how many same-host redirects one request follows.
	maxLNURLRedirects = 3
	// maxReason is how much of a remote error text is shown or logged.
	maxReason = 80
)

var addressRE = regexp.MustCompile(`^[a-z0-9\-_.]+@[a-zA-Z0-9\-.]+(:[0-9]+)?$`)

// ErrAddress is a Lightning Address that could not be used.
var ErrAddress = errors.New("lightning address")

// FetchInvoice resolves address for amount msat: it fetches the payRequest,
// checks the tag and limits, asks the callback for an invoice, and checks
// that the invoice is for exactly that amount and commits to the metadata.
func (c *LNURLClient) FetchInvoice(ctx context.Context, address string, amountMsat int64) (string, error) {
	if len(address) > 255 || !addressRE.MatchString(address) {
		return "", fmt.Errorf("%w: %q is not name@domain", ErrAddress, CleanText(address, maxReason))
	}
	if amountMsat <= 0 || amountMsat > store.MaxMsat {
		return "", fmt.Errorf("%w: amount of %d msat", ErrAddress, amountMsat)
	}
	name, host, _ := strings.Cut(address, "@")
	scheme := "https"
	if c.AllowPrivate && isLoopback(host) {
		scheme = "http"
	}
	var pr PayRequest
	if err := c.getJSON(ctx, scheme+"://"+host+"/.well-known/lnurlp/"+name, &pr); err != nil {
		return "", err
	}
	if pr.Tag != "payRequest" {
		return "", fmt.Errorf("%w: tag %q", ErrAddress, CleanText(pr.Tag, maxReason))
	}
	// Bounds from a stranger: checked before they mean anything.
	if pr.MinSendable < 1 || pr.MaxSendable < pr.MinSendable {
		return "", fmt.Errorf("%w: sendable range %d-%d msat", ErrAddress, pr.MinSendable, pr.MaxSendable)
	}
	if amountMsat < pr.MinSendable || amountMsat > pr.MaxSendable {
		return "", fmt.Errorf("%w: amount %d msat outside %d-%d", ErrAddress, amountMsat, pr.MinSendable, pr.MaxSendable)
	}
	cb, err := url.Parse(pr.Callback)
	if err != nil || cb.Host == "" || (cb.Scheme != "https" && !(c.AllowPrivate && cb.Scheme == "http" && isLoopback(cb.Host))) {
		return "", fmt.Errorf("%w: callback %q", ErrAddress, CleanText(pr.Callback, maxReason))
	}
	q := cb.Query()
	q.Set("amount", strconv.FormatInt(amountMsat, 10))
	cb.RawQuery = q.Encode()
	var inv struct {
		PR string `json:"pr"`
	}
	if err := c.getJSON(ctx, cb.String(), &inv); err != nil {
		return "", err
	}
	dec, err := c.Node.DecodeInvoice(ctx, inv.PR)
	if err != nil {
		return "", err
	}
	if dec.AmountMsat != amountMsat {
		return "", fmt.Errorf("%w: the invoice is for %d msat, not %d", ErrAddress, dec.AmountMsat, amountMsat)
	}
	want := sha256.Sum256([]byte(pr.Metadata))
	if dec.DescriptionHash != hex.EncodeToString(want[:]) {
		return "", fmt.Errorf("%w: the invoice does not commit to the metadata", ErrAddress)
	}
	return inv.PR, nil
}

// getJSON fetches u and decodes its JSON answer into v; an LNURL error
// answer becomes an error carrying its reason, cut and cleaned.
func (c *LNURLClient) getJSON(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAddress, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client().Do(req)
	if err != nil {
		// The URL in a *url.Error may come from a stranger's redirect:
		// keep the cause, not the URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: get %s: %w", ErrAddress, CleanText(req.URL.Host, maxReason), err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > maxLNURLResponse {
		return fmt.Errorf("%w: answer of %d bytes exceeds %d", ErrAddress, resp.ContentLength, maxLNURLResponse)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLNURLResponse+1))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAddress, err)
	}
	if len(body) > maxLNURLResponse {
		return fmt.Errorf("%w: answer exceeds %d bytes", ErrAddress, maxLNURLResponse)
	}
	var le lnurlError
	if json.Unmarshal(body, &le) == nil && le.Status == "ERROR" {
		return fmt.Errorf("%w: %s", ErrAddress, CleanText(le.Reason, maxReason))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: status %d", ErrAddress, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrAddress, err)
	}
	return nil
}

func (c *LNURLClient) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 10 * time.Second
}

// client is the client's own HTTP client, made once: never the default
// one, which follows any redirect, honours proxy settings and dials
// anything.
func (c *LNURLClient) client() *http.Client {
	c.once.Do(func() {
		dialer := &net.Dialer{Timeout: 5 * time.Second, Control: c.checkDial}
		c.hc = &http.Client{
			Transport: &http.Transport{
				// No proxy: the dial check must see the real destination.
				Proxy:                  nil,
				DialContext:            dialer.DialContext,
				TLSClientConfig:        c.tlsConfig,
				ForceAttemptHTTP2:      true,
				TLSHandshakeTimeout:    5 * time.Second,
				ResponseHeaderTimeout:  c.timeout(),
				MaxResponseHeaderBytes: 16 << 10,
				MaxIdleConns:           16,
				IdleConnTimeout:        90 * time.Second,
			},
			Timeout:       c.timeout(),
			CheckRedirect: checkRedirect,
		}
	})
	return c.hc
}

// checkRedirect follows a redirect only to https on the host first asked,
// a few times at most.
func checkRedirect(req *http.Request, via []*http.Request) error {
	switch {
	case len(via) >= maxLNURLRedirects:
		return fmt.Errorf("more than %d redirects", maxLNURLRedirects)
	case req.URL.Scheme != "https":
		return fmt.Errorf("redirect to %s refused: https only", CleanText(req.URL.Scheme, 10))
	case !strings.EqualFold(req.URL.Host, via[0].URL.Host):
		return errors.New("redirect to another host refused")
	}
	return nil
}

// checkDial runs on every connection the client opens, with the address
// being connected to (after name resolution): internal addresses are
// refused. AllowPrivate lets loopback and private networks through, never
// link-local ones: that is where cloud metadata services answer.
func (c *LNURLClient) checkDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %q refused: %w", address, err)
	}
	kind := internalAddress(ap.Addr())
	if c.AllowPrivate && (kind == "loopback" || kind == "private") {
		return nil
	}
	if kind != "" {
		return fmt.Errorf("%s is a %s address: refused", ap.Addr(), kind)
	}
	return nil
}

// internalNets are ranges, beyond those netip classifies, that reach this
// machine, its networks or an address embedded in them.
var internalNets = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "CGNAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("168.63.129.16/32"), "cloud platform"}, // Azure's host endpoint
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and 255.255.255.255
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

// internalAddress names the kind of an address the server must not be made
// to connect to, or returns "" for a public one. IPv4-mapped IPv6 forms
// are judged as the IPv4 address they carry.
func internalAddress(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a.IsUnspecified():
		return "unspecified"
	}
	for _, n := range internalNets {
		if n.prefix.Contains(a) {
			return n.kind
		}
	}
	return ""
}

// isLoopback reports whether host (maybe with a port) names this machine.
func isLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// CleanText makes a stranger's text safe to show on a USSD screen or write
// to a log: control characters and whitespace become single spaces, what
// is not plain GSM-7 becomes "?", and the result is cut to n characters.
func CleanText(s string, n int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f || r == ' ' || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
			space = true
			continue
		case r > 0x7e || strings.ContainsRune("^{}\\[]~|`", r):
			// Outside GSM-7's basic set (or in its two-septet extension).
			r = '?'
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() > n {
			break
		}
	}
	out := b.String()
	if len(out) > n {
		out = out[:n-3] + "..."
	}
	return out
}
