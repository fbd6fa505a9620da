package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/activityd/activityd"
)

// Forget deletes what f selects of p's user through every app, through the writer, and logs each
// deleted activity, and each activity that lost history items, in the change log.
func (s *Store) Forget(ctx context.Context, p activity.Principal, f activity.Forget) (activity.Forgotten, error) {
	var n activity.Forgotten
	err := s.submit(ctx, p, func(tx *Tx) (err error) {
		n, err = tx.forget(ctx, f)
		return err
	})
	return n, err
}

func (tx *Tx) forget(ctx context.Context, f activity.Forget) (activity.Forgotten, error) {
	var n activity.Forgotten
	// The user's activities are found through the principals of the user (the app's, with f.AppID),
	// which activities are indexed by (migration 0014).
	principals, where, pargs := "tenant_id = ? AND user_id = ?", "tenant_id = ? AND user_id = ?", []any{tx.p.TenantID, tx.p.UserID}
	if f.AppID != "" {
		principals, pargs = principals+" AND app_id = ?", append(pargs, f.AppID)
	}
	where, args := "principal IN (SELECT id FROM principals WHERE "+principals+") AND "+where, append(slices.Clone(pargs), tx.p.TenantID, tx.p.UserID)
	from, to := f.Range.Micros()
	switch {
	case f.All:
	case f.AppID != "":
		where, args = where+" AND app_id = ?", append(args, f.AppID)
	case f.Site != "":
		where, args = where+" AND (site = ? OR substr(site, -?) = ?)", append(args, f.Site, len(f.Site)+1, "."+f.Site)
	case f.ActivityID != 0:
		where, args = where+" AND id = ?", append(args, f.ActivityID)
	default:
		where, args = where+" AND (last_modified BETWEEN ? AND ? OR created BETWEEN ? AND ?)", append(args, from, to, from, to)
	}
	// Expired activities go too, though invisible already: forgetting does not wait for the purge.
	gone, err := tx.deleteOwned(ctx, `DELETE FROM activities WHERE `+where+` RETURNING app_id, id`, args...)
	if err != nil {
		return n, fmt.Errorf("forget activities: %w", err)
	}
	for _, o := range gone {
		tx.logOwned(o, activity.ChangeDeleted)
	}
	n.Activities = len(gone)
	if f.All || f.AppID != "" { // every activity of the user, or of the app, is gone
		if err := tx.dropPrincipals(ctx, principals, pargs...); err != nil {
			return n, err
		}
	}
	if f.Range.From.IsZero() && f.Range.To.IsZero() {
		return n, nil
	}
	// The sessions of other activities that were active in the range.
	touched, err := tx.deleteOwned(ctx, `DELETE FROM history_items WHERE tenant_id = ? AND user_id = ?
		AND started <= ? AND coalesce(last_active, started) >= ? RETURNING app_id, activity_id`,
		tx.p.TenantID, tx.p.UserID, to, from)
	if err != nil {
		return n, fmt.Errorf("forget history items: %w", err)
	}
	n.HistoryItems = len(touched)
	seen := map[int64]bool{}
	for _, o := range touched {
		if seen[o.id] {
			continue
		}
		seen[o.id] = true
		if _, err := tx.tx.ExecContext(ctx, updateRecent, o.id); err != nil {
			return n, fmt.Errorf("forget history items: %w", err)
		}
		tx.logOwned(o, activity.ChangeUpdated)
	}
	return n, nil
}

