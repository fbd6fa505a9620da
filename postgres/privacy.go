package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/activityd/activityd"
	"github.com/jackc/pgx/v5"
)

// Forget deletes what f selects of p's user through every app, in one transaction that also logs
// each deleted activity, and each activity that lost history items, in the change log.
func (s *Store) Forget(ctx context.Context, p activity.Principal, f activity.Forget) (activity.Forgotten, error) {
	var n activity.Forgotten
	err := s.Update(ctx, p, func(t activity.Tx) (err error) {
		n, err = t.(*Tx).forget(ctx, f)
		return err
	})
	return n, err
}

func (tx *Tx) forget(ctx context.Context, f activity.Forget) (activity.Forgotten, error) {
	var n activity.Forgotten
	args := []any{tx.p.TenantID, tx.p.UserID, tx.now}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := "tenant_id = $1 AND user_id = $2"
	from, to := f.Range.Micros()
	switch {
	case f.All:
	case f.AppID != "":
		where += " AND app_id = " + arg(f.AppID)
	case f.Site != "":
		where += " AND (site = " + arg(f.Site) + " OR right(site, " + arg(len(f.Site)+1) + ") = " + arg("."+f.Site) + ")"
	case f.ActivityID != 0:
		where += " AND id = " + arg(f.ActivityID)
	default:
		lo, hi := arg(from), arg(to)
		where += " AND (last_modified BETWEEN " + lo + " AND " + hi + " OR created BETWEEN " + lo + " AND " + hi + ")"
	}
	// Expired activities go too, though invisible already: forgetting does not wait for the purge.
	// Each is logged as deleted in the same statement.
	if err := tx.tx.QueryRow(ctx, `WITH gone AS (DELETE FROM activities WHERE `+where+` RETURNING app_id, id),
		logged AS (INSERT INTO changes (tenant_id, user_id, app_id, activity_id, kind, at)
			SELECT $1, $2, app_id, id, 'deleted', $3 FROM gone)
		SELECT count(*) FROM gone`, args...).Scan(&n.Activities); err != nil {
		return n, fmt.Errorf("forget activities: %w", err)
	}
	if n.Activities > 0 {
		tx.logged = append(tx.logged, 0) // the commit wakes the user's streams
	}
	if f.Range.From.IsZero() && f.Range.To.IsZero() {
		return n, nil
	}
	// The sessions of other activities that were active in the range.
	rows, err := tx.tx.Query(ctx, `DELETE FROM history_items WHERE tenant_id = $1 AND user_id = $2
		AND started <= $3 AND coalesce(last_active, started) >= $4 RETURNING app_id, activity_id`,
		tx.p.TenantID, tx.p.UserID, to, from)
	if err != nil {
		return n, fmt.Errorf("forget history items: %w", err)
	}
	type key struct {
		app string
		id  int64
	}
	var touched []key
	seen := map[key]bool{}
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.app, &k.id); err != nil {
			rows.Close()
			return n, fmt.Errorf("forget history items: %w", err)
		}
		n.HistoryItems++
		if !seen[k] {
			seen[k] = true
			touched = append(touched, k)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("forget history items: %w", err)
	}
	for _, k := range touched {
		if _, err := tx.tx.Exec(ctx, updateRecent, tx.p.TenantID, tx.p.UserID, k.app, k.id); err != nil {
			return n, fmt.Errorf("forget history items: %w", err)
		}
		if _, err := tx.tx.Exec(ctx, insertChange, tx.p.TenantID, tx.p.UserID, k.app, k.id, string(activity.ChangeUpdated), tx.now); err != nil {
			return n, fmt.Errorf("forget history items: %w", err)
		}
		tx.logged = append(tx.logged, k.id)
	}
	return n, nil
}

// Privacy returns the privacy settings of p's user.
func (s *Store) Privacy(ctx context.Context, p activity.Principal) (*activity.Privacy, error) {
	return readPrivacy(ctx, s.pool, p, "")
}

