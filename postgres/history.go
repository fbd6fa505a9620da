package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/activityd/activityd"
	"github.com/jackc/pgx/v5"
)

const historyColumns = `h.activity_id, h.id, h.started, h.last_active, h.active_duration, h.user_timezone,
	h.created, h.last_modified, h.expires, h.status, h.blank`

func scanHistoryItem(row pgx.Row) (*activity.HistoryItem, error) {
	var (
		h                                   activity.HistoryItem
		started, created, modified, expires int64
		lastActive                          *int64
		status                              string
	)
	if err := row.Scan(&h.ActivityID, &h.ID, &started, &lastActive, &h.ActiveDurationSeconds, &h.UserTimezone,
		&created, &modified, &expires, &status, &h.Blank); err != nil {
		return nil, err
	}
	h.StartedDateTime = fromMicros(started)
	if lastActive != nil {
		h.LastActiveDateTime = fromMicros(*lastActive)
	}
	h.CreatedDateTime, h.LastModifiedDateTime, h.ExpirationDateTime = fromMicros(created), fromMicros(modified), fromMicros(expires)
	h.Status = activity.Status(status)
	return &h, nil
}

// liveActivity is the condition that a history item's activity is itself live (unexpired at the
// instant in the query parameter now).
func liveActivity(now string) string {
	return `EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = h.tenant_id AND a.user_id = h.user_id
	AND a.app_id = h.app_id AND a.id = h.activity_id AND a.expires > ` + now + `)`
}

// FindHistoryItem returns one live history item of a live activity of p.
func (s *Store) FindHistoryItem(ctx context.Context, p activity.Principal, activityID int64, itemID string) (*activity.HistoryItem, error) {
	return findHistoryItem(ctx, s.pool, p, s.now(), activityID, itemID)
}

// FindHistoryItem returns one live history item of a live activity of the transaction's principal.
func (tx *Tx) FindHistoryItem(ctx context.Context, activityID int64, itemID string) (*activity.HistoryItem, error) {
	return findHistoryItem(ctx, tx.tx, tx.p, tx.now, activityID, itemID)
}

func findHistoryItem(ctx context.Context, q querier, p activity.Principal, now, activityID int64, itemID string) (*activity.HistoryItem, error) {
	row := q.QueryRow(ctx, `SELECT `+historyColumns+` FROM history_items h
		WHERE h.tenant_id = $1 AND h.user_id = $2 AND h.app_id = $3 AND h.activity_id = $4 AND h.id = $5
		AND h.expires > $6 AND `+liveActivity("$6"),
		p.TenantID, p.UserID, p.AppID, activityID, itemID, now)
	h, err := scanHistoryItem(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, activity.Errorf(activity.NotFound, "The history item '%s' was not found.", itemID)
	} else if err != nil {
		return nil, fmt.Errorf("find history item: %w", err)
	}
	return h, nil
}

// PutHistoryItem inserts h or replaces the item with its activity and id, expired or not, moves
// the activity's recent time up to the item's, and logs the activity as updated unless this
// transaction logged it already: one statement, one round trip (data-modifying WITH queries all run,
// referenced or not: https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING).
func (tx *Tx) PutHistoryItem(ctx context.Context, h *activity.HistoryItem) error {
	_, _, err := tx.writeHistoryItem(ctx, h, false, false)
	return err
}

// UpsertHistoryItem is PutHistoryItem keeping the created time of a live item it replaces
// (activity.Tx.UpsertHistoryItem), in the same one statement: the upsert's RETURNING says what it
// stored, and the count of the activity's other live items, read in the statement's snapshot (before
// its own insert), plus the new one, is how many it holds after it.
func (tx *Tx) UpsertHistoryItem(ctx context.Context, h *activity.HistoryItem, count bool) (created bool, items int, err error) {
	return tx.writeHistoryItem(ctx, h, true, count)
}

