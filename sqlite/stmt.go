package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds a statement cache; every statement of this package is a constant, but the
// IN list of ExpandHistoryItems varies with the page size.
const maxCachedStmts = 256

// preparer is what *sql.DB and *sql.Conn share: a querier that can prepare statements.
type preparer interface {
	querier
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// prepared runs statements through a cache that prepares each distinct one once: SQLite otherwise
// parses and plans the SQL again on every call, which profiles showed as a sixth of a write's CPU
// time. It is a querier over the read pool or over the writer's connection.
type prepared struct {
	q     preparer
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newPrepared(q preparer) *prepared {
	return &prepared{q: q, stmts: make(map[string]*sql.Stmt)}
}

// stmt returns the cached statement for query, preparing it on first use; nil when the cache is full
// or preparing failed (the caller then runs the query unprepared, which reports any error).
func (p *prepared) stmt(ctx context.Context, query string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.stmts[query]; ok {
		return st
	}
	if len(p.stmts) >= maxCachedStmts {
		return nil
	}
	st, err := p.q.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	p.stmts[query] = st
	return st
}

func (p *prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.q.ExecContext(ctx, query, args...)
}

func (p *prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.q.QueryContext(ctx, query, args...)
}

func (p *prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.q.QueryRowContext(ctx, query, args...)
}

// inTx returns st (a statement of the cache, taken before tx began) for use in tx (database/sql
// prepares it on tx's connection the first time, and keeps it there), or query prepared in tx when
// st is nil (the cache is full); either is closed with tx.
func inTx(ctx context.Context, tx *sql.Tx, st *sql.Stmt, query string) (*sql.Stmt, error) {
	if st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

// close closes the cached statements.
func (p *prepared) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.stmts {
		st.Close()
	}
}
