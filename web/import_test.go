package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call sends one privacy API request with a bearer token and answers the status and body.
func (e *env) call(method, path, token, contentType, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, string(b)
}

// comparable drops from export lines what the exporting server chose itself: the public id and the
// status (active where the import created an activity).
func comparable(t *testing.T, export string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(export) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		delete(m, "id")
		delete(m, "status")
		for _, h := range m["historyItems"].([]any) {
			delete(h.(map[string]any), "status")
		}
		out = append(out, m)
	}
	return out
}

// TestImport: an export imported into an empty server gives the same activities, history items and
// times; a second import changes nothing; an old export does not overwrite newer activities; lines
// the server refuses are skipped with their line and reason, and the others go in.
func TestImport(t *testing.T) {
	src := newEnv(t)
	src.put("alice", "notes", "n1", "Note", "first")
	src.put("alice", "music", "m1", "Song", "")
	session := `{"startedDateTime":"2026-11-30T08:00:00Z","lastActiveDateTime":"2026-11-30T08:20:00Z","userTimezone":"Europe/Berlin"}`
	if status, body := src.call("PUT", "/v1.0/me/activities/n1/historyItems/5b2a4bbb-2f8b-4a6a-9d2c-6c1f6b8a0e11", src.token("alice", "notes"), "application/json", session); status/100 != 2 {
		t.Fatalf("history item: %d %s", status, body)
	}
	srcAll := src.personToken("alice")
	_, export := src.call("GET", "/privacy/export", srcAll, "", "")
	if strings.Count(export, "\n") != 2 {
		t.Fatalf("export: %s", export)
	}

	dst := newEnv(t)
	dstAll := dst.personToken("alice")
	if status, body := dst.call("POST", "/privacy/import", dst.token("alice", "notes"), "application/x-ndjson", export); status != http.StatusForbidden {
		t.Errorf("an app's token: %d %s, want 403", status, body)
	}
	status, body := dst.call("POST", "/privacy/import", dstAll, "application/x-ndjson", export)
	if status != 200 || !strings.Contains(body, `"summary":{"created":2}`) {
		t.Fatalf("import: %d %s", status, body)
	}
	_, again := dst.call("GET", "/privacy/export", dstAll, "", "")
	want, got := comparable(t, export), comparable(t, again)
	if len(got) != len(want) {
		t.Fatalf("after import: %d activities, want %d:\n%s", len(got), len(want), again)
	}
	for i := range want {
		w, _ := json.Marshal(want[i])
		g, _ := json.Marshal(got[i])
		if !bytes.Equal(w, g) {
			t.Errorf("activity %d after import:\n got %s\nwant %s", i, g, w)
		}
	}
	// The Graph API shows the app its activity, with the times of the source.
	if _, body := dst.call("GET", "/v1.0/me/activities?$expand=historyItems", dst.token("alice", "notes"), "", ""); !strings.Contains(body, `"startedDateTime":"2026-11-30T08:00:00Z"`) || !strings.Contains(body, `"displayText":"Note"`) {
		t.Errorf("the app's view after import: %s", body)
	}

	// Twice: nothing changes, and the change log says nothing.
	if status, body := dst.call("POST", "/privacy/import", dstAll, "application/x-ndjson", export); status != 200 || !strings.Contains(body, `"summary":{"unchanged":2}`) {
		t.Errorf("second import: %d %s", status, body)
	}
	_, third := dst.call("GET", "/privacy/export", dstAll, "", "")
	if third != again {
		t.Errorf("a second import changed the export:\n%s\nthen\n%s", again, third)
	}

	// What a device recorded since the export is kept.
	dst.put("alice", "notes", "n1", "Note, edited later", "")
	if _, body := dst.call("POST", "/privacy/import", dstAll, "application/x-ndjson", export); !strings.Contains(body, `"result":"newer"`) {
		t.Errorf("an old export over a newer activity: %s", body)
	}
	if _, body := dst.call("GET", "/v1.0/me/activities/n1", dst.token("alice", "notes"), "", ""); !strings.Contains(body, "edited later") {
		t.Errorf("the newer activity was overwritten: %s", body)
	}

	// Bad lines are skipped with their reasons; good ones go in.
	bad := strings.Join([]string{
		`{"appActivityId":"ok","activitySourceHost":"https://x.example","activationUrl":"https://x.example/1","visualElements":{"displayText":"Fine"},"@activityd.appId":"other"}`,
		`{"appActivityId":"noapp","activitySourceHost":"https://x.example","activationUrl":"https://x.example/2","visualElements":{"displayText":"No app"}}`,
		`{"appActivityId":"broken",`,
		``,
		`{"appActivityId":"nodisplay","activitySourceHost":"https://x.example","activationUrl":"https://x.example/3","visualElements":{},"@activityd.appId":"other"}`,
		`{"appActivityId":"noid","activitySourceHost":"https://x.example","activationUrl":"https://x.example/4","visualElements":{"displayText":"x"},"historyItems":[{"startedDateTime":"2026-11-30T08:00:00Z"}],"@activityd.appId":"other"}`,
	}, "\n")
	status, body = dst.call("POST", "/privacy/import", dstAll, "application/x-ndjson", bad)
	var res struct {
		Value []struct {
			Line   int
			Result string
			Reason string
		}
	}
	if err := json.Unmarshal([]byte(body), &res); status != 200 || err != nil {
		t.Fatalf("bad lines: %d %s", status, body)
	}
	wantLines := []struct {
		line           int
		result, reason string
	}{
		{1, "created", ""},
		{2, "skipped", "@activityd.appId"},
		{3, "skipped", "JSON"},
		{5, "skipped", "displayText"},
		{6, "skipped", "id"},
	}
	if len(res.Value) != len(wantLines) {
		t.Fatalf("bad lines: %s", body)
	}
	for i, w := range wantLines {
		g := res.Value[i]
		if g.Line != w.line || g.Result != w.result || !strings.Contains(g.Reason, w.reason) {
			t.Errorf("line %d: %+v, want %+v", w.line, g, w)
		}
	}
	if status, body := dst.call("POST", "/privacy/import", dstAll, "text/html", "x"); status != http.StatusUnsupportedMediaType {
		t.Errorf("text/html: %d %s", status, body)
	}
}

