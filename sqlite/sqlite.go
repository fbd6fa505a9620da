// Package sqlite implements activity.Store on an embedded SQLite database, the default store of
// activityd. It uses a pure-Go driver (no cgo), WAL, and synchronous=FULL: a write is acknowledged only
// once its transaction is durable. It must not import other adapters of activityd.
package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/activityd/activityd"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is an activity.Store on one SQLite file.
type Store struct {
	write *sql.DB  // one connection: SQLite has one writer at a time
	read  *sql.DB  // a few connections for concurrent readers (WAL)
	lock  *os.File // the lock that keeps other processes out (lockDatabase)

	// Now returns the current time, used to hide expired rows; nil means time.Now.
	Now func() time.Time
	// OnCommit, when set before the first write, is called after every commit that appended to the
	// change log, with the users (activity.UserKey) whose changes it appended, nil for any (on the
	// writer's goroutine: it must not block), so that live streams and the notifier learn that the
	// log grew (activity.Wakeups.Notify).
	OnCommit func(users []string)

	conn   *sql.Conn // the writer connection, owned by the writer goroutine
	writeQ *prepared // conn, through its statement cache; only the writer uses it
	reads  *prepared // the read pool, through its statement cache

	keys       searchKeys   // the full-text index's keys; the writer's alone
	principals principalIDs // the ids of the principals table (migration 0014)

	writes chan *writeRequest // to the group-commit writer
	// observeBatch is ObserveBatch's function (set while the writer runs).
	observeBatch atomic.Pointer[func(writes int, commit time.Duration)]
	stop         chan struct{} // closed by Close
	done         chan struct{} // closed when the writer and the checkpointer have stopped

	committed chan struct{} // the writer's nudge to the checkpointer after a commit; never blocks
	behind    atomic.Bool   // the checkpointer cannot keep the WAL short: the writer must checkpoint
}

var _ activity.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite database at path and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	lock, err := lockDatabase(path)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, path)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(on)", "busy_timeout(10000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	// The writer does not checkpoint after its commits; the checkpointer does (see checkpointer).
	q.Add("_pragma", "wal_autocheckpoint(0)")
	writeDSN := "file:" + path + "?" + q.Encode()

	write, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(9) // 8 for reads, 1 for the checkpointer
	read.SetMaxIdleConns(9)
	s := &Store{write: write, read: read, writes: make(chan *writeRequest, maxBatch),
		stop: make(chan struct{}), done: make(chan struct{}), committed: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		close(s.done)
		errors.Join(write.Close(), read.Close())
		return nil, err
	}
	if s.conn, err = write.Conn(ctx); err != nil {
		errors.Join(write.Close(), read.Close())
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.writeQ, s.reads = newPrepared(s.conn), newPrepared(read)
	checkpoints, err := read.Conn(ctx)
	if err != nil {
		errors.Join(s.conn.Close(), write.Close(), read.Close())
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(search_key), 0) FROM activities`).Scan(&s.keys.last); err != nil {
		errors.Join(s.conn.Close(), checkpoints.Close(), write.Close(), read.Close())
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	stopped := make(chan struct{})
	go s.writer(stopped)
	go s.checkpointer(checkpoints, stopped)
	if err := errors.Join(s.indexOld(ctx), s.keyChanges(ctx)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

const (
	// checkpointEvery is the least time between two of the checkpointer's checkpoints: each syncs
	// the WAL and the database file.
	checkpointEvery = 20 * time.Millisecond
	// walLimit is the WAL's length, in pages, past which the writer checkpoints itself.
	walLimit = 1000
)

// checkpointer copies committed pages from the WAL into the database file on a connection of its
// own, beside the writer: done by the writer after a commit, as SQLite does by default, it took a
// fifth of the writer's time and held up every write waiting behind it.
//
// A checkpoint beside a writer that commits without pause never ends with the whole WAL copied
// (the writer appends while it copies), and SQLite starts the WAL over only when a write
// transaction begins with every frame copied: alone, the checkpointer would let the WAL grow
// without bound (measured before: 11.8 GB for a 0.9 GB database). So when the WAL is past walLimit
// pages, it asks the writer to checkpoint between two transactions, which copies what is left (the
// frames of the last few commits) and lets the next write start the WAL over.
func (s *Store) checkpointer(conn *sql.Conn, writerStopped <-chan struct{}) {
	defer func() {
		conn.Close()
		<-writerStopped
		close(s.done)
	}()
	for {
		select {
		case <-s.committed:
		case <-s.stop:
			return
		}
		// PASSIVE waits for no reader or writer; when another checkpoint is running (busy) or
		// something fails, the next one tries again.
		var busy, log, copied int
		err := conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied)
		if err == nil && log > walLimit {
			s.behind.Store(true)
		}
		select {
		case <-time.After(checkpointEvery):
		case <-s.stop:
			return
		}
	}
}

// Close stops the writer, answering writes still waiting with an error, and closes the database.
func (s *Store) Close() error {
	close(s.stop)
	<-s.done
	s.writeQ.close()
	s.reads.close()
	err := errors.Join(s.conn.Close(), s.write.Close(), s.read.Close())
	if s.lock != nil {
		s.lock.Close() // after the database is closed: the next process may open it
	}
	return err
}

func (s *Store) now() int64 {
	if s.Now != nil {
		return micros(s.Now())
	}
	return micros(time.Now())
}

// migrate applies the embedded migrations not yet recorded, each in its own transaction, and refuses
// to start when an applied file has changed since it was applied.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var applied, known []string
	rows, err := s.write.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied = append(applied, name)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for _, name := range names {
		known = append(known, strings.TrimPrefix(name, "migrations/"))
	}
	if err := activity.UnknownMigrations(applied, known); err != nil {
		return err
	}
	for _, name := range names {
		if err := s.migrateFile(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) migrateFile(ctx context.Context, name string) error {
	body, err := migrationFS.ReadFile(name)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	checksum := hex.EncodeToString(sum[:])
	base := strings.TrimPrefix(name, "migrations/")

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", base, err)
	}
	defer tx.Rollback()
	var applied string
	err = tx.QueryRowContext(ctx, `SELECT checksum FROM schema_migrations WHERE name = ?`, base).Scan(&applied)
	switch {
	case err == nil && applied == checksum:
		return nil
	case err == nil:
		return fmt.Errorf("migration %s was changed after it was applied (checksum %s, applied %s)", base, checksum, applied)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("migrate %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migrate %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, checksum, applied) VALUES (?, ?, ?)`,
		base, checksum, micros(time.Now())); err != nil {
		return fmt.Errorf("migrate %s: %w", base, err)
	}
	return tx.Commit()
}

