package sqlitestore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite lets one connection write at a time. A connection that finds the
// write lock taken waits in the driver's busy handler, which sleeps 1, 2,
// 5, 10, 15, 20, 25, … 100 ms between tries: a writer that lost the race
// once sleeps on after the lock is free, and under load those sleeps are
// the tail of every latency. So the writers of this process queue here
// instead, and the next one starts the moment the last one ends.
//
// The gate is a driver wrapper, so that it covers every way a statement
// reaches SQLite: a read-write transaction (InTx: BEGIN IMMEDIATE) holds it
// from BEGIN to COMMIT or ROLLBACK; a statement outside a transaction
// (Autocommit, bulk) holds it while it runs when it may write. A read-only
// transaction (Snapshot) and a SELECT outside one never wait here: in WAL
// mode readers do not block writers nor writers readers.
//
// What the gate changes is only who waits where: correctness still rests
// on SQLite's own lock, which every writer still takes. A statement taken
// for a read that writes would meet the busy handler as before; one taken
// for a write that only reads would queue behind writers. Other processes
// on the same file (the admin commands) do not share the gate and meet
// the busy timeout as before.

// errGateTimeout is a writer that waited for the gate as long as SQLite's
// busy timeout: interpret makes it retryable, like SQLITE_BUSY.
var errGateTimeout = errors.New("sqlite: waited too long for the write lock of this process")

// gate is a lock that a waiter can give up on.
type gate struct {
	ch      chan struct{}
	timeout time.Duration
	waiting atomic.Int64 // writers waiting now (for tests)
}

func newGate(timeout time.Duration) *gate {
	return &gate{ch: make(chan struct{}, 1), timeout: timeout}
}

// enter waits for the gate, until ctx ends or the busy timeout passes.
func (g *gate) enter(ctx context.Context) error {
	select {
	case g.ch <- struct{}{}:
		return nil
	default:
	}
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.timeout)
	defer t.Stop()
	select {
	case g.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errGateTimeout
	}
}

func (g *gate) leave() { <-g.ch }

// mayWrite is false only for a statement that is one SELECT (after leading
// space and comments): anything else, and any text of several statements,
// is taken to write.
func mayWrite(query string) bool {
	if strings.Contains(strings.TrimRight(query, " \t\r\n;"), ";") {
		return true
	}
	q := query
skip:
	for {
		q = strings.TrimLeft(q, " \t\r\n")
		for _, c := range comments {
			if strings.HasPrefix(q, c.open) {
				i := strings.Index(q, c.close)
				if i < 0 {
					return true
				}
				q = q[i+len(c.close):]
				continue skip
			}
		}
		break
	}
	return len(q) < 6 || !strings.EqualFold(q[:6], "select")
}

// comments are SQL's two kinds, by how each opens and ends.
var comments = [...]struct{ open, close string }{{"--", "\n"}, {"/*", "*/"}}

// gatedDriver opens gatedConns over SQLite's driver.
type gatedDriver struct {
	driver.Driver
	gate *gate
}

func (d gatedDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	sc, ok := c.(sqliteConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("sqlite: the driver's connection %T lacks an interface the gate forwards", c)
	}
	return &gatedConn{c: sc, gate: d.gate}, nil
}

// connector makes database/sql open connections through the gate.
type connector struct {
	dsn string
	d   gatedDriver
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.d }

// The interfaces of SQLite's connection that database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// gatedConn is one connection. database/sql uses a connection from one
// goroutine at a time, so inTx needs no lock.
type gatedConn struct {
	c    sqliteConn
	gate *gate
	// inTx is set while a read-write transaction of this connection holds
	// the gate: its statements pass straight through.
	inTx bool
}

var (
	_ sqliteConn              = (*gatedConn)(nil)
	_ driver.StmtExecContext  = (*gatedStmt)(nil)
	_ driver.StmtQueryContext = (*gatedStmt)(nil)
)

// Close gives the gate back if a transaction of the connection still held
// it (database/sql ends every transaction first; this is for safety).
func (c *gatedConn) Close() error {
	c.endTx()
	return c.c.Close()
}

// endTx gives back the gate a transaction of the connection holds, once.
func (c *gatedConn) endTx() {
	if c.inTx {
		c.inTx = false
		c.gate.leave()
	}
}

func (c *gatedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx takes the gate for a read-write transaction, before SQLite's
// BEGIN IMMEDIATE takes the write lock, and keeps it until the end.
func (c *gatedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if opts.ReadOnly {
		return c.c.BeginTx(ctx, opts)
	}
	if err := c.gate.enter(ctx); err != nil {
		return nil, err
	}
	tx, err := c.c.BeginTx(ctx, opts)
	if err != nil {
		c.gate.leave()
		return nil, err
	}
	c.inTx = true
	return &gatedTx{tx: tx, c: c}, nil
}

func (c *gatedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *gatedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &gatedStmt{s: s, c: c, write: mayWrite(query)}, nil
}

// enter takes the gate for one statement outside a transaction that may
// write; the func returned gives it back (nil when none was taken).
func (c *gatedConn) enter(ctx context.Context, write bool) (func(), error) {
	if !write || c.inTx {
		return nil, nil
	}
	if err := c.gate.enter(ctx); err != nil {
		return nil, err
	}
	return sync.OnceFunc(c.gate.leave), nil
}

// run calls leave, if any.
func run(leave func()) {
	if leave != nil {
		leave()
	}
}

func (c *gatedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	leave, err := c.enter(ctx, mayWrite(query))
	if err != nil {
		return nil, err
	}
	defer run(leave)
	return c.c.ExecContext(ctx, query, args)
}

func (c *gatedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	leave, err := c.enter(ctx, mayWrite(query))
	if err != nil {
		return nil, err
	}
	return gatedRows(leave, func() (driver.Rows, error) { return c.c.QueryContext(ctx, query, args) })
}

func (c *gatedConn) Ping(ctx context.Context) error { return c.c.Ping(ctx) }

func (c *gatedConn) ResetSession(ctx context.Context) error { return c.c.ResetSession(ctx) }

func (c *gatedConn) IsValid() bool { return c.c.IsValid() }

// gatedTx gives the gate back when the transaction ends, however it ends.
type gatedTx struct {
	tx driver.Tx
	c  *gatedConn
}

func (t *gatedTx) Commit() error {
	defer t.c.endTx()
	return t.tx.Commit()
}

func (t *gatedTx) Rollback() error {
	defer t.c.endTx()
	return t.tx.Rollback()
}

// gatedStmt is a prepared statement: outside a transaction, one that may
// write takes the gate while it runs.
type gatedStmt struct {
	s     driver.Stmt
	c     *gatedConn
	write bool
}

func (s *gatedStmt) Close() error  { return s.s.Close() }
func (s *gatedStmt) NumInput() int { return s.s.NumInput() }

func (s *gatedStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *gatedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *gatedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	leave, err := s.c.enter(ctx, s.write)
	if err != nil {
		return nil, err
	}
	defer run(leave)
	return s.s.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *gatedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	leave, err := s.c.enter(ctx, s.write)
	if err != nil {
		return nil, err
	}
	return gatedRows(leave, func() (driver.Rows, error) { return s.s.(driver.StmtQueryContext).QueryContext(ctx, args) })
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// gatedRows runs query and keeps the gate until its rows are closed: a
// statement that writes and returns rows (INSERT … RETURNING) holds the
// write lock until it is reset. The gate is given back at once when query
// fails or panics. Rows without a gate are returned as they are.
func gatedRows(leave func(), query func() (driver.Rows, error)) (_ driver.Rows, err error) {
	if leave == nil {
		return query()
	}
	kept := false
	defer func() {
		if !kept {
			leave()
		}
	}()
	rows, err := query()
	if err != nil {
		return nil, err
	}
	kept = true
	return &rowsLeaving{Rows: rows, leave: leave}, nil
}

// rowsLeaving gives the gate back at Close. database/sql reads column
// types through the optional interfaces, forwarded here.
type rowsLeaving struct {
	driver.Rows
	leave func()
}

func (r *rowsLeaving) Close() error {
	defer r.leave()
	return r.Rows.Close()
}

func (r *rowsLeaving) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *rowsLeaving) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *rowsLeaving) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *rowsLeaving) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *rowsLeaving) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
