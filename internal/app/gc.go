package app

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target the server runs with unless
// the environment sets GOGC: the heap may grow to three times what is live
// (Go's default, 100, is twice).
//
// Every PIN check allocates the Argon2 hash's 4 MiB while the server's live
// heap is about 10 MB, so at Go's default a collection runs every few PIN
// checks. Measured with `bench ussd` (32 sessions, 12 s, on the 2-vCPU VM,
// GOGC=100 then 200, twice per engine): CPU per hop 1.03-1.06 → 0.91 ms on
// PostgreSQL, 1.01-1.12 → 0.96-1.01 ms on MariaDB, 1.24-1.29 → 1.03 ms on
// SQLite; hops/s up 4-25 %. GOGC=400 did no better on p99. The cost is a
// larger heap under load, which GOMEMLIMIT can cap.
const GCPercent = 200

// tuneGC sets GCPercent, unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(GCPercent)
	}
}
