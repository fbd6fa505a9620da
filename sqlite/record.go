package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/activityd/activityd"
)

// The store's activity.RecordStore: writes go through the writer like every other write.

var _ activity.RecordStore = (*Store)(nil)

// CreateRecord implements activity.RecordStore.
func (s *Store) CreateRecord(ctx context.Context, r activity.Record) error {
	return s.submit(ctx, activity.Principal{}, func(tx *Tx) error { return createRecord(ctx, tx.tx, r, s.clock()) })
}

// PutRecord implements activity.RecordStore.
func (s *Store) PutRecord(ctx context.Context, r activity.Record) error {
	return s.submit(ctx, activity.Principal{}, func(tx *Tx) error { return putRecord(ctx, tx.tx, r, s.clock()) })
}

// ReplaceRecord implements activity.RecordStore.
func (s *Store) ReplaceRecord(ctx context.Context, r activity.Record, old []byte) error {
	return s.submit(ctx, activity.Principal{}, func(tx *Tx) error { return replaceRecord(ctx, tx.tx, r, old, s.clock()) })
}

// FindRecord implements activity.RecordStore.
func (s *Store) FindRecord(ctx context.Context, kind, id string) (activity.Record, error) {
	return findRecord(ctx, s.read, kind, id, s.clock())
}

// TakeRecord implements activity.RecordStore.
func (s *Store) TakeRecord(ctx context.Context, kind, id string) (r activity.Record, err error) {
	err = s.submit(ctx, activity.Principal{}, func(tx *Tx) error {
		r, err = takeRecord(ctx, tx.tx, kind, id, s.clock())
		return err
	})
	return r, err
}

// ListRecords implements activity.RecordStore.
func (s *Store) ListRecords(ctx context.Context, kind, owner string) ([]activity.Record, error) {
	return listRecords(ctx, s.read, kind, owner, s.clock())
}

// DeleteRecords implements activity.RecordStore.
func (s *Store) DeleteRecords(ctx context.Context, kind, owner string) (n int, err error) {
	err = s.submit(ctx, activity.Principal{}, func(tx *Tx) error {
		n, err = deleteRecords(ctx, tx.tx, kind, owner)
		return err
	})
	return n, err
}

func (s *Store) clock() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ErrInUse is wrapped by Open's error when another process serves the database; OpenRecords still
// opens its records.
var ErrInUse = errors.New("the database is in use")

// Records is an activity.RecordStore on a SQLite database that a server may be serving at the same
// time: the accounts and apps commands of activityd use it, so that adding a person does not
// need the server stopped. It writes in its own short transactions, which SQLite serializes with the
// server's (busy_timeout); it never touches activities.
type Records struct {
	db *sql.DB
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// OpenRecords opens the records of the database at path, which a Store must have created (and
// migrated) before: it neither creates nor migrates anything.
func OpenRecords(ctx context.Context, path string) (*Records, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'records'`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if n == 0 {
		db.Close()
		return nil, fmt.Errorf("open %s: the database predates sign-in; start the server of this version on it once", path)
	}
	return &Records{db: db}, nil
}

// Close closes the database.
func (rs *Records) Close() error { return rs.db.Close() }

var _ activity.RecordStore = (*Records)(nil)

func (rs *Records) now() time.Time {
	if rs.Now != nil {
		return rs.Now()
	}
	return time.Now()
}

func (rs *Records) inTx(ctx context.Context, fn func(querier) error) error {
	tx, err := rs.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// CreateRecord implements activity.RecordStore.
func (rs *Records) CreateRecord(ctx context.Context, r activity.Record) error {
	return rs.inTx(ctx, func(q querier) error { return createRecord(ctx, q, r, rs.now()) })
}

// PutRecord implements activity.RecordStore.
func (rs *Records) PutRecord(ctx context.Context, r activity.Record) error {
	return rs.inTx(ctx, func(q querier) error { return putRecord(ctx, q, r, rs.now()) })
}

// ReplaceRecord implements activity.RecordStore.
func (rs *Records) ReplaceRecord(ctx context.Context, r activity.Record, old []byte) error {
	return rs.inTx(ctx, func(q querier) error { return replaceRecord(ctx, q, r, old, rs.now()) })
}

// FindRecord implements activity.RecordStore.
func (rs *Records) FindRecord(ctx context.Context, kind, id string) (activity.Record, error) {
	return findRecord(ctx, rs.db, kind, id, rs.now())
}

// TakeRecord implements activity.RecordStore.
func (rs *Records) TakeRecord(ctx context.Context, kind, id string) (r activity.Record, err error) {
	err = rs.inTx(ctx, func(q querier) error {
		r, err = takeRecord(ctx, q, kind, id, rs.now())
		return err
	})
	return r, err
}

// ListRecords implements activity.RecordStore.
func (rs *Records) ListRecords(ctx context.Context, kind, owner string) ([]activity.Record, error) {
	return listRecords(ctx, rs.db, kind, owner, rs.now())
}

// DeleteRecords implements activity.RecordStore.
func (rs *Records) DeleteRecords(ctx context.Context, kind, owner string) (n int, err error) {
	err = rs.inTx(ctx, func(q querier) error {
		n, err = deleteRecords(ctx, q, kind, owner)
		return err
	})
	return n, err
}

// expiresMicros is a record's expiry as stored: microseconds, or NULL for never.
func expiresMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// purgeExpired removes up to 100 expired records of kind: each write of a kind sweeps a little.
func purgeExpired(ctx context.Context, q querier, kind string, now time.Time) error {
	_, err := q.ExecContext(ctx, `DELETE FROM records WHERE kind = ? AND id IN (
		SELECT id FROM records WHERE kind = ? AND expires <= ? LIMIT 100)`, kind, kind, now.UnixMicro())
	return err
}

func createRecord(ctx context.Context, q querier, r activity.Record, now time.Time) error {
	if err := r.Check(); err != nil {
		return err
	}
	if err := purgeExpired(ctx, q, r.Kind, now); err != nil {
		return fmt.Errorf("create record: %w", err)
	}
	res, err := q.ExecContext(ctx, `INSERT INTO records (kind, id, owner, expires, body) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, expires = excluded.expires, body = excluded.body
		WHERE records.expires <= ?`, r.Kind, r.ID, r.Owner, expiresMicros(r.Expires), r.Body, now.UnixMicro())
	if err != nil {
		return fmt.Errorf("create record: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return activity.ErrRecordExists
	}
	return nil
}

func putRecord(ctx context.Context, q querier, r activity.Record, now time.Time) error {
	if err := r.Check(); err != nil {
		return err
	}
	if err := purgeExpired(ctx, q, r.Kind, now); err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO records (kind, id, owner, expires, body) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, expires = excluded.expires, body = excluded.body`,
		r.Kind, r.ID, r.Owner, expiresMicros(r.Expires), r.Body)
	if err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	return nil
}

