package ratelimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := New(3, time.Minute)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if !l.Allow("a", t0) {
			t.Fatalf("event %d refused within the burst", i+1)
		}
	}
	if l.Allow("a", t0) {
		t.Fatal("fourth event in the same instant allowed")
	}
	if !l.Allow("b", t0) {
		t.Fatal("another key is limited by the first")
	}
	if !l.Allow("a", t0.Add(20*time.Second)) {
		t.Fatal("a token did not come back after a third of the period")
	}
	if l.Allow("a", t0.Add(21*time.Second)) {
		t.Fatal("more than one token came back")
	}
	if !l.Allow("a", t0.Add(3*time.Minute)) || len(l.buckets) != 1 {
		t.Fatalf("after a quiet period: buckets %d", len(l.buckets))
	}
}
