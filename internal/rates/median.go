package rates

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Defaults of Median.
const (
	DefaultMedianTimeout = 2 * time.Second
	// DefaultMaxDeviationBps drops answers more than 1 % from the median.
	DefaultMaxDeviationBps = 100
)

// Median asks several providers at once and agrees on one price, as LNbits
// does: answers further than MaxDeviationBps from their median are dropped
// as outliers, and the rest are averaged. One source that is down, slow or
// wrong therefore neither stops quotes nor moves the price.
type Median struct {
	Providers []Provider
	// Timeout bounds the whole round; a provider still silent then counts
	// as failed. Zero means DefaultMedianTimeout.
	Timeout time.Duration
	// MaxDeviationBps is how far (in 1/10000) an answer may be from the
	// median and still be used, inclusive. Zero means
	// DefaultMaxDeviationBps.
	MaxDeviationBps int
	// Observe, if set, is given the report of each round Rate makes, for
	// logging which sources were used, dropped and failed.
	Observe func(Report)
	// Now stamps a round; nil means time.Now.
	Now func() time.Time
}

// Answer is one provider's price in a round.
type Answer struct {
	Source         string
	MilliKESPerBTC int64
	At             time.Time
}

// Failure is a provider that did not answer in a round.
type Failure struct {
	Source string
	Err    error
}

// Report tells how a round went: the median of the answers, which answers
// were averaged (Used), which were dropped as outliers, and which providers
// failed.
type Report struct {
	MedianMilliKESPerBTC int64
	Used                 []Answer
	Dropped              []Answer
	Failed               []Failure
}

// String is a one-line summary for logs.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "median %d milli-KES/BTC; used", r.MedianMilliKESPerBTC)
	for _, a := range r.Used {
		fmt.Fprintf(&b, " %s=%d", a.Source, a.MilliKESPerBTC)
	}
	if len(r.Dropped) > 0 {
		b.WriteString("; dropped")
		for _, a := range r.Dropped {
			fmt.Fprintf(&b, " %s=%d", a.Source, a.MilliKESPerBTC)
		}
	}
	if len(r.Failed) > 0 {
		b.WriteString("; failed")
		for _, f := range r.Failed {
			fmt.Fprintf(&b, " %s", f.Source)
		}
	}
	return b.String()
}

// Name is "median".
func (m *Median) Name() string { return "median" }

// Rate makes a round (Aggregate) and hands its report to Observe.
func (m *Median) Rate(ctx context.Context) (Rate, error) {
	r, rep, err := m.Aggregate(ctx)
	if m.Observe != nil {
		m.Observe(rep)
	}
	return r, err
}

// Aggregate asks every provider in parallel, within Timeout, and returns
// the mean of the answers within MaxDeviationBps of their median. The mean
// is exact and rounded down to the thousandth of a shilling. The rate's At
// is the oldest At among the answers used, so its age is never understated.
// It is an error if no provider answered.
func (m *Median) Aggregate(ctx context.Context) (Rate, Report, error) {
	var rep Report
	if len(m.Providers) == 0 {
		return Rate{}, rep, errors.New("median: no providers")
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = DefaultMedianTimeout
	}
	maxDev := m.MaxDeviationBps
	if maxDev <= 0 {
		maxDev = DefaultMaxDeviationBps
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	type result struct {
		i   int
		r   Rate
		err error
	}
	// Buffered so a provider that ignores its context and answers late
	// does not block forever.
	results := make(chan result, len(m.Providers))
	for i, p := range m.Providers {
		go func() {
			r, err := p.Rate(ctx)
			results <- result{i, r, err}
		}()
	}
	got := make([]*result, len(m.Providers))
collect:
	for range m.Providers {
		select {
		case res := <-results:
			got[res.i] = &res
		case <-ctx.Done():
			break collect
		}
	}
	var answers []Answer
	for i, p := range m.Providers {
		switch res := got[i]; {
		case res == nil:
			rep.Failed = append(rep.Failed, Failure{p.Name(), fmt.Errorf("no answer: %w", ctx.Err())})
		case res.err != nil:
			rep.Failed = append(rep.Failed, Failure{p.Name(), res.err})
		case res.r.MilliKESPerBTC <= 0:
			rep.Failed = append(rep.Failed, Failure{p.Name(), fmt.Errorf("%w: %d milli-KES/BTC", ErrInvalidRate, res.r.MilliKESPerBTC)})
		default:
			answers = append(answers, Answer{p.Name(), res.r.MilliKESPerBTC, res.r.At})
		}
	}
	if len(answers) == 0 {
		errs := make([]error, 0, len(rep.Failed))
		for _, f := range rep.Failed {
			errs = append(errs, f.Err)
		}
		return Rate{}, rep, fmt.Errorf("median: no provider answered: %w", errors.Join(errs...))
	}

	// twiceMedian is 2 × the median, so the median of an even count (the
	// mean of the middle two) stays an integer.
	sorted := make([]int64, len(answers))
	for i, a := range answers {
		sorted[i] = a.MilliKESPerBTC
	}
	slices.Sort(sorted)
	n := len(sorted)
	twiceMedian := new(big.Int)
	if n%2 == 1 {
		twiceMedian.Lsh(big.NewInt(sorted[n/2]), 1)
	} else {
		twiceMedian.Add(big.NewInt(sorted[n/2-1]), big.NewInt(sorted[n/2]))
	}
	rep.MedianMilliKESPerBTC = new(big.Int).Rsh(twiceMedian, 1).Int64()

	// Used if |a − median| ≤ median × maxDev / 10000, that is
	// |2a − 2median| × 10000 ≤ 2median × maxDev, in integers.
	limit := new(big.Int).Mul(twiceMedian, big.NewInt(int64(maxDev)))
	sum := new(big.Int)
	var oldest time.Time
	for _, a := range answers {
		d := new(big.Int).Lsh(big.NewInt(a.MilliKESPerBTC), 1)
		d.Sub(d, twiceMedian).Abs(d).Mul(d, big.NewInt(10_000))
		if d.Cmp(limit) > 0 {
			rep.Dropped = append(rep.Dropped, a)
			continue
		}
		rep.Used = append(rep.Used, a)
		sum.Add(sum, big.NewInt(a.MilliKESPerBTC))
		if oldest.IsZero() || (!a.At.IsZero() && a.At.Before(oldest)) {
			oldest = a.At
		}
	}
	if len(rep.Used) == 0 {
		// Only possible with an even count whose middle two are further
		// apart than twice the bound: no price is agreed on.
		return Rate{}, rep, fmt.Errorf("median: sources disagree by more than %d bps: %s", maxDev, rep)
	}
	// The mean of int64 values fits an int64.
	mean := sum.Quo(sum, big.NewInt(int64(len(rep.Used)))).Int64()
	if oldest.IsZero() {
		oldest = now(m.Now)
	}
	names := make([]string, len(rep.Used))
	for i, a := range rep.Used {
		names[i] = a.Source
	}
	return Rate{MilliKESPerBTC: mean, At: oldest, Source: "median(" + strings.Join(names, ",") + ")"}, rep, nil
}
