package mysqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// InTx runs on connections of their own, whose sessions have autocommit
// off, so that a transaction begins with its first statement instead of a
// START TRANSACTION round trip of its own: a transfer is then the two rows,
// the CALL and the COMMIT, three round trips instead of four. Measured on
// the 2-core bench machine, alternating one-second slices of 8 clients
// with and without it on one database: 5.7 % more transfers a second, 7 %
// less CPU (client and server) a transfer.
//
// The rules that keep it as safe as START TRANSACTION:
//   - such a connection serves InTx only (its own pool, Store.txdb): a
//     statement on it outside a transaction would leave one open, holding
//     its locks until some later COMMIT, so the connection refuses it;
//   - COMMIT and ROLLBACK are sent as the driver sends them; if either
//     fails, the connection is not used again, so no half-ended transaction
//     can be carried into the next one;
//   - a transaction with other options (Snapshot's read-only REPEATABLE
//     READ) runs on the other pool, as before;
//   - a deadlock (1213) ends the transaction: InnoDB rolled all of it back,
//     and with autocommit off a later statement would begin a new one that
//     COMMIT would keep, half of what the caller meant. So later statements
//     are refused with the deadlock's error and COMMIT rolls back and
//     returns it, even if the caller went on. (With START TRANSACTION each
//     later statement committed on its own.)
//
// Under READ COMMITTED every statement reads its own snapshot, so a
// transaction that begins with its first statement sees and locks exactly
// what one begun by START TRANSACTION would.

// errOutsideTx is a statement sent on a transaction-only connection
// outside a transaction.
var errOutsideTx = errors.New("mysqlstore: statement outside a transaction on a transaction-only connection")

// lazyTx is a transaction on a session with autocommit off: the server
// began it with its first statement.
type lazyTx struct{ c *conn }

func (t lazyTx) Commit() error {
	if aborted := t.c.aborted; aborted != nil {
		_ = t.c.end("ROLLBACK")
		return fmt.Errorf("commit: %w", aborted)
	}
	return t.c.end("COMMIT")
}
func (t lazyTx) Rollback() error { return t.c.end("ROLLBACK") }

// beginLazy starts a transaction on a transaction-only connection without
// a round trip, or reports that it cannot (other options).
func (c *conn) beginLazy(opts driver.TxOptions) (driver.Tx, bool, error) {
	if !c.txOnly {
		return nil, false, nil
	}
	if opts.Isolation != driver.IsolationLevel(0) || opts.ReadOnly {
		return nil, true, errors.New("mysqlstore: a transaction-only connection runs default transactions only")
	}
	if !c.reusable() {
		return nil, true, driver.ErrBadConn
	}
	c.inTx, c.aborted = true, nil
	return lazyTx{c}, true, nil
}

// end sends COMMIT or ROLLBACK, ending the transaction; a connection whose
// end failed is not used again. A COMMIT sent whose answer was lost (the
// transaction's context interrupted the connection, or the network failed)
// is an *unansweredCommit, for InTx to settle.
func (c *conn) end(stmt string) error {
	c.inTx, c.aborted = false, nil
	e, ok := c.inner.(driver.ExecerContext)
	if !ok {
		c.broken = true
		return errNotSupported
	}
	if _, err := e.ExecContext(context.Background(), stmt, nil); err != nil {
		c.broken = true
		var me *mysql.MySQLError
		if stmt == "COMMIT" && !errors.As(err, &me) && !errors.Is(err, driver.ErrBadConn) {
			// Neither the server's answer nor a failure before anything
			// was written (the driver's ErrBadConn).
			return &unansweredCommit{thread: c.thread, err: err}
		}
		return err
	}
	return nil
}

// reusable reports whether a new transaction may begin on c: none is
// running, and no end of one failed.
func (c *conn) reusable() bool { return !c.inTx && !c.broken }

// guarded runs a statement on c under the rules above: refused where it
// may not run, and a deadlock it meets noted.
func guarded[T any](c *conn, run func() (T, error)) (T, error) {
	if err := c.statement(); err != nil {
		var none T
		return none, err
	}
	r, err := run()
	return r, c.observe(err)
}

// statement reports whether a statement may run now: on a
// transaction-only connection, only inside a transaction.
func (c *conn) statement() error {
	switch {
	case c.txOnly && !c.inTx:
		return errOutsideTx
	case c.aborted != nil:
		return fmt.Errorf("the transaction was rolled back: %w", c.aborted)
	}
	return nil
}

// observe notes a deadlock that ended a lazy transaction, and returns err.
func (c *conn) observe(err error) error {
	var me *mysql.MySQLError
	if err != nil && c.txOnly && c.inTx && errors.As(err, &me) && me.Number == erLockDeadlock {
		c.aborted = err
	}
	return err
}
