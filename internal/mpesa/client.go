// Package mpesa is Umeme's own small client of Safaricom's Daraja API: the
// OAuth token, M-Pesa Express (STK push and its query) for top-ups, B2C for
// withdrawals, the Transaction Status query, and the parsing of the
// callbacks Daraja posts back. It talks HTTP and JSON only and knows
// nothing of the ledger; internal/wallet decides what a result means for
// money.
//
// Amounts are whole Kenyan shillings in int64: Daraja takes and reports
// nothing smaller, and a fractional amount in a callback is refused rather
// than rounded. Secrets (consumer secret, passkey, initiator password,
// tokens) never appear in an error string, and phone numbers in errors are
// masked to their last three digits.
package mpesa

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Nairobi is East Africa Time, UTC+3 all year (Kenya keeps no daylight
// saving time), as a fixed zone so that no tzdata is needed.
var Nairobi = time.FixedZone("EAT", 3*60*60)

// DefaultTransactionType is the STK push TransactionType of a paybill
// shortcode; a till number uses CustomerBuyGoodsOnline.
const DefaultTransactionType = "CustomerPayBillOnline"

// tokenFetchTimeout bounds one OAuth request, whoever waits for it.
const tokenFetchTimeout = 30 * time.Second

// maxResponseBytes bounds what is read of one Daraja answer.
const maxResponseBytes = 1 << 20

// Config is what the client needs to reach Daraja. The STK fields are
// needed by STKPush and STKQuery, the B2C ones by B2C and
// TransactionStatus; a client may have only one set.
type Config struct {
	// BaseURL is Daraja's root, e.g. https://api.safaricom.co.ke (no
	// trailing path).
	BaseURL        string
	ConsumerKey    string
	ConsumerSecret string

	// ShortCode is the paybill or till of STK pushes, and PassKey its
	// Lipa na M-Pesa Online passkey.
	ShortCode string
	PassKey   string
	// TransactionType defaults to DefaultTransactionType.
	TransactionType string

	// B2CShortCode pays withdrawals; InitiatorName and InitiatorPassword
	// are its API operator, whose password is encrypted with CertPEM's
	// RSA public key (Safaricom's certificate, or the simulator's).
	B2CShortCode      string
	InitiatorName     string
	InitiatorPassword string
	CertPEM           []byte

	// HTTPClient defaults to one with a 10 s timeout. Whatever is given,
	// the client uses a copy of it that refuses redirects.
	HTTPClient *http.Client
	// Now is the clock of timestamps and token expiry (default time.Now).
	Now func() time.Time
}

// Client calls Daraja. It is safe for concurrent use.
type Client struct {
	base       string
	cfg        Config
	hc         *http.Client
	now        func() time.Time
	credential string // SecurityCredential, computed once at New

	mu       sync.Mutex
	token    string
	refresh  time.Time // when the cached token is to be replaced
	inflight *tokenFetch
}

type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

// errRedirect refuses a redirect: Daraja never redirects, and following
// one could hand the bearer token to another host.
var errRedirect = errors.New("mpesa: redirect refused")

// New checks cfg and returns a client. With a B2C configuration
// (InitiatorPassword and CertPEM), the SecurityCredential is encrypted
// here, once.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("mpesa: config: BaseURL must be an http(s) URL")
	}
	if cfg.ConsumerKey == "" || cfg.ConsumerSecret == "" {
		return nil, errors.New("mpesa: config: consumer key and secret are required")
	}
	if cfg.TransactionType == "" {
		cfg.TransactionType = DefaultTransactionType
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return errRedirect }
	c := &Client{
		base: strings.TrimRight(cfg.BaseURL, "/"),
		cfg:  cfg,
		hc:   hc,
		now:  cfg.Now,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.InitiatorPassword != "" || len(cfg.CertPEM) > 0 {
		c.credential, err = SecurityCredential(cfg.InitiatorPassword, cfg.CertPEM)
		if err != nil {
			return nil, fmt.Errorf("mpesa: config: %w", err)
		}
	}
	return c, nil
}

