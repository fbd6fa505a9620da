package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/activityd/activityd"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what the pool and pgx.Tx share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const activityColumns = `a.id, a.app_activity_id, a.activity_source_host, a.activation_url, a.app_display_name,
	a.fallback_url, a.content_url, a.content_info, a.user_timezone, a.display_text, a.description,
	a.background_color, a.content, a.attribution, a.icon_url, a.alternate_text, a.alternative_text,
	a.add_image_query, a.created, a.last_modified, a.expires, a.status, a.blank`

func scanActivity(row pgx.Row, extra ...any) (*activity.Activity, error) {
	var (
		a                            activity.Activity
		attribution                  bool
		icon, alternate, alternative string
		addImageQuery                *bool
		created, modified, expires   int64
		status                       string
		blank                        int64
	)
	dest := []any{&a.ID, &a.AppActivityID, &a.ActivitySourceHost, &a.ActivationURL, &a.AppDisplayName,
		&a.FallbackURL, &a.ContentURL, &a.ContentInfo, &a.UserTimezone, &a.VisualElements.DisplayText,
		&a.VisualElements.Description, &a.VisualElements.BackgroundColor, &a.VisualElements.Content, &attribution,
		&icon, &alternate, &alternative, &addImageQuery, &created, &modified, &expires, &status, &blank}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	if attribution {
		a.VisualElements.Attribution = &activity.ImageInfo{IconURL: icon, AlternateText: alternate,
			AlternativeText: alternative, AddImageQuery: addImageQuery}
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
		addImageQuery                *bool
	)
	if at := a.VisualElements.Attribution; at != nil {
		attribution, icon, alternate, alternative, addImageQuery = true, at.IconURL, at.AlternateText, at.AlternativeText, at.AddImageQuery
	}
	return []any{a.AppActivityID, a.ActivitySourceHost, a.ActivationURL, a.AppDisplayName,
		a.FallbackURL, a.ContentURL, []byte(a.ContentInfo), a.UserTimezone, a.VisualElements.DisplayText,
		a.VisualElements.Description, a.VisualElements.BackgroundColor, []byte(a.VisualElements.Content),
		attribution, icon, alternate, alternative, addImageQuery,
		micros(a.CreatedDateTime), micros(a.LastModifiedDateTime), micros(a.ExpirationDateTime), string(a.Status), int64(a.AllBlank()),
		activity.Site(a), activity.SearchText(a)}
}

// FindActivity returns the activity whose id is ref.ID, or else whose appActivityId is ref.AppActivityID.
func (s *Store) FindActivity(ctx context.Context, p activity.Principal, ref activity.Ref) (*activity.Activity, error) {
	return findActivity(ctx, s.pool, p, s.now(), ref, "")
}

// FindActivity returns the activity whose id, or else appActivityId, is ref, and locks it for the
// rest of the transaction, so that a read-modify-write (PATCH) loses no concurrent change.
func (tx *Tx) FindActivity(ctx context.Context, ref activity.Ref) (*activity.Activity, error) {
	return findActivity(ctx, tx.tx, tx.p, tx.now, ref, " FOR UPDATE")
}

func findActivity(ctx context.Context, q querier, p activity.Principal, now int64, ref activity.Ref, lock string) (*activity.Activity, error) {
	if ref.ID > 0 {
		a, err := findActivityBy(ctx, q, p, now, "a.id", ref.ID, lock)
		if activity.ErrorCode(err) != activity.NotFound {
			return a, err
		}
	}
	if ref.AppActivityID == "" {
		return nil, activity.Errorf(activity.NotFound, "The activity was not found.")
	}
	return findActivityBy(ctx, q, p, now, "a.app_activity_id", ref.AppActivityID, lock)
}

// findActivityBy looks an activity up by one key column, a constant of this package.
func findActivityBy(ctx context.Context, q querier, p activity.Principal, now int64, column string, key any, lock string) (*activity.Activity, error) {
	return scanFoundActivity(q.QueryRow(ctx, findActivitySQL(column, lock), p.TenantID, p.UserID, p.AppID, key, now), key)
}

// findActivitySQL is the look-up of a live activity by one key column: $1–$3 the principal, $4 the
// key, $5 now.
func findActivitySQL(column, lock string) string {
	return `SELECT ` + activityColumns + ` FROM activities a
		WHERE a.tenant_id = $1 AND a.user_id = $2 AND a.app_id = $3 AND ` + column + ` = $4 AND a.expires > $5` + lock
}

// scanFoundActivity scans the row of findActivitySQL; no row is NotFound, naming key.
func scanFoundActivity(row pgx.Row, key any) (*activity.Activity, error) {
	a, err := scanActivity(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, activity.Errorf(activity.NotFound, "The activity '%v' was not found.", key)
	} else if err != nil {
		return nil, fmt.Errorf("find activity: %w", err)
	}
	return a, nil
}

// FindActivityToWrite is FindActivity and Privacy in one round trip, with the transaction's BEGIN
// when it is the first: the activity's look-up (FOR UPDATE) and the privacy row's (FOR SHARE) in
// one pipeline, run in that order as two statements were before.
func (tx *Tx) FindActivityToWrite(ctx context.Context, ref activity.Ref) (*activity.Activity, *activity.Privacy, error) {
	column, key := "a.id", any(ref.ID)
	if ref.ID <= 0 {
		if ref.AppActivityID == "" {
			return nil, nil, activity.Errorf(activity.NotFound, "The activity was not found.")
		}
		column, key = "a.app_activity_id", ref.AppActivityID
	}
	b := &pgx.Batch{}
	b.Queue(findActivitySQL(column, " FOR UPDATE"), tx.p.TenantID, tx.p.UserID, tx.p.AppID, key, tx.now)
	b.Queue(privacySQL+" FOR SHARE", tx.p.TenantID, tx.p.UserID)
	br := tx.tx.SendBatch(ctx, b)
	a, err := scanFoundActivity(br.QueryRow(), key)
	if err != nil && activity.ErrorCode(err) != activity.NotFound {
		return nil, nil, closeBatch(br, err)
	}
	pv, perr := scanPrivacy(br.QueryRow())
	if perr = closeBatch(br, perr); perr != nil {
		return nil, nil, perr
	}
	switch {
	case err != nil && column == "a.id" && ref.AppActivityID != "":
		a, err = findActivityBy(ctx, tx.tx, tx.p, tx.now, "a.app_activity_id", ref.AppActivityID, " FOR UPDATE")
	case err != nil && column == "a.id":
		err = activity.Errorf(activity.NotFound, "The activity was not found.") // as findActivity says it
	}
	if err != nil {
		return nil, nil, err
	}
	return a, pv, nil
}

// PutActivity stores the activity in one autocommitted upsert, one round trip, unless an expired
// activity holds its key: then in a transaction that deletes that one first.
func (s *Store) PutActivity(ctx context.Context, p activity.Principal, a *activity.Activity) (created bool, err error) {
	for attempt := 1; ; attempt++ {
		// Autocommitted: once sent, its outcome is waited for even if the request goes away, since a
		// statement cancelled in flight may have committed all the same.
		created, ok, err := upsertActivity(context.WithoutCancel(ctx), s.pool, p, s.now(), a)
		if err == nil && !ok {
			err = s.Update(ctx, p, func(tx activity.Tx) (err error) {
				created, err = tx.PutActivity(ctx, a)
				return err
			})
			return created, err
		}
		if err == nil {
			s.committed(userOf(p))
		}
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return created, err
		}
	}
}

// PutActivity inserts a, or replaces the live activity with its appActivityId, in one upsert. The
// upsert leaves an expired activity with the key alone: that one is deleted, and the upsert runs again.
func (tx *Tx) PutActivity(ctx context.Context, a *activity.Activity) (created bool, err error) {
	defer func() {
		if err == nil {
			tx.loggedByUpsert(a.ID)
		}
	}()
	created, ok, err := upsertActivity(ctx, tx.tx, tx.p, tx.now, a)
	if err != nil || ok {
		return created, err
	}
	// An expired activity with this key is gone for the client; make room for the new one, and say
	// that the old one is gone (its id is not the new one's).
	var old int64
	if err := tx.tx.QueryRow(ctx, `DELETE FROM activities
		WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3 AND app_activity_id = $4 AND expires <= $5 RETURNING id`,
		tx.p.TenantID, tx.p.UserID, tx.p.AppID, a.AppActivityID, tx.now).Scan(&old); err != nil {
		return false, fmt.Errorf("put activity: %w", err)
	}
	if err := tx.logChange(ctx, old, activity.ChangeDeleted); err != nil {
		return false, err
	}
	if created, ok, err = upsertActivity(ctx, tx.tx, tx.p, tx.now, a); err == nil && !ok {
		err = fmt.Errorf("put activity: the expired activity '%s' is still in the way", a.AppActivityID)
	}
	return created, err
}

// upsertActivity inserts a under a new random id or, when a live activity has a's key, replaces it,
// atomically also against concurrent upserts of the key. ok is false when an expired activity has the
// key: then nothing was written. An id collision (once in 2^63) fails with a unique violation on the
// primary key, which the callers retry.
func upsertActivity(ctx context.Context, q querier, p activity.Principal, now int64, a *activity.Activity) (created, ok bool, err error) {
	a.Status = activity.StatusActive // as inserted
	sites, unreadable := activity.Sites(a)
	args := append([]any{activity.NewID(), p.TenantID, p.UserID, p.AppID}, activityArgs(a)...)
	args = append(args, now, append([]string{}, sites...), unreadable)
	var refused bool
	var stored, createdAt *int64
	var inserted *bool
	// The change is logged in the same statement, so that the one-round-trip upsert stays one. So is
	// the user's privacy check (activity.Privacy.Refuses, in SQL): FOR SHARE makes it wait for a
	// SetPrivacy that is changing the row and then read the row as changed, and makes SetPrivacy wait
	// for this write to commit.
	err = q.QueryRow(ctx, `WITH pv AS (SELECT paused_until, blocked_apps, blocked_sites FROM privacy
			WHERE tenant_id = $2 AND user_id = $3 FOR SHARE),
		refused AS (SELECT EXISTS (SELECT 1 FROM pv WHERE pv.paused_until > $29 OR $4 = ANY (pv.blocked_apps)
			OR (cardinality(pv.blocked_sites) > 0 AND $31)
			OR EXISTS (SELECT 1 FROM unnest(pv.blocked_sites) b, unnest($30::text[]) s
				WHERE s = b OR right(s, length(b) + 1) = '.' || b)) AS r),
		up AS (INSERT INTO activities (id, tenant_id, user_id, app_id,
		app_activity_id, activity_source_host, activation_url, app_display_name, fallback_url, content_url,
		content_info, user_timezone, display_text, description, background_color, content, attribution,
		icon_url, alternate_text, alternative_text, add_image_query, created, last_modified, expires, status, blank,
		site, search_text)
		SELECT $1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text,
		$11::bytea, $12::text, $13::text, $14::text, $15::text, $16::bytea, $17::boolean, $18::text, $19::text, $20::text,
		$21::boolean, $22::bigint, $23::bigint, $24::bigint, $25::text, $26::bigint, $27::text, $28::text
		WHERE NOT (SELECT r FROM refused)
		ON CONFLICT (tenant_id, user_id, app_id, app_activity_id) DO UPDATE SET
		activity_source_host = excluded.activity_source_host, activation_url = excluded.activation_url,
		app_display_name = excluded.app_display_name, fallback_url = excluded.fallback_url,
		content_url = excluded.content_url, content_info = excluded.content_info,
		user_timezone = excluded.user_timezone, display_text = excluded.display_text,
		description = excluded.description, background_color = excluded.background_color,
		content = excluded.content, attribution = excluded.attribution, icon_url = excluded.icon_url,
		alternate_text = excluded.alternate_text, alternative_text = excluded.alternative_text,
		add_image_query = excluded.add_image_query, last_modified = excluded.last_modified,
		expires = excluded.expires, blank = excluded.blank, site = excluded.site,
		search_text = excluded.search_text, status = '`+string(activity.StatusUpdated)+`'
		WHERE activities.expires > $29
		RETURNING id, created, xmax = 0 AS inserted),
		logged AS (INSERT INTO changes (tenant_id, user_id, app_id, activity_id, kind, at)
			SELECT $2, $3, $4, id, CASE WHEN inserted THEN 'created' ELSE 'updated' END, $23 FROM up)
		SELECT (SELECT r FROM refused), up.id, up.created, up.inserted FROM (SELECT 1) one LEFT JOIN up ON true`,
		args...).Scan(&refused, &stored, &createdAt, &inserted)
	switch {
	case err != nil:
		return false, false, fmt.Errorf("put activity: %w", err)
	case refused:
		pv, _ := readPrivacy(ctx, q, p, "")
		return false, false, activity.Refused(pv, p.AppID, a, fromMicros(now))
	case stored == nil:
		return false, false, nil // an expired activity holds the key
	}
	created = *inserted
	if !created {
		a.CreatedDateTime, a.Status = fromMicros(*createdAt), activity.StatusUpdated
	}
	a.ID = *stored
	return created, true, nil
}

// UpdateActivity replaces the stored activity with a's id and logs its change, in one statement.
func (tx *Tx) UpdateActivity(ctx context.Context, a *activity.Activity) error {
	args := append(activityArgs(a), tx.p.TenantID, tx.p.UserID, tx.p.AppID, a.ID)
	sql := updateActivity
	if tx.toLog(a.ID, activity.ChangeUpdated) {
		// The change goes in with the update, one statement (the row counted is the change's).
		sql = `WITH updated AS (` + updateActivity + ` RETURNING id)
			INSERT INTO changes (tenant_id, user_id, app_id, activity_id, kind, at)
			SELECT $25, $26, $27, id, '` + string(activity.ChangeUpdated) + `', $29 FROM updated`
		args = append(args, tx.now)
	}
	tag, err := tx.tx.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("update activity: %w", err)
	}
	return mustAffect(tag, "The activity '%d' was not found.", a.ID)
}

// updateActivity replaces an activity's columns ($1–$24, activityArgs) by principal ($25–$27) and id ($28).
const updateActivity = `UPDATE activities SET app_activity_id = $1, activity_source_host = $2,
		activation_url = $3, app_display_name = $4, fallback_url = $5, content_url = $6, content_info = $7,
		user_timezone = $8, display_text = $9, description = $10, background_color = $11, content = $12,
		attribution = $13, icon_url = $14, alternate_text = $15, alternative_text = $16, add_image_query = $17,
		created = $18, last_modified = $19, expires = $20, status = $21, blank = $22, site = $23, search_text = $24
		WHERE tenant_id = $25 AND user_id = $26 AND app_id = $27 AND id = $28`

// DeleteActivity deletes an activity; its history items go with it (ON DELETE CASCADE).
func (tx *Tx) DeleteActivity(ctx context.Context, id int64) error {
	tag, err := tx.tx.Exec(ctx, `DELETE FROM activities
		WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3 AND id = $4 AND expires > $5`,
		tx.p.TenantID, tx.p.UserID, tx.p.AppID, id, tx.now)
	if err != nil {
		return fmt.Errorf("delete activity: %w", err)
	}
	if err := mustAffect(tag, "The activity '%d' was not found.", id); err != nil {
		return err
	}
	return tx.logChange(ctx, id, activity.ChangeDeleted)
}

func mustAffect(tag pgconn.CommandTag, format string, args ...any) error {
	if tag.RowsAffected() == 0 {
		return activity.Errorf(activity.NotFound, format, args...)
	}
	return nil
}

// purgeHistoryItems deletes up to limit expired history items and works the recent time of their
// activities out again from the items left.
func (s *Store) purgeHistoryItems(ctx context.Context, now int64, limit int) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("purge history items: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `DELETE FROM history_items WHERE (tenant_id, user_id, app_id, activity_id, id) IN (
			SELECT tenant_id, user_id, app_id, activity_id, id FROM history_items WHERE expires <= $1 LIMIT $2
			FOR UPDATE SKIP LOCKED)
		RETURNING tenant_id, user_id, app_id, activity_id`, now, limit)
	if err != nil {
		return 0, fmt.Errorf("purge history items: %w", err)
	}
	type key struct {
		tenant, user, app string
		id                int64
	}
	affected := map[key]bool{}
	n := 0
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.tenant, &k.user, &k.app, &k.id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("purge history items: %w", err)
		}
		affected[k] = true
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("purge history items: %w", err)
	}
	for k := range affected {
		if _, err := tx.Exec(ctx, updateRecent, k.tenant, k.user, k.app, k.id); err != nil {
			return 0, fmt.Errorf("purge history items: %w", err)
		}
		if _, err := tx.Exec(ctx, insertChange, k.tenant, k.user, k.app, k.id, string(activity.ChangeUpdated), now); err != nil {
			return 0, fmt.Errorf("purge history items: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	if n > 0 {
		s.committed(nil)
	}
	return n, nil
}

// updateRecent works an activity's recent time out again from its history items.
const updateRecent = `UPDATE activities a SET recent = (SELECT MAX(h.last_modified) FROM history_items h
	WHERE h.tenant_id = a.tenant_id AND h.user_id = a.user_id AND h.app_id = a.app_id AND h.activity_id = a.id)
	WHERE a.tenant_id = $1 AND a.user_id = $2 AND a.app_id = $3 AND a.id = $4`

// cursorArgs returns the keyset position after which a page starts: the end of the list for nil.
func cursorArgs(c *activity.Cursor) (t, id int64) {
	if c == nil {
		return 1<<63 - 1, 1<<63 - 1
	}
	return micros(c.Time), c.ID
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
	from, to := q.Modified.Micros()
	afterTime, afterID := cursorArgs(q.After)
	args := []any{s.now(), from, to, afterTime, afterID, q.Limit + 1}
	where, args := scope(p, q, args)
	rows, err := s.pool.Query(ctx, `SELECT `+activityColumns+`, a.app_id FROM activities a
		WHERE `+where+` AND a.expires > $1
		AND a.last_modified BETWEEN $2 AND $3 AND (a.last_modified, a.id) < ($4, $5)
		ORDER BY a.last_modified DESC, a.id DESC LIMIT $6`, args...)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	page, err := scanPage(rows, q, false)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	return page, s.expandPage(ctx, p, q, page)
}

// scope appends to args the values of the conditions that select whose activities q reads (alias
// a): p's app, or with q.AllApps p's user (and q.App), then q.Site; it returns the conditions.
func scope(p activity.Principal, q activity.ActivityQuery, args []any) (string, []any) {
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := "a.tenant_id = " + arg(p.TenantID) + " AND a.user_id = " + arg(p.UserID)
	switch {
	case !q.AllApps:
		where += " AND a.app_id = " + arg(p.AppID)
	case q.App != "":
		where += " AND a.app_id = " + arg(q.App)
	}
	if q.Site != "" {
		where += " AND (a.site = " + arg(q.Site) + " OR right(a.site, " + arg(len(q.Site)+1) + ") = " + arg("."+q.Site) + ")"
	}
	if !q.ChangedSince.IsZero() {
		since := arg(micros(q.ChangedSince))
		where += " AND (a.last_modified >= " + since + " OR a.recent >= " + since + ")"
	}
	return where, args
}

// searchActivities returns a page of the activities that match every term of q.Search, by ts_rank_cd
// (display text weighs most, then app name, description, the rest) divided by one plus the
// activity's age in months, so that of two equal matches the newer comes first.
func (s *Store) searchActivities(ctx context.Context, p activity.Principal, q activity.ActivityQuery) (*activity.ActivityPage, error) {
	terms := activity.SearchTerms(q.Search)
	if len(terms) == 0 {
		return &activity.ActivityPage{}, nil
	}
	// Terms are letters and digits only: none can be read as tsquery syntax.
	query := strings.Join(terms, " & ")
	now := s.now()
	from, to := q.Modified.Micros()
	offset := 0
	if q.After != nil {
		offset = q.After.Offset
	}
	args := []any{now, from, to, query, q.Limit + 1, offset}
	where, args := scope(p, q, args)
	// The candidates are the newest matches, at most activity.SearchCandidates (a materialized CTE,
	// planned alone): for a rare word PostgreSQL reads the GIN index and sorts the few matches, for a
	// common one it walks the person's activities newest first, testing each, and stops early.
	// Ranking every match of a word held by 200,000 activities took 1.6 s; these take milliseconds.
	// The rank is worked out for the candidates only. The statement is planned for each search's own
	// words (an unnamed statement, QueryExecModeExec): a plan made once for any words (PostgreSQL's
	// generic plan after five runs of a prepared one) walked a million activities for two rare ones.
	rows, err := s.pool.Query(ctx, `WITH m AS MATERIALIZED (SELECT a.tenant_id, a.user_id, a.app_id, a.id FROM activities a
			WHERE `+where+` AND a.expires > $1 AND a.last_modified BETWEEN $2 AND $3
			AND a.search @@ to_tsquery('simple', $4)
			ORDER BY a.last_modified DESC LIMIT `+strconv.Itoa(activity.SearchCandidates)+`)
		SELECT `+activityColumns+`, a.app_id FROM m JOIN activities a
			ON (a.tenant_id, a.user_id, a.app_id, a.id) = (m.tenant_id, m.user_id, m.app_id, m.id)
		ORDER BY ts_rank_cd(a.search, to_tsquery('simple', $4)) / (1 + greatest($1 - a.last_modified, 0) / 2592000000000.0) DESC, a.id DESC
		LIMIT $5 OFFSET $6`, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("search activities: %w", err)
	}
	page, err := scanPage(rows, q, false)
	if err != nil {
		return nil, fmt.Errorf("search activities: %w", err)
	}
	if page.Next != nil {
		page.Next = &activity.Cursor{Offset: offset + len(page.Activities)}
	}
	return page, s.expandPage(ctx, p, q, page)
}

// expandPage gives each activity of the page its newest history items when q asks for them.
func (s *Store) expandPage(ctx context.Context, p activity.Principal, q activity.ActivityQuery, page *activity.ActivityPage) error {
	if q.HistoryItems <= 0 || len(page.Activities) == 0 {
		return nil
	}
	ids := make([]int64, len(page.Activities))
	apps := make([]string, len(page.Activities))
	for i, a := range page.Activities {
		ids[i], apps[i] = a.ID, p.AppID
		if q.AllApps {
			apps[i] = a.AppID
		}
	}
	items, err := s.expandHistoryItems(ctx, p, apps, ids, activity.TimeRange{}, q.HistoryItems)
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
	from, to := q.Modified.Micros()
	afterTime, afterID := cursorArgs(q.After)
	// The index on (user key, recent DESC, id DESC) yields the rows in order; an activity whose history
	// items have all expired (but are not purged yet) is skipped. The check is a LATERAL subquery
	// with LIMIT 1, which PostgreSQL runs for each activity with its key as the index scan's bounds
	// (as an EXISTS, a plan made without statistics scanned all of the user's items for each).
	rows, err := s.pool.Query(ctx, `SELECT `+activityColumns+`, a.recent FROM activities a
		CROSS JOIN LATERAL (SELECT 1 FROM history_items h WHERE h.tenant_id = $1 AND h.user_id = $2 AND h.app_id = $3
			AND h.activity_id = a.id AND h.expires > $4 LIMIT 1) live
		WHERE a.tenant_id = $1 AND a.user_id = $2 AND a.app_id = $3 AND a.recent IS NOT NULL AND a.expires > $4
		AND a.last_modified BETWEEN $5 AND $6 AND (a.recent, a.id) < ($7, $8)
		ORDER BY a.recent DESC, a.id DESC LIMIT $9`,
		p.TenantID, p.UserID, p.AppID, s.now(), from, to, afterTime, afterID, q.Limit+1)
	if err != nil {
		return nil, fmt.Errorf("recent activities: %w", err)
	}
	page, err := scanPage(rows, q, true)
	if err != nil {
		return nil, fmt.Errorf("recent activities: %w", err)
	}
	return page, nil
}

// scanPage reads up to q.Limit activities, fewer when they pass q.MaxBytes, and the cursor of the
// next page when rows remain; with recent, each row ends with its recent time, which is the sort key.
func scanPage(rows pgx.Rows, q activity.ActivityQuery, recent bool) (*activity.ActivityPage, error) {
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
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM activities a
		WHERE a.tenant_id = $1 AND a.user_id = $2 AND a.app_id = $3 AND a.expires > $4 AND a.last_modified BETWEEN $5 AND $6`,
		p.TenantID, p.UserID, p.AppID, s.now(), from, to).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count activities: %w", err)
	}
	return n, nil
}