// deleteOwned runs a DELETE … RETURNING app_id, id of p's user and returns the rows it deleted.
func (tx *Tx) deleteOwned(ctx context.Context, query string, args ...any) ([]owned, error) {
	rows, err := tx.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []owned
	for rows.Next() {
		o := owned{tenant: tx.p.TenantID, user: tx.p.UserID}
		if err := rows.Scan(&o.app, &o.id); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, o)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

// logOwned logs a change of an activity of the transaction's user through any app.
func (tx *Tx) logOwned(o owned, kind activity.ChangeKind) {
	p := tx.p
	p.AppID = o.app
	tx.appended = true
	tx.pending = append(tx.pending, pendingChange{p: p, activityID: o.id, kind: kind, at: tx.now})
}

// Privacy returns the privacy settings of p's user.
func (s *Store) Privacy(ctx context.Context, p activity.Principal) (*activity.Privacy, error) {
	return readPrivacy(ctx, s.reads, p)
}

// Privacy returns the privacy settings of the transaction's user, read in the writer's transaction:
// SetPrivacy goes through the same writer, so it is before or after, never beside.
func (tx *Tx) Privacy(ctx context.Context) (*activity.Privacy, error) {
	return readPrivacy(ctx, tx.tx, tx.p)
}

// FindActivityToWrite is FindActivity and then Privacy (activity.Tx.FindActivityToWrite).
func (tx *Tx) FindActivityToWrite(ctx context.Context, ref activity.Ref) (*activity.Activity, *activity.Privacy, error) {
	a, err := tx.FindActivity(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	pv, err := tx.Privacy(ctx)
	if err != nil {
		return nil, nil, err
	}
	return a, pv, nil
}

func readPrivacy(ctx context.Context, q querier, p activity.Principal) (*activity.Privacy, error) {
	var apps, sites string
	var paused int64
	err := q.QueryRowContext(ctx, `SELECT blocked_apps, blocked_sites, paused_until FROM privacy
		WHERE tenant_id = ? AND user_id = ?`, p.TenantID, p.UserID).Scan(&apps, &sites, &paused)
	pv := &activity.Privacy{}
	if errors.Is(err, sql.ErrNoRows) {
		return pv, nil
	} else if err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	if err := errors.Join(json.Unmarshal([]byte(apps), &pv.BlockedApps), json.Unmarshal([]byte(sites), &pv.BlockedSites)); err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	if paused != 0 {
		pv.PausedUntil = fromMicros(paused)
	}
	return pv, nil
}

// SetPrivacy replaces the privacy settings of p's user.
func (s *Store) SetPrivacy(ctx context.Context, p activity.Principal, pv *activity.Privacy) error {
	apps, sites, paused, err := privacyArgs(pv)
	if err != nil {
		return err
	}
	return s.submit(ctx, p, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO privacy (tenant_id, user_id, blocked_apps, blocked_sites, paused_until)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, user_id) DO UPDATE SET blocked_apps = excluded.blocked_apps,
			blocked_sites = excluded.blocked_sites, paused_until = excluded.paused_until`,
			tx.p.TenantID, tx.p.UserID, apps, sites, paused)
		if err != nil {
			return fmt.Errorf("set privacy: %w", err)
		}
		return nil
	})
}

// privacyArgs returns the stored form of pv: its block-lists as JSON arrays, its pause in microseconds.
func privacyArgs(pv *activity.Privacy) (apps, sites string, paused int64, err error) {
	a, err1 := json.Marshal(append([]string{}, pv.BlockedApps...))
	b, err2 := json.Marshal(append([]string{}, pv.BlockedSites...))
	if err := errors.Join(err1, err2); err != nil {
		return "", "", 0, fmt.Errorf("set privacy: %w", err)
	}
	if !pv.PausedUntil.IsZero() {
		paused = micros(pv.PausedUntil)
	}
	return string(a), string(b), paused, nil
}

// indexOld works out site and search_text for the activities written before migration 0008, in
// batches through the writer, so that search finds them and the privacy controls match their site.
func (s *Store) indexOld(ctx context.Context) error {
	for {
		var done int
		err := s.submit(ctx, activity.Principal{}, func(tx *Tx) error {
			// Oldest first, so that their search keys follow their times as a writer's would.
			rows, err := tx.tx.QueryContext(ctx, `SELECT `+activityColumns+`, a.app_id FROM activities a
				INDEXED BY activities_unindexed WHERE a.search_text IS NULL ORDER BY a.last_modified LIMIT 500`)
			if err != nil {
				return err
			}
			page, err := scanPage(rows, activity.ActivityQuery{Limit: 500}, false)
			if err != nil {
				return err
			}
			for _, a := range page.Activities {
				key := tx.keys.next(micros(a.LastModifiedDateTime))
				for attempt := 0; ; attempt++ {
					_, err := tx.tx.ExecContext(ctx, `UPDATE activities SET site = ?, search_text = ?, search_key = ?, index_at_commit = ? WHERE id = ?`,
						activity.Site(a), activity.SearchText(a), key, key, a.ID)
					if isUniqueViolation(err) && attempt < maxKeyAttempts {
						if key, err = tx.keys.taken(ctx, tx.tx, key); err != nil {
							return err
						}
						continue
					} else if err != nil {
						return err
					}
					tx.indexed = append(tx.indexed, key)
					break
				}
			}
			done = len(page.Activities)
			return nil
		})
		if err != nil {
			return fmt.Errorf("index activities: %w", err)
		}
		if done < 500 {
			return nil
		}
	}
}
