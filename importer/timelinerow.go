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
// AppActivityId) at a time: what it holds is one activity's rows.
type timelineReader struct {
	path  string
	opt   TimelineOptions
	yield func(Item) error
	skip  func(Skip)
	rep   *TimelineReport
}

func (t *timelineReader) read(ctx context.Context, db *sql.DB, query string) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return dbError(t.path, err)
	}
	defer rows.Close()
	var group []*timelineRow
	for rows.Next() {
		r, err := scanTimelineRow(rows)
		if err != nil {
			return dbError(t.path, err)
		}
		t.rep.Rows++
		if len(group) > 0 && (r.appID != group[0].appID || r.appActivityID != group[0].appActivityID) {
			if err := t.group(group); err != nil {
				return err
			}
			group = nil
		}
		// The newest version of an Id comes first (timelineQuery): a change waiting in
		// ActivityOperation replaces the row of Activity, as in Windows' SmartLookup view.
		if n := len(group); n > 0 && len(r.id) > 0 && bytes.Equal(group[n-1].id, r.id) {
			t.skip(Skip{Source: r.source(t.path), Deliberate: true, Reason: "replaced by a newer version of the same Id (" +
				strings.TrimPrefix(group[n-1].source(t.path), t.path+": ") + ")"})
			continue
		}
		group = append(group, r)
	}
	if err := rows.Err(); err != nil {
		return dbError(t.path, err)
	}
	if len(group) > 0 {
		return t.group(group)
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

// group makes the activity of one AppId and AppActivityId: the newest row of ActivityType 5, with
// the rows of type 6 as its history items.
func (t *timelineReader) group(rows []*timelineRow) error {
	var opens, uses []*timelineRow
	deleted := false
	for _, r := range rows {
		switch {
		case r.state == statusDeleted || r.state == statusIgnored:
			word := map[int64]string{statusDeleted: "deleted", statusIgnored: "ignored"}[r.state]
			t.skip(Skip{Source: r.source(t.path), Deliberate: true, Reason: fmt.Sprintf("the row is marked %s (status %d)", word, r.state)})
			deleted = deleted || r.typ == 5
		case r.typ == 5:
			opens = append(opens, r)
		case r.typ == 6:
			uses = append(uses, r)
		default:
			t.skip(Skip{Source: r.source(t.path), Deliberate: true, Reason: typeReason(r.typ)})
		}
	}
	if len(opens) == 0 {
		reason := "an \"in use\" row (type 6) without the activity row (type 5) of the same AppId and AppActivityId: there is no title or link to show"
		if deleted {
			reason = "its activity row (type 5) is deleted"
		}
		for _, u := range uses {
			t.skip(Skip{Source: u.source(t.path), Reason: reason})
		}
		return nil
	}
	if rows[0].appActivityID == "" && len(opens) > 1 {
		for _, o := range opens {
			if err := t.activity(o, nil); err != nil {
				return err
			}
		}
		for _, u := range uses {
			t.skip(Skip{Source: u.source(t.path), Reason: "its AppActivityId is empty, as is that of several activities of the app: which one it belongs to cannot be told"})
		}
		return nil
	}
	newest := opens[0]
	for _, o := range opens[1:] {
		if c := o.lastModified.Compare(newest.lastModified); c > 0 || c == 0 && o.rid > newest.rid {
			newest = o
		}
	}
	for _, o := range opens {
		if o != newest {
			t.skip(Skip{Source: o.source(t.path), Deliberate: true, Reason: "an older row of the same activity (AppId and AppActivityId) than " +
				strings.TrimPrefix(newest.source(t.path), t.path+": ")})
		}
	}
	return t.activity(newest, uses)
}

// activity yields the activity of the type 5 row open with the history items of the type 6 rows uses.
func (t *timelineReader) activity(open *timelineRow, uses []*timelineRow) error {
	source := open.source(t.path)
	a, why := timelineActivity(open, t.opt.SourceHost)
	if why != "" {
		t.skip(Skip{Source: source, Reason: why})
		for _, u := range uses {
			t.skip(Skip{Source: u.source(t.path), Reason: "its activity row (type 5) is skipped: " + strings.TrimPrefix(source, t.path+": ")})
		}
		return nil
	}
	for _, u := range uses {
		h, why := timelineHistoryItem(u)
		if why != "" {
			t.skip(Skip{Source: u.source(t.path), Reason: why})
			continue
		}
		a.HistoryItems = append(a.HistoryItems, h)
	}
	settleTimes(&a)
	if a.LastModifiedDateTime == nil {
		t.skip(Skip{Source: source, Reason: "it has no time: StartTime and LastModifiedTime are empty, and it has no sessions"})
		return nil
	}
	_, history, err := emit(t.yield, t.skip, a, source)
	t.rep.Activities++
	t.rep.HistoryItems += history
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
