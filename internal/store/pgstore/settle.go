package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/umeme-wallet/umeme/internal/store"
)

// A COMMIT whose answer never came may still run: pgx gives up on the
// connection at the caller's deadline, but the server goes on with what it
// was sent (the statement waiting for a lock, the COMMIT queued behind it)
// until it next writes to the socket. Telling the caller the transfer
// failed would then be a lie the user pays for by sending again.
//
// So InTx settles such a transaction before it returns: from a connection
// of its own it ends the server process that ran it (pg_terminate_backend)
// and waits until the process has left pg_stat_activity. A backend ends
// its transaction (commit already done, or abort) before it leaves that
// view, so from then on the transaction has committed or never will, and
// reading its idempotency key tells which (store.ErrCommitUnanswered). If
// the process cannot be ended (the server does not answer), the outcome
// stays unknown (store.ErrOutcomeUnknown).

// SettleApplication is the application_name of settle's connections, as
// pg_stat_activity shows them.
const SettleApplication = "umeme settle"

// backend names a server process: its pid and when it started, so that a
// pid the server reused for another session is never taken for it. Both
// are asked of the server when the pool opens the connection (identify):
// the pid the startup handshake gives is a pooler's, not the server's,
// behind one, and a proxy or NAT hides the client's port.
type backend struct {
	pid   int32
	start time.Time
	known bool
}

// backends keeps each pooled connection's backend.
type backends struct{ m sync.Map } // *pgconn.PgConn → backend

// identify is the pool's AfterConnect: it asks the server which backend
// the new connection is.
func (bs *backends) identify(ctx context.Context, c *pgx.Conn) error {
	b := backend{known: true}
	err := c.QueryRow(ctx, "select pid, backend_start from pg_stat_activity where pid = pg_backend_pid()").Scan(&b.pid, &b.start)
	if err != nil {
		return fmt.Errorf("identify the connection's backend: %w", err)
	}
	bs.m.Store(c.PgConn(), b)
	return nil
}

// forget is the pool's BeforeClose.
func (bs *backends) forget(c *pgx.Conn) { bs.m.Delete(c.PgConn()) }

// of is c's backend; known is false if the pool did not open c.
func (bs *backends) of(c *pgconn.PgConn) backend {
	if bs == nil {
		return backend{}
	}
	b, _ := bs.m.Load(c)
	known, _ := b.(backend)
	return known
}

// settle ends the server session of a transaction whose COMMIT was not
// answered and classifies cause, the error the caller got (store.Settle).
func (s *Store) settle(ctx context.Context, b backend, cause error) error {
	return store.Settle(ctx, cause, func(ctx context.Context) error { return s.endBackend(ctx, b) })
}

// endBackend terminates b, if it still runs, and returns once it is gone.
// It dials a connection of its own: the pool may be full of transactions
// waiting on the very locks b holds.
func (s *Store) endBackend(ctx context.Context, b backend) error {
	if !b.known {
		return errors.New("the connection's server process is not known")
	}
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = SettleApplication
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return store.UntilGone(ctx, func(ctx context.Context) (bool, error) {
		// One row while the process is there (its termination asked for
		// again, which is harmless), none once it has gone.
		rows, err := conn.Query(ctx, `select pg_terminate_backend(pid) from pg_stat_activity
			where pid = $1 and backend_start = $2`, b.pid, b.start)
		if err != nil {
			return false, err
		}
		alive := rows.Next()
		rows.Close()
		return !alive, rows.Err()
	})
}
