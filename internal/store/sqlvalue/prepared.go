package sqlvalue

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// Prepared holds an adapter's generated queries prepared on its database
// (sqlc's emit_prepared_queries), made at the first use, after the
// migrations have made the tables; database/sql then prepares each
// statement once per connection. The zero value is ready.
type Prepared[Q interface{ Close() error }] struct {
	mu   sync.Mutex
	q    Q
	made bool
}

// Get returns the queries, made by prepare the first time; interpret is
// the adapter's reading of a driver error.
func (p *Prepared[Q]) Get(ctx context.Context, prepare func(context.Context) (Q, error), interpret func(error) error) (Q, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.made {
		q, err := prepare(ctx)
		if err != nil {
			return q, interpret(fmt.Errorf("prepare queries: %w", err))
		}
		p.q, p.made = q, true
	}
	return p.q, nil
}

// Close closes the prepared statements, if made, then db.
func (p *Prepared[Q]) Close(db *sql.DB) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.made {
		p.q.Close() //nolint:errcheck // the database closes next
		p.made = false
	}
	return db.Close()
}
