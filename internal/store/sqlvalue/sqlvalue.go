// Package sqlvalue holds the conversions the store adapters share between
// domain values and the values that cross database/sql: the domain's zero
// values stand for NULL (an empty string, a zero id, a nil time), counts
// narrow to INT columns without wrapping, and an update that matched no row
// is not found. Conversions that depend on one engine's generated types
// (pgx's pointers for nullable columns, say) stay in that engine's adapter.
package sqlvalue

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// NullString is s, or NULL when s is empty.
func NullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// NullInt is i, or NULL when i is zero (an id that is not set).
func NullInt(i int64) sql.NullInt64 { return sql.NullInt64{Int64: i, Valid: i != 0} }

// NullTime is *t in UTC, or NULL when t is nil.
func NullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

// TimePtr is the time in UTC, or nil when it is NULL.
func TimePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// StrPtr is the string, or nil when it is NULL (unlike NullString's
// reverse, an empty string read back stays an empty string).
func StrPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// Int32 narrows a count for an INT column's parameter, saturating instead
// of wrapping around.
func Int32(n int) int32 { return int32(max(min(n, math.MaxInt32), math.MinInt32)) }

// One turns an update's row count into store.ErrNotFound when it matched
// nothing; a driver error is wrapped with what and normalised by the
// adapter's interpret.
func One(n int64, err error, what string, interpret func(error) error) error {
	if err != nil {
		return interpret(fmt.Errorf("%s: %w", what, err))
	}
	if n == 0 {
		return store.Classify(store.ErrNotFound, errors.New(what+": no row"))
	}
	return nil
}

// PoolStats reads a database/sql pool's use as the store reports it.
func PoolStats(db *sql.DB) store.PoolStats {
	s := db.Stats()
	return store.PoolStats{
		MaxOpen: s.MaxOpenConnections, Open: s.OpenConnections, InUse: s.InUse, Idle: s.Idle,
		WaitCount: s.WaitCount, WaitDuration: s.WaitDuration,
	}
}
