package rates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRatesWalk(t *testing.T) {
	t.Parallel()
	doc := `{"data":{"rates":{"KES":"12345678.91"}},
		"result":{"XXBTZKES":{"c":["12000000.50000","0.1"]}},
		"arr":[{"price":12000000}], "flag":true, "nul":null, "obj":{}}`
	ok := map[string]string{
		"data.rates.KES":      "12345678.91",
		"result.XXBTZKES.c.0": "12000000.50000",
		"result.XXBTZKES.c.1": "0.1",
		"arr.0.price":         "12000000",
	}
	for path, want := range ok {
		got, err := priceAt([]byte(doc), path)
		if err != nil || got != want {
			t.Errorf("priceAt(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
	bad := map[string]string{
		"data.rates.USD":       `no key "USD" in data.rates`,
		"missing":              `no key "missing" in (top)`,
		"result.XXBTZKES.c.2":  "index 2 past the 2 elements",
		"result.XXBTZKES.c.x":  `"x" is not an index`,
		"result.XXBTZKES.c.-1": `"-1" is not an index`,
		"result.XXBTZKES.c.01": `"01" is not an index`,
		"data.rates.KES.x":     "data.rates.KES is a string, not an object",
		"arr.0.price.x":        "is a number, not an object",
		"flag":                 "a boolean is not a price",
		"nul":                  "null is not a price",
		"obj":                  "an object is not a price",
		"data":                 "an object is not a price",
		"arr":                  "an array is not a price",
		"data..KES":            "empty segment",
		".data":                "empty segment",
		"":                     "an object is not a price",
	}
	for path, want := range bad {
		got, err := priceAt([]byte(doc), path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("priceAt(%q) = %q, %v; want an error saying %q", path, got, err, want)
		}
	}

	// Top-level arrays and bare documents.
	for _, c := range []struct{ doc, path, want string }{
		{`[{"price":"12000000.1"}]`, "0.price", "12000000.1"},
		{`12000000`, "", "12000000"},
		{` "12000000" `, "", "12000000"},
	} {
		got, err := priceAt([]byte(c.doc), c.path)
		if err != nil || got != c.want {
			t.Errorf("priceAt(%s, %q) = %q, %v; want %q", c.doc, c.path, got, err, c.want)
		}
	}
	for _, d := range []string{`{"a":1} {"a":2}`, `{"a":`, ``, `nope`} {
		if got, err := priceAt([]byte(d), "a"); err == nil || !strings.Contains(err.Error(), "invalid json") {
			t.Errorf("priceAt(%q) = %q, %v; want invalid json", d, got, err)
		}
	}

	// The walker keeps numbers as their text: no float in between.
	var v any
	dec := json.NewDecoder(strings.NewReader(`{"p":12345678.912345678901234567}`))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	if got, _ := walk(v, "p"); got != json.Number("12345678.912345678901234567") {
		t.Errorf("walk kept %v", got)
	}
}

// bigBody is a JSON document of exactly n bytes whose "p" is a price.
func bigBody(n int) string {
	head, tail := `{"p":"12000000","pad":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

const secretKey = "SECRET-api-key-123"

func TestRatesHTTPJSON(t *testing.T) {
	t.Parallel()
	var okHits atomic.Int64
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {
		okHits.Add(1)
		if r.URL.Query().Get("key") != secretKey {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"data":{"rates":{"KES":"12345678.91"}}}`)
	})
	mux.HandleFunc("GET /number", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"price": 1.2345678912e7}]`)
	})
	mux.HandleFunc("GET /accepted", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNonAuthoritativeInfo)
		fmt.Fprint(w, `{"p":12000000}`)
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"p":12000000}`, http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("GET /exact", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, bigBody(MaxBodyBytes))
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, bigBody(MaxBodyBytes+1))
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok?key="+secretKey, http.StatusFound)
	})
	mux.HandleFunc("GET /absurd", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"p":"-12000000"}`)
	})
	mux.HandleFunc("GET /nopath", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"q":"12000000"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	get := func(path, jsonPath string, timeout time.Duration) (Rate, error) {
		h := &HTTPJSON{URL: srv.URL + path, Path: jsonPath, Timeout: timeout, Now: func() time.Time { return at }}
		return h.Rate(context.Background())
	}

	r, err := get("/ok?key="+secretKey, "data.rates.KES", 0)
	if err != nil || r.MilliKESPerBTC != 12_345_678_910 || !r.At.Equal(at) {
		t.Fatalf("ok = %+v, %v", r, err)
	}
	if strings.Contains(r.Source, secretKey) || !strings.Contains(r.Source, "/ok#data.rates.KES") {
		t.Errorf("source %q: want host, path and json path, no key", r.Source)
	}
	if r, err := get("/number", "0.price", 0); err != nil || r.MilliKESPerBTC != 12_345_678_912 {
		t.Errorf("number = %+v, %v", r, err)
	}
	if r, err := get("/accepted", "p", 0); err != nil || r.MilliKESPerBTC != 12_000_000_000 {
		t.Errorf("203 = %+v, %v", r, err)
	}
	if r, err := get("/exact", "p", 0); err != nil || r.MilliKESPerBTC != 12_000_000_000 {
		t.Errorf("body of exactly MaxBodyBytes = %+v, %v", r, err)
	}

	errCases := []struct {
		path, jsonPath, want string
	}{
		{"/fail?key=" + secretKey, "p", "status 500"},
		{"/ok", "data.rates.KES", "status 401"},
		{"/big?key=" + secretKey, "p", "body over 1048576 bytes"},
		{"/redirect?key=" + secretKey, "p", "redirect refused (status 302)"},
		{"/absurd", "p", "negative"},
		{"/nopath", "p", `no key "p"`},
		{"/missing", "p", "status 404"},
	}
	hitsBefore := okHits.Load()
	for _, c := range errCases {
		_, err := get(c.path, c.jsonPath, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error saying %q", c.path, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), secretKey) {
			t.Errorf("%s: error shows the key: %v", c.path, err)
		}
	}
	if n := okHits.Load() - hitsBefore; n != 1 { // only the keyless /ok, not the redirect's target
		t.Errorf("/ok was hit %d times, want 1: a redirect was followed", n)
	}

	start := time.Now()
	_, err = get("/slow?key="+secretKey, "p", 50*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), secretKey) {
		t.Errorf("slow: %v; want a deadline error without the key", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("slow took %v despite a 50ms timeout", d)
	}

	// Nobody listening: the transport's error, without the URL's query.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	h := &HTTPJSON{URL: deadURL + "/p?key=" + secretKey, Path: "p"}
	if _, err := h.Rate(context.Background()); err == nil || strings.Contains(err.Error(), secretKey) {
		t.Errorf("closed server: %v; want an error without the key", err)
	}
}

func TestRatesHTTPJSONTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"bitcoin":{"kes":12000000.5}}`)
	}))
	t.Cleanup(srv.Close)
	h := &HTTPJSON{URL: srv.URL, Path: "bitcoin.kes", Transport: srv.Client().Transport}
	if r, err := h.Rate(context.Background()); err != nil || r.MilliKESPerBTC != 12_000_000_500 {
		t.Errorf("https = %+v, %v", r, err)
	}
	// Without the test CA the certificate is refused.
	h.Transport = nil
	if _, err := h.Rate(context.Background()); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
}

func TestRatesHTTPJSONCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url, path string
		insecure  bool
		want      string // "" means allowed
	}{
		{"https://api.example.com/p", "a.b", false, ""},
		{"http://127.0.0.1:8080/p", "a", false, ""},
		{"http://[::1]:8080/p", "a", false, ""},
		{"http://localhost/p", "a", false, ""},
		{"http://api.example.com/p", "a", false, "plain http"},
		{"http://10.0.0.1/p", "a", false, "plain http"},
		{"http://api.example.com/p", "a", true, ""},
		{"ftp://api.example.com/p", "a", true, "http or https"},
		{"api.example.com/p", "a", true, "http or https"},
		{"https:///p", "a", false, "http or https"},
		{"https://api.example.com/p", "a..b", false, "empty segment"},
		{"https://a b/", "a", false, "invalid url"},
	}
	for _, c := range cases {
		h := &HTTPJSON{URL: c.url, Path: c.path, AllowInsecure: c.insecure}
		err := h.Check()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Check(%s, insecure=%v) = %v, want %q", c.url, c.insecure, err, c.want)
		}
		if c.want != "" {
			// Rate refuses before sending anything.
			if _, err := h.Rate(context.Background()); err == nil {
				t.Errorf("Rate(%s) was allowed", c.url)
			}
		}
	}
}

func TestRatesParseSources(t *testing.T) {
	t.Parallel()
	got, err := ParseSources(" https://a.example/x?key=1&b=2|data.rates.KES,https://b.example/y|0.price\n\thttps://c.example|  ,, https://d.example/p|a|b ")
	want := []Source{
		{"https://a.example/x?key=1&b=2", "data.rates.KES"},
		{"https://b.example/y", "0.price"},
		{"https://c.example", ""},
		{"https://d.example/p|a", "b"}, // split at the last bar
	}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ParseSources = %v, %v; want %v", got, err, want)
	}
	if got, err := ParseSources(" \n "); err != nil || len(got) != 0 {
		t.Errorf("blank = %v, %v", got, err)
	}
	bad := []struct{ in, want string }{
		{"https://a.example/x|a, nopipe", "entry 2 (nopipe): want URL|path"},
		{"https://a.example/x?key=" + secretKey, "entry 1 (https://a.example/x?…): want URL|path"},
		{"ftp://a.example/x|a", "entry 1 (ftp://a.example/x|a): want an http or https URL"},
		{"a.example/x|a", "entry 1 (a.example/x|a)"},
		{"https://a.example/x|a..b", "empty segment"},
		{"https://user:" + secretKey + "@a.example/x|a", "entry 1 (https://…@a.example/x|a): user info"},
	}
	for _, c := range bad {
		got, err := ParseSources(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), secretKey) {
			t.Errorf("ParseSources(%q) = %v, %v; want an error saying %q and no key", c.in, got, err, c.want)
		}
	}
	h := want[0].HTTPJSON(false)
	if h.URL != want[0].URL || h.Path != want[0].Path || h.AllowInsecure || strings.Contains(h.Name(), "key") {
		t.Errorf("Source.HTTPJSON = %+v, name %q", h, h.Name())
	}
}
