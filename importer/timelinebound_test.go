package importer

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// heapGrowth samples the Go heap every millisecond until the function it returns is called, which
// returns the most the heap grew above what it held at the start.
func heapGrowth(t *testing.T) func() uint64 {
	t.Helper()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	}()
	var once sync.Once
	return func() uint64 {
		once.Do(func() { close(done); <-stopped })
		return peak - base
	}
}

// sessionStart is the StartTime of session i of n in insertSessions: every start twice, in an order
// that is not that of the Ids, so that which sessions are the newest depends on both.
func sessionStart(i, n int) int64 {
	return unix("2024-01-01T00:00:00Z") + int64(i*7919%(n/2))*60
}

// insertSessions inserts n rows of ActivityType 6 (Ids 1 to n, as 16 big-endian bytes) into Activity,
// for app and aid, started at sessionStart, each of one minute, in the time zone of engaged.
func insertSessions(t *testing.T, db *sql.DB, app, aid string, n int) {
	t.Helper()
	_, err := db.Exec(`INSERT INTO Activity (Id, ActivityStatus, AppId, AppActivityId, ActivityType,
		LastModifiedTime, Payload, StartTime, EndTime, ETag)
		WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < ?4)
		SELECT unhex(printf('%032x', i)), 1, ?1, ?2, 6, ?5 + (i*7919 % (?4/2))*60 + 60, ?3,
			?5 + (i*7919 % (?4/2))*60, ?5 + (i*7919 % (?4/2))*60 + 60, 1 FROM s`,
		app, aid, []byte(engaged), n, unix("2024-01-01T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
}

// sessionID is the history item id of session i of insertSessions.
func sessionID(i int) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	return guidString(b[:])
}

// TestWindowsTimeline_ManySessions reads an activity with 100,000 sessions: it keeps the newest
// activity.DefaultMaxHistoryItems (by start, then id), as it always did, counts the others into
// the activity's times and its Skip, and holds no more than those while it reads.
func TestWindowsTimeline_ManySessions(t *testing.T) {
	const n = 100_000
	path := filepath.Join(t.TempDir(), "ActivitiesCache.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	createTimeline(t, db, schema1803)
	rows := settingsRows()[:1]
	rows[0].start, rows[0].lm = "2024-01-15T00:00:00Z", "2024-01-15T00:00:00Z"
	insertRows(t, db, rows...)
	insertSessions(t, db, notesApp, "note-1", n)
	db.Close()

	growth := heapGrowth(t)
	r := runTimeline(t, path, TimelineOptions{})
	grew := growth()
	if r.err != nil {
		t.Fatal(r.err)
	}
	type session struct {
		start time.Time
		id    string
	}
	var want, got []session
	for i := 1; i <= n; i++ {
		want = append(want, session{time.Unix(sessionStart(i, n), 0).UTC(), sessionID(i)})
	}
	slices.SortFunc(want, func(x, y session) int { return cmp.Or(x.start.Compare(y.start), strings.Compare(x.id, y.id)) })
	want = want[n-activity.DefaultMaxHistoryItems:]
	for _, it := range r.items {
		for _, h := range it.Activity.HistoryItems {
			got = append(got, session{h.StartedDateTime, h.ID})
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%d history items, want the newest %d of %d", len(got), len(want), n)
	}
	if len(r.items) != activity.DefaultMaxHistoryItems/MaxHistoryPerItem || r.rep.Rows != n+1 || r.rep.HistoryItems != len(want) {
		t.Errorf("%d items, report %+v", len(r.items), r.rep)
	}
	wantSkip := fmt.Sprintf("the activity has %d sessions and activityd keeps at most %d an activity: the oldest %d are left out",
		n, activity.DefaultMaxHistoryItems, n-activity.DefaultMaxHistoryItems)
	if len(r.skips) != 1 || r.skips[0].Reason != wantSkip {
		t.Errorf("skips = %v, want one: %s", r.skips, wantSkip)
	}
	// The sessions left out count: the first of them started first, and the one last modified, with
	// LastModifiedTime start + 60, is also the newest.
	a := r.items[0].Activity
	if !a.CreatedDateTime.Equal(*utc("2024-01-01T00:00:00Z")) || !a.LastModifiedDateTime.Equal(want[len(want)-1].start.Add(time.Minute)) {
		t.Errorf("created %v, last modified %v", a.CreatedDateTime, a.LastModifiedDateTime)
	}
	// The reader that held every row of a group grew the heap by some 140 MB here; holding the newest
	// 5,000 sessions, it grows by about 6 MB, the garbage of reading included.
	t.Logf("the heap grew by at most %.1f MB while reading %d rows", float64(grew)/1e6, n)
	if grew > 16<<20 {
		t.Errorf("the heap grew by %.1f MB while reading %d rows, want under 16 MiB", float64(grew)/1e6, n)
	}
}

// endlessView makes Activity a recursive view without end: one activity, then its sessions, one a
// second. It names a column rowid, as a view has none of its own.
func endlessView(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" } // a view takes no parameters
	_, err = db.Exec(`CREATE VIEW Activity AS WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM s)
		SELECT i AS rowid, unhex(printf('%032x', i)) AS Id, ` + quote(notesApp) + ` AS AppId, 'note-1' AS AppActivityId,
			iif(i = 0, 5, 6) AS ActivityType, 1 AS ActivityStatus, 1700000000 + i AS LastModifiedTime,
			iif(i = 0, '{"displayText":"Endless"}', ` + quote(engaged) + `) AS Payload, 1700000000 + i AS StartTime,
			1700000001 + i AS EndTime
		FROM s`)
	if err != nil {
		t.Fatal(err)
	}
}

// TestWindowsTimeline_Endless reads a database whose Activity is a recursive view: the read stops at
// TimelineOptions.MaxRows and says so, or when ctx ends, with the heap bounded all along.
func TestWindowsTimeline_Endless(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ActivitiesCache.db")
	endlessView(t, path)

	t.Run("MaxRows", func(t *testing.T) {
		const maxRows = 50_000
		growth := heapGrowth(t)
		r := runTimeline(t, path, TimelineOptions{MaxRows: maxRows})
		grew := growth()
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.rep.Rows != maxRows || r.rep.Activities != 1 || r.rep.HistoryItems != activity.DefaultMaxHistoryItems {
			t.Errorf("report = %+v, want %d rows read and 1 activity with %d history items", r.rep, maxRows, activity.DefaultMaxHistoryItems)
		}
		want := []Skip{
			{Source: path, Partial: true, Reason: fmt.Sprintf("Activity and ActivityOperation hold more than %d rows, the most an import reads (activityd import --timeline-max-rows): "+
				"the rows after the first %[1]d are not read, and the activities they belong to may be missing or lack sessions", maxRows)},
			{Source: r.items[0].Source, Deliberate: true, Reason: fmt.Sprintf("the activity has %d sessions and activityd keeps at most %d an activity: the oldest %d are left out",
				maxRows-1, activity.DefaultMaxHistoryItems, maxRows-1-activity.DefaultMaxHistoryItems)},
		}
		if !slices.Equal(r.skips, want) {
			t.Errorf("skips = %+v\nwant %+v", r.skips, want)
		}
		t.Logf("the heap grew by at most %.1f MB while reading %d rows", float64(grew)/1e6, maxRows)
		if grew > 16<<20 {
			t.Errorf("the heap grew by %.1f MB while reading %d rows, want under 16 MiB", float64(grew)/1e6, maxRows)
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := WindowsTimeline(ctx, path, TimelineOptions{MaxRows: 1 << 40}, func(Item) error { return nil }, func(Skip) {})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
			t.Errorf("WindowsTimeline = %v after %v, want the deadline soon after 200ms", err, time.Since(start))
		}
	})
}

// TestWindowsTimeline_Cancel checks that a ctx cancelled between two rows stops the read.
func TestWindowsTimeline_Cancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n := 0
	rep, err := WindowsTimeline(ctx, fixturePath(t), TimelineOptions{}, func(Item) error {
		n++
		cancel()
		return nil
	}, func(Skip) {})
	if !errors.Is(err, context.Canceled) || n != 1 || rep.Rows >= 112 {
		t.Errorf("WindowsTimeline = %v after %d items and %d of 112 rows, want it cancelled after 1 item", err, n, rep.Rows)
	}
}

// TestWindowsTimeline_TypeNotANumber reads an ActivityType that Go takes for 6 and SQLite's CAST
// does not ("\u00a06"), so that the session comes before its activity's row: that row is skipped,
// not taken after the activity is settled.
func TestWindowsTimeline_TypeNotANumber(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ActivitiesCache.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	createTimeline(t, db, schema1803)
	rows := settingsRows()
	rows[0].id, rows[1].id = rows[1].id, rows[0].id // the session's Id first
	insertRows(t, db, rows...)
	if _, err := db.Exec(`UPDATE Activity SET ActivityType = ? WHERE ActivityType = 6`, "\u00a06"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r := runTimeline(t, path, TimelineOptions{})
	if r.err != nil || len(r.items) != 0 || len(r.skips) != 2 || !strings.Contains(r.skips[1].Reason, "not stored as a number") {
		t.Errorf("WindowsTimeline = %d items, skips %+v, %v; want the two rows skipped", len(r.items), r.skips, r.err)
	}
}
