package graph

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/odata"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestSkipToken_RoundTrip(t *testing.T) {
	tests := []skipToken{
		{list: 'a', cursor: activity.Cursor{Time: time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC), ID: 5347642601316252694}},
		{list: 'r', cursor: activity.Cursor{Time: time.Unix(0, 0).UTC(), ID: 1}, remaining: 17, pageSize: 20},
		{list: 'h', cursor: activity.Cursor{Time: time.Date(2015, 2, 11, 20, 54, 4, 345727000, time.UTC), ItemID: "9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c"}, pageSize: 1000},
	}
	for _, tc := range tests {
		s := tc.encode(testKey)
		if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Errorf("token %q has characters outside base64url", s)
		}
		got, err := parseSkipToken(s, testKey, 1000)
		if err != nil {
			t.Errorf("parseSkipToken(%q): %v", s, err)
			continue
		}
		if got.list != tc.list || !got.cursor.Time.Equal(tc.cursor.Time) || got.cursor.ID != tc.cursor.ID ||
			got.cursor.ItemID != tc.cursor.ItemID || got.remaining != tc.remaining || got.pageSize != tc.pageSize {
			t.Errorf("parseSkipToken(encode(%+v)) = %+v", tc, *got)
		}
		if _, err := parseSkipToken(s, []byte("another key"), 1000); err == nil {
			t.Errorf("a token signed with another key was accepted")
		}
	}
	// A token is refused when any byte of it changed, and when it carries a page size past the limit
	// (the reproducer of issue 11: 10,000 where --max-page-size is 1,000).
	good := tests[0].encode(testKey)
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	for i := range raw {
		forged := bytes.Clone(raw)
		forged[i] ^= 1
		if _, err := parseSkipToken(base64.RawURLEncoding.EncodeToString(forged), testKey, 1000); err == nil {
			t.Errorf("a token with byte %d altered was accepted", i)
		}
	}
	big := (&skipToken{list: 'a', pageSize: 10000}).encode(testKey)
	if _, err := parseSkipToken(big, testKey, 1000); err == nil {
		t.Errorf("a token with page size 10,000 was accepted where the most is 1,000")
	}
	unsigned := base64.RawURLEncoding.EncodeToString([]byte("1.a.0.1..0.10000"))
	for _, bad := range []string{"", "x", "MS5h", "!!!", unsigned} {
		if _, err := parseSkipToken(bad, testKey, 1000); err == nil {
			t.Errorf("parseSkipToken(%q) succeeded", bad)
		}
	}
}

func FuzzSkipToken(f *testing.F) {
	f.Add((&skipToken{list: 'a', cursor: activity.Cursor{Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), ID: 42}, remaining: 3, pageSize: 5}).encode(testKey))
	f.Add((&skipToken{list: 'h', cursor: activity.Cursor{ItemID: activity.NewGUID()}}).encode(testKey))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := parseSkipToken(s, testKey, MaxPageSize)
		if err != nil {
			return
		}
		again, err := parseSkipToken(tok.encode(testKey), testKey, MaxPageSize)
		if err != nil || again.list != tok.list || !again.cursor.Time.Equal(tok.cursor.Time) || again.cursor.ID != tok.cursor.ID ||
			again.cursor.ItemID != tok.cursor.ItemID || again.remaining != tok.remaining || again.pageSize != tok.pageSize {
			t.Fatalf("parseSkipToken(%q) = %+v; re-encoded gives %+v, %v", s, tok, again, err)
		}
	})
}

func TestFilterRange(t *testing.T) {
	at := func(s string) time.Time { v, _ := odata.ParseDateTime(s); return v }
	tests := []struct {
		filter   string
		from, to string // "" is open
	}{
		{"lastModifiedDateTime gt 2026-01-01T00:00:00.0000005Z", "2026-01-01T00:00:00.000001Z", ""},
		{"lastModifiedDateTime ge 2026-01-01T00:00:00.0000005Z", "2026-01-01T00:00:00.000001Z", ""},
		{"lastModifiedDateTime gt 2026-01-01T00:00:00.000001Z", "2026-01-01T00:00:00.000002Z", ""},
		{"lastModifiedDateTime ge 2026-01-01T00:00:00.000001Z", "2026-01-01T00:00:00.000001Z", ""},
		{"lastModifiedDateTime lt 2026-01-01T00:00:00.0000015Z", "", "2026-01-01T00:00:00.000001Z"},
		{"lastModifiedDateTime lt 2026-01-01T00:00:00.000001Z", "", "2026-01-01T00:00:00Z"},
		{"lastModifiedDateTime le 2026-01-01T00:00:00.0000015Z", "", "2026-01-01T00:00:00.000001Z"},
		{"lastModifiedDateTime eq 2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"},
		{"lastModifiedDateTime gt 2026-01-01T00:00:00Z and lastModifiedDateTime gt 2026-02-01T00:00:00Z and lastModifiedDateTime lt 2026-03-01T00:00:00Z",
			"2026-02-01T00:00:00.000001Z", "2026-02-28T23:59:59.999999Z"},
	}
	for _, tc := range tests {
		r, err := timeRange("$filter", tc.filter)
		if err != nil {
			t.Errorf("timeRange(%q): %v", tc.filter, err)
			continue
		}
		var want activity.TimeRange
		if tc.from != "" {
			want.From = at(tc.from)
		}
		if tc.to != "" {
			want.To = at(tc.to)
		}
		if !r.From.Equal(want.From) || !r.To.Equal(want.To) {
			t.Errorf("timeRange(%q) = %v..%v, want %v..%v", tc.filter, r.From, r.To, want.From, want.To)
		}
	}
	r, _ := timeRange("$filter", "lastModifiedDateTime gt 2026-01-01T00:00:00Z and lastModifiedDateTime lt 2026-01-01T00:00:00Z")
	if !r.Empty() {
		t.Errorf("contradictory filter gave the non-empty range %v", r)
	}
}

