package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the statement cache; every statement of this package is a constant, but the
// IN list of ExpandHistoryItems varies with the page size.
const maxCachedStmts = 256

// stmtCache prepares each distinct statement once per pool and reuses it: SQLite otherwise parses
// and plans the SQL again on every call, which profiles showed as a sixth of a write's CPU time.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: make(map[string]*sql.Stmt)}
}

// prepare returns the cached statement for query, preparing it on first use; nil when the cache is
// full (the caller then runs the query unprepared).
func (c *stmtCache) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
}

// preparedDB runs a pool's statements through its cache. It is a querier.
type preparedDB struct{ c *stmtCache }

func (p preparedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.c.prepare(ctx, query)
	if err != nil || st == nil {
		return p.c.db.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (p preparedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.c.prepare(ctx, query)
	if err != nil || st == nil {
		return p.c.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (p preparedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.c.prepare(ctx, query)
	if err != nil || st == nil {
		return p.c.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// preparedConn runs the writer's statements on its connection, each prepared there once.
type preparedConn struct{ s *Store }

func (p preparedConn) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := p.s.writeStmts[query]; ok {
		return st
	}
	if len(p.s.writeStmts) >= maxCachedStmts {
		return nil
	}
	st, err := p.s.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil // run unprepared, which reports the error
	}
	p.s.writeStmts[query] = st
	return st
}

func (p preparedConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.s.conn.ExecContext(ctx, query, args...)
}

func (p preparedConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.s.conn.QueryContext(ctx, query, args...)
}

func (p preparedConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.s.conn.QueryRowContext(ctx, query, args...)
}