// maxBatch bounds the writes that share one transaction.
const maxBatch = 256

var errClosed = errors.New("sqlite: the store is closed")

// writeRequest is one write waiting for the writer.
type writeRequest struct {
	ctx context.Context
	p   activity.Principal
	fn  func(*Tx) error
	err chan error // buffered: the writer never waits on a caller
}

// Update runs fn in a transaction and returns once that transaction is durable. Writes that arrive
// together share one transaction and so one fsync (group commit); each runs inside a savepoint of its
// own, so that a write that fails is rolled back alone and never fails or loses another.
func (s *Store) Update(ctx context.Context, p activity.Principal, fn func(activity.Tx) error) error {
	return s.submit(ctx, p, func(tx *Tx) error { return fn(tx) })
}

// submit queues a write for the writer and waits for its outcome.
func (s *Store) submit(ctx context.Context, p activity.Principal, fn func(*Tx) error) error {
	req := &writeRequest{ctx: ctx, p: p, fn: fn, err: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errClosed
	}
	// Once queued, the outcome is waited for even if ctx ends: the write may already be committed.
	return <-req.err
}

// writer owns the writer connection: it takes the writes waiting at that moment, up to maxBatch, and
// commits them in one transaction, until Close.
func (s *Store) writer(stopped chan<- struct{}) {
	defer close(stopped)
	for {
		var batch []*writeRequest
		select {
		case r := <-s.writes:
			batch = append(batch, r)
		case <-s.stop:
			for {
				select {
				case r := <-s.writes:
					r.err <- errClosed
				default:
					return
				}
			}
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.commit(batch)
		if s.behind.Swap(false) {
			s.writeQ.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// ObserveBatch makes f be called after each group commit (on the writer's goroutine: it must not
// block) with the number of writes the transaction carried and how long its COMMIT took (with
// synchronous=FULL, the WAL's fsync), failed or not.
func (s *Store) ObserveBatch(f func(writes int, commit time.Duration)) { s.observeBatch.Store(&f) }

// commit runs a batch of writes in one IMMEDIATE transaction, each in a savepoint, commits, and only
// then answers each caller.
func (s *Store) commit(batch []*writeRequest) {
	ctx := context.Background() // the batch outlives any one request; each request's own ctx still applies to its statements
	exec := func(sql string) error {
		_, err := s.writeQ.ExecContext(ctx, sql)
		return err
	}
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		for _, r := range batch {
			r.err <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	results := make([]error, len(batch))
	var logged []pendingChange  // the changes of the batch's writes that succeeded, in order
	var indexed []int64         // the search keys the batch's writes gave activities (migration 0011)
	var changed []string        // the users whose changes the batch appended to the change log
	var resolved []principalRow // the principals rows the batch's writes that succeeded read, inserted or deleted
	var dropped []principalKey  // the principals rows any of its writes deleted
	everyone := false           // the batch appended changes of users it cannot name
	// A statement interrupted because its request was cancelled would roll back the whole shared
	// transaction (SQLite's interrupt ends the transaction), failing every other write in it. So once
	// a write has started, its statements run to the end whatever becomes of its request: the write
	// is then committed or failed like any other, and its caller told which.
	tx := &Tx{tx: detached{s.writeQ}, keys: &s.keys, principals: &s.principals}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := exec("SAVEPOINT write"); err != nil {
			results[i] = fmt.Errorf("savepoint: %w", err)
			continue
		}
		// The slices are reused from write to write: no allocation on the hot path.
		tx.p, tx.now, tx.logged, tx.appended, tx.pending, tx.indexed = r.p, s.now(), tx.logged[:0], false, tx.pending[:0], tx.indexed[:0]
		tx.resolved = tx.resolved[:0]
		var err error
		results[i] = run(r, tx)
		for _, row := range tx.resolved {
			if row.id == 0 {
				dropped = append(dropped, row.key)
			}
		}
		// Every write's keys, failed or not: insertSearch skips those no row holds (rolled back),
		// and a write whose RELEASE fails below may still commit.
		indexed = append(indexed, tx.indexed...)
		if results[i] != nil {
			err = exec("ROLLBACK TO write")
		} else if tx.appended && tx.p.UserID == "" {
			everyone = true // the purge: changes of any user
		} else if tx.appended {
			changed = append(changed, activity.UserKey(tx.p.TenantID, tx.p.UserID))
		}
		if err2 := exec("RELEASE write"); err == nil {
			err = err2
		}
		if err != nil && results[i] == nil {
			results[i] = fmt.Errorf("release savepoint: %w", err)
		}
		if results[i] == nil {
			logged = append(logged, tx.pending...)
			resolved = append(resolved, tx.resolved...)
		}
	}
	err := insertSearch(ctx, s.writeQ, indexed)
	if err == nil {
		err = insertChanges(ctx, s.writeQ, logged)
	}
	if err == nil {
		start := time.Now()
		err = exec("COMMIT")
		if f := s.observeBatch.Load(); f != nil {
			(*f)(len(batch), time.Since(start))
		}
	}
	if err != nil {
		changed, everyone, resolved = nil, false, nil
		exec("ROLLBACK")
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("commit: %w", err)
			}
		}
	}
	s.principals.settle(dropped, resolved) // before any caller is answered: a read after a write finds it cached
	for i, r := range batch {
		r.err <- results[i]
	}
	// OnCommit is read only when there is something to tell: the writes Open makes itself (indexing
	// old rows) append nothing, and the caller sets OnCommit after Open returns.
	if everyone || len(changed) > 0 {
		if f := s.OnCommit; f != nil && everyone {
			f(nil)
		} else if f != nil {
			f(changed)
		}
	}
	select {
	case s.committed <- struct{}{}:
	default: // a nudge is waiting already
	}
}

// run calls a write's function, turning a panic into an error so that one bad write cannot stop the
// writer that every other write depends on.
func run(r *writeRequest, tx *Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic in a write: %v", v)
		}
	}()
	return r.fn(tx)
}