// writeHistoryItem writes h in one statement; graphPut keeps a live item's created time
// (UpsertHistoryItem), or else it stores h as given; count counts the activity's items when it
// creates one.
func (tx *Tx) writeHistoryItem(ctx context.Context, h *activity.HistoryItem, graphPut, count bool) (created bool, items int, err error) {
	var lastActive *int64
	if !h.LastActiveDateTime.IsZero() {
		v := micros(h.LastActiveDateTime)
		lastActive = &v
	}
	status := string(h.Status)
	if graphPut {
		status = string(activity.StatusActive)
	}
	logged := tx.toLog(h.ActivityID, activity.ChangeUpdated)
	args := []any{tx.p.TenantID, tx.p.UserID, tx.p.AppID, h.ActivityID, h.ID, micros(h.StartedDateTime), lastActive,
		h.ActiveDurationSeconds, h.UserTimezone, micros(h.CreatedDateTime), micros(h.LastModifiedDateTime),
		micros(h.ExpirationDateTime), status, int64(h.Blank)}
	if graphPut || count || logged {
		args = append(args, tx.now) // $15, where the statement has it
	}
	var createdAt int64
	err = tx.tx.QueryRow(ctx, historyStatements[b2i(graphPut)][b2i(count)][b2i(logged)], args...).Scan(&createdAt, &status, &items)
	if err != nil {
		return false, 0, fmt.Errorf("put history item: %w", err)
	}
	h.CreatedDateTime, h.Status = fromMicros(createdAt), activity.Status(status)
	return h.Status == activity.StatusActive, items, nil
}

// historyStatements are writeHistoryItem's statements, by graphPut, count and whether the change
// is logged, made once rather than on every request.
var historyStatements = func() (s [2][2][2]string) {
	for g := range 2 {
		for c := range 2 {
			for l := range 2 {
				s[g][c][l] = historyStatement(g == 1, c == 1, l == 1)
			}
		}
	}
	return s
}()

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// historyStatement is the upsert of a history item ($1–$14 its columns, $15 now where used), the
// activity's recent time, and, when logged, the activity's change: data-modifying WITH queries, all
// run whether referenced or not. It returns the stored created time and status, and, with count,
// the activity's live items after it when it created the item: its other items in the statement's
// snapshot (taken before its own insert) plus the new one.
func historyStatement(graphPut, count, logged bool) string {
	kept, counted, log := `created = excluded.created, status = excluded.status`, `0`, ``
	if graphPut {
		kept = `created = CASE WHEN history_items.expires > $15 THEN history_items.created ELSE excluded.created END,
			status = CASE WHEN history_items.expires > $15 THEN '` + string(activity.StatusUpdated) + `' ELSE excluded.status END`
	}
	if count {
		counted = `CASE WHEN item.status = '` + string(activity.StatusActive) + `' THEN (SELECT count(*) FROM history_items
			WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3 AND activity_id = $4 AND expires > $15 AND id <> $5)
			+ CASE WHEN $12 > $15 THEN 1 ELSE 0 END ELSE 0 END`
	}
	if logged {
		log = `, logged AS (INSERT INTO changes (tenant_id, user_id, app_id, activity_id, kind, at)
			VALUES ($1, $2, $3, $4, 'updated', $15))`
	}
	return `WITH item AS (INSERT INTO history_items (tenant_id, user_id, app_id, activity_id, id,
			started, last_active, active_duration, user_timezone, created, last_modified, expires, status, blank)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (tenant_id, user_id, app_id, activity_id, id) DO UPDATE SET started = excluded.started,
			last_active = excluded.last_active, active_duration = excluded.active_duration,
			user_timezone = excluded.user_timezone, ` + kept + `,
			last_modified = excluded.last_modified, expires = excluded.expires, blank = excluded.blank
			RETURNING created, status),
		recent AS (UPDATE activities SET recent = GREATEST(COALESCE(recent, $11), $11)
			WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3 AND id = $4)` + log + `
		SELECT item.created, item.status, ` + counted + ` FROM item`
}

// DeleteHistoryItem deletes one live history item.
func (tx *Tx) DeleteHistoryItem(ctx context.Context, activityID int64, itemID string) error {
	tag, err := tx.tx.Exec(ctx, `DELETE FROM history_items
		WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3 AND activity_id = $4 AND id = $5 AND expires > $6`,
		tx.p.TenantID, tx.p.UserID, tx.p.AppID, activityID, itemID, tx.now)
	if err != nil {
		return fmt.Errorf("delete history item: %w", err)
	}
	if err := mustAffect(tag, "The history item '%s' was not found.", itemID); err != nil {
		return err
	}
	if _, err := tx.tx.Exec(ctx, updateRecent, tx.p.TenantID, tx.p.UserID, tx.p.AppID, activityID); err != nil {
		return fmt.Errorf("delete history item: %w", err)
	}
	return tx.logChange(ctx, activityID, activity.ChangeUpdated)
}

