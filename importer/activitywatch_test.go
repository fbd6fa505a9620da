package importer

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd/client"
	"github.com/google/go-cmp/cmp"
)

// pythonExport is an export of aw-server (Python), written as its export_bucket writes one
// (aw_server/api.py; aw-core BucketModel.json and Event.to_json_dict): buckets with "name", events
// newest first, without ids, timestamps with "+00:00" and six fraction digits or none, durations
// as floats.
const pythonExport = `{
  "buckets": {
    "aw-watcher-web-chrome_laptop": {
      "id": "aw-watcher-web-chrome_laptop",
      "created": "2024-05-01T08:00:00.123456+00:00",
      "name": null,
      "type": "web.tab.current",
      "client": "aw-watcher-web-chrome",
      "hostname": "laptop",
      "data": {},
      "events": [
        {"timestamp": "2024-05-01T09:03:00+00:00", "duration": 30.0, "data": {"url": "https://example.com/a", "title": "A again", "audible": false, "incognito": false, "tabCount": 3}},
        {"timestamp": "2024-05-01T09:02:00.500000+00:00", "duration": 10.0, "data": {"url": "https://secret.example/", "title": "Secret", "audible": false, "incognito": true}},
        {"timestamp": "2024-05-01T09:01:00+00:00", "duration": 50.0, "data": {"url": "https://example.org/b", "title": "B", "audible": true, "incognito": false}},
        {"timestamp": "2024-05-01T09:00:40+00:00", "duration": 10.0, "data": {"url": "https://example.com/a", "title": "A (1)", "audible": true, "incognito": false}},
        {"timestamp": "2024-05-01T09:00:00+00:00", "duration": 30.0, "data": {"url": "https://example.com/a", "title": "A", "audible": false, "incognito": false}}
      ]
    },
    "aw-watcher-afk_laptop": {
      "id": "aw-watcher-afk_laptop",
      "created": "2024-05-01T08:00:00+00:00",
      "name": null,
      "type": "afkstatus",
      "client": "aw-watcher-afk",
      "hostname": "laptop",
      "data": {},
      "events": [
        {"timestamp": "2024-05-01T09:01:30+00:00", "duration": 60.0, "data": {"status": "afk"}},
        {"timestamp": "2024-05-01T09:00:00+00:00", "duration": 90.0, "data": {"status": "not-afk"}}
      ]
    },
    "aw-watcher-window_laptop": {
      "id": "aw-watcher-window_laptop",
      "created": "2024-05-01T08:00:00+00:00",
      "name": null,
      "type": "currentwindow",
      "client": "aw-watcher-window",
      "hostname": "laptop",
      "data": {},
      "events": [
        {"timestamp": "yesterday", "duration": 1.0, "data": {"app": "Code", "title": "x"}},
        {"timestamp": "2024-05-01T09:00:05+00:00", "duration": 20.0, "data": {"app": "Code", "title": "main.go - activityd"}},
        {"timestamp": "2024-05-01T09:00:00+00:00", "duration": 4.0, "data": {"app": "Code", "title": "main.go - activityd"}},
        {"timestamp": "2024-05-01T08:59:00+00:00", "duration": 1.0, "data": {"app": "Code", "title": 7}}
      ]
    },
    "aw-watcher-input_laptop": {
      "id": "aw-watcher-input_laptop",
      "created": "2024-05-01T08:00:00+00:00",
      "name": null,
      "type": "os.hid.input",
      "client": "aw-watcher-input",
      "hostname": "laptop",
      "data": {},
      "events": [
        {"timestamp": "2024-05-01T09:00:00+00:00", "duration": 1.0, "data": {"presses": 3, "clicks": 0}},
        {"timestamp": "2024-05-01T09:00:01+00:00", "duration": 1.0, "data": {"presses": 0, "clicks": 1}}
      ]
    }
  }
}
`

