package sqlvalue

import (
	"database/sql"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

func TestNullRoundTrip(t *testing.T) {
	t.Parallel()
	if v := NullString(""); v.Valid {
		t.Errorf("NullString(\"\") = %+v, want NULL", v)
	}
	if v := NullString("a"); !v.Valid || v.String != "a" {
		t.Errorf("NullString(\"a\") = %+v", v)
	}
	if v := NullInt(0); v.Valid {
		t.Errorf("NullInt(0) = %+v, want NULL", v)
	}
	if v := NullInt(7); !v.Valid || v.Int64 != 7 {
		t.Errorf("NullInt(7) = %+v", v)
	}
	if v := NullTime(nil); v.Valid {
		t.Errorf("NullTime(nil) = %+v, want NULL", v)
	}
	nairobi := time.FixedZone("EAT", 3*3600)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, nairobi)
	v := NullTime(&at)
	if !v.Valid || v.Time.Location() != time.UTC || !v.Time.Equal(at) {
		t.Errorf("NullTime(%v) = %+v, want the same instant in UTC", at, v)
	}
	if p := TimePtr(sql.NullTime{}); p != nil {
		t.Errorf("TimePtr(NULL) = %v, want nil", p)
	}
	if p := TimePtr(sql.NullTime{Time: at, Valid: true}); p == nil || p.Location() != time.UTC || !p.Equal(at) {
		t.Errorf("TimePtr(%v) = %v, want the same instant in UTC", at, p)
	}
	if p := StrPtr(sql.NullString{}); p != nil {
		t.Errorf("StrPtr(NULL) = %q, want nil", *p)
	}
	if p := StrPtr(sql.NullString{Valid: true}); p == nil || *p != "" {
		t.Errorf("StrPtr(empty) = %v, want a pointer to the empty string", p)
	}
}

func TestInt32Saturates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   int
		want int32
	}{{0, 0}, {-5, -5}, {math.MaxInt32, math.MaxInt32}, {math.MaxInt32 + 1, math.MaxInt32}, {math.MinInt32 - 1, math.MinInt32}} {
		if got := Int32(c.in); got != c.want {
			t.Errorf("Int32(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestOne(t *testing.T) {
	t.Parallel()
	retryable := func(err error) error { return store.Classify(store.ErrRetryable, err) }
	if err := One(1, nil, "set x", retryable); err != nil {
		t.Errorf("One(1) = %v, want nil", err)
	}
	if err := One(0, nil, "set x", retryable); !errors.Is(err, store.ErrNotFound) || err.Error() != "not found: set x: no row" {
		t.Errorf("One(0) = %v, want not found", err)
	}
	driver := errors.New("boom")
	if err := One(0, driver, "set x", retryable); !errors.Is(err, store.ErrRetryable) || !errors.Is(err, driver) || err.Error() != "retryable: set x: boom" {
		t.Errorf("One(error) = %v, want the driver's error through interpret", err)
	}
}
