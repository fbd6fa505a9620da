package importer

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/activityd/activityd/client"
)

// timelineRow is one row of Activity or ActivityOperation, as timelineQuery selects it.
type timelineRow struct {
	op            bool  // from ActivityOperation, a change waiting to be uploaded
	rid           int64 // rowid; for ActivityOperation, its OperationOrder
	id            []byte
	appID         string // the AppId JSON text
	appActivityID string
	typ, state    int64 // ActivityType; ActivityStatus, or OperationType for a change
	lastModified  time.Time
	expiration    time.Time
	payload       []byte
	start, end    time.Time
}

// source names the row for messages: the file, the table and the row, and the Id.
func (r *timelineRow) source(path string) string {
	s := fmt.Sprintf("%s: Activity rowid %d", path, r.rid)
	if r.op {
		s = fmt.Sprintf("%s: ActivityOperation OperationOrder %d", path, r.rid)
	}
	if len(r.id) == 16 {
		s += " (Id " + guidString(r.id) + ")"
	}
	return s
}

// timelineReader turns the rows of a Timeline database into items, one group of rows (one AppId and
// AppActivityId) at a time, as it reads them: what it holds is the group's activity, the newest of its
// history items (newestHistory) and a row or two, however many rows the group has.
type timelineReader struct {
	path  string
	opt   TimelineOptions
	yield func(Item) error
	skip  func(Skip)
	rep   *TimelineReport
}

// timelineGroup is what the reader holds of the group it reads. Its rows of ActivityType 6 come last
// (timelineQuery): at the first of them, or at the group's end, the activity is settled (decide).
type timelineGroup struct {
	appID, appActivityID string
	last                 *timelineRow // the last row not replaced; a row after it of the same Id is an older version
	deleted              bool         // a row of type 5 is marked deleted or ignored
	opens                int          // rows of type 5 not marked
	open                 *timelineRow // the newest of them; nil once they are yielded each on its own
	decided              bool

	// Once decided: the activity the sessions join, or why they are skipped.
	activity *client.Activity
	source   string
	reason   string
	history  newestHistory
	times    sessionTimes
}

func (t *timelineReader) read(ctx context.Context, db *sql.DB, query string) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return dbError(t.path, err)
	}
	defer rows.Close()
	var g *timelineGroup
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := scanTimelineRow(rows)
		if err != nil {
			return dbError(t.path, err)
		}
		t.rep.Rows++
		if g != nil && (r.appID != g.appID || r.appActivityID != g.appActivityID) {
			if err := t.finish(g); err != nil {
				return err
			}
			g = nil
		}
		if g == nil {
			g = &timelineGroup{appID: r.appID, appActivityID: r.appActivityID}
		}
		if err := t.row(g, r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return dbError(t.path, err)
	}
	if g != nil {
		return t.finish(g)
	}
	return nil
}

func scanTimelineRow(rows *sql.Rows) (*timelineRow, error) {
	var v [12]any
	dest := make([]any, len(v))
	for i := range v {
		dest[i] = &v[i]
	}
	if err := rows.Scan(dest...); err != nil {
		return nil, err
	}
	src, _ := asInt(v[0])
	r := &timelineRow{op: src == 1, id: asBytes(v[2]), appID: asText(v[3]), appActivityID: asText(v[4]),
		lastModified: asTime(v[6]), expiration: asTime(v[7]), payload: asBytes(v[8]), start: asTime(v[9]), end: asTime(v[10])}
	r.rid, _ = asInt(v[1])
	r.typ, _ = asInt(v[5])
	r.state, _ = asInt(v[11])
	return r, nil
}

// The statuses of a row (ActivityStatus, OperationType) that take it out of the timeline.
const (
	statusDeleted = 3
	statusIgnored = 4
)

// row takes the next row of the group g.
func (t *timelineReader) row(g *timelineGroup, r *timelineRow) error {
	// The newest version of an Id comes first (timelineQuery): a change waiting in
	// ActivityOperation replaces the row of Activity, as in Windows' SmartLookup view.
	if g.last != nil && len(r.id) > 0 && bytes.Equal(g.last.id, r.id) {
		t.skip(Skip{Source: r.source(t.path), Deliberate: true, Reason: "replaced by a newer version of the same Id (" +
			strings.TrimPrefix(g.last.source(t.path), t.path+": ") + ")"})
		return nil
	}
	g.last = r
	switch {
	case r.state == statusDeleted || r.state == statusIgnored:
		word := map[int64]string{statusDeleted: "deleted", statusIgnored: "ignored"}[r.state]
		t.skip(Skip{Source: r.source(t.path), Deliberate: true, Reason: fmt.Sprintf("the row is marked %s (status %d)", word, r.state)})
		g.deleted = g.deleted || r.typ == 5
	case r.typ == 5:
		return t.open(g, r)
	case r.typ == 6:
		t.use(g, r)
	default:
		t.skip(Skip{Source: r.source(t.path), Deliberate: true, Reason: typeReason(r.typ)})
	}
	return nil
}

