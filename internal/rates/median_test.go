package rates

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const base = 12_000_000_000 // KES 12,000,000 per BTC

func fixed(name string, milli int64) *fakeProvider {
	p := &fakeProvider{name: name}
	p.set(milli, nil)
	return p
}

func names(as []Answer) string {
	var s []string
	for _, a := range as {
		s = append(s, a.Source)
	}
	return strings.Join(s, ",")
}

func TestRatesMedianOutliers(t *testing.T) {
	t.Parallel()
	broken := &fakeProvider{name: "broken"}
	broken.set(0, errors.New("exchange down"))
	var observed []Report
	m := &Median{
		Providers: []Provider{
			fixed("a", base),
			fixed("up101", base+base*101/10_000), // +1.01 %: dropped
			fixed("b", base),
			fixed("down101", base-base*101/10_000), // −1.01 %: dropped
			fixed("up099", base+base*99/10_000+1),  // +0.99 %: kept
			broken,
			fixed("c", base),
		},
		Observe: func(r Report) { observed = append(observed, r) },
	}
	r, err := m.Rate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Mean of 3 × base and base × 1.0099 + 1: 48,118,800,001 / 4, rounded down.
	if r.MilliKESPerBTC != 12_029_700_000 {
		t.Errorf("rate %d, want 12029700000", r.MilliKESPerBTC)
	}
	if r.Source != "median(a,b,up099,c)" {
		t.Errorf("source %q", r.Source)
	}
	if len(observed) != 1 {
		t.Fatalf("observed %d reports", len(observed))
	}
	rep := observed[0]
	if rep.MedianMilliKESPerBTC != base || names(rep.Used) != "a,b,up099,c" || names(rep.Dropped) != "up101,down101" ||
		len(rep.Failed) != 1 || rep.Failed[0].Source != "broken" || !strings.Contains(rep.Failed[0].Err.Error(), "exchange down") {
		t.Errorf("report %+v", rep)
	}
	if s := rep.String(); !strings.Contains(s, "dropped up101=") || !strings.Contains(s, "failed broken") {
		t.Errorf("report string %q", s)
	}
}

func TestRatesMedianBoundIsInclusive(t *testing.T) {
	t.Parallel()
	// Exactly 1 % off is kept; one thousandth of a shilling more is not.
	m := &Median{Providers: []Provider{
		fixed("a", base), fixed("b", base), fixed("c", base),
		fixed("at", base+base/100), fixed("past", base+base/100+1),
		fixed("under", base-base/100), fixed("below", base-base/100-1),
	}}
	_, rep, err := m.Aggregate(context.Background())
	if err != nil || names(rep.Used) != "a,b,c,at,under" || names(rep.Dropped) != "past,below" {
		t.Errorf("used %s, dropped %s, %v", names(rep.Used), names(rep.Dropped), err)
	}

	// An even count: the median is the mean of the middle two.
	m = &Median{Providers: []Provider{fixed("lo", 10_000_000), fixed("hi", 10_100_000)}, MaxDeviationBps: 50}
	r, rep, err := m.Aggregate(context.Background())
	if err != nil || rep.MedianMilliKESPerBTC != 10_050_000 || r.MilliKESPerBTC != 10_050_000 || len(rep.Dropped) != 0 {
		t.Errorf("even = %+v, %+v, %v", r, rep, err)
	}
	// Middle two further apart than twice the bound: nothing agreed.
	m = &Median{Providers: []Provider{fixed("lo", 10_000_000), fixed("hi", 10_300_000)}}
	if r, _, err := m.Aggregate(context.Background()); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("disagreeing pair = %+v, %v", r, err)
	}
}

func TestRatesMedianOldestAt(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a, b := fixed("a", base), fixed("b", base)
	a.at, b.at = t0, t0.Add(-time.Minute)
	r, err := (&Median{Providers: []Provider{a, b}}).Rate(context.Background())
	if err != nil || !r.At.Equal(t0.Add(-time.Minute)) {
		t.Errorf("At %v, %v; want the older answer's", r.At, err)
	}
}

func TestRatesMedianFailures(t *testing.T) {
	t.Parallel()
	e1, e2 := &fakeProvider{name: "e1"}, &fakeProvider{name: "e2"}
	e1.set(0, errors.New("first down"))
	e2.set(0, errors.New("second down"))
	zero := fixed("zero", 0)
	_, rep, err := (&Median{Providers: []Provider{e1, e2, zero}}).Aggregate(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no provider answered") ||
		!strings.Contains(err.Error(), "first down") || !strings.Contains(err.Error(), "second down") || len(rep.Failed) != 3 {
		t.Errorf("all failing: %v, %+v", err, rep)
	}
	if _, err := (&Median{}).Rate(context.Background()); err == nil {
		t.Error("no providers gave a rate")
	}

	// A provider slower than the round counts as failed, even one that
	// ignores its context; the others are used.
	polite := &fakeProvider{name: "polite", gate: make(chan struct{})}
	rude := &rudeProvider{release: make(chan struct{})}
	t.Cleanup(func() { close(rude.release) })
	start := time.Now()
	r, rep, err := (&Median{Providers: []Provider{fixed("a", base), polite, rude}, Timeout: 50 * time.Millisecond}).Aggregate(context.Background())
	if err != nil || r.MilliKESPerBTC != base || names(rep.Used) != "a" || len(rep.Failed) != 2 {
		t.Errorf("slow providers: %+v, %+v, %v", r, rep, err)
	}
	for _, f := range rep.Failed {
		if !errors.Is(f.Err, context.DeadlineExceeded) {
			t.Errorf("%s failed with %v, want a deadline", f.Source, f.Err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("round took %v despite a 50ms timeout", d)
	}
}

// rudeProvider ignores its context until released.
type rudeProvider struct{ release chan struct{} }

func (p *rudeProvider) Name() string { return "rude" }
func (p *rudeProvider) Rate(context.Context) (Rate, error) {
	<-p.release
	return Rate{MilliKESPerBTC: base}, nil
}