// PurgeExpired deletes up to limit expired activities (their history items go with them), then up to
// the rest of limit expired history items, then of ended throttling windows. Rows locked by a concurrent purge are skipped, so several
// processes can purge at once without waiting on each other.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	// Each purged activity is logged as deleted, in the same statement.
	tag, err := s.pool.Exec(ctx, `WITH gone AS (
			DELETE FROM activities WHERE (tenant_id, user_id, app_id, id) IN (
				SELECT tenant_id, user_id, app_id, id FROM activities WHERE expires <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
			RETURNING tenant_id, user_id, app_id, id)
		INSERT INTO changes (tenant_id, user_id, app_id, activity_id, kind, at)
		SELECT tenant_id, user_id, app_id, id, 'deleted', $1 FROM gone`,
		micros(now), limit)
	if err != nil {
		return 0, fmt.Errorf("purge activities: %w", err)
	}
	if tag.RowsAffected() > 0 {
		s.committed(nil)
	}
	total := int(tag.RowsAffected())
	if total >= limit {
		return total, nil
	}
	n, err := s.purgeHistoryItems(ctx, micros(now), limit-total)
	if err != nil {
		return total, err
	}
	total += n
	if total >= limit {
		return total, nil
	}
	tag, err = s.pool.Exec(ctx, `DELETE FROM request_counts WHERE (tenant_id, user_id, app_id, counter) IN (
		SELECT tenant_id, user_id, app_id, counter FROM request_counts WHERE expires <= $1 LIMIT $2
		FOR UPDATE SKIP LOCKED)`, micros(now), limit-total)
	if err != nil {
		return total, fmt.Errorf("purge request counts: %w", err)
	}
	return total + int(tag.RowsAffected()), nil
}
