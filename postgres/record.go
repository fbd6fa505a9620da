package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/activityd/activityd"
	"github.com/jackc/pgx/v5"
)

var _ activity.RecordStore = (*Store)(nil)

func (s *Store) clock() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// expiresAt is a record's expiry as stored: a time, or NULL for never.
func expiresAt(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// purgeExpired is the statement that removes up to 100 expired records of kind ($1) at $2: each
// write of a kind sweeps a little, in the same round trip, leaving the record it writes ($3) to the
// upsert.
const purgeExpired = `purged AS (DELETE FROM records WHERE ctid = ANY(ARRAY(
	SELECT ctid FROM records WHERE kind = $1 AND expires <= $2 AND id <> $3 LIMIT 100)))`

// CreateRecord implements activity.RecordStore.
func (s *Store) CreateRecord(ctx context.Context, r activity.Record) error {
	if err := r.Check(); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `WITH `+purgeExpired+`
		INSERT INTO records (kind, id, owner, expires, body) VALUES ($1, $3, $4, $5, $6)
		ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, expires = excluded.expires, body = excluded.body
		WHERE records.expires <= $2`,
		r.Kind, s.clock(), r.ID, r.Owner, expiresAt(r.Expires), r.Body)
	if err != nil {
		return fmt.Errorf("create record: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return activity.ErrRecordExists
	}
	return nil
}

// PutRecord implements activity.RecordStore.
func (s *Store) PutRecord(ctx context.Context, r activity.Record) error {
	if err := r.Check(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `WITH `+purgeExpired+`
		INSERT INTO records (kind, id, owner, expires, body) VALUES ($1, $3, $4, $5, $6)
		ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, expires = excluded.expires, body = excluded.body`,
		r.Kind, s.clock(), r.ID, r.Owner, expiresAt(r.Expires), r.Body)
	if err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	return nil
}

// ReplaceRecord implements activity.RecordStore.
func (s *Store) ReplaceRecord(ctx context.Context, r activity.Record, old []byte) error {
	if err := r.Check(); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE records SET owner = $3, expires = $4, body = $5
		WHERE kind = $1 AND id = $2 AND body = $6 AND (expires IS NULL OR expires > $7)`,
		r.Kind, r.ID, r.Owner, expiresAt(r.Expires), r.Body, old, s.clock())
	if err != nil {
		return fmt.Errorf("replace record: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.FindRecord(ctx, r.Kind, r.ID); err != nil {
		return err
	}
	return activity.ErrRecordChanged
}

func scanRecord(row pgx.Row, kind string) (activity.Record, error) {
	r := activity.Record{Kind: kind}
	var expires *time.Time
	if err := row.Scan(&r.ID, &r.Owner, &expires, &r.Body); err != nil {
		return r, err
	}
	if expires != nil {
		r.Expires = *expires
	}
	return r, nil
}

// FindRecord implements activity.RecordStore.
func (s *Store) FindRecord(ctx context.Context, kind, id string) (activity.Record, error) {
	r, err := scanRecord(s.pool.QueryRow(ctx, `SELECT id, owner, expires, body FROM records
		WHERE kind = $1 AND id = $2 AND (expires IS NULL OR expires > $3)`, kind, id, s.clock()), kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, activity.ErrRecordNotFound
	} else if err != nil {
		return r, fmt.Errorf("find record: %w", err)
	}
	return r, nil
}

// TakeRecord implements activity.RecordStore.
func (s *Store) TakeRecord(ctx context.Context, kind, id string) (activity.Record, error) {
	r, err := scanRecord(s.pool.QueryRow(ctx, `DELETE FROM records WHERE kind = $1 AND id = $2
		RETURNING id, owner, expires, body`, kind, id), kind)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return r, activity.ErrRecordNotFound
	case err != nil:
		return r, fmt.Errorf("take record: %w", err)
	case !r.Expires.IsZero() && !r.Expires.After(s.clock()):
		return activity.Record{Kind: kind}, activity.ErrRecordNotFound
	}
	return r, nil
}

// ListRecords implements activity.RecordStore.
func (s *Store) ListRecords(ctx context.Context, kind, owner string) ([]activity.Record, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, owner, expires, body FROM records
		WHERE kind = $1 AND ($2 = '' OR owner = $2) AND (expires IS NULL OR expires > $3)`, kind, owner, s.clock())
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

// DeleteRecords implements activity.RecordStore.
func (s *Store) DeleteRecords(ctx context.Context, kind, owner string) (int, error) {
	if owner == "" {
		return 0, activity.Errorf(activity.Invalid, "delete records: no owner")
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM records WHERE kind = $1 AND owner = $2`, kind, owner)
	if err != nil {
		return 0, fmt.Errorf("delete records: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
