package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/activityd/activityd"
)

const historyColumns = `h.activity_id, h.id, h.started, h.last_active, h.active_duration, h.user_timezone,
	h.created, h.last_modified, h.expires, h.status, h.blank`

func scanHistoryItem(row scanner) (*activity.HistoryItem, error) {
	var (
		h                                   activity.HistoryItem
		started, created, modified, expires int64
		lastActive, duration                sql.NullInt64
		status                              string
	)
	if err := row.Scan(&h.ActivityID, &h.ID, &started, &lastActive, &duration, &h.UserTimezone,
		&created, &modified, &expires, &status, &h.Blank); err != nil {
		return nil, err
	}
	h.StartedDateTime = fromMicros(started)
	if lastActive.Valid {
		h.LastActiveDateTime = fromMicros(lastActive.Int64)
	}
	if duration.Valid {
		d := int32(duration.Int64)
		h.ActiveDurationSeconds = &d
	}
	h.CreatedDateTime, h.LastModifiedDateTime, h.ExpirationDateTime = fromMicros(created), fromMicros(modified), fromMicros(expires)
	h.Status = activity.Status(status)
	return &h, nil
}

// The activity of a history item must itself be live for the item to be seen.
const liveActivity = `EXISTS (SELECT 1 FROM activities a WHERE a.id = h.activity_id AND a.tenant_id = h.tenant_id
	AND a.user_id = h.user_id AND a.app_id = h.app_id AND a.expires > ?)`

// FindHistoryItem returns one live history item of a live activity of p.
func (s *Store) FindHistoryItem(ctx context.Context, p activity.Principal, activityID int64, itemID string) (*activity.HistoryItem, error) {
	return findHistoryItem(ctx, s.reads, p, s.now(), activityID, itemID)
}

// FindHistoryItem returns one live history item of a live activity of the transaction's principal.
func (tx *Tx) FindHistoryItem(ctx context.Context, activityID int64, itemID string) (*activity.HistoryItem, error) {
	return findHistoryItem(ctx, tx.tx, tx.p, tx.now, activityID, itemID)
}

func findHistoryItem(ctx context.Context, q querier, p activity.Principal, now, activityID int64, itemID string) (*activity.HistoryItem, error) {
	row := q.QueryRowContext(ctx, `SELECT `+historyColumns+` FROM history_items h
		WHERE h.activity_id = ? AND h.id = ? AND h.tenant_id = ? AND h.user_id = ? AND h.app_id = ?
		AND h.expires > ? AND `+liveActivity,
		activityID, itemID, p.TenantID, p.UserID, p.AppID, now, now)
	h, err := scanHistoryItem(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, activity.Errorf(activity.NotFound, "The history item '%s' was not found.", itemID)
	} else if err != nil {
		return nil, fmt.Errorf("find history item: %w", err)
	}
	return h, nil
}

// PutHistoryItem inserts h or replaces the item with its activity and id, expired or not.
func (tx *Tx) PutHistoryItem(ctx context.Context, h *activity.HistoryItem) error {
	_, err := tx.writeHistoryItem(ctx, h, false)
	return err
}

// UpsertHistoryItem inserts h, or replaces the live item with its activity and id keeping that
// item's created time (activity.Tx.UpsertHistoryItem): the look-up is the upsert's own, RETURNING
// what it stored.
func (tx *Tx) UpsertHistoryItem(ctx context.Context, h *activity.HistoryItem, count bool) (created bool, items int, err error) {
	h.Status = activity.StatusActive
	if created, err = tx.writeHistoryItem(ctx, h, true); err != nil || !created || !count {
		return created, 0, err
	}
	items, err = tx.CountHistoryItems(ctx, h.ActivityID)
	return true, items, err
}