// open takes a row of type 5. The group's activity is its newest (by LastModifiedTime, then rowid);
// the others are skipped, each naming a newer one (the newest when there are two). When the
// AppActivityId is empty and there are several, each is an activity of its own.
func (t *timelineReader) open(g *timelineGroup, r *timelineRow) error {
	if g.decided {
		// CAST in timelineQuery reads every ActivityType that asInt reads as 5 or 6 alike, but for
		// text with spaces other than ASCII ones, or a time.
		t.skip(Skip{Source: r.source(t.path), Reason: "a row of type 5 read after the sessions of its activity: its ActivityType is not stored as a number"})
		return nil
	}
	g.opens++
	switch {
	case g.opens == 1:
		g.open = r
	case g.appActivityID == "":
		if g.open != nil {
			if err := t.activity(g.open); err != nil {
				return err
			}
			g.open = nil
		}
		return t.activity(r)
	default:
		older, newer := r, g.open
		if c := r.lastModified.Compare(g.open.lastModified); c > 0 || c == 0 && r.rid > g.open.rid {
			older, newer = g.open, r
		}
		t.skip(Skip{Source: older.source(t.path), Deliberate: true, Reason: "an older row of the same activity (AppId and AppActivityId) than " +
			strings.TrimPrefix(newer.source(t.path), t.path+": ")})
		g.open = newer
	}
	return nil
}

// decide settles what the group's sessions join: its one activity, or nothing, and why.
func (t *timelineReader) decide(g *timelineGroup) {
	g.decided = true
	switch {
	case g.opens == 0 && g.deleted:
		g.reason = "its activity row (type 5) is deleted"
	case g.opens == 0:
		g.reason = "an \"in use\" row (type 6) without the activity row (type 5) of the same AppId and AppActivityId: there is no title or link to show"
	case g.open == nil:
		g.reason = "its AppActivityId is empty, as is that of several activities of the app: which one it belongs to cannot be told"
	default:
		g.source = g.open.source(t.path)
		a, why := timelineActivity(g.open, t.opt.SourceHost)
		g.open = nil
		if why != "" {
			t.skip(Skip{Source: g.source, Reason: why})
			g.reason = "its activity row (type 5) is skipped: " + strings.TrimPrefix(g.source, t.path+": ")
			return
		}
		g.activity, g.times = &a, newSessionTimes(a)
	}
}

// use takes a row of type 6: a history item of the group's activity, kept if among the newest.
func (t *timelineReader) use(g *timelineGroup, r *timelineRow) {
	if !g.decided {
		t.decide(g)
	}
	if g.reason != "" {
		t.skip(Skip{Source: r.source(t.path), Reason: g.reason})
		return
	}
	h, why := timelineHistoryItem(r)
	if why != "" {
		t.skip(Skip{Source: r.source(t.path), Reason: why})
		return
	}
	g.times.add(h)
	g.history.add(h)
}

// finish yields the group's activity, with the history items kept.
func (t *timelineReader) finish(g *timelineGroup) error {
	if !g.decided {
		t.decide(g)
	}
	if g.activity == nil {
		return nil
	}
	return t.emit(*g.activity, g.source, &g.history, &g.times)
}

// activity yields the activity of the type 5 row open alone, without history items.
func (t *timelineReader) activity(open *timelineRow) error {
	source := open.source(t.path)
	a, why := timelineActivity(open, t.opt.SourceHost)
	if why != "" {
		t.skip(Skip{Source: source, Reason: why})
		return nil
	}
	times := newSessionTimes(a)
	return t.emit(a, source, &newestHistory{}, &times)
}

// emit yields a, from the row at source, with the history items of history, its times settled.
func (t *timelineReader) emit(a client.Activity, source string, history *newestHistory, times *sessionTimes) error {
	times.settle(&a)
	if a.LastModifiedDateTime == nil {
		t.skip(Skip{Source: source, Reason: "it has no time: StartTime and LastModifiedTime are empty, and it has no sessions"})
		return nil
	}
	a.HistoryItems = history.kept
	_, n, err := emit(t.yield, t.skip, a, source, history.older)
	t.rep.Activities++
	t.rep.HistoryItems += n
	return err
}

// typeReason is why a row of an ActivityType other than 5 and 6 is skipped. The names are those of
// the forensic write-ups of the format (kacos2000's WindowsTimeline).
func typeReason(typ int64) string {
	name := map[int64]string{
		2: "notification", 3: "backup and restore", 10: "clipboard", 11: "system", 12: "system",
		15: "system", 16: "copy and paste",
	}[typ]
	if name == "" {
		return fmt.Sprintf("ActivityType %d is not imported (only 5, opened, and 6, in use, are)", typ)
	}
	return fmt.Sprintf("%s (type %d) is skipped", name, typ)
}

func asBytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	return nil
}

func asText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	case []byte:
		n, err := strconv.ParseInt(strings.TrimSpace(string(x)), 10, 64)
		return n, err == nil
	case time.Time:
		return x.Unix(), true
	}
	return 0, false
}

// maxUnix is the last second of the year 9999, beyond which no time of RFC 3339 lies.
const maxUnix = 253402300799

// asTime reads a Timeline time, Unix seconds in UTC; zero, negative and absent times are zero.
func asTime(v any) time.Time {
	if t, ok := v.(time.Time); ok {
		return t.UTC()
	}
	n, ok := asInt(v)
	if !ok || n <= 0 || n > maxUnix {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}
