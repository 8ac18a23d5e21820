package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/umeme-wallet/umeme/internal/store"
)

// A COMMIT whose answer was lost may still run: the caller's deadline
// interrupts the connection (interrupt.go), but the server goes on with the
// COMMIT it was sent. Telling the caller the transaction failed would then
// be a lie the user pays for by sending again.
//
// So InTx settles such a transaction before it returns: from a connection
// of another pool it ends the server thread that ran it (KILL CONNECTION)
// and waits until the thread has left the processlist, which it does only
// after its transaction has ended (committed, or rolled back when its
// session closed). From then on the transaction has committed or never
// will, and reading its idempotency key tells which
// (store.ErrCommitUnanswered). If the thread cannot be ended (the server
// does not answer), the outcome stays unknown (store.ErrOutcomeUnknown).

// erNoSuchThread is KILL's answer for a thread that is already gone.
const erNoSuchThread = 1094

// thread names a server thread: its CONNECTION_ID(), the server's
// @@hostname:@@port, so that behind a proxy, or across a Galera cluster's
// nodes, another server's thread of the same id is never killed for it,
// and the client address the server sees it from, so that after a restart
// (ids start again at 1) a newer thread of the same id is not either.
type thread struct {
	id           uint64 // 0 when not known
	server, host string
}

// identify is the statement that names a connection's thread.
const identify = `SELECT CONNECTION_ID(), CONCAT(@@hostname, ':', @@port),
	(SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID())`

// unansweredCommit is a COMMIT sent on the server thread whose answer
// never came.
type unansweredCommit struct {
	thread thread
	err    error
}

func (e *unansweredCommit) Error() string { return e.err.Error() }
func (e *unansweredCommit) Unwrap() error { return e.err }

// threadOf asks a new connection which server thread it is.
func threadOf(ctx context.Context, dc driver.Conn) (thread, error) {
	q, ok := dc.(driver.QueryerContext)
	if !ok {
		return thread{}, errNotSupported
	}
	rows, err := q.QueryContext(ctx, identify, nil)
	if err != nil {
		return thread{}, fmt.Errorf("connection id: %w", err)
	}
	defer rows.Close()
	v := make([]driver.Value, 3)
	if err := rows.Next(v); err != nil {
		return thread{}, fmt.Errorf("connection id: %w", err)
	}
	var t thread
	switch id := v[0].(type) {
	case int64:
		t.id = uint64(id)
	case uint64:
		t.id = id
	case []byte:
		if t.id, err = strconv.ParseUint(string(id), 10, 64); err != nil {
			return thread{}, fmt.Errorf("connection id: %w", err)
		}
	default:
		return thread{}, fmt.Errorf("connection id: unexpected %T", v[0])
	}
	for i, dst := range []*string{&t.server, &t.host} {
		switch v := v[i+1].(type) {
		case []byte:
			*dst = string(v)
		case string:
			*dst = v
		default:
			return thread{}, fmt.Errorf("connection id: unexpected %T", v)
		}
	}
	return t, nil
}

// settle ends the server thread of a transaction whose COMMIT was not
// answered and classifies cause, the error the caller got (store.Settle).
func (s *Store) settle(ctx context.Context, th thread, cause error) error {
	return store.Settle(ctx, cause, func(ctx context.Context) error { return s.endThread(ctx, th) })
}

// endThread kills thread, if it still runs, and returns once it is gone.
// It runs on the settling pool: InTx's own may be full of transactions
// waiting on the very locks the thread holds.
func (s *Store) endThread(ctx context.Context, th thread) error {
	if th.id == 0 {
		return errors.New("the connection's server thread is not known")
	}
	c, err := s.settler.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var id uint64
	var server, host string
	if err := c.QueryRowContext(ctx, identify).Scan(&id, &server, &host); err != nil {
		return err
	}
	if server != th.server {
		return fmt.Errorf("the thread ran on %s, and this connection reached %s", th.server, server)
	}
	gone := func(ctx context.Context) (bool, error) {
		var n int
		err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND HOST = ?", th.id, th.host).Scan(&n)
		return n == 0, err
	}
	if ok, err := gone(ctx); ok || err != nil {
		return err
	}
	// Thread ids only grow while the server runs: the thread just seen is
	// the one killed. KILL takes no placeholder; the id is a number.
	var me *mysql.MySQLError
	if _, err := c.ExecContext(ctx, "KILL CONNECTION "+strconv.FormatUint(th.id, 10)); err != nil &&
		!(errors.As(err, &me) && me.Number == erNoSuchThread) {
		return err
	}
	return store.UntilGone(ctx, gone)
}

// openSettler opens the small pool settle runs on.
func openSettler(cfg *mysql.Config) (*sql.DB, error) {
	c, err := newConnector(cfg, false)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}