// Privacy returns the privacy settings of the transaction's user, and locks them (FOR SHARE) until
// the transaction ends: a SetPrivacy changing them waits for it, and one that changed them first is
// seen.
func (tx *Tx) Privacy(ctx context.Context) (*activity.Privacy, error) {
	return readPrivacy(ctx, tx.tx, tx.p, " FOR SHARE")
}

func readPrivacy(ctx context.Context, q querier, p activity.Principal, lock string) (*activity.Privacy, error) {
	return scanPrivacy(q.QueryRow(ctx, privacySQL+lock, p.TenantID, p.UserID))
}

// privacySQL reads the privacy row of a user ($1 tenant, $2 user), which may not exist.
const privacySQL = `SELECT blocked_apps, blocked_sites, paused_until FROM privacy WHERE tenant_id = $1 AND user_id = $2`

// scanPrivacy scans the row of privacySQL: none is the default settings.
func scanPrivacy(row pgx.Row) (*activity.Privacy, error) {
	pv := &activity.Privacy{}
	var paused int64
	err := row.Scan(&pv.BlockedApps, &pv.BlockedSites, &paused)
	if errors.Is(err, pgx.ErrNoRows) {
		return pv, nil
	} else if err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	if paused != 0 {
		pv.PausedUntil = fromMicros(paused)
	}
	return pv, nil
}

// SetPrivacy replaces the privacy settings of p's user. Writes read the row FOR SHARE in their own
// statement or transaction: the UPDATE waits for those that read it, and those that come after
// read it changed. A user's first settings are made in two steps, an empty row (which refuses
// nothing, so a write beside it needs no ordering) and then the update, so that the update is
// always one of an existing row.
func (s *Store) SetPrivacy(ctx context.Context, p activity.Principal, pv *activity.Privacy) error {
	var paused int64
	if !pv.PausedUntil.IsZero() {
		paused = micros(pv.PausedUntil)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO privacy (tenant_id, user_id, blocked_apps, blocked_sites, paused_until)
		VALUES ($1, $2, '{}', '{}', 0) ON CONFLICT (tenant_id, user_id) DO NOTHING`, p.TenantID, p.UserID); err != nil {
		return fmt.Errorf("set privacy: %w", err)
	}
	_, err := s.pool.Exec(ctx, `UPDATE privacy SET blocked_apps = $3, blocked_sites = $4, paused_until = $5
		WHERE tenant_id = $1 AND user_id = $2`,
		p.TenantID, p.UserID, append([]string{}, pv.BlockedApps...), append([]string{}, pv.BlockedSites...), paused)
	if err != nil {
		return fmt.Errorf("set privacy: %w", err)
	}
	return nil
}

// indexOld works out site and search_text for the activities written before migration 0009, in
// batches, so that search finds them and the privacy controls match their site.
func (s *Store) indexOld(ctx context.Context) error {
	for {
		rows, err := s.pool.Query(ctx, `SELECT `+activityColumns+`, a.tenant_id, a.user_id, a.app_id
			FROM activities a WHERE a.search_text IS NULL LIMIT 500`)
		if err != nil {
			return fmt.Errorf("index activities: %w", err)
		}
		batch := &pgx.Batch{}
		for rows.Next() {
			var tenant, user, app string
			a, err := scanActivity(rows, &tenant, &user, &app)
			if err != nil {
				rows.Close()
				return fmt.Errorf("index activities: %w", err)
			}
			batch.Queue(`UPDATE activities SET site = $1, search_text = $2
				WHERE tenant_id = $3 AND user_id = $4 AND app_id = $5 AND id = $6 AND search_text IS NULL`,
				activity.Site(a), activity.SearchText(a), tenant, user, app, a.ID)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("index activities: %w", err)
		}
		n := batch.Len()
		if n > 0 {
			if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
				return fmt.Errorf("index activities: %w", err)
			}
		}
		if n < 500 {
			return nil
		}
	}
}
