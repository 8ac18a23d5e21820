package sms

import (
	"math/rand/v2"
	"time"
)

// DefaultMaxAttempts is how many times a message is sent before it is
// given up on. With Backoff's delays the eighth attempt comes 11 to 22
// minutes (16 on average) after the first: long enough to ride out a
// gateway outage, short enough that an invoice texted is still payable.
const DefaultMaxAttempts = 8

// Backoff bounds.
const (
	BackoffBase = 10 * time.Second
	BackoffCap  = 30 * time.Minute
)

// Backoff is how long to wait after the attempt-th failed attempt of a
// message (1 after the first) before the next: exponential from
// BackoffBase, doubling, capped at BackoffCap, with "equal jitter": a
// uniformly random delay between half and all of that step.
//
// Equal rather than full jitter: full jitter (0 to the step) may retry at
// once, hammering a gateway that has just failed; half the step is always
// waited, and the other half spreads out the burst of retries that an
// outage leaves behind (every queued text failing at the same moment).
// An attempt below 1 counts as 1.
func Backoff(attempt int) time.Duration {
	step := BackoffCap
	if attempt < 1 {
		attempt = 1
	}
	// 10 s << 8 is already past the cap; larger shifts would overflow.
	if attempt <= 8 {
		step = min(BackoffBase<<(attempt-1), BackoffCap)
	}
	half := step / 2
	return half + rand.N(step-half+1)
}
