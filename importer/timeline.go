package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" driver, pure Go, as the sqlite package uses
)

// TimelineOptions are the choices of a Windows Timeline import.
type TimelineOptions struct {
	// SourceHost is the activitySourceHost of the activities whose AppId names no host; ""
	// is DefaultTimelineSourceHost.
	SourceHost string
	// MaxRows is the most rows read from Activity and ActivityOperation together; 0 is
	// DefaultTimelineMaxRows. A database with more is read up to it, and one Skip says so.
	MaxRows int
}

// DefaultTimelineMaxRows is the most rows a Windows Timeline import reads unless told otherwise:
// well above what Windows keeps (its activities expire after 30 days; plaso's fixture holds 112 rows),
// and a bound on a database that is not Windows' own, such as one whose Activity is a view without
// end. Memory does not grow with the rows read (see WindowsTimeline); time and SQLite's temporary
// files, which hold the rows to sort them, do (a million rows of one activity: some 16 s).
const DefaultTimelineMaxRows = 1_000_000

// DefaultTimelineSourceHost is the activitySourceHost of a Timeline activity whose AppId has no
// "host" entry: the domain of Windows' activity feed service, under which Windows names the hosts
// it does know (Edge's entry is "edge.activity.windows.com"). Graph asks for the URL of the domain
// that maps the app's identities across platforms; activityd only requires a value.
// https://learn.microsoft.com/graph/api/resources/projectrome-activity
const DefaultTimelineSourceHost = "https://activity.windows.com"

// The layouts of ActivitiesCache.db that TimelineReport.Layout names.
const (
	// Layout1803 is the Activity table of Windows 10 1803 to 1909 (the fixture of plaso's tests).
	Layout1803 = "1803"
	// Layout2004 is the Activity table of Windows 10 2004 and later, which adds UserActionState,
	// IsRead and GroupItems (and, in some builds, LocalExpirationTime and DdsDeviceId).
	Layout2004 = "2004+"
)

// TimelineReport says what a Windows Timeline import met and did.
type TimelineReport struct {
	Layout string // Layout1803 or Layout2004
	// Copied is set when a -wal or -journal file lay beside the database: the database was then
	// read from a copy, with it, in a temporary directory.
	Copied bool
	// Operations is set when ActivityOperation held rows: changes waiting to be uploaded, which
	// were read as Windows' own SmartLookup view reads them (see WindowsTimeline).
	Operations   bool
	Missing      []string // the optional columns of Activity that the database lacks
	Rows         int      // rows read from Activity and ActivityOperation
	Activities   int      // activities made (from rows of ActivityType 5)
	HistoryItems int      // history items made (from rows of ActivityType 6)
	Skipped      int      // records passed to skip
}