// rustExport is an export of aw-server-rust, as serde writes aw-models' BucketsExport
// (aw-models/src/bucket.rs, event.rs, duration.rs): "metadata" and "last_updated" on buckets, an
// "id" on events, timestamps in UTC with "Z" and up to nine fraction digits.
const rustExport = `{"buckets":{"aw-watcher-web-firefox_desk":{"id":"aw-watcher-web-firefox_desk","type":"web.tab.current",` +
	`"client":"aw-client-web","hostname":"desk","created":"2024-05-02T07:00:00.123456789Z","data":{},` +
	`"metadata":{"start":"2024-05-02T10:00:00Z","end":"2024-05-02T10:00:10Z"},"events":[` +
	`{"id":12,"timestamp":"2024-05-02T10:00:05.250Z","duration":4.75,"data":{"audible":false,"incognito":false,"tabCount":2,"title":"A","url":"https://example.com/a"}},` +
	`{"id":11,"timestamp":"2024-05-02T10:00:00Z","duration":5.0,"data":{"audible":false,"incognito":false,"tabCount":2,"title":"A","url":"https://example.com/a"}}` +
	`],"last_updated":"2024-05-02T10:00:10Z"}}}`

type awRun struct {
	items []Item
	skips []Skip
	rep   AWReport
	err   error
}

func runAW(t testing.TB, export, name string, opt AWOptions) awRun {
	t.Helper()
	var r awRun
	r.rep, r.err = ActivityWatch(t.Context(), strings.NewReader(export), name, opt, func(it Item) error {
		r.items = append(r.items, it)
		return nil
	}, func(s Skip) { r.skips = append(r.skips, s) })
	return r
}

func (r awRun) reasons() map[string]string {
	m := make(map[string]string)
	for _, s := range r.skips {
		m[s.Source] = s.Reason
	}
	return m
}