// writeHistoryItem upserts h, sets h's created time and status to what it stored, brings its
// activity's recent time up to h's and logs the activity's change. keepLive keeps the created time
// of a live item it replaces and marks it updated (Graph's PUT); without it h is stored as given.
// It reports whether the stored item is active (a PUT that created it).
func (tx *Tx) writeHistoryItem(ctx context.Context, h *activity.HistoryItem, keepLive bool) (active bool, err error) {
	var lastActive, duration sql.NullInt64
	if !h.LastActiveDateTime.IsZero() {
		lastActive = sql.NullInt64{Int64: micros(h.LastActiveDateTime), Valid: true}
	}
	if h.ActiveDurationSeconds != nil {
		duration = sql.NullInt64{Int64: int64(*h.ActiveDurationSeconds), Valid: true}
	}
	var createdAt int64
	var status string
	err = tx.tx.QueryRowContext(ctx, `INSERT INTO history_items (activity_id, id, tenant_id, user_id, app_id,
		started, last_active, active_duration, user_timezone, created, last_modified, expires, status, blank)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
		ON CONFLICT (activity_id, id) DO UPDATE SET started = excluded.started,
		last_active = excluded.last_active, active_duration = excluded.active_duration,
		user_timezone = excluded.user_timezone,
		created = iif(?15 AND history_items.expires > ?16, history_items.created, excluded.created),
		status = iif(?15 AND history_items.expires > ?16, '`+string(activity.StatusUpdated)+`', excluded.status),
		last_modified = excluded.last_modified, expires = excluded.expires, blank = excluded.blank
		RETURNING created, status`,
		h.ActivityID, h.ID, tx.p.TenantID, tx.p.UserID, tx.p.AppID, micros(h.StartedDateTime), lastActive,
		duration, h.UserTimezone, micros(h.CreatedDateTime), micros(h.LastModifiedDateTime),
		micros(h.ExpirationDateTime), string(h.Status), int64(h.Blank), keepLive, tx.now).Scan(&createdAt, &status)
	if err != nil {
		return false, fmt.Errorf("put history item: %w", err)
	}
	h.CreatedDateTime, h.Status = fromMicros(createdAt), activity.Status(status)
	if _, err := tx.tx.ExecContext(ctx, `UPDATE activities SET recent = MAX(COALESCE(recent, ?), ?) WHERE id = ?`,
		micros(h.LastModifiedDateTime), micros(h.LastModifiedDateTime), h.ActivityID); err != nil {
		return false, fmt.Errorf("put history item: %w", err)
	}
	return h.Status == activity.StatusActive, tx.logChange(ctx, h.ActivityID, activity.ChangeUpdated)
}

