package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/activityd/activityd"
)

// querier is what *sql.DB and *sql.Tx share, so that one helper serves a Store method and a Tx method.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const activityColumns = `a.id, a.app_activity_id, a.activity_source_host, a.activation_url, a.app_display_name,
	a.fallback_url, a.content_url, a.content_info, a.user_timezone, a.display_text, a.description,
	a.background_color, a.content, a.attribution, a.icon_url, a.alternate_text, a.alternative_text,
	a.add_image_query, a.created, a.last_modified, a.expires, a.status, a.blank`

func scanActivity(row scanner, extra ...any) (*activity.Activity, error) {
	var (
		a                            activity.Activity
		contentInfo, content         []byte
		attribution                  bool
		icon, alternate, alternative string
		addImageQuery                sql.NullBool
		created, modified, expires   int64
		status                       string
		blank                        int64
	)
	dest := []any{&a.ID, &a.AppActivityID, &a.ActivitySourceHost, &a.ActivationURL, &a.AppDisplayName,
		&a.FallbackURL, &a.ContentURL, &contentInfo, &a.UserTimezone, &a.VisualElements.DisplayText,
		&a.VisualElements.Description, &a.VisualElements.BackgroundColor, &content, &attribution,
		&icon, &alternate, &alternative, &addImageQuery, &created, &modified, &expires, &status, &blank}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	a.ContentInfo, a.VisualElements.Content = contentInfo, content
	if attribution {
		a.VisualElements.Attribution = &activity.ImageInfo{IconURL: icon, AlternateText: alternate, AlternativeText: alternative}
		if addImageQuery.Valid {
			a.VisualElements.Attribution.AddImageQuery = &addImageQuery.Bool
		}
	}
	a.CreatedDateTime, a.LastModifiedDateTime, a.ExpirationDateTime = fromMicros(created), fromMicros(modified), fromMicros(expires)
	a.Status = activity.Status(status)
	a.SetBlank(activity.Fields(blank))
	return &a, nil
}

// activityArgs returns a's stored columns after id, in the order of activityColumns.
func activityArgs(a *activity.Activity) []any {
	var (
		attribution                  bool
		icon, alternate, alternative string
		addImageQuery                sql.NullBool
	)
	if at := a.VisualElements.Attribution; at != nil {
		attribution, icon, alternate, alternative = true, at.IconURL, at.AlternateText, at.AlternativeText
		if at.AddImageQuery != nil {
			addImageQuery = sql.NullBool{Bool: *at.AddImageQuery, Valid: true}
		}
	}
	return []any{a.AppActivityID, a.ActivitySourceHost, a.ActivationURL, a.AppDisplayName,
		a.FallbackURL, a.ContentURL, nullBytes(a.ContentInfo), a.UserTimezone, a.VisualElements.DisplayText,
		a.VisualElements.Description, a.VisualElements.BackgroundColor, nullBytes(a.VisualElements.Content),
		attribution, icon, alternate, alternative, addImageQuery,
		micros(a.CreatedDateTime), micros(a.LastModifiedDateTime), micros(a.ExpirationDateTime), string(a.Status), int64(a.AllBlank()),
		activity.Site(a), activity.SearchText(a)}
}

// nullBytes stores a nil slice as NULL and anything else as a BLOB.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// FindActivity returns the activity whose id is ref.ID, or else whose appActivityId is ref.AppActivityID.
func (s *Store) FindActivity(ctx context.Context, p activity.Principal, ref activity.Ref) (*activity.Activity, error) {
	return findActivity(ctx, s.reads, p, s.now(), ref, func() (int64, error) { return s.principal(ctx, p, p.AppID) })
}

// FindActivity returns the activity whose id is ref.ID, or else whose appActivityId is ref.AppActivityID.
func (tx *Tx) FindActivity(ctx context.Context, ref activity.Ref) (*activity.Activity, error) {
	return findActivity(ctx, tx.tx, tx.p, tx.now, ref, func() (int64, error) { return tx.principal(ctx, tx.p.AppID, false) })
}

// findActivity looks ref up by its id, then by its appActivityId under p's principal id (principal
// gives it: reads and the writer find it each their own way).
func findActivity(ctx context.Context, q querier, p activity.Principal, now int64, ref activity.Ref, principal func() (int64, error)) (*activity.Activity, error) {
	if ref.ID > 0 {
		a, err := findActivityBy(ctx, q, p, now, "a.id = ?", ref.ID)
		if activity.ErrorCode(err) != activity.NotFound {
			return a, err
		}
	}
	if ref.AppActivityID == "" {
		return nil, activity.Errorf(activity.NotFound, "The activity was not found.")
	}
	id, err := principal()
	if err != nil {
		return nil, fmt.Errorf("find activity: %w", err)
	}
	return findActivityBy(ctx, q, p, now, "a.principal = ? AND a.app_activity_id = ?", id, ref.AppActivityID)
}

// findActivityBy looks an activity of p up by a condition on its key, a constant of this package,
// whose arguments are key.
func findActivityBy(ctx context.Context, q querier, p activity.Principal, now int64, cond string, key ...any) (*activity.Activity, error) {
	row := q.QueryRowContext(ctx, `SELECT `+activityColumns+` FROM activities a
		WHERE a.tenant_id = ? AND a.user_id = ? AND a.app_id = ? AND `+cond+` AND a.expires > ?`,
		append(append([]any{p.TenantID, p.UserID, p.AppID}, key...), now)...)
	a, err := scanActivity(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, activity.Errorf(activity.NotFound, "The activity '%v' was not found.", key[len(key)-1])
	} else if err != nil {
		return nil, fmt.Errorf("find activity: %w", err)
	}
	return a, nil
}

// PutActivity stores the activity through the writer, in one statement unless an expired activity
// holds its key.
func (s *Store) PutActivity(ctx context.Context, p activity.Principal, a *activity.Activity) (created bool, err error) {
	err = s.submit(ctx, p, func(tx *Tx) (err error) {
		created, err = tx.PutActivity(ctx, a)
		return err
	})
	return created, err
}

// PutActivity inserts a, or replaces the live activity with its appActivityId, in one upsert, unless
// the user's privacy settings refuse it: they are read in the writer's transaction, which SetPrivacy
// goes through too. The upsert leaves an expired activity with the key alone: that one is deleted,
// and the upsert runs again.
func (tx *Tx) PutActivity(ctx context.Context, a *activity.Activity) (created bool, err error) {
	pv, err := tx.Privacy(ctx)
	if err != nil {
		return false, err
	}
	if now := fromMicros(tx.now); pv.Refuses(tx.p.AppID, a, now) != "" {
		return false, activity.Refused(pv, tx.p.AppID, a, now)
	}
	principal, err := tx.principal(ctx, tx.p.AppID, true)
	if err != nil {
		return false, err
	}
	for range 2 {
		created, ok, err := tx.upsertActivity(ctx, principal, a)
		if err != nil || ok {
			return created, err
		}
		// An expired activity with this key is gone for the client; make room for the new one, and
		// say that the old one is gone (its id is not the new one's).
		var old int64
		if err := tx.tx.QueryRowContext(ctx, `DELETE FROM activities
			WHERE principal = ? AND app_activity_id = ? AND expires <= ?
			AND tenant_id = ? AND user_id = ? AND app_id = ? RETURNING id`,
			principal, a.AppActivityID, tx.now, tx.p.TenantID, tx.p.UserID, tx.p.AppID).Scan(&old); err != nil {
			return false, fmt.Errorf("put activity: %w", err)
		}
		if err := tx.logChange(ctx, old, activity.ChangeDeleted); err != nil {
			return false, err
		}
	}
	return false, fmt.Errorf("put activity: the expired activity '%s' is still in the way", a.AppActivityID)
}

// idEpoch is where the seconds of newID start: 2025-01-01, which leaves them room until 2059.
var idEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// newID returns an id for a new activity of p created at now (microseconds); attempt counts the ids
// already drawn for it that were taken. SQLite keeps a table's rows in id order, so the id decides
// which rows share a page. Random ids scattered a user's activities over the whole file, one page
// read per activity listed; these keep each principal's activities together in the order they were
// created, so a page of the newest reads a few adjacent pages. Of the 63 bits: 16 of a hash of the
// principal, 30 of seconds since idEpoch, 17 random. They tell nothing about how many activities
// exist, but they do tell when and for whom each was made: clients never see them, only the keyed
// permutation of them that graph shows (activity.PublicIDs). (Migration 0001 still calls the id
// random and the Graph id; applied migrations cannot change.) After a few draws that were taken, it
// returns a wholly random id.
//
// Ids that rise with the time of creation alone (tried on 2026-12-03, BENCHMARKS.md §19) append each
// create at the end of the table instead of in the middle, where SQLite rebalances a full leaf with
// its siblings: 4.9 pages written a create against 7.3, creates 1.4 times as fast on a million
// activities; but a principal's newest activities then lie a page apart each, and recent from a cold
// cache ran at 0.6 times the rate, lists at 0.8: reads are what a person waits for.
func newID(p activity.Principal, now int64, attempt int) int64 {
	if attempt >= 4 {
		return activity.NewID()
	}
	h := fnv.New32a()
	h.Write([]byte(p.TenantID + "\x00" + p.UserID + "\x00" + p.AppID))
	seconds := max(now/1_000_000-idEpoch, 0) & (1<<30 - 1)
	if id := int64(h.Sum32()>>16)<<47 | seconds<<17 | activity.NewID()&(1<<17-1); id > 0 {
		return id
	}
	return activity.NewID()
}

// upsertActivity inserts a under a new id or, when a live activity of the principal (its id) has a's
// key, replaces it. ok is false when an expired activity has the key: then nothing was written. A
// statement that fails changes nothing, so a single upsert needs no savepoint of its own.
func (tx *Tx) upsertActivity(ctx context.Context, principal int64, a *activity.Activity) (created, ok bool, err error) {
	a.Status = activity.StatusActive // as inserted; the update sets StatusUpdated, which tells the two apart
	key := tx.keys.next(micros(a.LastModifiedDateTime))
	for attempt := 0; ; attempt++ {
		id := newID(tx.p, tx.now, attempt)
		args := append(append([]any{id, tx.p.TenantID, tx.p.UserID, tx.p.AppID, principal}, activityArgs(a)...), key, key)
		var stored, createdAt int64
		var status string
		err := tx.tx.QueryRowContext(ctx, `INSERT INTO activities (id, tenant_id, user_id, app_id, principal,
			app_activity_id, activity_source_host, activation_url, app_display_name, fallback_url, content_url,
			content_info, user_timezone, display_text, description, background_color, content, attribution,
			icon_url, alternate_text, alternative_text, add_image_query, created, last_modified, expires, status, blank,
			site, search_text, search_key, index_at_commit)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (principal, app_activity_id) DO UPDATE SET
			activity_source_host = excluded.activity_source_host, activation_url = excluded.activation_url,
			app_display_name = excluded.app_display_name, fallback_url = excluded.fallback_url,
			content_url = excluded.content_url, content_info = excluded.content_info,
			user_timezone = excluded.user_timezone, display_text = excluded.display_text,
			description = excluded.description, background_color = excluded.background_color,
			content = excluded.content, attribution = excluded.attribution, icon_url = excluded.icon_url,
			alternate_text = excluded.alternate_text, alternative_text = excluded.alternative_text,
			add_image_query = excluded.add_image_query, last_modified = excluded.last_modified,
			expires = excluded.expires, blank = excluded.blank, site = excluded.site,
			search_text = excluded.search_text, search_key = excluded.search_key,
			index_at_commit = excluded.index_at_commit, status = '`+string(activity.StatusUpdated)+`'
			WHERE activities.expires > ? AND activities.tenant_id = excluded.tenant_id
			AND activities.user_id = excluded.user_id AND activities.app_id = excluded.app_id
			RETURNING id, created, status`, append(args, tx.now)...).Scan(&stored, &createdAt, &status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return false, false, nil
		case isPrimaryKeyViolation(err):
			continue // the id was taken: draw again
		case isUniqueViolation(err) && attempt < maxKeyAttempts:
			// The search key was taken (an activity written back in time).
			if key, err = tx.keys.taken(ctx, tx.tx, key); err != nil {
				return false, false, err
			}
			continue
		case err != nil:
			return false, false, fmt.Errorf("put activity: %w", err)
		}
		kind := activity.ChangeCreated
		if created = status == string(activity.StatusActive); !created {
			a.CreatedDateTime, a.Status, kind = fromMicros(createdAt), activity.StatusUpdated, activity.ChangeUpdated
		}
		a.ID = stored
		tx.indexed = append(tx.indexed, key)
		return created, true, tx.logChange(ctx, stored, kind)
	}
}

// UpdateActivity replaces the stored activity with a's id.
func (tx *Tx) UpdateActivity(ctx context.Context, a *activity.Activity) error {
	key := tx.keys.next(micros(a.LastModifiedDateTime))
	var res sql.Result
	var err error
	for attempt := 0; ; attempt++ {
		args := append(append(activityArgs(a), key, key), tx.p.TenantID, tx.p.UserID, tx.p.AppID, a.ID)
		res, err = tx.tx.ExecContext(ctx, `UPDATE activities SET app_activity_id = ?, activity_source_host = ?,
			activation_url = ?, app_display_name = ?, fallback_url = ?, content_url = ?, content_info = ?,
			user_timezone = ?, display_text = ?, description = ?, background_color = ?, content = ?, attribution = ?,
			icon_url = ?, alternate_text = ?, alternative_text = ?, add_image_query = ?, created = ?,
			last_modified = ?, expires = ?, status = ?, blank = ?, site = ?, search_text = ?, search_key = ?,
			index_at_commit = ?
			WHERE tenant_id = ? AND user_id = ? AND app_id = ? AND id = ?`, args...)
		if isUniqueViolation(err) && attempt < maxKeyAttempts {
			if key, err = tx.keys.taken(ctx, tx.tx, key); err != nil {
				return err
			}
			continue
		}
		break
	}
	if err != nil {
		return fmt.Errorf("update activity: %w", err)
	}
	if err := mustAffect(res, "The activity '%d' was not found.", a.ID); err != nil {
		return err
	}
	tx.indexed = append(tx.indexed, key)
	return tx.logChange(ctx, a.ID, activity.ChangeUpdated)
}

// DeleteActivity deletes an activity; its history items go with it (ON DELETE CASCADE).
func (tx *Tx) DeleteActivity(ctx context.Context, id int64) error {
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM activities
		WHERE tenant_id = ? AND user_id = ? AND app_id = ? AND id = ? AND expires > ?`,
		tx.p.TenantID, tx.p.UserID, tx.p.AppID, id, tx.now)
	if err != nil {
		return fmt.Errorf("delete activity: %w", err)
	}
	if err := mustAffect(res, "The activity '%d' was not found.", id); err != nil {
		return err
	}
	return tx.logChange(ctx, id, activity.ChangeDeleted)
}