func TestActivityWatch_Python(t *testing.T) {
	r := runAW(t, pythonExport, "aw.json", AWOptions{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, it := range r.items {
		checkImportable(t, it)
	}
	want := AWReport{Flavour: FlavourPython, Buckets: 4, Events: 13, Merged: 2, Activities: 3, HistoryItems: 4, Skipped: 5}
	if diff := cmp.Diff(want, r.rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	wantSkips := map[string]string{
		`aw.json: bucket "aw-watcher-web-chrome_laptop"`:      "1 event of incognito (private) tabs is left out (the Incognito option, --incognito, imports them)",
		`aw.json: bucket "aw-watcher-afk_laptop"`:             "an afkstatus bucket (2 events) is used only to trim the sessions of other buckets (the TrimAFK option, --trim-afk)",
		`aw.json: bucket "aw-watcher-window_laptop", event 1`: `its timestamp "yesterday" is not an RFC 3339 time`,
		`aw.json: bucket "aw-watcher-window_laptop", event 4`: "its data.title is a JSON number, not a string",
		`aw.json: bucket "aw-watcher-input_laptop"`:           `bucket type "os.hid.input" is not imported (2 events)`,
	}
	if diff := cmp.Diff(wantSkips, r.reasons()); diff != "" {
		t.Errorf("skips (-want +got):\n%s", diff)
	}
	if len(r.items) != 3 {
		t.Fatalf("%d items, want 3", len(r.items))
	}
	chrome := ptr("Google Chrome")
	// The two first events of page a merge (10 s apart); the third is another visit: page b and an
	// incognito tab came between. Each session is active for the time recorded in it.
	pageA := Item{Source: `aw.json: bucket "aw-watcher-web-chrome_laptop", page https://example.com/a`, Activity: client.Activity{
		App: "aw-watcher-web-chrome", AppActivityID: "https://example.com/a", ActivitySourceHost: "https://activitywatch.net",
		ActivationURL: "https://example.com/a", AppDisplayName: chrome,
		VisualElements:  client.VisualInfo{DisplayText: "A again"},
		CreatedDateTime: utc("2024-05-01T09:00:00Z"), LastModifiedDateTime: utc("2024-05-01T09:03:30Z"),
		HistoryItems: []client.HistoryItem{
			{ID: "5d385ffa-122e-54a0-a89b-acf8e4d5881c", StartedDateTime: *utc("2024-05-01T09:00:00Z"),
				LastActiveDateTime: utc("2024-05-01T09:00:50Z"), ActiveDurationSeconds: ptr(40),
				CreatedDateTime: utc("2024-05-01T09:00:00Z"), LastModifiedDateTime: utc("2024-05-01T09:00:50Z")},
			{ID: "7c2fdd51-7df5-519f-a172-4de3cb01a98b", StartedDateTime: *utc("2024-05-01T09:03:00Z"),
				LastActiveDateTime: utc("2024-05-01T09:03:30Z"), ActiveDurationSeconds: ptr(30),
				CreatedDateTime: utc("2024-05-01T09:03:00Z"), LastModifiedDateTime: utc("2024-05-01T09:03:30Z")},
		},
	}}
	pageB := Item{Source: `aw.json: bucket "aw-watcher-web-chrome_laptop", page https://example.org/b`, Activity: client.Activity{
		App: "aw-watcher-web-chrome", AppActivityID: "https://example.org/b", ActivitySourceHost: "https://activitywatch.net",
		ActivationURL: "https://example.org/b", AppDisplayName: chrome, VisualElements: client.VisualInfo{DisplayText: "B"},
		CreatedDateTime: utc("2024-05-01T09:01:00Z"), LastModifiedDateTime: utc("2024-05-01T09:01:50Z"),
		HistoryItems: []client.HistoryItem{{ID: "a32b041c-e414-5a57-bcf6-827f3ec86566", StartedDateTime: *utc("2024-05-01T09:01:00Z"),
			LastActiveDateTime: utc("2024-05-01T09:01:50Z"), ActiveDurationSeconds: ptr(50),
			CreatedDateTime: utc("2024-05-01T09:01:00Z"), LastModifiedDateTime: utc("2024-05-01T09:01:50Z")}},
	}}
	window := Item{Source: `aw.json: bucket "aw-watcher-window_laptop", window "main.go - activityd" of "Code"`, Activity: client.Activity{
		App: "aw-watcher-window", AppActivityID: "aw-window:9bd2724dd205a5685e98fcdd50df3dca", // sha256("Code\x00main.go - activityd")
		ActivitySourceHost: "https://activitywatch.net", ActivationURL: "activitywatch:window?app=Code", AppDisplayName: ptr("Code"),
		VisualElements:  client.VisualInfo{DisplayText: "main.go - activityd"},
		CreatedDateTime: utc("2024-05-01T09:00:00Z"), LastModifiedDateTime: utc("2024-05-01T09:00:25Z"),
		HistoryItems: []client.HistoryItem{{ID: "0c5287d8-dbef-5790-b9b0-9e38b48e5fa6", StartedDateTime: *utc("2024-05-01T09:00:00Z"),
			LastActiveDateTime: utc("2024-05-01T09:00:25Z"), ActiveDurationSeconds: ptr(24),
			CreatedDateTime: utc("2024-05-01T09:00:00Z"), LastModifiedDateTime: utc("2024-05-01T09:00:25Z")}},
	}}
	if diff := cmp.Diff([]Item{pageA, pageB, window}, r.items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if again := runAW(t, pythonExport, "aw.json", AWOptions{}); !cmp.Equal(r.items, again.items) {
		t.Errorf("a second read differs:\n%s", cmp.Diff(r.items, again.items))
	}
}

func TestActivityWatch_Rust(t *testing.T) {
	r := runAW(t, rustExport, "rust.json", AWOptions{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := AWReport{Flavour: FlavourRust, Buckets: 1, Events: 2, Merged: 1, Activities: 1, HistoryItems: 1}
	if diff := cmp.Diff(want, r.rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if len(r.items) != 1 {
		t.Fatalf("%d items, want 1; skips %v", len(r.items), r.skips)
	}
	checkImportable(t, r.items[0])
	wantItem := client.Activity{App: "aw-client-web", AppActivityID: "https://example.com/a", ActivitySourceHost: "https://activitywatch.net",
		ActivationURL: "https://example.com/a", AppDisplayName: ptr("Firefox"), VisualElements: client.VisualInfo{DisplayText: "A"},
		CreatedDateTime: utc("2024-05-02T10:00:00Z"), LastModifiedDateTime: utc("2024-05-02T10:00:10Z"),
		HistoryItems: []client.HistoryItem{{ID: "d5ecb9d6-8485-59ef-b938-f403e00dc283", StartedDateTime: *utc("2024-05-02T10:00:00Z"),
			LastActiveDateTime: utc("2024-05-02T10:00:10Z"), ActiveDurationSeconds: ptr(10), // 5 + 4.75 s, rounded
			CreatedDateTime: utc("2024-05-02T10:00:00Z"), LastModifiedDateTime: utc("2024-05-02T10:00:10Z")}},
	}
	if diff := cmp.Diff(wantItem, r.items[0].Activity); diff != "" {
		t.Errorf("activity (-want +got):\n%s", diff)
	}
}

// TestActivityWatch_TrimAFK cuts 09:01:30 to 09:02:30, away from the keyboard, out of page b's
// visit (09:01:00 to 09:01:50).
func TestActivityWatch_TrimAFK(t *testing.T) {
	r := runAW(t, pythonExport, "aw.json", AWOptions{TrimAFK: true})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.rep.AFKTrimmed != 20*time.Second || len(r.rep.Untrimmed) != 0 {
		t.Errorf("report = %+v, want 20 s trimmed in every bucket", r.rep)
	}
	for _, it := range r.items {
		checkImportable(t, it)
		if it.Activity.AppActivityID != "https://example.org/b" {
			continue
		}
		h := it.Activity.HistoryItems
		if len(h) != 1 || !h[0].LastActiveDateTime.Equal(*utc("2024-05-01T09:01:30Z")) || *h[0].ActiveDurationSeconds != 30 {
			t.Errorf("page b's sessions = %+v, want one ending at 09:01:30, 30 s active", h)
		}
	}
	if _, ok := r.reasons()[`aw.json: bucket "aw-watcher-afk_laptop"`]; ok {
		t.Errorf("the afkstatus bucket was skipped though used")
	}

	// A session does not merge across an AFK period, however short the gap.
	export := `{"buckets":{"w":{"type":"web.tab.current","client":"c","hostname":"h","events":[
		{"timestamp":"2024-01-01T00:00:00Z","duration":10,"data":{"url":"https://a/","title":"a"}},
		{"timestamp":"2024-01-01T00:00:12Z","duration":10,"data":{"url":"https://a/","title":"a"}}]},
		"afk":{"type":"afkstatus","client":"aw-watcher-afk","hostname":"h","events":[
		{"timestamp":"2024-01-01T00:00:10.5Z","duration":1,"data":{"status":"afk"}}]},
		"other":{"type":"currentwindow","client":"aw-watcher-window","hostname":"elsewhere","events":[
		{"timestamp":"2024-01-01T00:00:00Z","duration":10,"data":{"app":"x","title":"y"}}]}}}`
	r = runAW(t, export, "afk.json", AWOptions{TrimAFK: true})
	if r.err != nil || len(r.items) != 2 || len(r.items[0].Activity.HistoryItems) != 2 {
		t.Fatalf("items = %+v, %v; want page a with two sessions", r.items, r.err)
	}
	if diff := cmp.Diff([]string{"other"}, r.rep.Untrimmed); diff != "" {
		t.Errorf("untrimmed buckets (-want +got):\n%s", diff)
	}
	r = runAW(t, export, "afk.json", AWOptions{})
	if len(r.items) != 2 || len(r.items[0].Activity.HistoryItems) != 1 {
		t.Errorf("without TrimAFK, page a has %d sessions, want 1", len(r.items[0].Activity.HistoryItems))
	}
}

func TestActivityWatch_Options(t *testing.T) {
	r := runAW(t, pythonExport, "aw.json", AWOptions{Incognito: true, PulseTime: time.Second, SourceHost: "https://me.example"})
	if r.err != nil {
		t.Fatal(r.err)
	}
	pages := make(map[string]int)
	for _, it := range r.items {
		if it.Activity.ActivitySourceHost != "https://me.example" {
			t.Errorf("activitySourceHost = %q", it.Activity.ActivitySourceHost)
		}
		pages[it.Activity.AppActivityID] = len(it.Activity.HistoryItems)
	}
	// With a pulse time of a second, page a's first events (10 s apart) no longer merge.
	if pages["https://secret.example/"] != 1 || pages["https://example.com/a"] != 3 {
		t.Errorf("sessions per page = %v, want the incognito tab, and page a in 3 sessions", pages)
	}
}

// TestActivityWatch_Batches checks that a page visited more often than one item carries is yielded
// in batches with the same properties, and that the oldest visits beyond what the server keeps are
// left out with a Skip.
func TestActivityWatch_Batches(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"buckets":{"w":{"type":"web.tab.current","client":"c","hostname":"h","events":[`)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 5100
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		page := "https://a/"
		if i%2 == 1 {
			page = "https://b/"
		}
		fmt.Fprintf(&b, `{"timestamp":%q,"duration":1,"data":{"url":%q,"title":"t"}}`, start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), page)
	}
	b.WriteString(`]}}}`)
	r := runAW(t, b.String(), "big.json", AWOptions{PulseTime: time.Millisecond})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.rep.Activities != 2 || r.rep.HistoryItems != n || len(r.items) != 52 || len(r.skips) != 0 {
		t.Errorf("report %+v, %d items, %d skips; want 2 activities in 52 items", r.rep, len(r.items), len(r.skips))
	}
	first := r.items[0].Activity
	for _, it := range r.items {
		checkImportable(t, it)
		a := it.Activity
		if a.AppActivityID == first.AppActivityID && (a.LastModifiedDateTime.Compare(*first.LastModifiedDateTime) != 0 || !cmp.Equal(a.VisualElements, first.VisualElements)) {
			t.Errorf("the batches of an activity differ")
		}
	}

	b.Reset()
	b.WriteString(`{"buckets":{"w":{"type":"web.tab.current","client":"c","hostname":"h","events":[`)
	for i := range 5003 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"timestamp":%q,"duration":1,"data":{"url":"https://a/","title":"t"}}`, start.Add(time.Duration(i)*time.Hour).Format(time.RFC3339))
	}
	b.WriteString(`]}}}`)
	r = runAW(t, b.String(), "many.json", AWOptions{})
	if r.rep.HistoryItems != 5000 || len(r.skips) != 1 || !strings.Contains(r.skips[0].Reason, "the oldest 3 are left out") {
		t.Errorf("report %+v, skips %v; want 5000 history items and the oldest 3 left out", r.rep, r.skips)
	}
}

func TestActivityWatch_Yield(t *testing.T) {
	stop := errors.New("stop")
	_, err := ActivityWatch(t.Context(), strings.NewReader(pythonExport), "aw.json", AWOptions{}, func(Item) error { return stop }, func(Skip) {})
	if !errors.Is(err, stop) {
		t.Errorf("ActivityWatch = %v, want stop", err)
	}
}

func TestActivityWatch_Corrupt(t *testing.T) {
	random := make([]byte, 512)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[0] = 0xfe // not the start of any JSON value
	half := pythonExport[:len(pythonExport)/2]
	tests := []struct{ name, in, want string }{
		{"Empty", ``, "the file is empty"},
		{"Random", string(random), "not JSON"},
		{"Array", `[]`, "line 1, column 1: not an ActivityWatch export: an ActivityWatch export is a JSON object, not an array"},
		{"NoBuckets", `{"foo": {"bar": [1, 2]}}`, `not an ActivityWatch export: it has no "buckets" object`},
		{"BucketsArray", `{"buckets": []}`, `line 1, column 13: not an ActivityWatch export: "buckets" is an object of buckets by id, not an array`},
		{"BucketString", `{"buckets": {"b": "x"}}`, `bucket "b" is an object, not a string`},
		{"TypeNumber", "{\"buckets\": {\n\"b\": {\"type\": 5}}}", `line 2, column 15: not an ActivityWatch export: bucket "b": "type" is a string, not a number`},
		{"EventsObject", `{"buckets": {"b": {"events": {}}}}`, `bucket "b": "events" is an array, not an object`},
		{"Truncated", half, fmt.Sprintf("line %d, column %d: the file ends before the export does (it is cut short)",
			strings.Count(half, "\n")+1, len(half)-strings.LastIndex(half, "\n"))},
		{"BadEvent", "{\"buckets\": {\"b\": {\"events\": [\n{\"timestamp\": tru}]}}}", "line 2, column"},
		{"Trailing", `{"buckets": {}} x`, "more data follows the export's end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runAW(t, tc.in, "export.json", AWOptions{})
			if r.err == nil {
				t.Fatalf("ActivityWatch(%s) = %d items, no error", tc.name, len(r.items))
			}
			t.Log(r.err)
			if !strings.HasPrefix(r.err.Error(), "export.json: ") || !strings.Contains(r.err.Error(), tc.want) {
				t.Errorf("ActivityWatch(%s) = %v, want an error naming the file and saying %q", tc.name, r.err, tc.want)
			}
		})
	}
}

func TestParseAWTime(t *testing.T) {
	want := time.Date(2024, 5, 1, 9, 0, 0, 123456789, time.UTC)
	for _, in := range []string{"2024-05-01T09:00:00.123456789Z", "2024-05-01T11:00:00.123456789+02:00",
		"2024-05-01 09:00:00.123456789+00:00", "2024-05-01T09:00:00.123456789"} {
		if got, err := parseAWTime(in); err != nil || !got.Equal(want) {
			t.Errorf("parseAWTime(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2024-05-01", "09:00", "2024-13-01T00:00:00Z"} {
		if _, err := parseAWTime(in); err == nil {
			t.Errorf("parseAWTime(%q) succeeded", in)
		}
	}
}

func TestTrimSpans(t *testing.T) {
	at := func(s int) int64 { return int64(s) }
	cut := unionSpans([]span{{at(30), at(40)}, {at(10), at(20)}, {at(15), at(25)}})
	if diff := cmp.Diff([]span{{at(10), at(25)}, {at(30), at(40)}}, cut, cmp.AllowUnexported(span{})); diff != "" {
		t.Errorf("unionSpans (-want +got):\n%s", diff)
	}
	tests := []struct {
		s    span
		want []span
	}{
		{span{at(0), at(50)}, []span{{at(0), at(10)}, {at(25), at(30)}, {at(40), at(50)}}},
		{span{at(12), at(22)}, nil},
		{span{at(5), at(12)}, []span{{at(5), at(10)}}},
		{span{at(26), at(26)}, []span{{at(26), at(26)}}},
		{span{at(10), at(10)}, nil},
		{span{at(41), at(45)}, []span{{at(41), at(45)}}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, trimSpans(tc.s, cut), cmp.AllowUnexported(span{})); diff != "" {
			t.Errorf("trimSpans(%v) (-want +got):\n%s", tc.s, diff)
		}
	}
}

// FuzzActivityWatch reads any bytes as an export: it must never panic, and what it yields must be
// importable.
func FuzzActivityWatch(f *testing.F) {
	f.Add([]byte(pythonExport), true)
	f.Add([]byte(rustExport), false)
	f.Add([]byte(`{"buckets":{"b":{"type":"currentwindow","events":[{"timestamp":"2024-01-01T00:00:00Z","duration":1e9,"data":{"app":"\u0000"}}]}}}`), true)
	f.Add([]byte(`{"buckets":{"":{"type":"web.tab.current","client":"","events":[{"timestamp":"0001-01-01T00:00:00Z","duration":-1,"data":{"url":"x"}}]}}}`), false)
	f.Add([]byte(`{"buckets":{"b":{"events":[{"timestamp":"2024-01-01T00:00:00Z"}],"type":"afkstatus"}}}`), true)
	f.Fuzz(func(t *testing.T, data []byte, trim bool) {
		_, _ = ActivityWatch(t.Context(), bytes.NewReader(data), "fuzz.json", AWOptions{TrimAFK: trim}, func(it Item) error {
			checkImportable(t, it)
			return nil
		}, func(s Skip) {
			if s.Source == "" || s.Reason == "" {
				t.Errorf("a Skip without source or reason: %+v", s)
			}
		})
	})
}
