// Package metricstest scrapes a /metrics endpoint over HTTP and reads the
// samples, for the tests that check the metrics move.
package metricstest

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Scrape GETs url and parses Prometheus' text format; it fails the test
// on any other answer.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %d %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape %s: content type %q", url, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return fams
}

// Has reports whether a family of that name is there.
func (f Families) Has(name string) bool { return f[name] != nil }

// Sum adds up the samples of name whose labels include every pair of
// labels ("k", "v", ...): counters' and gauges' values, histograms' counts.
// ok is false when no series matched.
func (f Families) Sum(name string, labels ...string) (sum float64, ok bool) {
	fam := f[name]
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum, ok
}

// Value is Sum, zero when no series matched.
func (f Families) Value(name string, labels ...string) float64 {
	v, _ := f.Sum(name, labels...)
	return v
}

// LabelValues lists the values a label takes in the series of name.
func (f Families) LabelValues(name, label string) []string {
	seen := map[string]bool{}
	for _, m := range f[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				seen[l.GetValue()] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Lines renders the series of the families named (a prefix ends in "*"),
// one "name{labels} value" a line, for a test's log.
func (f Families) Lines(names ...string) []string {
	var out []string
	var keys []string
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !wanted(k, names) {
			continue
		}
		var b strings.Builder
		if _, err := expfmt.MetricFamilyToText(&b, f[k]); err == nil {
			for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
				if !strings.HasPrefix(line, "#") {
					out = append(out, line)
				}
			}
		}
	}
	return out
}

func wanted(name string, patterns []string) bool {
	for _, p := range patterns {
		if strings.HasSuffix(p, "*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*")) || p == name {
			return true
		}
	}
	return false
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
