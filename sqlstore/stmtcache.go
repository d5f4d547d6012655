package sqlstore

import (
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements of one pool by query text. SQLite
// spends as long parsing a statement as running it, so re-using them halves
// the cost of small reads; pgx already caches statements per connection, so
// PostgreSQL pools have none. Queries with variable shapes (filters, IN
// lists) would grow it without end, so it stops adding at maxStmts.
type stmtCache struct {
	pool   *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt // nil value: being prepared
	closed bool
	wg     sync.WaitGroup // background prepares, which close waits for
}

const maxStmts = 512

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: map[string]*sql.Stmt{}}
}

// get returns the prepared statement of query, or nil: then the caller
// runs it unprepared this time while the statement is prepared in the
// background. Preparing needs a connection of the pool, and the caller
// holds one in its transaction (the write pool has only that one), so it
// must not wait for it.
func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok || len(c.m) >= maxStmts || c.closed {
		return st // nil while being prepared
	}
	c.m[query] = nil
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		st, err := c.pool.Prepare(query)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil || c.closed {
			delete(c.m, query) // try again another time
			if st != nil {
				_ = st.Close()
			}
			return
		}
		c.m[query] = st
	}()
	return nil
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	// No prepare may still hold a connection when the pool closes (a
	// SQLite file would then be written after Close returned).
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		if st != nil {
			_ = st.Close()
		}
		delete(c.m, q)
	}
}