// mustAffect turns a statement that changed no row into a NotFound error.
func mustAffect(res sql.Result, format string, args ...any) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	} else if n == 0 {
		return activity.Errorf(activity.NotFound, format, args...)
	}
	return nil
}

// ListActivities returns a page of activities, newest lastModifiedDateTime first, or by relevance
// with q.Search.
func (s *Store) ListActivities(ctx context.Context, p activity.Principal, q activity.ActivityQuery) (*activity.ActivityPage, error) {
	if q.Modified.Empty() {
		return &activity.ActivityPage{}, nil
	}
	if q.Search != "" {
		return s.searchActivities(ctx, p, q)
	}
	if q.AllApps && q.App == "" {
		// Its history items once listPerson has given its connection back: with its own held,
		// eight timelines at once would each wait for a second one, and the pool has eight.
		page, err := s.listPerson(ctx, p, q)
		if err != nil {
			return nil, err
		}
		return page, s.expandPage(ctx, p, q, page)
	}
	now := s.now()
	from, to := q.Modified.Micros()
	afterTime, afterID := cursorArgs(q.After)
	to = min(to, afterTime) // the index is read from the cursor on, not from the range's end
	where, args, err := s.readScope(ctx, p, q)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	rows, err := s.reads.QueryContext(ctx, listQuery(where, false),
		append(args, now, from, to, afterTime, afterTime, afterID, q.Limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	page, err := scanPage(rows, q, false)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	return page, s.expandPage(ctx, p, q, page)
}

// listPerson is ListActivities of a person through every app (q.AllApps without q.App), without
// its history items. No index holds a person's activities in time order (migration 0013 dropped
// the one that did: it cost every create a page): each app's are read newest first from
// activities_last_modified, the app whose newest activity is the newest first, into the page, until
// the next app's newest activity cannot make the page. A page costs a look-up of the person's
// principals (one an app), a seek in each app's activities and a query in each app taken before
// the stop (those with an activity on the page, and a few that have none), in one read transaction
// (one snapshot, as a single statement sees).
func (s *Store) listPerson(ctx context.Context, p activity.Principal, q activity.ActivityQuery) (*activity.ActivityPage, error) {
	one := q
	one.App = "?" // any: scope's condition on the app is wanted; its arguments are set app by app below
	where, _ := scope(p, one, 0)
	appQuery := listQuery(where, true)
	// From the cache before a connection is held: preparing takes one of its own.
	cachedApps, cachedApp := s.reads.stmt(ctx, personApps), s.reads.stmt(ctx, appQuery)
	conn, err := s.read.Conn(ctx) // the wait for a connection ends with ctx
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	defer conn.Close()
	// Begun without ctx's cancellation: the driver may report a BEGIN cancelled that has run all the
	// same, and the connection would go back to the pool inside a transaction, reading an old
	// snapshot for good. The statements below still stop when ctx ends; Rollback (deferred after
	// Close, so run before it) ends the transaction. ReadOnly makes it a plain BEGIN: no lock.
	tx, err := conn.BeginTx(context.WithoutCancel(ctx), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	defer tx.Rollback()
	appsStmt, err := inTx(ctx, tx, cachedApps, personApps)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	appStmt, err := inTx(ctx, tx, cachedApp, appQuery)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	now := s.now()
	from, to := q.Modified.Micros()
	afterTime, afterID := cursorArgs(q.After)
	to = min(to, afterTime)

	// The person's apps, each with its newest activity in the range before the cursor, expired or
	// not: none of its activities on the page can be newer.
	type app struct {
		principal int64
		id        string
		newest    int64
	}
	var apps []app
	rows, err := appsStmt.QueryContext(ctx, p.TenantID, p.UserID, from, to, afterTime, afterID)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	for rows.Next() {
		var a app
		var newest sql.NullInt64 // none in the range before the cursor
		if err := rows.Scan(&a.principal, &a.id, &newest); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list activities: %w", err)
		}
		if newest.Valid {
			a.newest = newest.Int64
			apps = append(apps, a)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	slices.SortFunc(apps, func(a, b app) int { return cmp.Compare(b.newest, a.newest) })

	// Each app's activities, newest first, newer than the first row past the page once it is full.
	var page pageRows
	for _, app := range apps {
		low := page.past()
		if low != nil && app.newest < micros(low.LastModifiedDateTime) {
			break // this app's activities and every later app's are older than the page
		}
		lowTime, lowID := int64(math.MinInt64), int64(math.MinInt64)
		if low != nil {
			lowTime, lowID = micros(low.LastModifiedDateTime), low.ID
		}
		one.App = app.id
		_, args := scope(p, one, app.principal)
		rows, err := appStmt.QueryContext(ctx, append(args, now, max(from, lowTime), to,
			afterTime, afterTime, afterID, lowTime, lowTime, lowID, q.Limit+1)...)
		if err != nil {
			return nil, fmt.Errorf("list activities: %w", err)
		}
		for rows.Next() {
			var id string
			a, err := scanActivity(rows, &id)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("list activities: %w", err)
			}
			a.AppID = id
			if !page.add(a, q) {
				break // the rest of this app's are older than the page
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("list activities: %w", err)
		}
	}
	return page.page(), nil
}

// listQuery is the statement of a page of activities newest first, from activities_last_modified,
// under the conditions where (scope's; its arguments first), then: now, the range's ends, the
// cursor's time, time and id (the page starts below it), with floor the time, time and id of a
// row the page ends above, and the number of rows.
func listQuery(where string, floor bool) string {
	above := ""
	if floor {
		above = `
		AND (a.last_modified > ? OR (a.last_modified = ? AND a.id > ?))`
	}
	return `SELECT ` + activityColumns + `, a.app_id FROM activities a INDEXED BY activities_last_modified
		WHERE ` + where + ` AND a.expires > ? AND a.last_modified BETWEEN ? AND ?
		AND (a.last_modified < ? OR (a.last_modified = ? AND a.id < ?))` + above + `
		ORDER BY a.last_modified DESC, a.id DESC LIMIT ?`
}

// personApps selects a person's apps (tenant ?1, user ?2) from the principals table, each with its
// principal id and the last_modified of its newest activity in [?3, ?4] before the cursor (?5, ?6),
// NULL when it has none (one seek in activities_last_modified an app).
const personApps = `SELECT p.id, p.app_id, (SELECT last_modified FROM activities INDEXED BY activities_last_modified
		WHERE principal = p.id AND last_modified BETWEEN ?3 AND ?4
		AND (last_modified < ?5 OR (last_modified = ?5 AND id < ?6))
		ORDER BY last_modified DESC, id DESC LIMIT 1)
	FROM principals p WHERE p.tenant_id = ?1 AND p.user_id = ?2`

// pageRows gathers a page of activities from several lists each newest first: the rows of the page
// so far, newest first (then by id), and the first row past them when the page is full (then there is
// a next page), so that it never holds more than a page and one row.
type pageRows struct {
	rows []*activity.Activity
	size []int // size[k]: the bytes of rows[:k] (activity.Activity.Size); len(rows)+1 of them
	full bool  // rows ends with the first row past the page
}

// newer reports whether a comes before b newest first: a later lastModifiedDateTime, or the same and a
// greater id.
func newer(a, b *activity.Activity) bool {
	if c := a.LastModifiedDateTime.Compare(b.LastModifiedDateTime); c != 0 {
		return c > 0
	}
	return a.ID > b.ID
}

// past returns the first row past the page when it is full, nil when it is not.
func (p *pageRows) past() *activity.Activity {
	if !p.full {
		return nil
	}
	return p.rows[len(p.rows)-1]
}

// add puts a in its place and cuts the rows to the page by q's limit and byte budget (activity.PageFull,
// as scanPage does), plus the first row past it. It reports false when a is not newer than the first
// row past a full page, and so cannot be on it (nor can what comes after a in its list). The rows
// before a's place are as they were, so the cut is looked for from there: rows that come in order
// are added in constant time.
func (p *pageRows) add(a *activity.Activity, q activity.ActivityQuery) bool {
	if past := p.past(); past != nil && !newer(a, past) {
		return false
	}
	i, _ := slices.BinarySearchFunc(p.rows, a, func(x, a *activity.Activity) int {
		if newer(x, a) {
			return -1
		}
		return 1
	})
	p.rows = slices.Insert(p.rows, i, a)
	if p.size == nil {
		p.size = []int{0}
	}
	p.size = slices.Insert(p.size, i+1, 0)
	for k := i; k < len(p.rows); k++ {
		p.size[k+1] = p.size[k] + p.rows[k].Size()
		if activity.PageFull(k, q.Limit, p.size[k], q.MaxBytes) {
			clear(p.rows[k+1:])
			p.rows, p.size, p.full = p.rows[:k+1], p.size[:k+2], true
			break
		}
	}
	return true
}

// page returns the page, with the cursor of the next one when there is one.
func (p *pageRows) page() *activity.ActivityPage {
	if !p.full {
		return &activity.ActivityPage{Activities: p.rows}
	}
	on := p.rows[:len(p.rows)-1]
	last := on[len(on)-1]
	return &activity.ActivityPage{Activities: on, Next: &activity.Cursor{Time: last.LastModifiedDateTime, ID: last.ID}}
}

// scope returns the conditions, and their arguments, that select whose activities q reads (alias
// a): p's app, or with q.AllApps p's user (and q.App), then q.Site. An app's conditions start with
// its principal id (readScope looks it up), which activities are indexed by; the text ids are checked
// too, so that no id could ever show another principal's activities.
func scope(p activity.Principal, q activity.ActivityQuery, principal int64) (string, []any) {
	where, args := "a.principal = ? AND a.tenant_id = ? AND a.user_id = ? AND a.app_id = ?", []any{principal, p.TenantID, p.UserID, p.AppID}
	switch {
	case q.AllApps && q.App == "":
		where, args = "a.tenant_id = ? AND a.user_id = ?", args[1:3]
	case q.AllApps:
		args[3] = q.App
	}
	if q.Site != "" {
		where += " AND (a.site = ? OR substr(a.site, -?) = ?)"
		args = append(args, q.Site, len(q.Site)+1, "."+q.Site)
	}
	if !q.ChangedSince.IsZero() {
		since := micros(q.ChangedSince)
		where += " AND (a.last_modified >= ? OR a.recent >= ?)"
		args = append(args, since, since)
	}
	return where, args
}

// readScope is scope with the principal id of the app that q reads, looked up for a read (none
// when q reads a person's activities through every app).
func (s *Store) readScope(ctx context.Context, p activity.Principal, q activity.ActivityQuery) (string, []any, error) {
	var principal int64
	if app := p.AppID; !q.AllApps || q.App != "" {
		if q.AllApps {
			app = q.App
		}
		var err error
		if principal, err = s.principal(ctx, p, app); err != nil {
			return "", nil, err
		}
	}
	where, args := scope(p, q, principal)
	return where, args, nil
}

// searchActivities returns a page of the activities that match every term of q.Search: the newest
// activity.SearchCandidates matches of the person (or the app), read from the full-text index in
// search_key order (which is time order: migration 0008) within q.Modified, then ranked by
// activity.Relevance divided by one plus the activity's age in months, so that of two equal matches
// the newer comes first.
func (s *Store) searchActivities(ctx context.Context, p activity.Principal, q activity.ActivityQuery) (*activity.ActivityPage, error) {
	terms := activity.SearchTerms(q.Search)
	if len(terms) == 0 {
		return &activity.ActivityPage{}, nil
	}
	// Terms are letters and digits only: quoting them keeps FTS5 from reading any as syntax.
	match := ""
	for _, t := range terms {
		match += ` "` + t + `"`
	}
	now := s.now()
	from, to := q.Modified.Micros()
	lo, hi := keyRange(from, to)
	where, args, err := s.readScope(ctx, p, q)
	if err != nil {
		return nil, fmt.Errorf("search activities: %w", err)
	}
	// The index holds every person's activities: it is read newest first (FTS5 gives its rowids in
	// order at no cost), each match is looked up by its key and kept when it is the person's (or the
	// app's) and in q's range, and the reading stops at SearchCandidates kept. (FTS5's bm25 is not
	// used: it counts every match of each word on each call, to weigh rare words, which over a million
	// activities holding one word took 40 ms. activity.Relevance weighs the fields instead.)
	type candidate struct {
		id    int64
		score float64
	}
	var cands []candidate
	rows, err := s.reads.QueryContext(ctx, `SELECT a.id, a.last_modified, a.display_text, a.app_display_name, a.description
		FROM activities_search f CROSS JOIN activities a ON a.search_key = f.rowid
		WHERE activities_search MATCH ? AND f.rowid BETWEEN ? AND ?
		AND `+where+` AND a.expires > ? AND a.last_modified BETWEEN ? AND ?
		ORDER BY f.rowid DESC LIMIT `+strconv.Itoa(activity.SearchCandidates),
		append(append([]any{match, lo, hi}, args...), now, from, to)...)
	if err != nil {
		return nil, fmt.Errorf("search activities: %w", err)
	}
	for rows.Next() {
		var id, modified int64
		var text, app, description string
		if err := rows.Scan(&id, &modified, &text, &app, &description); err != nil {
			rows.Close()
			return nil, fmt.Errorf("search activities: %w", err)
		}
		age := float64(max(now-modified, 0)) / 2592000000000.0 // months
		cands = append(cands, candidate{id, activity.Relevance(terms, text, app, description) / (1 + age)})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("search activities: %w", err)
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	offset := 0
	if q.After != nil {
		offset = q.After.Offset
	}
	if offset >= len(cands) {
		return &activity.ActivityPage{}, nil
	}
	cands = cands[offset:min(len(cands), offset+q.Limit+1)]
	ids := make([]any, len(cands))
	order := make(map[int64]int, len(cands))
	for i, c := range cands {
		ids[i], order[c.id] = c.id, i
	}
	rows, err = s.reads.QueryContext(ctx, `SELECT `+activityColumns+`, a.app_id FROM activities a
		WHERE a.id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("search activities: %w", err)
	}
	page, err := scanPage(rows, activity.ActivityQuery{Limit: len(ids), AllApps: q.AllApps}, false)
	if err != nil {
		return nil, fmt.Errorf("search activities: %w", err)
	}
	slices.SortFunc(page.Activities, func(a, b *activity.Activity) int { return cmp.Compare(order[a.ID], order[b.ID]) })
	// The page ends at q.Limit, or earlier past q.MaxBytes; then the next starts after it.
	size, n := 0, 0
	for n < len(page.Activities) && !activity.PageFull(n, q.Limit, size, q.MaxBytes) {
		size += page.Activities[n].Size()
		n++
	}
	if n < len(page.Activities) {
		page.Activities, page.Next = page.Activities[:n], &activity.Cursor{Offset: offset + n}
	}
	return page, s.expandPage(ctx, p, q, page)
}

// Search keys (migration 0008): an activity's lastModifiedDateTime in microseconds times 1024, plus
// a number from 0 to 1023 that keeps it unique, so that the full-text index's rowid order is time
// order. Good until the year 2255.
const (
	keyShift       = 10
	maxKeyAttempts = 1 << keyShift
)

// insertSearch adds to the full-text index the activities that hold the given search keys, in one
// statement, in key order (FTS5 starts a new segment when a row comes before the one it added last).
// A key that no activity holds any more (written over or deleted later in the batch) adds nothing;
// the trigger that took the activity's earlier row out of the index has nothing to take out then.
// It runs once a batch, just before the commit (migration 0011 says why).
func insertSearch(ctx context.Context, q querier, keys []int64) error {
	if len(keys) == 0 {
		return nil
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO activities_search (rowid, display_text, description, app_display_name, search_text)
		SELECT search_key, display_text, description, app_display_name, search_text FROM activities
		WHERE search_key IN (SELECT value FROM json_each(?)) ORDER BY search_key`, string(list)); err != nil {
		return fmt.Errorf("full-text index: %w", err)
	}
	return nil
}

// searchKeys hands out search keys; the writer's alone.
type searchKeys struct{ last int64 }

// next returns a key for an activity last modified at micros: the first of that microsecond, or the
// one after the last handed out when that is at most keySpill later (a batch of writes shares one
// microsecond, and more than 1,024 writes of one spill into the next ones: a few microseconds off
// is nothing to a date range).
func (k *searchKeys) next(micros int64) int64 {
	key := micros << keyShift
	if k.last >= key && k.last-key < keySpill {
		key = k.last + 1
	}
	k.last = max(k.last, key)
	return key
}

// keySpill is how far past its microsecond's keys an activity's key may be.
const keySpill = 1 << 20

// taken returns the first free key after key, which another activity holds (one written at the same
// microsecond, before this process started or back in time): the one after the highest taken within
// keySpill of it, found on the unique index in one look-up, so that a thousand activities imported
// with one lastModifiedDateTime cost a thousand look-ups, not half a million failed inserts.
func (k *searchKeys) taken(ctx context.Context, q querier, key int64) (int64, error) {
	var high int64
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(search_key), ?) FROM activities WHERE search_key >= ? AND search_key < ?`,
		key, key, key+keySpill).Scan(&high); err != nil {
		return 0, fmt.Errorf("search key: %w", err)
	}
	k.last = max(k.last, high+1)
	return high + 1, nil
}

// keyRange returns the search keys of the activities last modified from from to to (microseconds,
// inclusive; the widest values are open ends).
func keyRange(from, to int64) (lo, hi int64) {
	lo, hi = -1<<63, 1<<63-1
	if from > -1<<(63-keyShift) && from < 1<<(63-keyShift) {
		lo = from << keyShift
	}
	if to > -1<<(63-keyShift) && to < 1<<(63-keyShift)-1 {
		hi = to<<keyShift | (1<<keyShift - 1)
	}
	return lo, hi
}

// expandPage gives each activity of the page its newest history items when q asks for them.
func (s *Store) expandPage(ctx context.Context, p activity.Principal, q activity.ActivityQuery, page *activity.ActivityPage) error {
	if q.HistoryItems <= 0 || len(page.Activities) == 0 {
		return nil
	}
	ids := make([]int64, len(page.Activities))
	for i, a := range page.Activities {
		ids[i] = a.ID
	}
	items, err := s.expandHistoryItems(ctx, p, q.AllApps, ids, activity.TimeRange{}, q.HistoryItems)
	if err != nil {
		return err
	}
	for _, a := range page.Activities {
		a.HistoryItems = items[a.ID]
	}
	return nil
}

// RecentActivities returns a page of the activities that have history items, by their newest item.
func (s *Store) RecentActivities(ctx context.Context, p activity.Principal, q activity.ActivityQuery) (*activity.ActivityPage, error) {
	if q.Modified.Empty() {
		return &activity.ActivityPage{}, nil
	}
	now := s.now()
	from, to := q.Modified.Micros()
	afterTime, afterID := cursorArgs(q.After)
	// The index on (principal, recent DESC, id DESC) yields the rows in order; an activity whose history
	// items have all expired (but are not purged yet) is skipped.
	principal, err := s.principal(ctx, p, p.AppID)
	if err != nil {
		return nil, fmt.Errorf("recent activities: %w", err)
	}
	rows, err := s.reads.QueryContext(ctx, `SELECT `+activityColumns+`, a.recent FROM activities a INDEXED BY activities_recent
		WHERE a.principal = ? AND a.tenant_id = ? AND a.user_id = ? AND a.app_id = ? AND a.recent IS NOT NULL AND a.expires > ?
		AND a.last_modified BETWEEN ? AND ? AND (a.recent < ? OR (a.recent = ? AND a.id < ?))
		AND EXISTS (SELECT 1 FROM history_items h WHERE h.activity_id = a.id AND h.expires > ?)
		ORDER BY a.recent DESC, a.id DESC LIMIT ?`,
		principal, p.TenantID, p.UserID, p.AppID, now, from, to, afterTime, afterTime, afterID, now, q.Limit+1)
	if err != nil {
		return nil, fmt.Errorf("recent activities: %w", err)
	}
	page, err := scanPage(rows, q, true)
	if err != nil {
		return nil, fmt.Errorf("recent activities: %w", err)
	}
	return page, nil
}

// cursorArgs returns the keyset position after which a page starts: the end of the list for nil.
func cursorArgs(c *activity.Cursor) (t, id int64) {
	if c == nil {
		return 1<<63 - 1, 1<<63 - 1
	}
	return micros(c.Time), c.ID
}

// scanPage reads up to q.Limit activities, fewer when they pass q.MaxBytes, and the cursor of the
// next page when rows remain; with recent, each row ends with its recent time, which is the sort key.
func scanPage(rows *sql.Rows, q activity.ActivityQuery, recent bool) (*activity.ActivityPage, error) {
	defer rows.Close()
	page := &activity.ActivityPage{}
	size := 0
	var lastKey int64 // the recent time of the last row, the sort key of recent
	for rows.Next() {
		if activity.PageFull(len(page.Activities), q.Limit, size, q.MaxBytes) {
			// There is another row: the page ends here, and the next one starts after its last item.
			last := page.Activities[len(page.Activities)-1]
			page.Next = &activity.Cursor{Time: last.LastModifiedDateTime, ID: last.ID}
			if recent {
				page.Next.Time = fromMicros(lastKey)
			}
			break
		}
		var key int64
		var app string
		extra := []any{&app}
		if recent {
			extra = []any{&key}
		}
		a, err := scanActivity(rows, extra...)
		if err != nil {
			return nil, err
		}
		if q.AllApps {
			a.AppID = app
		}
		page.Activities, lastKey = append(page.Activities, a), key
		size += a.Size()
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return page, nil
}

// CountActivities counts the principal's live activities in the range.
func (s *Store) CountActivities(ctx context.Context, p activity.Principal, modified activity.TimeRange) (int, error) {
	if modified.Empty() {
		return 0, nil
	}
	from, to := modified.Micros()
	principal, err := s.principal(ctx, p, p.AppID)
	if err != nil {
		return 0, fmt.Errorf("count activities: %w", err)
	}
	var n int
	err = s.reads.QueryRowContext(ctx, `SELECT COUNT(*) FROM activities a INDEXED BY activities_last_modified
		WHERE a.principal = ? AND a.tenant_id = ? AND a.user_id = ? AND a.app_id = ? AND a.expires > ?
		AND a.last_modified BETWEEN ? AND ?`,
		principal, p.TenantID, p.UserID, p.AppID, s.now(), from, to).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count activities: %w", err)
	}
	return n, nil
}

// PurgeExpired deletes up to limit expired activities (their history items go with them), then up to
// the rest of limit expired history items. It is a write like any other, run by the writer.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	var total int
	err := s.submit(ctx, activity.Principal{}, func(tx *Tx) (err error) {
		total, err = purge(ctx, tx.tx, micros(now), limit)
		tx.appended = total > 0 // each purged row was logged
		return err
	})
	return total, err
}

func purge(ctx context.Context, q querier, now int64, limit int) (int, error) {
	total, err := purgeActivities(ctx, q, now, limit)
	if err != nil || total >= limit {
		return total, err
	}
	// Deleting an activity's newest items changes its recent time: work it out again from the rest.
	rows, err := q.QueryContext(ctx, `DELETE FROM history_items WHERE (activity_id, id) IN (
		SELECT activity_id, id FROM history_items WHERE expires <= ? LIMIT ?)
		RETURNING tenant_id, user_id, app_id, activity_id`, now, limit-total)
	if err != nil {
		return total, fmt.Errorf("purge history items: %w", err)
	}
	affected := map[owned]bool{}
	for rows.Next() {
		var o owned
		if err := rows.Scan(&o.tenant, &o.user, &o.app, &o.id); err != nil {
			rows.Close()
			return total, fmt.Errorf("purge history items: %w", err)
		}
		affected[o] = true
		total++
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return total, fmt.Errorf("purge history items: %w", err)
	}
	for o := range affected {
		if _, err := q.ExecContext(ctx, updateRecent, o.id); err != nil {
			return total, fmt.Errorf("purge history items: %w", err)
		}
		if err := logChangeOf(ctx, q, o.tenant, o.user, o.app, o.id, activity.ChangeUpdated, now); err != nil {
			return total, err
		}
	}
	return total, nil
}

// owned is an activity id with its principal.
type owned struct {
	tenant, user, app string
	id                int64
}

// purgeActivities deletes at most limit expired activities, with their history items, and logs each
// as deleted.
func purgeActivities(ctx context.Context, q querier, now int64, limit int) (int, error) {
	rows, err := q.QueryContext(ctx, `DELETE FROM activities WHERE id IN (
		SELECT id FROM activities WHERE expires <= ? LIMIT ?) RETURNING tenant_id, user_id, app_id, id`, now, limit)
	if err != nil {
		return 0, fmt.Errorf("purge activities: %w", err)
	}
	var gone []owned
	for rows.Next() {
		var o owned
		if err := rows.Scan(&o.tenant, &o.user, &o.app, &o.id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("purge activities: %w", err)
		}
		gone = append(gone, o)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("purge activities: %w", err)
	}
	for _, o := range gone {
		if err := logChangeOf(ctx, q, o.tenant, o.user, o.app, o.id, activity.ChangeDeleted, now); err != nil {
			return 0, err
		}
	}
	return len(gone), nil
}

// updateRecent works an activity's recent time out again from its history items.
const updateRecent = `UPDATE activities SET recent = (SELECT MAX(h.last_modified) FROM history_items h
	WHERE h.activity_id = activities.id) WHERE id = ?`
