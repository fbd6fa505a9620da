package graph

import (
	"testing"

	"github.com/activityd/activityd"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		method, path string
		want         resourcePath
	}{
		{"GET", "/v1.0/me", resourcePath{version: "v1.0", kind: kindMe}},
		{"GET", "/beta/users/alice%40example.com", resourcePath{version: "beta", user: "alice@example.com", kind: kindMe}},
		{"GET", "/v1.0/me/activities", resourcePath{version: "v1.0", kind: kindActivities}},
		{"GET", "/V1.0/Me/Activities/", resourcePath{version: "v1.0", kind: kindActivities}},
		{"GET", "/v1.0/users/me-token-to-replace/activities", resourcePath{version: "v1.0", kind: kindActivities}},
		{"GET", "/v1.0/users/u/activities", resourcePath{version: "v1.0", user: "u", kind: kindActivities}},
		// The Go SDK's two encodings of one key (graph-sdk-wire.md §2).
		{"PUT", "/v1.0/me/activities//article%3F12345&run=X", resourcePath{version: "v1.0", kind: kindActivity, key: "/article?12345&run=X"}},
		{"PUT", "/v1.0/users/u/activities/%2Farticle%3F12345%26run%3DX", resourcePath{version: "v1.0", user: "u", kind: kindActivity, key: "/article?12345&run=X"}},
		{"PUT", "/v1.0/me/activities//article%3F1", resourcePath{version: "v1.0", kind: kindActivity, key: "/article?1"}},
		{"PUT", "/v1.0/users/u/activities/%2Farticle%3F1", resourcePath{version: "v1.0", user: "u", kind: kindActivity, key: "/article?1"}},
		{"PUT", "/beta/me/activities/%2Farticle%3F12345", resourcePath{version: "beta", kind: kindActivity, key: "/article?12345"}},
		{"PUT", "/v1.0/me/activities/a%2520b", resourcePath{version: "v1.0", kind: kindActivity, key: "a%20b"}}, // decoded once only
		{"PUT", "/v1.0/me/activities/dir/", resourcePath{version: "v1.0", kind: kindActivity, key: "dir/"}},
		{"PUT", "/v1.0/me/activities/recent", resourcePath{version: "v1.0", kind: kindActivity, key: "recent"}},
		// The four spellings of recent, and their encodings.
		{"GET", "/v1.0/me/activities/recent", resourcePath{version: "v1.0", kind: kindRecent}},
		{"GET", "/v1.0/me/activities/recent%28%29", resourcePath{version: "v1.0", kind: kindRecent}},
		{"GET", "/v1.0/users/u/activities/recent()", resourcePath{version: "v1.0", user: "u", kind: kindRecent}},
		{"GET", "/v1.0/me/activities/microsoft.graph.recent", resourcePath{version: "v1.0", kind: kindRecent}},
		{"GET", "/v1.0/me/activities/microsoft.graph.recent()", resourcePath{version: "v1.0", kind: kindRecent}},
		{"GET", "/v1.0/me/activities/microsoft.graph.recent%28%29", resourcePath{version: "v1.0", kind: kindRecent}},
		{"GET", "/v1.0/me/activities/$count", resourcePath{version: "v1.0", kind: kindActivitiesCount}},
		{"GET", "/v1.0/me/activities/%24count", resourcePath{version: "v1.0", kind: kindActivitiesCount}},
		{"POST", "/v1.0/me/activities/$ref", resourcePath{version: "v1.0", kind: kindActivitiesRef}},
		{"DELETE", "/v1.0/me/activities/13881113971988980728/", resourcePath{version: "v1.0", kind: kindActivity, key: "13881113971988980728"}},
		{"GET", "/v1.0/me/activities/5347642601316252694", resourcePath{version: "v1.0", kind: kindActivity, key: "5347642601316252694"}},
		{"GET", "/v1.0/me/activities/5347642601316252694/historyItems", resourcePath{version: "v1.0", kind: kindHistoryItems, key: "5347642601316252694"}},
		{"GET", "/v1.0/me/activities/1/historyitems/", resourcePath{version: "v1.0", kind: kindHistoryItems, key: "1"}},
		{"GET", "/v1.0/me/activities/1/historyItems/$count", resourcePath{version: "v1.0", kind: kindHistoryItemsCount, key: "1"}},
		{"PUT", "/v1.0/me/activities/1/historyItems/9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c",
			resourcePath{version: "v1.0", kind: kindHistoryItem, key: "1", itemID: "9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c"}},
		{"GET", "/v1.0/me/activities/1/historyItems/9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c/activity",
			resourcePath{version: "v1.0", kind: kindHistoryItemActivity, key: "1", itemID: "9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c"}},
		// Empty segments before the key, as Python and .NET SDK regressions send them; the key keeps its own.
		{"GET", "/v1.0//users/me-token-to-replace/activities/recent()", resourcePath{version: "v1.0", kind: kindRecent}},
		{"GET", "/v1.0//me/activities", resourcePath{version: "v1.0", kind: kindActivities}},
		{"GET", "/beta///me//activities/x", resourcePath{version: "beta", kind: kindActivity, key: "x"}},
		{"PUT", "/v1.0//me/activities//a", resourcePath{version: "v1.0", kind: kindActivity, key: "/a"}},
		{"GET", "/v1.0//users//u//activities", resourcePath{version: "v1.0", user: "u", kind: kindActivities}},
		{"GET", "/v1.0/users//activities", resourcePath{version: "v1.0", user: "activities", kind: kindMe}},
		{"POST", "/v1.0/$batch", resourcePath{version: "v1.0", kind: kindBatch}},
		{"POST", "/v1.0//%24BATCH", resourcePath{version: "v1.0", kind: kindBatch}},
		{"POST", "/beta/$batch/", resourcePath{version: "beta", kind: kindBatch}},
		// A key that holds "/" before the history tail.
		{"GET", "/v1.0/me/activities//a/b/historyItems/x", resourcePath{version: "v1.0", kind: kindHistoryItem, key: "/a/b", itemID: "x"}},
		{"GET", "/v1.0/me/activities/a%2Fhistoryitems/historyItems", resourcePath{version: "v1.0", kind: kindHistoryItems, key: "a/historyitems"}},
	}
	for _, tc := range tests {
		got, err := parsePath(tc.method, tc.path)
		if err != nil {
			t.Errorf("parsePath(%s %q): %v", tc.method, tc.path, err)
			continue
		}
		got.escaped, got.rawKey = "", ""
		if *got != tc.want {
			t.Errorf("parsePath(%s %q) = %+v, want %+v", tc.method, tc.path, *got, tc.want)
		}
	}
}

