package sms_test

import (
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/sms"
)

func TestSMSBackoffBounds(t *testing.T) {
	steps := map[int]time.Duration{
		-1: 10 * time.Second, 0: 10 * time.Second, 1: 10 * time.Second, 2: 20 * time.Second,
		3: 40 * time.Second, 7: 640 * time.Second, 8: 1280 * time.Second,
		9: 30 * time.Minute, 64: 30 * time.Minute, 1 << 30: 30 * time.Minute,
	}
	for attempt, step := range steps {
		lo, hi := step, time.Duration(0)
		for range 200 {
			d := sms.Backoff(attempt)
			if d < step/2 || d > step {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", attempt, d, step/2, step)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// 200 draws from a uniform spread of seconds or more never all
		// land within a quarter of it unless the jitter is missing.
		if hi-lo < step/4 {
			t.Errorf("Backoff(%d) spread only %v..%v: no jitter", attempt, lo, hi)
		}
	}
}
