package main

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// timelineFixture is a real Windows 10 Timeline database (see its README).
const timelineFixture = "../../importer/testdata/windows-timeline/ActivitiesCache.db"

// graphList returns the app's activities with their history items, through the Graph API.
func graphList(t *testing.T, base, tok string) []map[string]any {
	t.Helper()
	status, body, err := request(t.Context(), "GET", base+"/v1.0/me/activities?$expand=historyItems&$top=1000", tok, "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("list: %d %s %v", status, body, err)
	}
	var page struct{ Value []map[string]any }
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	return page.Value
}

// TestCLI_ImportWindowsTimeline imports a real Windows 10 Timeline database into a real server and
// reads it back through the Graph API, as the app that recorded it: the counts, and one activity
// field by field. The database is not touched, and a second import changes nothing.
func TestCLI_ImportWindowsTimeline(t *testing.T) {
	before, err := os.ReadFile(timelineFixture)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(timelineFixture))
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	tok := personToken(t, dir, "alice")
	code, _, errOut := cli(t, t.Context(), "import", timelineFixture, "--url", base, "--token", tok)
	if code != 0 || !strings.Contains(errOut, "a Windows Timeline database (the 1803 layout, opened read-only and immutable): 112 rows, 33 activities with 79 history items, 0 rows left out or skipped") ||
		!strings.Contains(errOut, "33 activities: 33 created") {
		t.Fatalf("import: %d\n%s", code, errOut)
	}
	if code, _, errOut := cli(t, t.Context(), "import", timelineFixture, "--url", base, "--token", tok); code != 0 || !strings.Contains(errOut, "33 unchanged") {
		t.Errorf("import again: %d\n%s", code, errOut)
	}
	after, _ := os.ReadFile(timelineFixture)
	entriesAfter, _ := os.ReadDir(filepath.Dir(timelineFixture))
	if sha256.Sum256(before) != sha256.Sum256(after) || len(entries) != len(entriesAfter) {
		t.Errorf("the import changed the database or its directory")
	}

	// Settings, as Windows' own app: its activity and sessions, with the database's times.
	settings := graphList(t, base, mintToken(t, dir, "alice", "windows.immersivecontrolpanel_cw5n1h2txyewy!microsoft.windows.immersivecontrolpanel"))
	if len(settings) != 1 {
		t.Fatalf("Settings holds %d activities, want 1", len(settings))
	}
	s := settings[0]
	ve := s["visualElements"].(map[string]any)
	items := s["historyItems"].([]any)
	if s["appActivityId"] != "ECB32AF3-1440-4086-94E3-5311F97F89C4" || ve["displayText"] != "Settings" || s["activationUrl"] != "ms-shellactivity:" ||
		s["appDisplayName"] != "Settings" || ve["backgroundColor"] != "#000000" || s["createdDateTime"] != "2018-07-25T12:04:40Z" ||
		s["userTimezone"] != "America/Los_Angeles" || len(items) != 3 {
		t.Errorf("Settings after import: %v", s)
	}
	// Every activity of the person, through the export: 33 activities, 79 sessions.
	export := filepath.Join(t.TempDir(), "x.jsonl")
	if code, _, errOut := cli(t, t.Context(), "export", export, "--url", base, "--token", tok); code != 0 || !strings.Contains(errOut, "exported 33 activities with 79 history items") {
		t.Errorf("export after import: %d %s", code, errOut)
	}
}

// TestCLI_ImportTimelineFlags: --timeline-max-rows bounds the rows read, and says so (exit 4, as
// for skips, but the notice counts as no activity); --timeline-source-host is the activitySourceHost of the activities whose app names no
// host; bad values of either are refused before anything is read (exit 2).
func TestCLI_ImportTimelineFlags(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	tok := personToken(t, dir, "alice")
	code, _, errOut := cli(t, t.Context(), "import", timelineFixture, "--url", base, "--token", tok,
		"--timeline-max-rows", "20", "--timeline-source-host", "https://pc.example")
	if code != 4 || !strings.Contains(errOut, "hold more than 20 rows, the most an import reads (activityd import --timeline-max-rows)") ||
		!strings.Contains(errOut, "20 rows, 11 activities with 9 history items") ||
		!strings.Contains(errOut, "11 activities: 11 created, 0 updated, 0 unchanged, 0 kept as newer, 0 skipped (a file was read only in part, above)") ||
		!strings.Contains(errOut, "1 file was read only in part") {
		t.Fatalf("import of 20 rows: %d\n%s", code, errOut)
	}
	export := filepath.Join(t.TempDir(), "x.jsonl")
	if code, _, errOut := cli(t, t.Context(), "export", export, "--url", base, "--token", tok); code != 0 || !strings.Contains(errOut, "exported 11 activities with 9 history items") {
		t.Fatalf("export: %d %s", code, errOut)
	}
	b, _ := os.ReadFile(export)
	if !strings.Contains(string(b), `"activitySourceHost":"https://pc.example"`) {
		t.Errorf("no activity has the source host given; the export:\n%.2000s", b)
	}
	for _, bad := range [][]string{{"--timeline-max-rows", "0"}, {"--timeline-source-host", "pc"},
		{"--timeline-source-host", "https://u:p@pc.example"}, {"--timeline-source-host", "http://:80"},
		{"--timeline-source-host", "https://pc.example:99999"}, {"--timeline-source-host", "https://pc.example/path?q=1"}} {
		if code, _, errOut := cli(t, t.Context(), append([]string{"import", "--dry-run", timelineFixture}, bad...)...); code != 2 || !strings.Contains(errOut, bad[0]) {
			t.Errorf("import %v: %d %s, want 2 naming the flag", bad, code, errOut)
		}
	}
}