func scanRecord(row interface{ Scan(...any) error }, kind string) (activity.Record, error) {
	r := activity.Record{Kind: kind}
	var expires sql.NullInt64
	if err := row.Scan(&r.ID, &r.Owner, &expires, &r.Body); err != nil {
		return r, err
	}
	if expires.Valid {
		r.Expires = time.UnixMicro(expires.Int64)
	}
	return r, nil
}

func replaceRecord(ctx context.Context, q querier, r activity.Record, old []byte, now time.Time) error {
	if err := r.Check(); err != nil {
		return err
	}
	res, err := q.ExecContext(ctx, `UPDATE records SET owner = ?, expires = ?, body = ?
		WHERE kind = ? AND id = ? AND body = ? AND (expires IS NULL OR expires > ?)`,
		r.Owner, expiresMicros(r.Expires), r.Body, r.Kind, r.ID, old, now.UnixMicro())
	if err != nil {
		return fmt.Errorf("replace record: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := findRecord(ctx, q, r.Kind, r.ID, now); err != nil {
		return err
	}
	return activity.ErrRecordChanged
}

func findRecord(ctx context.Context, q querier, kind, id string, now time.Time) (activity.Record, error) {
	r, err := scanRecord(q.QueryRowContext(ctx, `SELECT id, owner, expires, body FROM records
		WHERE kind = ? AND id = ? AND (expires IS NULL OR expires > ?)`, kind, id, now.UnixMicro()), kind)
	if errors.Is(err, sql.ErrNoRows) {
		return r, activity.ErrRecordNotFound
	} else if err != nil {
		return r, fmt.Errorf("find record: %w", err)
	}
	return r, nil
}

func takeRecord(ctx context.Context, q querier, kind, id string, now time.Time) (activity.Record, error) {
	r, err := scanRecord(q.QueryRowContext(ctx, `DELETE FROM records WHERE kind = ? AND id = ?
		RETURNING id, owner, expires, body`, kind, id), kind)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return r, activity.ErrRecordNotFound
	case err != nil:
		return r, fmt.Errorf("take record: %w", err)
	case !r.Expires.IsZero() && !r.Expires.After(now):
		return activity.Record{Kind: kind}, activity.ErrRecordNotFound
	}
	return r, nil
}

func listRecords(ctx context.Context, q querier, kind, owner string, now time.Time) ([]activity.Record, error) {
	query := `SELECT id, owner, expires, body FROM records WHERE kind = ? AND owner = ? AND (expires IS NULL OR expires > ?)`
	args := []any{kind, owner, now.UnixMicro()}
	if owner == "" {
		query = `SELECT id, owner, expires, body FROM records WHERE kind = ? AND (expires IS NULL OR expires > ?)`
		args = []any{kind, now.UnixMicro()}
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	var out []activity.Record
	for rows.Next() {
		r, err := scanRecord(rows, kind)
		if err != nil {
			return nil, fmt.Errorf("list records: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	return out, nil
}

func deleteRecords(ctx context.Context, q querier, kind, owner string) (int, error) {
	if owner == "" {
		return 0, activity.Errorf(activity.Invalid, "delete records: no owner")
	}
	res, err := q.ExecContext(ctx, `DELETE FROM records WHERE kind = ? AND owner = ?`, kind, owner)
	if err != nil {
		return 0, fmt.Errorf("delete records: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