// ListHistoryItems returns a page of one activity's history items, newest first.
func (s *Store) ListHistoryItems(ctx context.Context, p activity.Principal, activityID int64, q activity.HistoryQuery) (*activity.HistoryPage, error) {
	if q.Modified.Empty() {
		return &activity.HistoryPage{}, nil
	}
	from, to := q.Modified.Micros()
	afterTime, afterID := int64(1<<63-1), "~" // "~" sorts after every GUID
	if q.After != nil {
		afterTime, afterID = micros(q.After.Time), q.After.ItemID
	}
	rows, err := s.pool.Query(ctx, `SELECT `+historyColumns+` FROM history_items h
		WHERE h.tenant_id = $1 AND h.user_id = $2 AND h.app_id = $3 AND h.activity_id = $4 AND h.expires > $6
		AND h.last_modified BETWEEN $7 AND $8 AND (h.last_modified, h.id) < ($9, $5)
		AND `+liveActivity("$6")+`
		ORDER BY h.last_modified DESC, h.id DESC LIMIT $10`,
		p.TenantID, p.UserID, p.AppID, activityID, afterID, s.now(), from, to, afterTime, q.Limit+1)
	if err != nil {
		return nil, fmt.Errorf("list history items: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*activity.HistoryItem, error) { return scanHistoryItem(r) })
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
	apps := make([]string, len(activityIDs))
	for i := range apps {
		apps[i] = p.AppID
	}
	return s.expandHistoryItems(ctx, p, apps, activityIDs, modified, limit)
}

// expandHistoryItems is ExpandHistoryItems of activities of p's user through any app: apps[i] is
// the app of activityIDs[i].
func (s *Store) expandHistoryItems(ctx context.Context, p activity.Principal, apps []string, activityIDs []int64, modified activity.TimeRange, limit int) (map[int64][]*activity.HistoryItem, error) {
	out := make(map[int64][]*activity.HistoryItem, len(activityIDs))
	if len(activityIDs) == 0 || modified.Empty() {
		return out, nil
	}
	from, to := modified.Micros()
	// One index scan per activity, of its newest items and no more (LIMIT in a LATERAL subquery,
	// which PostgreSQL runs for each row with the activity's key as the scan's bounds): the plan
	// cannot turn into a scan of all of the user's items, whatever the statistics.
	rows, err := s.pool.Query(ctx, `SELECT `+historyColumns+` FROM unnest($3::text[], $4::bigint[]) AS x(app_id, activity_id)
		CROSS JOIN LATERAL (SELECT * FROM history_items h
			WHERE h.tenant_id = $1 AND h.user_id = $2 AND h.app_id = x.app_id AND h.activity_id = x.activity_id
			AND h.expires > $5 AND h.last_modified BETWEEN $6 AND $7
			ORDER BY h.last_modified DESC, h.id DESC LIMIT $8) h
		ORDER BY h.activity_id, h.last_modified DESC, h.id DESC`,
		p.TenantID, p.UserID, apps, activityIDs, s.now(), from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("expand history items: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*activity.HistoryItem, error) { return scanHistoryItem(r) })
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
	from, to := modified.Micros()
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM history_items h
		WHERE h.tenant_id = $1 AND h.user_id = $2 AND h.app_id = $3 AND h.activity_id = $4 AND h.expires > $5
		AND h.last_modified BETWEEN $6 AND $7 AND `+liveActivity("$5"),
		p.TenantID, p.UserID, p.AppID, activityID, s.now(), from, to).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count history items: %w", err)
	}
	return n, nil
}

// CountHistoryItems returns how many live history items the activity holds.
func (tx *Tx) CountHistoryItems(ctx context.Context, activityID int64) (int, error) {
	var n int
	err := tx.tx.QueryRow(ctx, `SELECT count(*) FROM history_items
		WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3 AND activity_id = $4 AND expires > $5`,
		tx.p.TenantID, tx.p.UserID, tx.p.AppID, activityID, tx.now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count history items: %w", err)
	}
	return n, nil
}

// PutHistoryItem is Graph's PUT of history item h into the live activity ref names, in one round
// trip when it can be: two statements in one pipeline, which PostgreSQL runs as one implicit
// transaction (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-PIPELINING),
// where Store.Update's way (BEGIN with the look-ups, the upsert, COMMIT) takes three. The first
// statement locks the activity (FOR UPDATE, as Tx.FindActivityToWrite does), so that the second,
// whose snapshot is taken after it, counts every item that writers of the activity committed
// before it. The second stores h as Tx.UpsertHistoryItem does (h.ActivityID, CreatedDateTime and
// Status set to what it stored), moves the activity's recent time and logs the change, unless:
//   - the user's privacy settings could refuse it (a pause in effect, or any blocked app or site:
//     deciding needs activity.Privacy.Refuses, in Go): then nothing is written and ok is false, for
//     the caller to do the write in a transaction of its own (Update) instead; so too when ref has
//     both an id and an appActivityId and the id names no live activity (the look-up falls back);
//   - the activity would hold more than max live items: nothing is written, created is true and
//     items is how many it would hold (the caller refuses: activity.Service.PutHistoryItem).
//
// The privacy row is read FOR SHARE, which orders the write with SetPrivacy as the upsert of an
// activity is. h.ID must be set. items is the count after the write when it created the item, 0
// when it replaced a live one. Errors: NotFound (the activity).
func (s *Store) PutHistoryItem(ctx context.Context, p activity.Principal, ref activity.Ref, h *activity.HistoryItem, max int) (created bool, items int, ok bool, err error) {
	column, key := "a.id", any(ref.ID)
	if ref.ID <= 0 {
		if ref.AppActivityID == "" {
			return false, 0, false, activity.Errorf(activity.NotFound, "The activity was not found.")
		}
		column, key = "a.app_activity_id", ref.AppActivityID
	}
	var lastActive *int64
	if !h.LastActiveDateTime.IsZero() {
		v := micros(h.LastActiveDateTime)
		lastActive = &v
	}
	for attempt := 1; ; attempt++ {
		now := s.now()
		b := &pgx.Batch{}
		b.Queue(`SELECT a.id FROM activities a WHERE a.tenant_id = $1 AND a.user_id = $2 AND a.app_id = $3
			AND `+column+` = $4 AND a.expires > $5 FOR UPDATE`, p.TenantID, p.UserID, p.AppID, key, now)
		b.Queue(putHistoryItemStatements[b2i(column == "a.app_activity_id")], p.TenantID, p.UserID, p.AppID, key, h.ID,
			micros(h.StartedDateTime), lastActive, h.ActiveDurationSeconds, h.UserTimezone, micros(h.CreatedDateTime),
			micros(h.LastModifiedDateTime), micros(h.ExpirationDateTime), string(activity.StatusActive), int64(h.Blank),
			now, max)
		// Nothing is sent for a request gone already; once sent, the outcome is waited for even if
		// the request goes away, since the pipeline may commit all the same (as PutActivity).
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return false, 0, false, fmt.Errorf("put history item: %w", err)
		}
		br := c.SendBatch(context.WithoutCancel(ctx), b)
		var (
			activityID, createdAt *int64
			open                  bool
			held                  int
			status                *string
		)
		_, err = br.Exec()
		if err == nil {
			err = br.QueryRow().Scan(&activityID, &open, &held, &createdAt, &status)
		}
		err = closeBatch(br, err)
		c.Release()
		if err != nil {
			if !retryable(err) || attempt == maxAttempts {
				return false, 0, false, fmt.Errorf("put history item: %w", err)
			}
			// Back off a little, with jitter, as Update does.
			select {
			case <-ctx.Done():
				return false, 0, false, ctx.Err()
			case <-time.After(time.Duration(rand.IntN(attempt*2000)) * time.Microsecond):
			}
			continue
		}
		switch {
		case activityID == nil && column == "a.id" && ref.AppActivityID != "", !open:
			return false, 0, false, nil
		case activityID == nil && column == "a.id":
			return false, 0, false, activity.Errorf(activity.NotFound, "The activity was not found.")
		case activityID == nil:
			return false, 0, false, activity.Errorf(activity.NotFound, "The activity '%v' was not found.", key)
		case status == nil: // more items than max: nothing written
			return true, held + 1, true, nil
		}
		s.committed(userOf(p))
		h.ActivityID, h.CreatedDateTime, h.Status = *activityID, fromMicros(*createdAt), activity.Status(*status)
		created = h.Status == activity.StatusActive
		if created {
			items = held + 1
		}
		return created, items, true, nil
	}
}

// putHistoryItemStatements are the second statement of Store.PutHistoryItem, by the activity's key:
// its id, or its appActivityId. $1–$3 are the principal, $4 the key, $5–$14 the item's columns, $15
// now, $16 the most items an activity holds. It returns the activity's id (NULL: none is live),
// whether the privacy settings refuse nothing, the activity's other live items, and the stored
// item's created time and status (NULL: nothing written).
var putHistoryItemStatements = [2]string{putHistoryItemStatement("a.id"), putHistoryItemStatement("a.app_activity_id")}

func putHistoryItemStatement(column string) string {
	return `WITH pv AS (SELECT paused_until, blocked_apps, blocked_sites FROM privacy
			WHERE tenant_id = $1 AND user_id = $2 FOR SHARE),
		permits AS (SELECT NOT EXISTS (SELECT 1 FROM pv WHERE pv.paused_until > $15
			OR cardinality(pv.blocked_apps) > 0 OR cardinality(pv.blocked_sites) > 0) AS open),
		act AS (SELECT a.id FROM activities a WHERE a.tenant_id = $1 AND a.user_id = $2 AND a.app_id = $3
			AND ` + column + ` = $4 AND a.expires > $15),
		live AS (SELECT EXISTS (SELECT 1 FROM history_items i, act WHERE i.tenant_id = $1 AND i.user_id = $2
			AND i.app_id = $3 AND i.activity_id = act.id AND i.id = $5 AND i.expires > $15) AS live),
		held AS (SELECT count(*)::int AS n FROM history_items i, act WHERE i.tenant_id = $1 AND i.user_id = $2
			AND i.app_id = $3 AND i.activity_id = act.id AND i.expires > $15 AND i.id <> $5),
		allowed AS (SELECT act.id FROM act, permits, live, held
			WHERE permits.open AND (live.live OR held.n + CASE WHEN $12 > $15 THEN 1 ELSE 0 END <= $16)),
		item AS (INSERT INTO history_items (tenant_id, user_id, app_id, activity_id, id,
			started, last_active, active_duration, user_timezone, created, last_modified, expires, status, blank)
			SELECT $1, $2, $3, allowed.id, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM allowed
			ON CONFLICT (tenant_id, user_id, app_id, activity_id, id) DO UPDATE SET started = excluded.started,
			last_active = excluded.last_active, active_duration = excluded.active_duration,
			user_timezone = excluded.user_timezone,
			created = CASE WHEN history_items.expires > $15 THEN history_items.created ELSE excluded.created END,
			status = CASE WHEN history_items.expires > $15 THEN '` + string(activity.StatusUpdated) + `' ELSE excluded.status END,
			last_modified = excluded.last_modified, expires = excluded.expires, blank = excluded.blank
			RETURNING activity_id, created, status),
		recent AS (UPDATE activities a SET recent = GREATEST(COALESCE(a.recent, $11), $11) FROM item
			WHERE a.tenant_id = $1 AND a.user_id = $2 AND a.app_id = $3 AND a.id = item.activity_id),
		logged AS (INSERT INTO changes (tenant_id, user_id, app_id, activity_id, kind, at)
			SELECT $1, $2, $3, activity_id, '` + string(activity.ChangeUpdated) + `', $15 FROM item)
		SELECT (SELECT id FROM act), (SELECT open FROM permits), (SELECT n FROM held), item.created, item.status
		FROM (SELECT 1) one LEFT JOIN item ON true`
}