// WindowsTimeline reads the Windows Timeline database at path (ActivitiesCache.db, found in
// %LOCALAPPDATA%\ConnectedDevicesPlatform\<account>\) and yields one Item per activity, in the
// order of its AppId and AppActivityId. Rows that give no item are passed to skip with the reason.
// An error from yield stops the import and is returned.
//
// The file is never changed, and nothing is created beside it (SQLite makes -wal and -shm files beside
// a database it opens, even read-only): a database alone is opened with SQLite's immutable=1; one with
// a -wal or -journal file beside it is copied, with that file, to a temporary directory, read there
// (so that the changes still in the WAL count) and the copy removed.
//
// Columns are read by name (PRAGMA table_info), so both layouts read (Layout1803, Layout2004) and a
// missing optional column is null; Id, AppId and ActivityType are required. The rows are those of
// Windows' own SmartLookup view: for each Id, the latest row of ActivityOperation (changes waiting to
// be uploaded) when there is one, else the row of Activity. Rows whose status (ActivityStatus, or
// OperationType for a pending change) is 3, deleted, or 4, ignored, are skipped.
//
// Rows of ActivityType 5 ("open app/file/page") become activities and the rows of ActivityType 6
// ("app in use") with the same AppId and AppActivityId become their history items. A type 6 row with
// no type 5 row is skipped: without it there is no title, no link and no card, only an app id. The
// other types (2 notification, 3 backup and restore, 10 clipboard, 11, 12 and 15 system, 16 copy and
// paste) are skipped, each with a reason naming the type. See timelineActivity for the mapping.
//
// The rows are read one at a time, and what is held stays bounded whatever the database holds: one
// activity and the newest activity.DefaultMaxHistoryItems of its history items (the older ones are
// counted, and left out with one Skip, as emit does). At most opt.MaxRows rows are read (the first
// SQLite finds: Activity's, then ActivityOperation's), so that an endless Activity, a recursive view,
// ends too: a database with more gives one Skip, Partial, naming the bound (not counted in
// TimelineReport.Skipped, which counts records). ctx is checked between rows, and a cancelled ctx
// also interrupts SQLite while it sorts the rows, before the first.
//
// The errors name the file: a file that is missing, is not an SQLite database, is damaged or
// truncated, or has no Activity table with the required columns. A row whose AppId or Payload is not
// JSON is skipped, and the import goes on.
//
// The format: https://kacos2000.github.io/WindowsTimeline/WindowsTimeline.pdf, and plaso's parser
// (plaso/parsers/sqlite_plugins/windows_timeline.py).
func WindowsTimeline(ctx context.Context, path string, opt TimelineOptions, yield func(Item) error, skip func(Skip)) (TimelineReport, error) {
	var rep TimelineReport
	if opt.SourceHost == "" {
		opt.SourceHost = DefaultTimelineSourceHost
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = DefaultTimelineMaxRows
	}
	db, cleanup, err := openTimeline(path, &rep)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	tables, err := timelineTables(ctx, db, path, &rep)
	if err != nil {
		return rep, err
	}
	counted := func(s Skip) {
		rep.Skipped++
		skip(s)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM ("+tables+fmt.Sprintf(" LIMIT %d)", opt.MaxRows+1)).Scan(&n); err != nil {
		return rep, dbError(path, err)
	}
	if n > opt.MaxRows {
		skip(Skip{Source: path, Partial: true, Reason: fmt.Sprintf("Activity and ActivityOperation hold more than %d rows, the most an import reads (activityd import --timeline-max-rows): "+
			"the rows after the first %[1]d are not read, and the activities they belong to may be missing or lack sessions", opt.MaxRows)})
	}
	t := &timelineReader{path: path, opt: opt, yield: yield, skip: counted, rep: &rep}
	if err := t.read(ctx, db, timelineQuery(tables, opt.MaxRows)); err != nil {
		return rep, err
	}
	return rep, nil
}

// openTimeline opens the database at path for reading without touching it or its directory, and
// returns a function that closes it and removes any copy.
func openTimeline(path string, rep *TimelineReport) (*sql.DB, func(), error) {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named once
		}
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("open %s: not a file", path)
	}
	var beside []string
	for _, suffix := range []string{"-wal", "-journal"} {
		if fi, err := os.Stat(path + suffix); err == nil && fi.Size() > 0 {
			beside = append(beside, suffix)
		}
	}
	if len(beside) == 0 {
		db, err := sql.Open("sqlite", sqliteURI(path, "mode=ro&immutable=1"))
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", path, err)
		}
		return db, func() { db.Close() }, nil
	}
	rep.Copied = true
	dir, err := os.MkdirTemp("", "activityd-timeline-")
	if err != nil {
		return nil, nil, fmt.Errorf("copy %s: %w", path, err)
	}
	copyPath := filepath.Join(dir, "ActivitiesCache.db")
	for _, suffix := range append([]string{""}, beside...) {
		if err := copyFile(path+suffix, copyPath+suffix); err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("copy %s: %w", path+suffix, err)
		}
	}
	db, err := sql.Open("sqlite", sqliteURI(copyPath, ""))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, func() { db.Close(); os.RemoveAll(dir) }, nil
}

// sqliteURI returns the SQLite URI of the file at path with the query: the path is absolute and
// escaped, so that "?", "#" and "%" in a name stay part of it (https://www.sqlite.org/uri.html; the
// driver cuts its own parameters at the first "?").
func sqliteURI(path, query string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows volume: file:/C:/...
	}
	u := "file:" + (&url.URL{Path: p}).EscapedPath()
	if query != "" {
		u += "?" + query
	}
	return u
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// timelineColumns are the columns read from Activity and ActivityOperation, in the order the query
// selects them. Those marked required must be present in Activity.
var timelineColumns = []struct {
	name     string
	required bool
}{
	{"Id", true}, {"AppId", true}, {"AppActivityId", false}, {"ActivityType", true},
	{"LastModifiedTime", false}, {"ExpirationTime", false}, {"Payload", false},
	{"StartTime", false}, {"EndTime", false},
}

