// Package postgres implements activity.Store on PostgreSQL with a pgx connection pool, for production:
// many activityd processes may share one database. Migrations run at start-up under an advisory lock.
// It must not import other adapters of activityd.
package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/activityd/activityd"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DefaultMaxConns is the pool size of a process unless the URL sets pool_max_conns.
const DefaultMaxConns = 16

// Store is an activity.Store on PostgreSQL.
type Store struct {
	pool         *pool
	listenConfig *pgx.ConnConfig // of the connection Listen makes, outside the pool

	// Now returns the current time, used to hide expired rows; nil means time.Now.
	Now func() time.Time
	// OnCommit, when set before the first write, is called after every commit of this process that
	// appended to the change log, with the users (activity.UserKey) whose changes it appended, nil
	// for any (it must not block), so that live streams and the notifier learn that the log grew
	// (activity.Wakeups.Notify). Commits of other processes reach it through Listen.
	OnCommit func(users []string)

	notify   chan struct{}       // to Listen's notifier: this process committed
	mu       sync.Mutex          // guards what follows
	pending  map[string]struct{} // users whose changes the other processes are still to hear of; "*": any
	held     map[string]int64    // users whose reads left out committed changes, up to which transaction (horizon.go)
	watching bool                // watchHorizon runs
	closed   bool

	imported, analyzed int64 // activities imported since the last ANALYZE, and the table's rows then
}

// committed calls OnCommit, if set, and asks Listen, if running, to tell the other processes about
// the users (nil: any).
func (s *Store) committed(users []string) {
	if s.OnCommit != nil {
		s.OnCommit(users)
	}
	s.mu.Lock()
	if users == nil {
		users = []string{"*"}
	}
	for _, u := range users {
		s.pending[u] = struct{}{}
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default: // a notification is on its way already, or nobody listens
	}
}

// userOf is the Wakeups key of a principal's changes.
func userOf(p activity.Principal) []string { return []string{activity.UserKey(p.TenantID, p.UserID)} }

var _ activity.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value string; search_path and
// other run-time parameters may be given there, and the pool's: pool_max_conns, default
// DefaultMaxConns, and pool_acquire_timeout, how long a query waits for a free connection before it
// fails with ErrPoolTimeout, a Go duration, default DefaultAcquireTimeout) and applies pending
// migrations.
func Open(ctx context.Context, url string) (*Store, error) { return open(ctx, url, nil) }

// open is Open, with configure (when not nil) given the pool's configuration before it connects.
func open(ctx context.Context, url string, configure func(*pgxpool.Config)) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default, one connection per CPU and at least 4, leaves most concurrent requests
		// waiting for a connection while each transaction waits on its commit flush.
		cfg.MaxConns = DefaultMaxConns
	}
	timeout := DefaultAcquireTimeout
	// pgxpool does not know this parameter: it would send it to the server as a run-time one.
	if v, ok := cfg.ConnConfig.RuntimeParams["pool_acquire_timeout"]; ok {
		delete(cfg.ConnConfig.RuntimeParams, "pool_acquire_timeout")
		timeout, err = time.ParseDuration(v)
		if err != nil || timeout <= 0 {
			return nil, fmt.Errorf("postgres: pool_acquire_timeout %q is not a positive duration such as 2s or 500ms", v)
		}
	}
	if configure != nil {
		configure(cfg)
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: &pool{p: p}, listenConfig: cfg.ConnConfig.Copy(), notify: make(chan struct{}, 1), pending: map[string]struct{}{}}
	if err := s.migrate(ctx); err != nil {
		p.Close()
		return nil, err
	}
	if err := s.indexOld(ctx); err != nil {
		p.Close()
		return nil, err
	}
	s.pool.timeout = timeout
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.pool.Close()
	return nil
}

func (s *Store) now() int64 {
	if s.Now != nil {
		return micros(s.Now())
	}
	return micros(time.Now())
}

// migrationLock is the advisory lock key under which migrations run ("activityd" in ASCII).
const migrationLock = 0x6163746976697479

// migrate applies the embedded migrations not yet recorded, all in one transaction that holds an
// advisory lock, so that processes starting at once apply each migration exactly once. It refuses to
// start when an applied file has changed since.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name text PRIMARY KEY, checksum text NOT NULL, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	known := make([]string, len(names))
	for i, name := range names {
		known[i] = strings.TrimPrefix(name, "migrations/")
	}
	if err := activity.UnknownMigrations(applied, known); err != nil {
		return err
	}
	for _, name := range names {
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		checksum, base := hex.EncodeToString(sum[:]), strings.TrimPrefix(name, "migrations/")
		var applied string
		err = tx.QueryRow(ctx, `SELECT checksum FROM schema_migrations WHERE name = $1`, base).Scan(&applied)
		switch {
		case err == nil && applied == checksum:
			continue
		case err == nil:
			return fmt.Errorf("migration %s was changed after it was applied (checksum %s, applied %s)", base, checksum, applied)
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)`, base, checksum); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
	}
	return tx.Commit(ctx)
}

// maxAttempts bounds the retries of a transaction that lost a race.
const maxAttempts = 10

// Update runs fn in a transaction and commits it, retrying the whole transaction when it lost a race
// with another one: a serialization failure, a deadlock, or two inserts of one appActivityId.
func (s *Store) Update(ctx context.Context, p activity.Principal, fn func(activity.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.update(ctx, p, fn)
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return err
		}
		// Back off a little, with jitter, so that the racers do not collide again.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rand.IntN(attempt*2000)) * time.Microsecond):
		}
	}
}

func (s *Store) update(ctx context.Context, p activity.Principal, fn func(activity.Tx) error) error {
	tx, err := s.pool.BeginPipelined(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	t := &Tx{tx: tx, p: p, now: s.now()}
	if err := fn(t); err != nil {
		return err
	}
	// A commit cut short by the request's cancellation may still have been applied by the server:
	// wait for its answer, so that the caller is told the truth.
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if len(t.logged) > 0 {
		s.committed(userOf(p))
	}
	return nil
}

// retryable reports whether err means the transaction lost a race and may succeed when run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return true
	case "23505": // unique_violation: an activity id drawn twice (once in 2^63), or a concurrent insert won
		return pe.ConstraintName == "activities_pkey" || pe.ConstraintName == "activities_app_activity_id"
	}
	return false
}

// Tx is an activity.Tx on PostgreSQL.
type Tx struct {
	tx     *pipelinedTx // BEGIN goes with the first statement
	p      activity.Principal
	now    int64
	logged []int64 // the activities this transaction has logged a change of
}

// micros converts t to microseconds since the epoch; the zero time is 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// PoolStat returns the connection pool's numbers, for metrics: connections acquired (in use), idle,
// in all, and the most the pool holds.
func (s *Store) PoolStat() (acquired, idle, total, max int32) {
	st := s.pool.Stat()
	return st.AcquiredConns(), st.IdleConns(), st.TotalConns(), st.MaxConns()
}