func TestParsePath_Errors(t *testing.T) {
	tests := []struct{ method, path, code string }{
		{"GET", "/", activity.NotFound},
		{"GET", "/v2.0/me/activities", activity.NotFound},
		{"GET", "/v1.0", activity.NotFound},
		{"GET", "/v1.0/you/activities", activity.NotFound},
		{"GET", "/v1.0/me/contacts", activity.NotFound},
		{"GET", "/v1.0/me/activitiesx", activity.NotFound},
		{"GET", "/v1.0/users", activity.NotFound},
		{"GET", "/v1.0/users/", activity.NotFound},
		{"GET", "/v1.0/me/activities/%zz", activity.Invalid},
		{"GET", "/v1.0/users/%zz/activities", activity.Invalid},
		{"GET", "/v1.0/me/activities/1/historyItems/%G0", activity.Invalid},
		{"PUT", "/v1.0/me/activities/a%ffb", activity.Invalid},
		{"GET", "/v1.0/users/%C3%28/activities", activity.Invalid},
	}
	for _, tc := range tests {
		_, err := parsePath(tc.method, tc.path)
		if got := activity.ErrorCode(err); got != tc.code {
			t.Errorf("parsePath(%s %q) = %v, want code %s", tc.method, tc.path, err, tc.code)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/v1.0/me/activities//article%3F12345&run=X", "/v1.0/users/u/activities/%2Fa/historyItems/g/activity",
		"/beta/me/activities/recent%28%29", "/v1.0/me/activities/1/historyItems/$count"} {
		f.Add("GET", s)
		f.Add("PUT", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		p, err := parsePath(method, path)
		if err != nil {
			if c := activity.ErrorCode(err); c != activity.NotFound && c != activity.Invalid {
				t.Fatalf("parsePath(%q) error code %s", path, c)
			}
			return
		}
		if p.kind == 0 || (p.kind >= kindActivity && p.key == "") {
			t.Fatalf("parsePath(%q) = %+v: no kind or no key", path, p)
		}
	})
}
