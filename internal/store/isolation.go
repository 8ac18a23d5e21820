package store

import (
	"fmt"
	"strings"
)

// Isolation is the isolation level a store runs its transactions at
// (DB_ISOLATION).
type Isolation string

const (
	// IsolationDefault is each adapter's own, which the wallet's locking
	// is written for: READ COMMITTED with row locks (FOR UPDATE) on
	// PostgreSQL and on MySQL/MariaDB (whose sessions the adapter sets
	// to it), and SQLite's single writer (BEGIN IMMEDIATE), which is
	// serializable already.
	IsolationDefault Isolation = ""
	// IsolationSerializable runs every transaction and statement of a
	// PostgreSQL store at SERIALIZABLE, as CockroachDB and YugabyteDB run
	// theirs: conflicts surface as serialization failures (SQLSTATE 40001)
	// that InTx runs again, and Snapshot reads wait for a snapshot no
	// serialization failure can invalidate (READ ONLY DEFERRABLE). SQLite
	// accepts it and changes nothing (it is serializable); MySQL/MariaDB
	// refuse it (docs/distributed-sql.md says why).
	IsolationSerializable Isolation = "serializable"
)

// ParseIsolation reads a DB_ISOLATION value: empty or "default", or
// "serializable" (in any case).
func ParseIsolation(s string) (Isolation, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default":
		return IsolationDefault, nil
	case "serializable":
		return IsolationSerializable, nil
	}
	return "", fmt.Errorf("isolation %q: want default or serializable", s)
}

// String names the level as DB_ISOLATION spells it.
func (i Isolation) String() string {
	if i == IsolationDefault {
		return "default"
	}
	return string(i)
}
