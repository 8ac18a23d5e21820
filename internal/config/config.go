// Package config reads the server's settings from the environment, which
// command-line flags may override. Secrets come only from here and are never
// logged.
package config

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Config is everything the server is told from outside.
type Config struct {
	// DatabaseURL selects the engine: sqlite:PATH, mysql://… or postgres://….
	DatabaseURL string
	// DBMaxConns caps the connection pool (0: the engine's default).
	DBMaxConns int
	// ListenAddr is where the HTTP server listens.
	ListenAddr string
	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout time.Duration
}

// Default is the embedded default: SQLite under data/, port 8080.
func Default() Config {
	return Config{
		DatabaseURL:     "sqlite:data/umeme.db",
		ListenAddr:      ":8080",
		ShutdownTimeout: 10 * time.Second,
	}
}

// FromEnv reads the environment over the defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Default()
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	var err error
	integer := func(name string, dst *int) {
		if v := getenv(name); v != "" && err == nil {
			if *dst, err = strconv.Atoi(v); err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	duration := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" && err == nil {
			if *dst, err = time.ParseDuration(v); err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	str("DATABASE_URL", &c.DatabaseURL)
	integer("DB_MAX_CONNS", &c.DBMaxConns)
	str("LISTEN_ADDR", &c.ListenAddr)
	duration("SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	return c, err
}

// Flags registers flags that override the environment on fs.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "database URL (env DATABASE_URL)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "connection pool size (env DB_MAX_CONNS)")
	fs.StringVar(&c.ListenAddr, "listen", c.ListenAddr, "HTTP listen address (env LISTEN_ADDR)")
}

// Load reads the environment, then the flags in args.
func Load(fs *flag.FlagSet, args []string) (Config, error) {
	c, err := FromEnv(os.Getenv)
	if err != nil {
		return c, err
	}
	c.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, nil
}
