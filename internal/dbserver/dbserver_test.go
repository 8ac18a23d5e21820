package dbserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbserver"
)

// TestDatabaseRestartPrivateServer: a private server keeps what was
// committed across a clean stop and a SIGKILL, comes back on the same port,
// and refuses connections while it is down.
func TestDatabaseRestartPrivateServer(t *testing.T) {
	dbserver.ForEachEngine(t, func(t *testing.T, s *dbserver.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		db, err := database.Open(ctx, s.Database(t), database.Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		port := s.Port
		for _, kill := range []bool{false, true} {
			if err := s.Stop(kill); err != nil {
				t.Fatal(err)
			}
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			if err := db.Ping(pctx); err == nil {
				t.Fatalf("kill=%v: the stopped server answered a ping", kill)
			}
			pcancel()
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if s.Port != port {
				t.Fatalf("port changed from %d to %d", port, s.Port)
			}
			if v, dirty, err := db.MigrationVersion(); err != nil || dirty || v == 0 {
				t.Fatalf("kill=%v: after the restart the schema is at %d (dirty %v): %v", kill, v, dirty, err)
			}
		}
	})
}
