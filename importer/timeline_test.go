package importer

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd/client"
	"github.com/google/go-cmp/cmp"
)

// fixture is a real Timeline database: plaso's test data (Apache License 2.0), with its README.
const fixture = "testdata/windows-timeline/ActivitiesCache.db"

// fixturePath returns the real Timeline database.
func fixturePath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(fixture); err != nil {
		t.Fatal(err)
	}
	return fixture
}

// copyTo copies the file at from into dir, under name, and returns the new path.
func copyTo(t *testing.T, from, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(dir, name)
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}

// snapshot returns the names and SHA-256 sums of the files in dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		sum := sha256.Sum256(b)
		m[strings.TrimPrefix(p, dir)] = hex.EncodeToString(sum[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type timelineRun struct {
	items []Item
	skips []Skip
	rep   TimelineReport
	err   error
}

func runTimeline(t *testing.T, path string, opt TimelineOptions) timelineRun {
	t.Helper()
	var r timelineRun
	r.rep, r.err = WindowsTimeline(t.Context(), path, opt, func(it Item) error {
		r.items = append(r.items, it)
		return nil
	}, func(s Skip) { r.skips = append(r.skips, s) })
	return r
}

func utc(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func ptr[T any](v T) *T { return &v }

func findItem(t *testing.T, items []Item, displayText string) Item {
	t.Helper()
	for _, it := range items {
		if it.Activity.VisualElements.DisplayText == displayText {
			return it
		}
	}
	t.Fatalf("no activity %q among %d", displayText, len(items))
	return Item{}
}

// The counts were computed from the fixture with the sqlite3 command-line tool, apart from this code:
//
//	SELECT ActivityType, count(*) FROM Activity GROUP BY 1;                     -- 5|33, 6|79
//	SELECT count(DISTINCT AppId || '|' || AppActivityId) FROM Activity WHERE ActivityType = 5;  -- 33
//	SELECT count(*) FROM Activity a WHERE ActivityType = 6 AND NOT EXISTS (SELECT 1 FROM Activity b
//	  WHERE b.ActivityType = 5 AND b.AppId = a.AppId AND b.AppActivityId = a.AppActivityId);    -- 0
//	SELECT count(*) FROM ActivityOperation;                                     -- 0
//	SELECT ActivityStatus, count(*) FROM Activity GROUP BY 1;                   -- 1|112
//
// and with Python, the apps chosen by the rule of timelineApp: 33 distinct (app, AppActivityId).
// The two activities checked field by field are the rows printed by
//
//	SELECT rowid, hex(Id), AppId, AppActivityId, StartTime, EndTime, LastModifiedTime, ExpirationTime,
//	  CAST(Payload AS TEXT) FROM Activity WHERE ActivityType = 5 AND rowid IN (1, 6);
//
// and their type 6 rows (same AppId and AppActivityId), times converted to UTC by Python.
func TestWindowsTimeline_Fixture(t *testing.T) {
	dir := t.TempDir()
	path := copyTo(t, fixturePath(t), dir, "ActivitiesCache.db")
	before := snapshot(t, dir)
	r := runTimeline(t, path, TimelineOptions{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("the directory of the database changed (-before +after):\n%s", diff)
	}
	want := TimelineReport{Layout: Layout1803, Rows: 112, Activities: 33, HistoryItems: 79}
	if diff := cmp.Diff(want, r.rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if len(r.items) != 33 || len(r.skips) != 0 {
		t.Errorf("%d items and %d skips, want 33 and 0: %v", len(r.items), len(r.skips), r.skips)
	}
	items := 0
	for _, it := range r.items {
		checkImportable(t, it)
		items += len(it.Activity.HistoryItems)
	}
	if items != 79 {
		t.Errorf("%d history items, want 79", items)
	}

	settings := findItem(t, r.items, "Settings")
	la := ptr("America/Los_Angeles")
	wantSettings := Item{Source: path + ": Activity rowid 1 (Id aa95fa29-2b85-2257-f154-5a3cc02de8c6)", Activity: client.Activity{
		App:                "windows.immersivecontrolpanel_cw5n1h2txyewy!microsoft.windows.immersivecontrolpanel",
		AppActivityID:      "ECB32AF3-1440-4086-94E3-5311F97F89C4",
		ActivitySourceHost: "https://activity.windows.com",
		ActivationURL:      "ms-shellactivity:",
		AppDisplayName:     ptr("Settings"),
		VisualElements:     client.VisualInfo{DisplayText: "Settings", BackgroundColor: ptr("#000000")},
		UserTimezone:       la,
		CreatedDateTime:    utc("2018-07-25T12:04:40Z"),
		// The latest of its own (12:04:40 on 25 July) and its sessions' LastModifiedTime.
		LastModifiedDateTime: utc("2018-08-06T09:02:43Z"),
		ExpirationDateTime:   utc("2018-08-24T12:04:40Z"),
		HistoryItems: []client.HistoryItem{
			{ID: "71e4f618-ddfc-60e7-0b3f-7d4c24efc255", StartedDateTime: *utc("2018-07-25T12:04:40Z"),
				LastActiveDateTime: utc("2018-07-25T12:26:15Z"), ActiveDurationSeconds: ptr(790), UserTimezone: la,
				CreatedDateTime: utc("2018-07-25T12:04:40Z"), LastModifiedDateTime: utc("2018-07-25T12:04:48Z"),
				ExpirationDateTime: utc("2018-08-24T12:04:48Z")},
			{ID: "9ad56e58-1478-dd6f-50a5-3d8764088938", StartedDateTime: *utc("2018-07-27T12:57:23Z"),
				LastActiveDateTime: utc("2018-07-27T12:57:25Z"), ActiveDurationSeconds: ptr(2), UserTimezone: la,
				CreatedDateTime: utc("2018-07-27T12:57:23Z"), LastModifiedDateTime: utc("2018-07-27T12:57:25Z"),
				ExpirationDateTime: utc("2018-08-26T12:57:25Z")},
			{ID: "82da71a4-470c-a6c9-6b4e-bdebae4ca0ed", StartedDateTime: *utc("2018-08-06T09:02:07Z"),
				LastActiveDateTime: utc("2018-08-06T09:02:43Z"), ActiveDurationSeconds: ptr(36), UserTimezone: la,
				CreatedDateTime: utc("2018-08-06T09:02:07Z"), LastModifiedDateTime: utc("2018-08-06T09:02:43Z"),
				ExpirationDateTime: utc("2018-09-05T09:02:43Z")},
		},
	}}
	if diff := cmp.Diff(wantSettings, settings); diff != "" {
		t.Errorf("Settings (-want +got):\n%s", diff)
	}

	const page = "https://www.google.com/chrome/?brand=CHBF&ds_kid=43700018455413661&dclid=CMevtr68utwCFYyOswodkHsNvQ"
	card := `{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","backgroundImageUrl":"https://www.google.com/chrome/static/images/chrome-logo.svg","body":[{"type":"Container","items":[{"type":"TextBlock","text":"Chrome Web Browser","weight":"bolder","size":"large","wrap":true,"maxLines":3}]}]}`
	wantEdge := Item{Source: path + ": Activity rowid 6 (Id 05b36812-3978-6b2f-9a9b-4b12046d102e)", Activity: client.Activity{
		App:                "Microsoft.MicrosoftEdge_8wekyb3d8bbwe!MicrosoftEdge",
		AppActivityID:      page,
		ActivitySourceHost: "https://edge.activity.windows.com", // the AppId's "host" entry
		ActivationURL:      "microsoft-edge:" + page,
		ContentURL:         ptr(page),
		VisualElements: client.VisualInfo{DisplayText: "Chrome Web Browser", Description: ptr(page),
			BackgroundColor: ptr("#0078D7"), Content: json.RawMessage(card), // "#FF0078D7", alpha first
			Attribution: &client.ImageInfo{IconURL: ptr("https://www.google.com/chrome/static/images/favicons/favicon-16x16.png"),
				AlternateText: ptr("google.com")}},
		UserTimezone:         la,
		CreatedDateTime:      utc("2018-07-25T14:34:52Z"),
		LastModifiedDateTime: utc("2018-07-25T14:34:52Z"),
		ExpirationDateTime:   utc("2018-08-24T14:34:52Z"),
		HistoryItems: []client.HistoryItem{{ID: "2c20e443-9923-774b-dd5d-dc2c7dc1182f", StartedDateTime: *utc("2018-07-25T14:34:52Z"),
			LastActiveDateTime: utc("2018-07-25T14:34:55Z"), ActiveDurationSeconds: ptr(3), UserTimezone: la,
			CreatedDateTime: utc("2018-07-25T14:34:52Z"), LastModifiedDateTime: utc("2018-07-25T14:34:52Z"),
			ExpirationDateTime: utc("2018-08-24T14:34:52Z")}},
	}}
	if diff := cmp.Diff(wantEdge, findItem(t, r.items, "Chrome Web Browser")); diff != "" {
		t.Errorf("Chrome Web Browser (-want +got):\n%s", diff)
	}

	again := runTimeline(t, path, TimelineOptions{})
	if diff := cmp.Diff(r.items, again.items); diff != "" {
		t.Errorf("a second read differs (-first +second):\n%s", diff)
	}
}

// TestWindowsTimeline_Directory reads the fixture where it lies, read-only, and checks that nothing
// is created beside it.
func TestWindowsTimeline_Directory(t *testing.T) {
	path := fixturePath(t)
	before := snapshot(t, filepath.Dir(path))
	if r := runTimeline(t, path, TimelineOptions{}); r.err != nil || r.rep.Activities != 33 {
		t.Fatalf("WindowsTimeline = %+v, %v", r.rep, r.err)
	}
	if diff := cmp.Diff(before, snapshot(t, filepath.Dir(path))); diff != "" {
		t.Errorf("the fixture's directory changed (-before +after):\n%s", diff)
	}
}

// TestWindowsTimeline_Name reads a database whose name holds what a SQLite URI gives a meaning to.
func TestWindowsTimeline_Name(t *testing.T) {
	dir := t.TempDir()
	path := copyTo(t, fixturePath(t), dir, "Activities Cache #1?mode=rw&x=%41.db")
	before := snapshot(t, dir)
	if r := runTimeline(t, path, TimelineOptions{}); r.err != nil || r.rep.Activities != 33 {
		t.Fatalf("WindowsTimeline = %+v, %v", r.rep, r.err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("the directory changed (-before +after):\n%s", diff)
	}
}

// TestWindowsTimeline_WAL reads a database whose last changes are still in its -wal file, as on a
// running Windows: they count, and neither the files nor the directory change.
func TestWindowsTimeline_WAL(t *testing.T) {
	live, dir := t.TempDir(), t.TempDir()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	path := filepath.Join(live, "ActivitiesCache.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	createTimeline(t, db, schema1803)
	insertRows(t, db, settingsRows()...)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		copyTo(t, path+suffix, dir, "ActivitiesCache.db"+suffix)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ActivitiesCache.db-wal")); err != nil || fi.Size() == 0 {
		t.Fatalf("no -wal file to test with: %v", err)
	}
	before := snapshot(t, dir)
	r := runTimeline(t, filepath.Join(dir, "ActivitiesCache.db"), TimelineOptions{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !r.rep.Copied || r.rep.Activities != 1 || r.rep.HistoryItems != 1 {
		t.Errorf("report = %+v, want a copy read, with 1 activity and 1 history item", r.rep)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("the directory changed (-before +after):\n%s", diff)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the copy was left behind: %v", left)
	}
}

// TestWindowsTimeline_Layout2004 reads a database of the later layout, with changes waiting in
// ActivityOperation, rows of other types, a deleted activity and a payload that is not JSON.
func TestWindowsTimeline_Layout2004(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ActivitiesCache.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	createTimeline(t, db, schema2004)
	insertRows(t, db, layout2004Rows()...)
	db.Close()

	r := runTimeline(t, path, TimelineOptions{SourceHost: "https://example.com"})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.rep.Layout != Layout2004 || !r.rep.Operations || len(r.rep.Missing) != 0 {
		t.Errorf("report = %+v, want layout %s with operations and no missing columns", r.rep, Layout2004)
	}
	for _, it := range r.items {
		checkImportable(t, it)
	}
	got := make(map[string]string)
	for _, s := range r.skips {
		got[strings.TrimPrefix(s.Source, path+": ")] = s.Reason
	}
	wantSkips := map[string]string{
		"Activity rowid 1 (Id a1000000-0000-0000-0000-000000000000)":                   "replaced by a newer version of the same Id (ActivityOperation OperationOrder 1 (Id a1000000-0000-0000-0000-000000000000))",
		"Activity rowid 3 (Id c1000000-0000-0000-0000-000000000000)":                   "replaced by a newer version of the same Id (ActivityOperation OperationOrder 3 (Id c1000000-0000-0000-0000-000000000000))",
		"ActivityOperation OperationOrder 3 (Id c1000000-0000-0000-0000-000000000000)": "the row is marked deleted (status 3)",
		"Activity rowid 4 (Id c2000000-0000-0000-0000-000000000000)":                   "its activity row (type 5) is deleted",
		"Activity rowid 5 (Id d1000000-0000-0000-0000-000000000000)":                   "clipboard (type 10) is skipped",
		"Activity rowid 6 (Id d2000000-0000-0000-0000-000000000000)":                   "an \"in use\" row (type 6) without the activity row (type 5) of the same AppId and AppActivityId: there is no title or link to show",
		"Activity rowid 7 (Id e1000000-0000-0000-0000-000000000000)":                   "its Payload is not JSON",
		"Activity rowid 8 (Id e2000000-0000-0000-0000-000000000000)":                   "its activity row (type 5) is skipped: Activity rowid 7 (Id e1000000-0000-0000-0000-000000000000)",
	}
	if diff := cmp.Diff(wantSkips, got); diff != "" {
		t.Errorf("skips (-want +got):\n%s", diff)
	}
	if len(r.items) != 2 || r.rep.Activities != 2 || r.rep.HistoryItems != 1 || r.rep.Skipped != len(wantSkips) {
		t.Fatalf("%d items, report %+v; want 2 activities with 1 history item", len(r.items), r.rep)
	}
	word := Item{Source: path + ": ActivityOperation OperationOrder 1 (Id a1000000-0000-0000-0000-000000000000)", Activity: client.Activity{
		App:                `{7C5A40EF-A0FB-4BFC-874A-C0F2E0B9FA8E}\Microsoft Office\root\Office16\WINWORD.EXE`,
		AppActivityID:      "word-report",
		ActivitySourceHost: "https://example.com",
		ActivationURL:      "ms-word:ofe|u|https://contoso.sharepoint.com/Report.docx",
		ContentURL:         ptr("https://contoso.sharepoint.com/Report.docx"),
		FallbackURL:        ptr("https://contoso.sharepoint.com/"),
		AppDisplayName:     ptr("Word"),
		VisualElements: client.VisualInfo{DisplayText: "Report v2.docx", Description: ptr(`C:\Users\me\Report.docx`),
			BackgroundColor: ptr("#00FF00")}, // "#0F0"
		UserTimezone:         ptr("Europe/Berlin"),
		CreatedDateTime:      utc("2024-03-01T10:00:00Z"),
		LastModifiedDateTime: utc("2024-03-01T10:30:00Z"),
		ExpirationDateTime:   utc("2024-03-31T10:00:00Z"),
		HistoryItems: []client.HistoryItem{{ID: "a2000000-0000-0000-0000-000000000000", StartedDateTime: *utc("2024-03-01T10:00:00Z"),
			LastActiveDateTime: utc("2024-03-01T10:20:00Z"), ActiveDurationSeconds: ptr(900), UserTimezone: ptr("Europe/Berlin"),
			CreatedDateTime: utc("2024-03-01T10:00:00Z"), LastModifiedDateTime: utc("2024-03-01T10:20:00Z"),
			ExpirationDateTime: utc("2024-03-31T10:00:00Z")}},
	}}
	if diff := cmp.Diff(word, findItem(t, r.items, "Report v2.docx")); diff != "" {
		t.Errorf("Report v2.docx (-want +got):\n%s", diff)
	}
	pending := findItem(t, r.items, "Pending")
	if pending.Activity.App != "Contoso.Notes_8wekyb3d8bbwe!App" || pending.Activity.ActivationURL != "ms-shellactivity:" ||
		pending.Activity.AppActivityID != "windows-timeline:b1000000-0000-0000-0000-000000000000" {
		t.Errorf("the activity only in ActivityOperation = %+v", pending.Activity)
	}
}

// TestWindowsTimeline_Yield checks that an error of yield stops the import and is returned.
func TestWindowsTimeline_Yield(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := WindowsTimeline(t.Context(), fixturePath(t), TimelineOptions{}, func(Item) error {
		n++
		return stop
	}, func(Skip) {})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("WindowsTimeline = %v after %d items, want stop after 1", err, n)
	}
}

func TestWindowsTimeline_Corrupt(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	random := make([]byte, 8192)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	whole, err := os.ReadFile(fixturePath(t))
	if err != nil {
		t.Fatal(err)
	}
	other := func(name, schema string) string {
		p := filepath.Join(dir, name)
		db, err := sql.Open("sqlite", p)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(schema); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, want string
	}{
		{"Empty", write("empty.db", nil), "not a Windows Timeline database: it has no Activity table"},
		{"Random", write("random.db", random), "not an SQLite database"},
		{"Truncated", write("truncated.db", whole[:64<<10]), "damaged (truncated or corrupt)"},
		{"HeaderOnly", write("header.db", whole[:100]), ""},
		{"OtherProgram", other("places.sqlite", `CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)`), "it has no Activity table"},
		{"NoColumns", other("activity.db", `CREATE TABLE Activity (Foo TEXT)`), "its Activity table has no column Id, AppId, ActivityType"},
		{"Directory", dir, "not a file"},
		{"Missing", filepath.Join(dir, "missing.db"), "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runTimeline(t, tc.path, TimelineOptions{})
			if r.err == nil {
				t.Fatalf("WindowsTimeline(%s) = %d items, no error", tc.name, len(r.items))
			}
			t.Log(r.err)
			if !strings.Contains(r.err.Error(), tc.path) || !strings.Contains(r.err.Error(), tc.want) {
				t.Errorf("WindowsTimeline(%s) = %v, want an error naming the file and saying %q", tc.name, r.err, tc.want)
			}
		})
	}
}
