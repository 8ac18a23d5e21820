package rates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of HTTPJSON.
const (
	DefaultHTTPTimeout = 3 * time.Second
	// MaxBodyBytes is the most of a price source's answer that is read: a
	// price fits in far less, and a bigger body is refused, not truncated.
	MaxBodyBytes = 1 << 20
)

// HTTPJSON asks a price over HTTP: it GETs URL and walks Path (dotted object
// keys and array indices, e.g. "data.rates.KES", "result.XXBTZKES.c.0",
// "0.price"; empty for a document that is the price itself) to a JSON
// number or numeric string, read exactly by ParseMilliKES.
//
// Redirects are refused, an answer other than 2xx is an error, and so is a
// body over MaxBodyBytes. Only https is used, except to a loopback host or
// when AllowInsecure is set: plain http would let anyone on the path set
// the price.
//
// Errors and Name never show the URL's query or user info, where API keys
// live.
type HTTPJSON struct {
	URL  string
	Path string
	// Timeout bounds one request; zero means DefaultHTTPTimeout.
	Timeout time.Duration
	// AllowInsecure permits plain http to hosts other than loopback.
	AllowInsecure bool
	// Bounds are the believable prices; zero fields take the defaults.
	Bounds Bounds
	// Transport sends the request; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Now stamps the rate's At; nil means time.Now.
	Now func() time.Time
}

// Name is the URL's host and path and the JSON path, without query or user
// info (which may hold keys).
func (h *HTTPJSON) Name() string {
	u, err := url.Parse(h.URL)
	if err != nil || u.Host == "" {
		return "invalid-url#" + h.Path
	}
	return u.Host + u.EscapedPath() + "#" + h.Path
}

// Check reports whether the URL may be asked: http or https with a host,
// and https unless the host is loopback or AllowInsecure is set. Rate checks
// it too; call it at start-up to refuse a bad configuration early.
func (h *HTTPJSON) Check() error {
	u, err := url.Parse(h.URL)
	if err != nil {
		return fmt.Errorf("rate source %s: invalid url", h.Name())
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("rate source %s: url must be http or https with a host", h.Name())
	}
	if u.Scheme == "http" && !h.AllowInsecure && !isLoopback(u.Hostname()) {
		return fmt.Errorf("rate source %s: plain http to a host that is not loopback (use https)", h.Name())
	}
	if _, err := splitPath(h.Path); err != nil {
		return fmt.Errorf("rate source %s: %w", h.Name(), err)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var errRedirect = errors.New("redirect refused")

// Rate asks the source once.
func (h *HTTPJSON) Rate(ctx context.Context) (Rate, error) {
	name := h.Name()
	if err := h.Check(); err != nil {
		return Rate{}, err
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return Rate{}, fmt.Errorf("rate source %s: invalid request", name)
	}
	req.Header.Set("Accept", "application/json")
	client := &http.Client{
		Transport: h.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		// url.Error repeats the whole URL, query included: keep only
		// its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Rate{}, fmt.Errorf("rate source %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return Rate{}, fmt.Errorf("rate source %s: %w (status %d)", name, errRedirect, resp.StatusCode)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Rate{}, fmt.Errorf("rate source %s: status %d", name, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return Rate{}, fmt.Errorf("rate source %s: read body: %w", name, err)
	}
	if len(body) > MaxBodyBytes {
		return Rate{}, fmt.Errorf("rate source %s: body over %d bytes", name, MaxBodyBytes)
	}
	price, err := priceAt(body, h.Path)
	if err != nil {
		return Rate{}, fmt.Errorf("rate source %s: %w", name, err)
	}
	m, err := ParseMilliKES(price, h.Bounds)
	if err != nil {
		return Rate{}, fmt.Errorf("rate source %s: %w", name, err)
	}
	return Rate{MilliKESPerBTC: m, At: now(h.Now), Source: name}, nil
}

// priceAt decodes a JSON document and returns the text of the number or
// string at path.
func priceAt(body []byte, path string) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return "", fmt.Errorf("invalid json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("invalid json: data after the document")
	}
	v, err := walk(doc, path)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case json.Number:
		return string(v), nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("path %q: %s is not a price", path, jsonKind(v))
}

// splitPath splits a dotted path; an empty path is the document itself.
func splitPath(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	segs := strings.Split(path, ".")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("path %q: empty segment", path)
		}
	}
	return segs, nil
}

// walk follows path into a document decoded with UseNumber: a segment is a
// key of an object, or a decimal index of an array.
func walk(doc any, path string) (any, error) {
	segs, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	v := doc
	for i, seg := range segs {
		at := strings.Join(segs[:i], ".")
		if at == "" {
			at = "(top)"
		}
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[seg]
			if !ok {
				return nil, fmt.Errorf("path %q: no key %q in %s", path, seg, at)
			}
			v = next
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || seg != strconv.Itoa(n) {
				return nil, fmt.Errorf("path %q: %s is an array, %q is not an index", path, at, seg)
			}
			if n >= len(node) {
				return nil, fmt.Errorf("path %q: index %d past the %d elements of %s", path, n, len(node), at)
			}
			v = node[n]
		default:
			return nil, fmt.Errorf("path %q: %s is %s, not an object or array", path, at, jsonKind(v))
		}
	}
	return v, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Source is one entry of RATES_SOURCES: where to GET and the JSON path to
// the price.
type Source struct {
	URL  string
	Path string
}

// HTTPJSON returns the provider asking this source, with the default
// timeout and bounds.
func (s Source) HTTPJSON(allowInsecure bool) *HTTPJSON {
	return &HTTPJSON{URL: s.URL, Path: s.Path, AllowInsecure: allowInsecure}
}

// ParseSources reads RATES_SOURCES: entries "URL|path" separated by commas
// or white space (a comma inside a URL must be written %2C). The path is
// split at the last "|" and may be empty (the document is the price). An
// error names the bad entry by position and by its URL without the query.
// An empty string is no sources, not an error.
func ParseSources(s string) ([]Source, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	var out []Source
	for i, f := range fields {
		cut := strings.LastIndexByte(f, '|')
		if cut < 0 {
			return nil, fmt.Errorf("RATES_SOURCES entry %d (%s): want URL|path", i+1, redactEntry(f))
		}
		src := Source{URL: f[:cut], Path: f[cut+1:]}
		u, err := url.Parse(src.URL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("RATES_SOURCES entry %d (%s): want an http or https URL with a host", i+1, redactEntry(f))
		}
		if u.User != nil {
			return nil, fmt.Errorf("RATES_SOURCES entry %d (%s): user info in a URL is not supported", i+1, redactEntry(f))
		}
		if _, err := splitPath(src.Path); err != nil {
			return nil, fmt.Errorf("RATES_SOURCES entry %d (%s): %w", i+1, redactEntry(f), err)
		}
		out = append(out, src)
	}
	return out, nil
}

// redactEntry shows an entry without its query and user info, which may
// hold keys.
func redactEntry(e string) string {
	path := ""
	if cut := strings.LastIndexByte(e, '|'); cut >= 0 {
		e, path = e[:cut], e[cut:]
	}
	if q := strings.IndexAny(e, "?#"); q >= 0 {
		e = e[:q] + "?…"
	}
	if at := strings.LastIndexByte(e, '@'); at >= 0 {
		if s := strings.Index(e, "://"); s >= 0 && s < at {
			e = e[:s+3] + "…@" + e[at+1:]
		}
	}
	return e + path
}
