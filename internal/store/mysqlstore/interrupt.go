package mysqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Inside a transaction (InTx, Snapshot) the driver gets the statements'
// contexts without their cancellation, and the transaction's context
// interrupts its connection instead.
//
// Why: the driver watches a cancellable context through a goroutine per
// connection, handing every statement's context to it and waiting for it
// to take the statement's end: two thread wake-ups per round trip.
// Measured on the 2-core bench machine, the Go side of a MariaDB transfer
// cost 0.55 ms of CPU against 0.17 ms for sysbench sending the same
// statements, on cores it shares with the server.
//
// How a context still ends a transaction: every connection the store
// dials is kept by its driver connection (conn), and interruptibly
// registers context.AfterFunc on the transaction's context to set a
// deadline in the past on that network connection. A statement blocked
// on the server then returns at once with an i/o error, the driver closes
// the connection (an unknown outcome, as for any lost connection), and the
// transaction returns the context's error with it. A connection
// interrupted after its last statement is not put back in the pool.

// netConn is a network connection of the store's.
type netConn struct{ net.Conn }

// SyscallConn lets the driver check a pooled connection's liveness, as on
// the bare TCP connection.
func (c *netConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, syscall.EINVAL
}

// interrupt makes the connection's pending and future reads and writes
// fail at once.
func (c *netConn) interrupt() { _ = c.Conn.SetDeadline(time.Unix(1, 0)) }

// dialSlot carries, in the context of a Connect, where dial leaves the
// connection it made.
type dialSlot struct{}

// dial is the driver's DialFunc: a TCP connection with keep-alives, as the
// driver's own, left in the Connect's slot.
func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetKeepAlive(true)
	}
	nc := &netConn{Conn: c}
	if slot, ok := ctx.Value(dialSlot{}).(**netConn); ok {
		*slot = nc
	}
	return nc, nil
}

// connector makes the driver's connections, each wrapped in a conn that
// knows its network connection; with txOnly, connections whose sessions
// have autocommit off, for InTx alone (begin.go).
type connector struct {
	driver.Connector
	txOnly bool
}

func newConnector(cfg *mysql.Config, txOnly bool) (driver.Connector, error) {
	cfg = cfg.Clone()
	cfg.DialFunc = dial
	if txOnly {
		cfg.Params["autocommit"] = "0"
	}
	inner, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return connector{Connector: inner, txOnly: txOnly}, nil
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	var nc *netConn
	dc, err := c.Connector.Connect(context.WithValue(ctx, dialSlot{}, &nc))
	if err != nil {
		return nil, err
	}
	cn := &conn{inner: dc, nc: nc, txOnly: c.txOnly}
	if c.txOnly {
		// InTx's connections know their server thread, to end it after a
		// COMMIT whose answer was lost (settle.go).
		if cn.thread, err = threadOf(ctx, dc); err != nil {
			_ = dc.Close()
			return nil, err
		}
	}
	return cn, nil
}

// conn is the driver's connection, whose statements get their contexts
// without cancellation while quiet is set.
type conn struct {
	inner driver.Conn
	nc    *netConn // nil if the driver dialled it some other way
	quiet atomic.Bool

	// txOnly marks a connection of InTx's pool, with autocommit off; inTx
	// is set while a transaction runs on it, and broken once an end of one
	// failed (begin.go). database/sql never uses a connection from two
	// goroutines at once.
	txOnly, inTx, broken bool
	// aborted is the deadlock that ended the transaction running on a
	// connection of InTx's pool (begin.go).
	aborted error
	// thread is the server thread of a connection of InTx's pool.
	thread thread
}

// ctx is what the driver gets of a statement's context.
func (c *conn) ctx(ctx context.Context) context.Context {
	if c.quiet.Load() {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

var errNotSupported = errors.New("mysqlstore: the driver's connection lacks an interface")

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}
func (c *conn) Close() error { return c.inner.Close() }

//nolint:staticcheck // database/sql calls BeginTx; Begin is the interface's.
func (c *conn) Begin() (driver.Tx, error) { return c.BeginTx(context.Background(), driver.TxOptions{}) }

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if t, lazy, err := c.beginLazy(opts); lazy {
		return t, err
	}
	if b, ok := c.inner.(driver.ConnBeginTx); ok {
		return b.BeginTx(c.ctx(ctx), opts)
	}
	return nil, errNotSupported
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	p, ok := c.inner.(driver.ConnPrepareContext)
	if !ok {
		return nil, errNotSupported
	}
	s, err := p.PrepareContext(c.ctx(ctx), query)
	if err != nil {
		return nil, err
	}
	return &stmt{inner: s, c: c}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := c.inner.(driver.ExecerContext); ok {
		return guarded(c, func() (driver.Result, error) { return e.ExecContext(c.ctx(ctx), query, args) })
	}
	return nil, driver.ErrSkip
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := c.inner.(driver.QueryerContext); ok {
		return guarded(c, func() (driver.Rows, error) { return q.QueryContext(c.ctx(ctx), query, args) })
	}
	return nil, driver.ErrSkip
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if !c.reusable() {
		return driver.ErrBadConn
	}
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if !c.reusable() {
		return false
	}
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.inner.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// stmt is a statement prepared on a conn.
type stmt struct {
	inner driver.Stmt
	c     *conn
}

func (s *stmt) Close() error  { return s.inner.Close() }
func (s *stmt) NumInput() int { return s.inner.NumInput() }

//nolint:staticcheck // database/sql calls ExecContext; Exec is the interface's.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return guarded(s.c, func() (driver.Result, error) { return s.inner.Exec(args) })
}

//nolint:staticcheck // database/sql calls QueryContext; Query is the interface's.
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return guarded(s.c, func() (driver.Rows, error) { return s.inner.Query(args) })
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := s.inner.(driver.StmtExecContext); ok {
		return guarded(s.c, func() (driver.Result, error) { return e.ExecContext(s.c.ctx(ctx), args) })
	}
	return nil, errNotSupported
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := s.inner.(driver.StmtQueryContext); ok {
		return guarded(s.c, func() (driver.Rows, error) { return q.QueryContext(s.c.ctx(ctx), args) })
	}
	return nil, errNotSupported
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := s.inner.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (s *stmt) ColumnConverter(idx int) driver.ValueConverter {
	if c, ok := s.inner.(driver.ColumnConverter); ok { //nolint:staticcheck // the driver's own converter
		return c.ColumnConverter(idx)
	}
	return driver.DefaultParameterConverter
}
