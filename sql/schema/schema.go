// Package schema embeds the golang-migrate migrations of every engine, so the
// server binary carries its own schema. The same folders are sqlc's schema.
package schema

import "embed"

// FS holds one folder of migrations per engine: sqlite, mysql and postgres.
//
//go:embed sqlite/*.sql mysql/*.sql postgres/*.sql
var FS embed.FS