// DeleteHistoryItem deletes one live history item.
func (tx *Tx) DeleteHistoryItem(ctx context.Context, activityID int64, itemID string) error {
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM history_items
		WHERE activity_id = ? AND id = ? AND tenant_id = ? AND user_id = ? AND app_id = ? AND expires > ?`,
		activityID, itemID, tx.p.TenantID, tx.p.UserID, tx.p.AppID, tx.now)
	if err != nil {
		return fmt.Errorf("delete history item: %w", err)
	}
	if err := mustAffect(res, "The history item '%s' was not found.", itemID); err != nil {
		return err
	}
	if _, err := tx.tx.ExecContext(ctx, updateRecent, activityID); err != nil {
		return fmt.Errorf("delete history item: %w", err)
	}
	return tx.logChange(ctx, activityID, activity.ChangeUpdated)
}

// ListHistoryItems returns a page of one activity's history items, newest first.
func (s *Store) ListHistoryItems(ctx context.Context, p activity.Principal, activityID int64, q activity.HistoryQuery) (*activity.HistoryPage, error) {
	if q.Modified.Empty() {
		return &activity.HistoryPage{}, nil
	}
	now := s.now()
	from, to := q.Modified.Micros()
	afterTime, afterID := int64(1<<63-1), "~" // "~" sorts after every GUID
	if q.After != nil {
		afterTime, afterID = micros(q.After.Time), q.After.ItemID
	}
	rows, err := s.reads.QueryContext(ctx, `SELECT `+historyColumns+` FROM history_items h
		WHERE h.activity_id = ? AND h.tenant_id = ? AND h.user_id = ? AND h.app_id = ? AND h.expires > ?
		AND h.last_modified BETWEEN ? AND ? AND (h.last_modified < ? OR (h.last_modified = ? AND h.id < ?))
		AND `+liveActivity+`
		ORDER BY h.last_modified DESC, h.id DESC LIMIT ?`,
		activityID, p.TenantID, p.UserID, p.AppID, now, from, to, afterTime, afterTime, afterID, now, q.Limit+1)
	if err != nil {
		return nil, fmt.Errorf("list history items: %w", err)
	}
	items, err := scanHistoryItems(rows)
	if err != nil {
		return nil, fmt.Errorf("list history items: %w", err)
	}
	page := &activity.HistoryPage{Items: items}
	if len(items) > q.Limit {
		page.Items = items[:q.Limit]
		last := page.Items[q.Limit-1]
		page.Next = &activity.Cursor{Time: last.LastModifiedDateTime, ItemID: last.ID}
	}
	return page, nil
}

// ExpandHistoryItems returns the newest live history items of the given activities in the range, at
// most limit of each, newest first.
func (s *Store) ExpandHistoryItems(ctx context.Context, p activity.Principal, activityIDs []int64, modified activity.TimeRange, limit int) (map[int64][]*activity.HistoryItem, error) {
	return s.expandHistoryItems(ctx, p, false, activityIDs, modified, limit)
}

// expandHistoryItems is ExpandHistoryItems, of p's user through every app with allApps.
func (s *Store) expandHistoryItems(ctx context.Context, p activity.Principal, allApps bool, activityIDs []int64, modified activity.TimeRange, limit int) (map[int64][]*activity.HistoryItem, error) {
	out := make(map[int64][]*activity.HistoryItem, len(activityIDs))
	if len(activityIDs) == 0 || modified.Empty() {
		return out, nil
	}
	from, to := modified.Micros()
	app, args := " AND h.app_id = ?", []any{p.TenantID, p.UserID, p.AppID, s.now(), from, to}
	if allApps {
		app, args = "", []any{p.TenantID, p.UserID, s.now(), from, to}
	}
	for _, id := range activityIDs {
		args = append(args, id)
	}
	args = append(args, limit)
	rows, err := s.reads.QueryContext(ctx, `SELECT `+historyColumns+` FROM (
			SELECT h.*, row_number() OVER (PARTITION BY h.activity_id ORDER BY h.last_modified DESC, h.id DESC) AS n
			FROM history_items h
			WHERE h.tenant_id = ? AND h.user_id = ?`+app+` AND h.expires > ?
			AND h.last_modified BETWEEN ? AND ?
			AND h.activity_id IN (?`+strings.Repeat(", ?", len(activityIDs)-1)+`)) h
		WHERE h.n <= ?
		ORDER BY h.activity_id, h.last_modified DESC, h.id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("expand history items: %w", err)
	}
	items, err := scanHistoryItems(rows)
	if err != nil {
		return nil, fmt.Errorf("expand history items: %w", err)
	}
	for _, h := range items {
		out[h.ActivityID] = append(out[h.ActivityID], h)
	}
	return out, nil
}

// CountHistoryItems counts one activity's live history items in the range.
func (s *Store) CountHistoryItems(ctx context.Context, p activity.Principal, activityID int64, modified activity.TimeRange) (int, error) {
	if modified.Empty() {
		return 0, nil
	}
	now := s.now()
	from, to := modified.Micros()
	var n int
	err := s.reads.QueryRowContext(ctx, `SELECT COUNT(*) FROM history_items h
		WHERE h.activity_id = ? AND h.tenant_id = ? AND h.user_id = ? AND h.app_id = ? AND h.expires > ?
		AND h.last_modified BETWEEN ? AND ? AND `+liveActivity,
		activityID, p.TenantID, p.UserID, p.AppID, now, from, to, now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count history items: %w", err)
	}
	return n, nil
}

func scanHistoryItems(rows *sql.Rows) ([]*activity.HistoryItem, error) {
	defer rows.Close()
	var items []*activity.HistoryItem
	for rows.Next() {
		h, err := scanHistoryItem(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, h)
	}
	return items, rows.Err()
}

// CountHistoryItems returns how many live history items the activity holds.
func (tx *Tx) CountHistoryItems(ctx context.Context, activityID int64) (int, error) {
	var n int
	err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM history_items WHERE activity_id = ? AND expires > ?`,
		activityID, tx.now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count history items: %w", err)
	}
	return n, nil
}
