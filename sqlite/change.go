package sqlite

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/activityd/activityd"
)

// logChange appends a change of the transaction's principal to the change log, in the transaction:
// every write method of Tx calls it, so no write can forget it. An update of an activity the write
// has logged already (a deep insert's history items) adds nothing: one entry tells as much.
func (tx *Tx) logChange(ctx context.Context, activityID int64, kind activity.ChangeKind) error {
	if kind == activity.ChangeUpdated && slices.Contains(tx.logged, activityID) {
		return nil
	}
	tx.logged, tx.appended = append(tx.logged, activityID), true
	tx.pending = append(tx.pending, pendingChange{p: tx.p, activityID: activityID, kind: kind, at: tx.now})
	return nil
}

// pendingChange is a change a write logged, inserted with those of the whole batch just before the
// batch commits (one statement for the batch instead of one per write: the log's insert cost creates
// a fifth of their rate that way).
type pendingChange struct {
	p          activity.Principal
	activityID int64
	kind       activity.ChangeKind
	at         int64
}

// insertChanges inserts the changes of a batch's successful writes, in their order, with as few
// statements as their count in binary (a statement per power of two, so at most a few shapes).
func insertChanges(ctx context.Context, q querier, changes []pendingChange) error {
	for len(changes) > 0 {
		n := 1
		for n*2 <= len(changes) && n < 128 {
			n *= 2
		}
		args := make([]any, 0, 7*n)
		for _, c := range changes[:n] {
			args = append(args, userKey(c.p.TenantID, c.p.UserID), c.p.TenantID, c.p.UserID, c.p.AppID, c.activityID, string(c.kind), c.at)
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO changes (user_key, tenant_id, user_id, app_id, activity_id, kind, at) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?),", n), ","), args...); err != nil {
			return fmt.Errorf("log changes: %w", err)
		}
		changes = changes[n:]
	}
	return nil
}

// userKey is the change log's key of a user (migration 0009): a 64-bit FNV-1a hash of the tenant
// and the user.
func userKey(tenant, user string) int64 {
	h := fnv.New64a()
	h.Write([]byte(tenant))
	h.Write([]byte{0x1f})
	h.Write([]byte(user))
	return int64(h.Sum64())
}

// keyChanges keys the changes logged before migration 0009, through the writer.
func (s *Store) keyChanges(ctx context.Context) error {
	return s.submit(ctx, activity.Principal{}, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, `SELECT DISTINCT tenant_id, user_id FROM changes INDEXED BY changes_unkeyed WHERE user_key IS NULL`)
		if err != nil {
			return fmt.Errorf("key changes: %w", err)
		}
		var users [][2]string
		for rows.Next() {
			var u [2]string
			if err := rows.Scan(&u[0], &u[1]); err != nil {
				rows.Close()
				return fmt.Errorf("key changes: %w", err)
			}
			users = append(users, u)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("key changes: %w", err)
		}
		for _, u := range users {
			if _, err := tx.tx.ExecContext(ctx, `UPDATE changes SET user_key = ? WHERE user_key IS NULL AND tenant_id = ? AND user_id = ?`,
				userKey(u[0], u[1]), u[0], u[1]); err != nil {
				return fmt.Errorf("key changes: %w", err)
			}
		}
		return nil
	})
}

func logChangeOf(ctx context.Context, q querier, tenant, user, app string, activityID int64, kind activity.ChangeKind, now int64) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO changes (user_key, tenant_id, user_id, app_id, activity_id, kind, at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, userKey(tenant, user), tenant, user, app, activityID, string(kind), now); err != nil {
		return fmt.Errorf("log change: %w", err)
	}
	return nil
}

