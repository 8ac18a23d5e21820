package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// What the tests of begin.go reach inside the store.

// LazyTx is InTx's transaction, on a connection of its own.
type LazyTx interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
	Commit(context.Context) error
	// CommitWithNext has the next statement, read with QueryRow, carry
	// the COMMIT if ctx's deadline leaves time for it (true), and returns
	// the context to run it with.
	CommitWithNext(ctx context.Context) (context.Context, bool)
	// Release rolls back what was not committed and gives the connection
	// back.
	Release(context.Context)
}

type lazyForTest struct{ *lazyTx }

func (l lazyForTest) Release(ctx context.Context) { l.release(ctx) }

func (l lazyForTest) CommitWithNext(ctx context.Context) (context.Context, bool) {
	run, _, ok := l.commitWithNext(ctx) //nolint:govet // the test's context ends it
	return run, ok
}

// BeginLazy starts one of InTx's transactions at the store's isolation,
// or at begin when it is not empty.
func BeginLazy(ctx context.Context, s *Store, begin string) (LazyTx, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if begin == "" {
		begin = s.inTxBegin
	}
	return lazyForTest{&lazyTx{conn: conn, begin: begin}}, nil
}

// PoolOf is the store's pool.
func PoolOf(s *Store) *pgxpool.Pool { return s.pool }

// StoreOnPool is a store over pool whose InTx sends begin (attack tests:
// a pool built with a configuration Open does not offer, such as a
// context watcher that sends cancel requests).
func StoreOnPool(pool *pgxpool.Pool, begin string) *Store {
	return &Store{pool: pool, inTxBegin: begin}
}
