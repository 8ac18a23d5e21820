package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Gateway is Africa's Talking's USSD side, as the server sees it: each hop
// of a session POSTs the session's whole text (inputs joined by "*") to
// /ussd. The hops of one session go to the servers in turn, starting from
// a different server for each session, so that consecutive hops of one
// session land on different servers whenever there are two or more.
type Gateway struct {
	URLs        []string
	Token       string
	ServiceCode string
	// Timeout bounds one hop, as Africa's Talking waits (default 15 s).
	Timeout time.Duration
	hc      *http.Client
	next    atomic.Uint64
}

// NewGateway makes a gateway to the servers at urls.
func NewGateway(urls []string, token string) *Gateway {
	return &Gateway{URLs: urls, Token: token, ServiceCode: "*384*1234#", Timeout: 15 * time.Second,
		hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Session is one phone's USSD session.
type Session struct {
	g      *Gateway
	ID     string
	Phone  string
	inputs []string
	first  int
	hops   int
	// Servers lists the index of the server each hop went to.
	Servers []int
}

// ErrNoAnswer is a hop that got no usable answer (the connection cut, a
// non-200 status, a body that is neither CON nor END): what the server did
// with it is unknown.
var ErrNoAnswer = errors.New("no answer")

// Dial opens a session for phone and sends its first hop (text "").
func (g *Gateway) Dial(ctx context.Context, phone string) (*Session, string, error) {
	s := &Session{g: g, ID: "ATUid_" + randomHex(12), Phone: phone, first: int(g.next.Add(1))}
	body, err := s.send(ctx)
	return s, body, err
}

// Answer sends the next input of the session and returns the screen
// ("CON …" or "END …").
func (s *Session) Answer(ctx context.Context, input string) (string, error) {
	s.inputs = append(s.inputs, input)
	return s.send(ctx)
}

// Again sends the last hop once more, as a gateway's retry would.
func (s *Session) Again(ctx context.Context) (string, error) { return s.send(ctx) }

// Inputs is how many inputs the session has sent (the count in its last
// hop's idempotency key, "ussd:ID:N").
func (s *Session) Inputs() int { return len(s.inputs) }

func (s *Session) send(ctx context.Context) (string, error) {
	g := s.g
	i := (s.first + s.hops) % len(g.URLs)
	s.hops++
	s.Servers = append(s.Servers, i)
	ctx, cancel := context.WithTimeout(ctx, g.Timeout)
	defer cancel()
	form := url.Values{
		"sessionId":   {s.ID},
		"phoneNumber": {s.Phone},
		"networkCode": {"99999"},
		"serviceCode": {g.ServiceCode},
		"text":        {strings.Join(s.inputs, "*")},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URLs[i]+"/ussd?token="+url.QueryEscape(g.Token), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := g.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoAnswer, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoAnswer, err)
	}
	body := string(b)
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("%w: status %s: %q", ErrNoAnswer, resp.Status, body)
	}
	if !strings.HasPrefix(body, "CON ") && !strings.HasPrefix(body, "END ") {
		return body, fmt.Errorf("%w: neither CON nor END: %q", ErrNoAnswer, body)
	}
	return body, nil
}

// Proxy is a reverse proxy in the test that sends each request to the
// next of the fleet's servers in turn: the one URL the simulators call
// back (Daraja's results, SMS delivery reports and texts), as a load
// balancer in front of several servers would.
func (f *Fleet) Proxy(t testing.TB) *httptest.Server {
	t.Helper()
	var next atomic.Uint64
	targets := make([]*url.URL, len(f.servers))
	for i, s := range f.servers {
		u, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = u
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[next.Add(1)%uint64(len(targets))])
		},
		// A server down (killed) is a 502 to the caller, which is what
		// the caller is tested for; not a line in the test's output.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return hex.EncodeToString(b)
}