// SecurityCredential encrypts an initiator password as Daraja wants it:
// base64 of RSA PKCS#1 v1.5 encryption with the public key of the PEM
// certificate. The result differs on each call (the padding is random).
func SecurityCredential(password string, certPEM []byte) (string, error) {
	if password == "" {
		return "", errors.New("initiator password is empty")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("parse certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", errors.New("certificate key is not RSA")
	}
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(password))
	if err != nil {
		return "", errors.New("encrypt initiator password failed")
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// Timestamp is t as Daraja's YYYYMMDDHHmmss in Nairobi time.
func Timestamp(t time.Time) string {
	return t.In(Nairobi).Format("20060102150405")
}

// STKPassword is an STK request's Password: base64(shortcode + passkey +
// timestamp).
func STKPassword(shortCode, passKey, timestamp string) string {
	return base64.StdEncoding.EncodeToString([]byte(shortCode + passKey + timestamp))
}

// accessToken returns a valid cached token or fetches one. Concurrent
// callers share one fetch, which runs detached from any one caller's
// context (bounded by tokenFetchTimeout) so that a caller giving
// up does not fail the others.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.token != "" && c.now().Before(c.refresh) {
		t := c.token
		c.mu.Unlock()
		return t, nil
	}
	f := c.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		c.inflight = f
		go c.fetchToken(context.WithoutCancel(ctx), f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return "", &oauthError{f.err}
		}
		return f.token, nil
	case <-ctx.Done():
		return "", &oauthError{fmt.Errorf("mpesa: oauth: %w", ctx.Err())}
	}
}

// oauthError is a failure to get a token: the call itself was never sent.
type oauthError struct{ err error }

func (e *oauthError) Error() string { return e.err.Error() }
func (e *oauthError) Unwrap() error { return e.err }

func (c *Client) fetchToken(ctx context.Context, f *tokenFetch) {
	// Bounded even if the HTTP client has no timeout: a hung fetch would
	// stall every caller.
	ctx, cancel := context.WithTimeout(ctx, tokenFetchTimeout)
	defer cancel()
	start := c.now()
	tok, life, err := c.requestToken(ctx)
	c.mu.Lock()
	if err == nil {
		c.token = tok
		c.refresh = start.Add(refreshAfter(life))
	}
	c.inflight = nil
	c.mu.Unlock()
	f.token, f.err = tok, err
	close(f.done)
}

// refreshAfter is how long a token of the given life is used: until 60 s
// before it expires, or half its life when that is under two minutes.
func refreshAfter(life time.Duration) time.Duration {
	if life > 2*time.Minute {
		return life - time.Minute
	}
	return life / 2
}

// dropToken forgets tok if it is still the cached one (a 401 showed it
// dead); a newer token fetched meanwhile is kept.
func (c *Client) dropToken(tok string) {
	c.mu.Lock()
	if c.token == tok {
		c.token = ""
	}
	c.mu.Unlock()
}

func (c *Client) requestToken(ctx context.Context) (string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/oauth/v1/generate?grant_type=client_credentials", nil)
	if err != nil {
		return "", 0, fmt.Errorf("mpesa: oauth: %w", err)
	}
	req.SetBasicAuth(c.cfg.ConsumerKey, c.cfg.ConsumerSecret)
	req.Header.Set("Accept", "application/json")
	status, body, err := c.send(req)
	if err != nil {
		return "", 0, fmt.Errorf("mpesa: oauth: %w", err)
	}
	if status != http.StatusOK {
		return "", 0, fmt.Errorf("mpesa: oauth: %w", apiError(status, body))
	}
	var r struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   flexInt `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.AccessToken == "" {
		return "", 0, errors.New("mpesa: oauth: malformed token answer")
	}
	if r.ExpiresIn.n <= 0 || r.ExpiresIn.n > 24*60*60 {
		return "", 0, fmt.Errorf("mpesa: oauth: implausible expires_in %d", r.ExpiresIn.n)
	}
	return r.AccessToken, time.Duration(r.ExpiresIn.n) * time.Second, nil
}

// send does one request and reads its answer. Its error is always a
// *transportError, so that callers can tell "no answer" from a refusal.
func (c *Client) send(req *http.Request) (int, []byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, &transportError{err: err, sent: !isDialError(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, &transportError{err: fmt.Errorf("read answer: %w", err), sent: true}
	}
	return resp.StatusCode, body, nil
}

// post sends a JSON call with the bearer token and decodes a 2xx answer
// into out. A 401 drops the token and tries once more with a new one (a
// 401 means the call was refused before it was processed).
func (c *Client) post(ctx context.Context, path string, in, out any) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.accessToken(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		status, body, err := c.send(req)
		if err != nil {
			return err
		}
		if status == http.StatusUnauthorized || (status >= 400 && isInvalidTokenBody(body)) {
			c.dropToken(tok)
			if attempt == 0 {
				continue
			}
		}
		if status < 200 || status > 299 {
			return apiError(status, body)
		}
		if err := json.Unmarshal(body, out); err != nil {
			return &transportError{err: fmt.Errorf("malformed answer (HTTP %d)", status), sent: true}
		}
		return nil
	}
}

func isInvalidTokenBody(body []byte) bool {
	var e struct {
		ErrorCode string `json:"errorCode"`
	}
	return json.Unmarshal(body, &e) == nil && e.ErrorCode == codeInvalidToken
}