// TestImport_Review: what the review of import and export found, fixed: an activity sent
// pretty-printed exports as one line; a body of too many lines is refused; a database or an
// ActivityWatch export sent where an export is wanted is named.
func TestImport_Review(t *testing.T) {
	e := newEnv(t)
	pretty := "{\"appActivityId\":\"nl1\",\"activitySourceHost\":\"https://a.example\",\"activationUrl\":\"https://a.example/1\"," +
		"\"visualElements\":{\"displayText\":\"d\",\"content\":{\n \"type\": \"AdaptiveCard\",\n \"body\": []\n}},\"contentInfo\":{\n \"x\":\t1\n}}"
	if status, body := e.call("PUT", "/v1.0/me/activities/nl1", e.token("erin", "nl"), "application/json", pretty); status != 201 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	all := e.personToken("erin")
	_, export := e.call("GET", "/privacy/export", all, "", "")
	if strings.Count(export, "\n") != 1 || !strings.Contains(export, `"contentInfo":{"x":1}`) {
		t.Errorf("a pretty-printed activity's export is not one line: %q", export)
	}
	// An incremental export counts a session added to an older activity.
	e.put("erin", "notes", "old", "Old", "")
	time.Sleep(20 * time.Millisecond)
	since := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	if _, body := e.call("GET", "/privacy/export?since="+since.Format(time.RFC3339Nano), all, "", ""); body != "" {
		t.Errorf("an export since now: %q", body)
	}
	if status, body := e.call("PUT", "/v1.0/me/activities/old/historyItems/5b2a4bbb-2f8b-4a6a-9d2c-6c1f6b8a0e12", e.token("erin", "notes"), "application/json", `{"startedDateTime":"2026-11-30T08:00:00Z"}`); status/100 != 2 {
		t.Fatalf("session: %d %s", status, body)
	}
	if _, body := e.call("GET", "/privacy/export?since="+since.Format(time.RFC3339Nano), all, "", ""); strings.Count(body, "\n") != 1 || !strings.Contains(body, `"appActivityId":"old"`) {
		t.Errorf("an export since a session was added: %q", body)
	}
	if status, body := e.call("POST", "/privacy/import", all, "application/x-ndjson", strings.Repeat("{}\n", 20000)); status != 400 || !strings.Contains(body, "at most 10000") {
		t.Errorf("20,000 lines: %d %s", status, body)
	}
	if status, body := e.call("POST", "/privacy/import", all, "application/x-ndjson", strings.Repeat("{}\n", 10000)); status != 200 {
		t.Errorf("exactly 10,000 lines, the last ended by a newline: %d %.200s", status, body)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/privacy/import", strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer "+all)
	req.Header.Set("Content-Encoding", "gzip")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("a gzip body: %v %v, want 415", res, err)
	}
	if status, body := e.call("POST", "/privacy/import", all, "application/x-ndjson", "SQLite format 3\x00..."); status != 400 || !strings.Contains(body, "activityd import FILE") {
		t.Errorf("a database: %d %s", status, body)
	}
}
