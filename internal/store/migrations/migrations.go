// Package migrations applies the embedded schema migrations with
// golang-migrate, the only way the schema changes.
package migrations

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/database/mysql"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/umeme-wallet/umeme/sql/schema"
)

// Direction is what to do: migrate all the way up, or one step down.
type Direction string

// The directions.
const (
	Up   Direction = "up"
	Down Direction = "down"
)

// newMigrate binds the engine's migration folder to an open database.
// golang-migrate's drivers hold one connection of db until the migrator is
// closed, and closing it closes db too: so db must be a handle of its own,
// not the pool the store serves from.
func newMigrate(engine string, db *sql.DB) (*migrate.Migrate, error) {
	src, err := iofs.New(schema.FS, engine)
	if err != nil {
		return nil, fmt.Errorf("migration source %s: %w", engine, err)
	}
	var drv database.Driver
	switch engine {
	case "sqlite":
		drv, err = sqlite.WithInstance(db, &sqlite.Config{})
	case "mysql":
		drv, err = mysql.WithInstance(db, &mysql.Config{})
	case "postgres":
		drv, err = pgxmigrate.WithInstance(db, &pgxmigrate.Config{})
	default:
		return nil, fmt.Errorf("no migrations for engine %q", engine)
	}
	if err != nil {
		return nil, fmt.Errorf("migration driver %s: %w", engine, err)
	}
	m, err := migrate.NewWithInstance("iofs", src, engine, drv)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", engine, err)
	}
	return m, nil
}

// Run applies migrations in the given direction: Up applies every pending
// one, Down reverts the latest one. It takes db over and closes it.
func Run(engine string, db *sql.DB, dir Direction) (err error) {
	m, err := newMigrate(engine, db)
	if err != nil {
		db.Close()
		return err
	}
	defer closeMigrate(m, &err)
	switch dir {
	case Up:
		err = m.Up()
	case Down:
		err = m.Steps(-1)
	default:
		return fmt.Errorf("unknown migration direction %q", dir)
	}
	if err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate %s %s: %w", engine, dir, err)
	}
	return nil
}

// Version reports the schema version and whether a failed migration left it
// dirty; version 0 means no migration has run. It takes db over and closes it.
func Version(engine string, db *sql.DB) (v uint, dirty bool, err error) {
	m, err := newMigrate(engine, db)
	if err != nil {
		db.Close()
		return 0, false, err
	}
	defer closeMigrate(m, &err)
	v, dirty, err = m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("migration version %s: %w", engine, err)
	}
	return v, dirty, nil
}

// closeMigrate releases the migrator, its connection and its database.
func closeMigrate(m *migrate.Migrate, err *error) {
	srcErr, dbErr := m.Close()
	if *err == nil {
		*err = errors.Join(srcErr, dbErr)
	}
}
