package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/activityd/activityd"
	"github.com/jackc/pgx/v5"
)

// insertChange appends one change; the transaction's id and the sequence fill in themselves.
const insertChange = `INSERT INTO changes (tenant_id, user_id, app_id, activity_id, kind, at) VALUES ($1, $2, $3, $4, $5, $6)`

// logChange appends a change of the transaction's principal to the change log, in the transaction:
// every write method of Tx calls it, so no write can forget it. An update of an activity the
// transaction has logged already (a deep insert's history items) adds nothing.
func (tx *Tx) logChange(ctx context.Context, activityID int64, kind activity.ChangeKind) error {
	if !tx.toLog(activityID, kind) {
		return nil
	}
	if _, err := tx.tx.Exec(ctx, insertChange, tx.p.TenantID, tx.p.UserID, tx.p.AppID, activityID, string(kind), tx.now); err != nil {
		return fmt.Errorf("log change: %w", err)
	}
	return nil
}

// toLog reports whether a change of kind to the activity is to be logged, and notes it as logged: an
// update of an activity this transaction logged already is not logged again.
func (tx *Tx) toLog(activityID int64, kind activity.ChangeKind) bool {
	if kind == activity.ChangeUpdated && slices.Contains(tx.logged, activityID) {
		return false
	}
	tx.logged = append(tx.logged, activityID)
	return true
}

// loggedByUpsert records that the upsert's own statement logged a change of the activity.
func (tx *Tx) loggedByUpsert(activityID int64) { tx.logged = append(tx.logged, activityID) }

// personChanges and appChanges read the change log of the user $1/$2 (of their app $3 for the
// second) after a position, in log order, through the changes_user index (migration 0010). Its key
// is a hash of the tenant and user, so both compare the texts too, which keeps a collision harmless;
// the app's view filters the person's entries by app. They read past the log's latest position too:
// an entry there is committed but held back (Changes), and the first one says so.
const (
	personChanges = `SELECT tx, seq, app_id, activity_id, kind, at FROM changes
		WHERE user_key = hashtextextended($1 || E'\x1f' || $2, 0) AND tenant_id = $1 AND user_id = $2
		AND (tx, seq) > ($3, $4) ORDER BY tx, seq LIMIT $5`
	appChanges = `SELECT tx, seq, app_id, activity_id, kind, at FROM changes
		WHERE user_key = hashtextextended($1 || E'\x1f' || $2, 0) AND tenant_id = $1 AND user_id = $2
		AND app_id = $3 AND (tx, seq) > ($4, $5) ORDER BY tx, seq LIMIT $6`
)

// Changes returns the changes of p after q.After, in log order: only those of transactions older
// than every transaction still running, so that nothing can later commit before them. A committed
// change behind a transaction still running is held back: the read leaves it out, and the store
// calls OnCommit for the user once that transaction has ended (watchHorizon), since no commit may
// come then to wake the reader.
func (s *Store) Changes(ctx context.Context, p activity.Principal, q activity.ChangeQuery) (*activity.ChangePage, error) {
	log, err := s.ChangeLog(ctx)
	if err != nil {
		return nil, err
	}
	var rows pgx.Rows
	if q.AllApps {
		rows, err = s.pool.Query(ctx, personChanges, p.TenantID, p.UserID, q.After.Tx, q.After.Seq, q.Limit+1)
	} else {
		rows, err = s.pool.Query(ctx, appChanges, p.TenantID, p.UserID, p.AppID, q.After.Tx, q.After.Seq, q.Limit+1)
	}
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer rows.Close()
	page := &activity.ChangePage{Next: log.Latest}
	for rows.Next() {
		var c activity.Change
		var kind string
		var at int64
		if err := rows.Scan(&c.Position.Tx, &c.Position.Seq, &c.AppID, &c.ActivityID, &kind, &at); err != nil {
			return nil, fmt.Errorf("changes: %w", err)
		}
		if log.Latest.Before(c.Position) {
			s.holdBack(activity.UserKey(p.TenantID, p.UserID), c.Position.Tx)
			break
		}
		if len(page.Changes) == q.Limit {
			page.More, page.Next = true, page.Changes[len(page.Changes)-1].Position
			break
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

// ChangeLog returns the log's horizon and its latest position: every transaction older than the
// oldest one still running, all of its changes included.
func (s *Store) ChangeLog(ctx context.Context) (activity.ChangeLog, error) {
	var log activity.ChangeLog
	var xmin int64
	err := s.pool.QueryRow(ctx, `SELECT h.tx, h.seq, pg_snapshot_xmin(pg_current_snapshot())::text::bigint
		FROM change_horizon h WHERE h.id = 1`).Scan(&log.Horizon.Tx, &log.Horizon.Seq, &xmin)
	if err != nil {
		return log, fmt.Errorf("change log: %w", err)
	}
	log.Latest = activity.Position{Tx: xmin - 1, Seq: math.MaxInt64}
	return log, nil
}

// TrimChanges deletes at most limit changes committed before before, oldest first, and moves the
// horizon past them.
func (s *Store) TrimChanges(ctx context.Context, before time.Time, limit int) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("trim changes: %w", err)
	}
	defer tx.Rollback(ctx)
	var last activity.Position
	var n int
	err = tx.QueryRow(ctx, `WITH gone AS (
			DELETE FROM changes WHERE ctid = ANY(ARRAY(
				SELECT ctid FROM changes WHERE at < $1 ORDER BY tx, seq LIMIT $2
				FOR UPDATE SKIP LOCKED))
			RETURNING tx, seq)
		SELECT COALESCE(MAX(tx), 0), COALESCE(MAX(seq) FILTER (WHERE tx = (SELECT MAX(tx) FROM gone)), 0), COUNT(*) FROM gone`,
		micros(before), limit).Scan(&last.Tx, &last.Seq, &n)
	if err != nil {
		return 0, fmt.Errorf("trim changes: %w", err)
	}
	if n > 0 {
		if _, err := tx.Exec(ctx, `UPDATE change_horizon SET tx = $1, seq = $2 WHERE id = 1 AND (tx, seq) < ($1, $2)`, last.Tx, last.Seq); err != nil {
			return 0, fmt.Errorf("trim changes: %w", err)
		}
	}
	return n, tx.Commit(ctx)
}

// ActivitiesByID returns the live activities of p among ids.
func (s *Store) ActivitiesByID(ctx context.Context, p activity.Principal, ids []int64) (map[int64]*activity.Activity, error) {
	out := make(map[int64]*activity.Activity, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+activityColumns+` FROM activities a
		WHERE a.tenant_id = $1 AND a.user_id = $2 AND a.app_id = $3 AND a.id = ANY($4) AND a.expires > $5`,
		p.TenantID, p.UserID, p.AppID, ids, s.now())
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