// Changes returns the changes of p after q.After, in commit order. The single writer commits in seq
// order, so every change a reader sees after a position was committed after it.
func (s *Store) Changes(ctx context.Context, p activity.Principal, q activity.ChangeQuery) (*activity.ChangePage, error) {
	// The latest seq is read first: what commits after it is left for the next page.
	log, err := s.ChangeLog(ctx)
	if err != nil {
		return nil, err
	}
	// The index finds the user's entries by key; the texts make sure they are the user's.
	key := userKey(p.TenantID, p.UserID)
	query, args := `SELECT seq, app_id, activity_id, kind, at FROM changes INDEXED BY changes_user_key
		WHERE user_key = ? AND tenant_id = ? AND user_id = ? AND seq > ? AND seq <= ? AND app_id = ? ORDER BY seq LIMIT ?`,
		[]any{key, p.TenantID, p.UserID, q.After.Seq, log.Latest.Seq, p.AppID, q.Limit + 1}
	if q.AllApps {
		query, args = `SELECT seq, app_id, activity_id, kind, at FROM changes INDEXED BY changes_user_key
		WHERE user_key = ? AND tenant_id = ? AND user_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
			[]any{key, p.TenantID, p.UserID, q.After.Seq, log.Latest.Seq, q.Limit + 1}
	}
	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer rows.Close()
	page := &activity.ChangePage{Next: log.Latest}
	for rows.Next() {
		if len(page.Changes) == q.Limit {
			page.More, page.Next = true, page.Changes[len(page.Changes)-1].Position
			break
		}
		var c activity.Change
		var kind string
		var at int64
		if err := rows.Scan(&c.Position.Seq, &c.AppID, &c.ActivityID, &kind, &at); err != nil {
			return nil, fmt.Errorf("changes: %w", err)
		}
		c.Kind, c.Time = activity.ChangeKind(kind), fromMicros(at)
		page.Changes = append(page.Changes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	if page.Next.Before(q.After) {
		page.Next = q.After
	}
	return page, nil
}

// ChangeLog returns the log's horizon and its latest position.
func (s *Store) ChangeLog(ctx context.Context) (activity.ChangeLog, error) {
	var log activity.ChangeLog
	err := s.reads.QueryRowContext(ctx, `SELECT (SELECT seq FROM change_horizon WHERE id = 1),
		COALESCE((SELECT MAX(seq) FROM changes), 0)`).Scan(&log.Horizon.Seq, &log.Latest.Seq)
	if err != nil {
		return log, fmt.Errorf("change log: %w", err)
	}
	return log, nil
}

// TrimChanges deletes at most limit changes committed before before, oldest first, and moves the
// horizon past them.
func (s *Store) TrimChanges(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := s.submit(ctx, activity.Principal{}, func(tx *Tx) error {
		var last int64
		// The oldest changes, in seq order (the table's own), as long as they are older than before;
		// never the newest, whose seq is where the next one counts from.
		err := tx.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM (
			SELECT seq, at FROM changes ORDER BY seq LIMIT ?)
			WHERE at < ? AND seq < (SELECT MAX(seq) FROM changes)`, limit, micros(before)).Scan(&last, &n)
		if err != nil || n == 0 {
			return err
		}
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM changes WHERE seq <= ?`, last); err != nil {
			return err
		}
		_, err = tx.tx.ExecContext(ctx, `UPDATE change_horizon SET seq = MAX(seq, ?) WHERE id = 1`, last)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("trim changes: %w", err)
	}
	return n, nil
}

// ActivitiesByID returns the live activities of p among ids.
func (s *Store) ActivitiesByID(ctx context.Context, p activity.Principal, ids []int64) (map[int64]*activity.Activity, error) {
	out := make(map[int64]*activity.Activity, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{p.TenantID, p.UserID, p.AppID, s.now()}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.reads.QueryContext(ctx, `SELECT `+activityColumns+` FROM activities a
		WHERE a.tenant_id = ? AND a.user_id = ? AND a.app_id = ? AND a.expires > ?
		AND a.id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("activities by id: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanActivity(rows)
		if err != nil {
			return nil, fmt.Errorf("activities by id: %w", err)
		}
		out[a.ID] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("activities by id: %w", err)
	}
	return out, nil
}