func FuzzDecodeActivity(f *testing.F) {
	f.Add([]byte(`{"appActivityId":"a","activitySourceHost":"h","activationUrl":"u","visualElements":{"displayText":"d","attribution":{"addImageQuery":"false"}},"historyItems":[{"startedDateTime":"2026-11-27T10:00:00Z"}]}`))
	f.Add([]byte(`{"contentInfo":{"@context":"https://schema.org","a":[1,2,{"b":null}]},"@odata.type":"x"}`))
	f.Add([]byte(`[{"a":`))
	f.Add([]byte(` { "appActivityId" : "a\u00e9\"" , "contentInfo" : [ 1 , "]}" , { } ] , "visualElements" : { "displayText" : "\ud83d\ude00" } } `))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeActivity(body, DefaultMaxJSONDepth)
		if err != nil {
			if activity.ErrorCode(err) != activity.Invalid {
				t.Fatalf("decodeActivity(%q): error code %s: %v", body, activity.ErrorCode(err), err)
			}
			return
		}
		// Whatever was accepted is valid JSON, and encoding/json reads the same values from it.
		var std struct {
			AppActivityID  *string         `json:"appActivityId"`
			ContentInfo    json.RawMessage `json:"contentInfo"`
			VisualElements *struct {
				DisplayText *string `json:"displayText"`
			} `json:"visualElements"`
		}
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("decodeActivity(%q) accepted what encoding/json refuses: %v", body, err)
		}
		if std.AppActivityID != nil && *std.AppActivityID != b.AppActivityID {
			t.Fatalf("decodeActivity(%q): appActivityId %q, encoding/json %q", body, b.AppActivityID, *std.AppActivityID)
		}
		if string(std.ContentInfo) != "null" && !bytes.Equal(std.ContentInfo, b.ContentInfo) {
			t.Fatalf("decodeActivity(%q): contentInfo %q, encoding/json %q", body, b.ContentInfo, std.ContentInfo)
		}
		if std.VisualElements != nil && std.VisualElements.DisplayText != nil && *std.VisualElements.DisplayText != b.VisualElements.DisplayText {
			t.Fatalf("decodeActivity(%q): displayText %q, encoding/json %q", body, b.VisualElements.DisplayText, *std.VisualElements.DisplayText)
		}
		// It encodes to valid JSON and decodes to the same values.
		out := appendActivity(nil, &b.Activity, "1", nil, "", "")
		again, err := decodeActivity(out, DefaultMaxJSONDepth)
		if err != nil {
			t.Fatalf("decodeActivity(%q) accepted; its encoding %q does not decode: %v", body, out, err)
		}
		if again.AppActivityID != b.AppActivityID || string(again.ContentInfo) != string(b.ContentInfo) ||
			again.VisualElements.DisplayText != b.VisualElements.DisplayText {
			t.Fatalf("round trip of %q changed values", body)
		}
	})
}

func FuzzDecodeHistoryItem(f *testing.F) {
	f.Add([]byte(`{"startedDateTime":"2015-02-11T20:54:04.3457274+00:00","activeDurationSeconds":20,"id":"9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, _, err := decodeHistoryItem(body, DefaultMaxJSONDepth); err != nil && activity.ErrorCode(err) != activity.Invalid {
			t.Fatalf("decodeHistoryItem(%q): error code %s", body, activity.ErrorCode(err))
		}
	})
}

func FuzzParseBatch(f *testing.F) {
	f.Add([]byte(`{"requests":[{"id":"a","method":"GET","url":"/me/activities","dependsOn":["b"]},{"id":"b","method":"PUT","url":"/me/activities/x","body":{"a":1}}]}`))
	f.Add([]byte(`{"requests":[{"id":"a","method":"GET","url":"/me","dependsOn":["a"]}]}`))
	f.Add([]byte(`{"requests":[{"id":"a","method":"POST","url":"/v1.0/%24batch","headers":{"x":"y"},"body":null}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		steps, order, err := parseBatch(body, "v1.0", DefaultMaxJSONDepth)
		if err != nil {
			if activity.ErrorCode(err) != activity.Invalid {
				t.Fatalf("parseBatch(%q): error code %s", body, activity.ErrorCode(err))
			}
			return
		}
		if len(order) != len(steps) {
			t.Fatalf("parseBatch(%q): order %v for %d steps", body, order, len(steps))
		}
		done := map[string]bool{}
		for _, st := range steps {
			if isBatchURL("v1.0", st.Method, st.URL) {
				t.Fatalf("parseBatch(%q) accepted a nested $batch %q", body, st.URL)
			}
		}
		for _, i := range order {
			for _, d := range steps[i].DependsOn {
				if !done[strings.ToLower(d)] {
					t.Fatalf("parseBatch(%q): step %s runs before its dependency %s", body, steps[i].ID, d)
				}
			}
			done[strings.ToLower(steps[i].ID)] = true
		}
	})
}
