package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultAcquireTimeout is how long a query waits for a free connection of the pool unless the URL
// sets pool_acquire_timeout.
const DefaultAcquireTimeout = 2 * time.Second

// ErrPoolTimeout is wrapped by the error of a query that found no free connection in the pool
// within its acquire timeout. ClassifyError calls it activity.Unavailable, so the client gets 503
// with Retry-After and tries again, instead of waiting as long as it is willing to.
var ErrPoolTimeout = errors.New("no connection of the pool was free in time")

// pool is a pgxpool.Pool whose every acquisition waits at most timeout for a connection: pgxpool
// itself waits as long as the query's context allows. It has the methods of pgxpool.Pool that the
// store uses, each returning the connection to the pool as pgxpool does: Exec at once, Query when
// its rows are closed, read to the end or fail to scan, QueryRow on Scan, Begin on Commit or Rollback, SendBatch
// when its results are closed.
type pool struct {
	p       *pgxpool.Pool
	timeout time.Duration // 0 while the store opens: migrations wait as long as their context allows
}

// Acquire returns a connection of the pool, waiting at most the acquire timeout for one (none: as
// long as ctx allows). Its error wraps ErrPoolTimeout when none came in time, ctx's own error when
// ctx ended first. When no connection is idle and the pool has room, the wait is for a new
// connection; one that takes longer than the timeout to open is still opened, for later queries.
func (p *pool) Acquire(ctx context.Context) (*pgxpool.Conn, error) {
	if p.timeout == 0 {
		return p.p.Acquire(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	c, err := p.p.Acquire(actx)
	if err == nil {
		return c, nil
	}
	if ctx.Err() == nil && actx.Err() != nil {
		st := p.p.Stat()
		if st.AcquiredConns() < st.MaxConns() {
			return nil, fmt.Errorf("postgres: %w: opening a connection to PostgreSQL took longer than %v (pool_acquire_timeout; %d of %d connections in use)",
				ErrPoolTimeout, p.timeout, st.AcquiredConns(), st.MaxConns())
		}
		return nil, fmt.Errorf("postgres: %w: waited %v, %d of %d connections in use (pool_max_conns, pool_acquire_timeout)",
			ErrPoolTimeout, p.timeout, st.AcquiredConns(), st.MaxConns())
	}
	return nil, err
}

// Exec runs sql on a connection of the pool.
func (p *pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c, err := p.Acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer c.Release()
	return c.Exec(ctx, sql, args...)
}

// Query runs sql on a connection of the pool, which goes back to it when the rows are closed or
// read to the end.
func (p *pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c, err := p.Acquire(ctx)
	if err != nil {
		return errRows{err}, err
	}
	r, err := c.Query(ctx, sql, args...)
	if err != nil {
		c.Release()
		return errRows{err}, err
	}
	return &rows{Rows: r, c: c}, nil
}

// QueryRow runs sql on a connection of the pool, which goes back to it on Scan.
func (p *pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c, err := p.Acquire(ctx)
	if err != nil {
		return errRow{err}
	}
	return &row{Row: c.QueryRow(ctx, sql, args...), c: c}
}

// Begin starts a transaction on a connection of the pool, which goes back to it on Commit or
// Rollback.
func (p *pool) Begin(ctx context.Context) (pgx.Tx, error) {
	c, err := p.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	t, err := c.Begin(ctx)
	if err != nil {
		c.Release()
		return nil, err
	}
	return &tx{Tx: t, c: c}, nil
}

// SendBatch sends b on a connection of the pool, which goes back to it when the results are closed.
// b must not begin a transaction of its own.
func (p *pool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	c, err := p.Acquire(ctx)
	if err != nil {
		return pgx.FailedBatchResults(b, err)
	}
	return &batchResults{BatchResults: c.SendBatch(ctx, b), c: c}
}

// Stat returns the pool's statistics.
func (p *pool) Stat() *pgxpool.Stat { return p.p.Stat() }

// Close closes every connection of the pool.
func (p *pool) Close() { p.p.Close() }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errRows is the pgx.Rows of a query that could not be sent, as pgxpool returns: a caller that
// ignores Query's error (pgx.CollectRows(pool.Query(…))) meets it on the rows instead.
type errRows struct{ err error }

func (errRows) Close()                                       {}
func (r errRows) Err() error                                 { return r.err }
func (errRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (errRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (errRows) Next() bool                                   { return false }
func (r errRows) Scan(...any) error                          { return r.err }
func (r errRows) Values() ([]any, error)                     { return nil, r.err }
func (errRows) RawValues() [][]byte                          { return nil }
func (errRows) Conn() *pgx.Conn                              { return nil }
func (errRows) TypeMap() *pgtype.Map                         { return nil }

type row struct {
	pgx.Row
	c *pgxpool.Conn
}

func (r *row) Scan(dest ...any) error {
	defer r.c.Release()
	return r.Row.Scan(dest...)
}

type rows struct {
	pgx.Rows
	c *pgxpool.Conn
}

func (r *rows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

// Scan releases the connection when it fails, as pgxpool does: pgx closes the rows then.
func (r *rows) Scan(dest ...any) error {
	err := r.Rows.Scan(dest...)
	if err != nil {
		r.Close()
	}
	return err
}

func (r *rows) Close() {
	r.Rows.Close()
	if r.c != nil {
		r.c.Release()
		r.c = nil
	}
}

type tx struct {
	pgx.Tx
	c *pgxpool.Conn
}

func (t *tx) Commit(ctx context.Context) error {
	err := t.Tx.Commit(ctx)
	t.release()
	return err
}

func (t *tx) Rollback(ctx context.Context) error {
	err := t.Tx.Rollback(ctx)
	t.release()
	return err
}

func (t *tx) release() {
	if t.c != nil {
		t.c.Release()
		t.c = nil
	}
}

type batchResults struct {
	pgx.BatchResults
	c *pgxpool.Conn
}

func (b *batchResults) Close() error {
	err := b.BatchResults.Close()
	if b.c != nil {
		b.c.Release()
		b.c = nil
	}
	return err
}

// BeginPipelined is Begin whose BEGIN is not sent on its own: it goes with the transaction's first
// statement, in one pipeline (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-PIPELINING),
// so that a write spends no round trip on an answer that says nothing. The connection goes back to
// the pool on Commit or Rollback.
func (p *pool) BeginPipelined(ctx context.Context) (*pipelinedTx, error) {
	c, err := p.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &pipelinedTx{c: c}, nil
}

// pipelinedTx is a transaction on one connection of the pool that has sent BEGIN only once begun
// is true. Its methods are pgx.Tx's that the store uses.
type pipelinedTx struct {
	c     *pgxpool.Conn // nil once committed or rolled back
	begun bool
}

// SendBatch sends b, preceded by BEGIN in the same pipeline when the transaction has not begun.
// A failed BEGIN is reported by every result of b.
func (t *pipelinedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.begun {
		return t.c.SendBatch(ctx, b)
	}
	t.begun = true
	begin := &pgx.Batch{}
	begin.Queue("BEGIN")
	begin.QueuedQueries = append(begin.QueuedQueries, b.QueuedQueries...)
	br := t.c.SendBatch(ctx, begin)
	if _, err := br.Exec(); err != nil {
		// PostgreSQL answers nothing before the pipeline's end: the error may be any statement's
		// (a lock wait cancelled, a statement that failed to prepare), not BEGIN's.
		br.Close()
		return pgx.FailedBatchResults(b, err)
	}
	return br
}

// Exec runs sql in the transaction.
func (t *pipelinedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.begun {
		return t.c.Exec(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := t.SendBatch(ctx, b)
	tag, err := br.Exec()
	return tag, closeBatch(br, err)
}

// QueryRow runs sql in the transaction; its row is read on Scan.
func (t *pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.begun {
		return t.c.QueryRow(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	return batchRow{t.SendBatch(ctx, b)}
}

// Query runs sql in the transaction, after a BEGIN of its own when it is the first statement (rows
// are read while the pipeline would still be open: rare enough to pay the round trip).
func (t *pipelinedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if !t.begun {
		t.begun = true
		if _, err := t.c.Exec(ctx, "BEGIN"); err != nil {
			return errRows{err}, err
		}
	}
	return t.c.Query(ctx, sql, args...)
}

// Commit commits the transaction (nothing to do when no statement was sent) and gives the
// connection back. A transaction that failed is rolled back by PostgreSQL's COMMIT, which answers
// ROLLBACK: that is pgx.ErrTxCommitRollback, as pgx.Tx reports it.
func (t *pipelinedTx) Commit(ctx context.Context) error {
	if t.c == nil {
		return pgx.ErrTxClosed
	}
	defer t.release()
	if !t.begun {
		return nil
	}
	tag, err := t.c.Exec(ctx, "COMMIT")
	if err == nil && tag.String() == "ROLLBACK" {
		err = pgx.ErrTxCommitRollback
	}
	return err
}

// Rollback rolls the transaction back, if it began, and gives the connection back; after Commit it
// does nothing. A connection left in a transaction (ROLLBACK failed) is closed by the pool.
func (t *pipelinedTx) Rollback(ctx context.Context) error {
	if t.c == nil {
		return nil
	}
	defer t.release()
	if !t.begun || t.c.Conn().PgConn().TxStatus() == 'I' {
		return nil
	}
	_, err := t.c.Exec(ctx, "ROLLBACK")
	return err
}

func (t *pipelinedTx) release() {
	if t.c != nil {
		t.c.Release()
		t.c = nil
	}
}

// batchRow is the row of a batch of one query; Scan closes the batch.
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	return closeBatch(r.br, r.br.QueryRow().Scan(dest...))
}

// closeBatch closes br and returns err, or else Close's error.
func closeBatch(br pgx.BatchResults, err error) error {
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}