// layout2004Columns are the columns Windows 10 2004 added to Activity.
var layout2004Columns = []string{"UserActionState", "IsRead", "GroupItems"}

// timelineTables checks that the database is a Timeline database, sets the layout in rep, and returns
// the compound select of the rows of Activity and ActivityOperation, as timelineQuery reads them.
func timelineTables(ctx context.Context, db *sql.DB, path string, rep *TimelineReport) (string, error) {
	cols, err := tableColumns(ctx, db, "Activity")
	if err != nil {
		return "", dbError(path, err)
	}
	if cols == nil {
		return "", fmt.Errorf("%s: not a Windows Timeline database: it has no Activity table", path)
	}
	var missing []string
	for _, c := range timelineColumns {
		switch {
		case c.required && !cols[strings.ToLower(c.name)]:
			missing = append(missing, c.name)
		case !cols[strings.ToLower(c.name)]:
			rep.Missing = append(rep.Missing, c.name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%s: not a Windows Timeline database: its Activity table has no column %s", path, strings.Join(missing, ", "))
	}
	if !cols["activitystatus"] {
		rep.Missing = append(rep.Missing, "ActivityStatus")
	}
	rep.Layout = Layout1803
	for _, c := range layout2004Columns {
		if cols[strings.ToLower(c)] {
			rep.Layout = Layout2004
		}
	}
	q := "SELECT 0 AS src, rowid AS rid, " + strings.Join(timelineSelect(cols, "ActivityStatus"), ", ") + ` FROM "Activity"`
	ops, err := tableColumns(ctx, db, "ActivityOperation")
	if err != nil {
		return "", dbError(path, err)
	}
	if ops["id"] && ops["appid"] && ops["activitytype"] {
		var held bool // not count(*): ActivityOperation may be a view without end
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM "ActivityOperation")`).Scan(&held); err != nil {
			return "", dbError(path, err)
		}
		if held {
			rep.Operations = true
			q += " UNION ALL SELECT 1, rowid, " + strings.Join(timelineSelect(ops, "OperationType"), ", ") + ` FROM "ActivityOperation"`
		}
	}
	return q, nil
}

// timelineQuery returns the query that reads the first maxRows rows of tables (timelineTables),
// grouped by AppId and AppActivityId; in a group, the rows of ActivityType 6 come last, so that the
// group's activity is known before its first session (timelineReader), and each Id's newest version
// comes first. CAST reads the type as asInt does whenever that gives 5 or 6.
//
// The rows are bounded in a MATERIALIZED table: in a plain subquery, SQLite may move a LIMIT without
// ORDER BY behind the outer ORDER BY (the query flattener), which then sorts every row first, without
// end when Activity is a recursive view.
func timelineQuery(tables string, maxRows int) string {
	return fmt.Sprintf("WITH bounded AS MATERIALIZED (%s LIMIT %d) SELECT * FROM bounded", tables, maxRows) +
		" ORDER BY AppId, AppActivityId, CAST(ActivityType AS INTEGER) = 6, Id, src DESC, rid DESC"
}

// timelineSelect returns the select list of timelineColumns, then status as State, over a table
// with the given (lower-cased) columns: a column the table lacks is selected as null.
func timelineSelect(columns map[string]bool, status string) []string {
	var list []string
	add := func(name, as string) {
		if columns[strings.ToLower(name)] {
			list = append(list, `"`+name+`" AS `+as)
		} else {
			list = append(list, "NULL AS "+as)
		}
	}
	for _, c := range timelineColumns {
		add(c.name, c.name)
	}
	add(status, "State")
	return list
}

// tableColumns returns the lower-cased column names of table, or nil when there is no such table.
func tableColumns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols map[string]bool
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		if cols == nil {
			cols = make(map[string]bool)
		}
		cols[strings.ToLower(name)] = true
	}
	return cols, rows.Err()
}

// dbError words an error of the SQLite driver for a person: what is wrong with the file.
func dbError(path string, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case strings.Contains(msg, "file is not a database"), strings.Contains(msg, "SQLITE_NOTADB"):
		return fmt.Errorf("%s: not an SQLite database: %w", path, err)
	case strings.Contains(msg, "malformed"), strings.Contains(msg, "SQLITE_CORRUPT"):
		return fmt.Errorf("%s: the database is damaged (truncated or corrupt): %w", path, err)
	}
	return fmt.Errorf("read %s: %w", path, err)
}