// TestCLI_ImportActivityWatch imports an export of each ActivityWatch server, built here from the
// formats they write (aw-server's export_bucket; aw-server-rust's BucketsExport), and reads the
// activities back through the Graph API as the watcher's app.
func TestCLI_ImportActivityWatch(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	tok := personToken(t, dir, "alice")
	tmp := t.TempDir()
	python := `{"buckets": {"aw-watcher-web-chrome_laptop": {"id": "aw-watcher-web-chrome_laptop", "created": "2024-05-01T08:00:00.123456+00:00",
	  "name": null, "type": "web.tab.current", "client": "aw-watcher-web-chrome", "hostname": "laptop", "data": {}, "events": [
	  {"timestamp": "2024-05-01T09:03:00+00:00", "duration": 30.0, "data": {"url": "https://example.com/a", "title": "A again", "audible": false, "incognito": false}},
	  {"timestamp": "2024-05-01T09:01:00+00:00", "duration": 50.0, "data": {"url": "https://example.org/b", "title": "B", "audible": true, "incognito": false}},
	  {"timestamp": "2024-05-01T09:00:00+00:00", "duration": 30.0, "data": {"url": "https://example.com/a", "title": "A", "audible": false, "incognito": false}}]},
	 "aw-watcher-window_laptop": {"id": "aw-watcher-window_laptop", "created": "2024-05-01T08:00:00+00:00", "name": null, "type": "currentwindow",
	  "client": "aw-watcher-window", "hostname": "laptop", "data": {}, "events": [
	  {"timestamp": "2024-05-01T09:00:05+00:00", "duration": 20.0, "data": {"app": "Code", "title": "main.go - activityd"}},
	  {"timestamp": "2024-05-01T09:00:00+00:00", "duration": 4.0, "data": {"app": "Code", "title": "main.go - activityd"}}]}}}`
	rust := `{"buckets":{"aw-watcher-web-firefox_desk":{"id":"aw-watcher-web-firefox_desk","type":"web.tab.current","client":"aw-client-web","hostname":"desk",` +
		`"created":"2024-05-02T07:00:00.123456789Z","data":{},"metadata":{"start":"2024-05-02T10:00:00Z","end":"2024-05-02T10:00:10Z"},"events":[` +
		`{"id":12,"timestamp":"2024-05-02T10:00:05.250Z","duration":4.75,"data":{"audible":false,"incognito":false,"tabCount":2,"title":"A","url":"https://example.com/a"}},` +
		`{"id":11,"timestamp":"2024-05-02T10:00:00Z","duration":5.0,"data":{"audible":false,"incognito":false,"tabCount":2,"title":"A","url":"https://example.com/a"}}` +
		`],"last_updated":"2024-05-02T10:00:10Z"}}}`
	for name, export := range map[string]string{"aw-python.json": python, "aw-rust.json": rust} {
		os.WriteFile(filepath.Join(tmp, name), []byte(export), 0o600)
		if code, _, errOut := cli(t, t.Context(), "import", filepath.Join(tmp, name), "--url", base, "--token", tok); code != 0 || !strings.Contains(errOut, "an export of") {
			t.Fatalf("%s: %d\n%s", name, code, errOut)
		}
		if code, _, errOut := cli(t, t.Context(), "import", filepath.Join(tmp, name), "--url", base, "--token", tok); code != 0 || !strings.Contains(errOut, "0 created, 0 updated") {
			t.Errorf("%s again: %d\n%s", name, code, errOut)
		}
	}
	chrome := graphList(t, base, mintToken(t, dir, "alice", "aw-watcher-web-chrome"))
	byURL := map[string]map[string]any{}
	for _, a := range chrome {
		byURL[a["activationUrl"].(string)] = a
	}
	a, b := byURL["https://example.com/a"], byURL["https://example.org/b"]
	if len(chrome) != 2 || a == nil || b == nil {
		t.Fatalf("the Chrome tabs: %v", chrome)
	}
	if items := a["historyItems"].([]any); len(items) != 2 || a["visualElements"].(map[string]any)["displayText"] != "A again" {
		t.Errorf("https://example.com/a: %v", a)
	}
	if items := b["historyItems"].([]any); len(items) != 1 || items[0].(map[string]any)["startedDateTime"] != "2024-05-01T09:01:00Z" ||
		items[0].(map[string]any)["activeDurationSeconds"] != float64(50) {
		t.Errorf("https://example.org/b: %v", b)
	}
	window := graphList(t, base, mintToken(t, dir, "alice", "aw-watcher-window"))
	if len(window) != 1 || len(window[0]["historyItems"].([]any)) != 1 {
		t.Errorf("the window activity (two heartbeats, one session): %v", window)
	}
	firefox := graphList(t, base, mintToken(t, dir, "alice", "aw-client-web"))
	if len(firefox) != 1 || firefox[0]["historyItems"].([]any)[0].(map[string]any)["startedDateTime"] != "2024-05-02T10:00:00Z" {
		t.Errorf("aw-server-rust's tab: %v", firefox)
	}
}

// TestCLI_ImportStopsNamingUnread: a file that cannot be read ends an import of several (exit 1),
// and the message names the files after it, which were not read.
func TestCLI_ImportStopsNamingUnread(t *testing.T) {
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	b, err := os.ReadFile(timelineFixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(damaged, b[:50000], 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := cli(t, t.Context(), "import", "--dry-run", damaged, timelineFixture)
	if code != 1 || !strings.Contains(errOut, "damaged.db: the database is damaged") ||
		!strings.Contains(errOut, "the import stopped here: not read: "+timelineFixture) {
		t.Errorf("import of a damaged file, then a good one: %d\n%s", code, errOut)
	}
}