// detached is a querier whose statements ignore the cancellation of the context they are given
// (its values still reach the driver).
type detached struct{ q querier }

func (d detached) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.q.ExecContext(context.WithoutCancel(ctx), query, args...)
}

func (d detached) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.q.QueryContext(context.WithoutCancel(ctx), query, args...)
}

func (d detached) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.q.QueryRowContext(context.WithoutCancel(ctx), query, args...)
}

// Tx is an activity.Tx on SQLite.
type Tx struct {
	tx       querier
	p        activity.Principal
	now      int64           // microseconds; rows that expire at or before it are invisible
	logged   []int64         // the activities this write has logged a change of (a write names one or two)
	appended bool            // this write appended to the change log
	pending  []pendingChange // its changes, inserted with the batch's before it commits
	indexed  []int64         // the search keys it gave activities, added to the full-text index with the batch's
	keys     *searchKeys     // the writer's, for the full-text index
	// principals is the store's cache of principal ids; resolved, the rows this write read or
	// inserted that were not in it, added once the batch has committed.
	principals *principalIDs
	resolved   []principalRow
}

// isPrimaryKeyViolation reports whether err is SQLite's primary key constraint failure.
func isPrimaryKeyViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isUniqueViolation reports whether err is a unique index's constraint failure (not the primary key's).
func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// micros converts t to microseconds since the epoch; the zero time is 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros is the inverse of micros.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }
