package mysqlstore

import (
	"database/sql"
	"database/sql/driver"
)

// What the tests of begin.go reach inside the store.

// TxPool is InTx's pool, OtherPool the pool of everything else.
func TxPool(s *Store) *sql.DB    { return s.txdb }
func OtherPool(s *Store) *sql.DB { return s.db }

// ErrOutsideTx is a statement refused on InTx's pool outside a transaction.
var ErrOutsideTx = errOutsideTx

// TxOnlyConn wraps inner as a connection of InTx's pool.
func TxOnlyConn(inner driver.Conn) driver.Conn { return &conn{inner: inner, txOnly: true} }
