package graph_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// pageThrough follows nextLinks from path and returns every item's appActivityId (or id) in order
// and the number of pages.
func pageThrough(t *testing.T, c *client, path string, headers ...string) ([]string, int) {
	t.Helper()
	var got []string
	pages := 0
	for link := path; link != ""; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		r := c.do("GET", link, nil, headers...)
		wantStatus(t, "GET "+link, r, http.StatusOK)
		body := r.json()
		value, ok := body["value"].([]any)
		if !ok {
			t.Fatalf("page without a value array: %s", r.body)
		}
		for _, v := range value {
			m := v.(map[string]any)
			if k, ok := m["appActivityId"].(string); ok {
				got = append(got, k)
			} else {
				got = append(got, m["id"].(string))
			}
		}
		next, present := body["@odata.nextLink"]
		if present {
			link = next.(string)
			if !strings.HasPrefix(link, c.e.srv.URL+"/") {
				t.Fatalf("nextLink %q is not absolute on %s", link, c.e.srv.URL)
			}
			tok := link[strings.Index(link, "$skiptoken=")+len("$skiptoken="):]
			if strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~") != "" {
				t.Fatalf("skiptoken %q has characters outside the unreserved set", tok)
			}
			// Headers are not resent when following a link, as the SDK's page iterator does.
			headers = nil
		} else {
			link = ""
		}
	}
	return got, pages
}

func TestList_Paging(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	got, pages := pageThrough(t, alice, "/v1.0/me/activities")
	if len(got) != 0 || pages != 1 {
		t.Fatalf("empty list: %v in %d pages", got, pages)
	}
	const n = 25
	for i := range n {
		wantStatus(t, "POST", alice.do("POST", "/v1.0/me/activities", activityJSON(fmt.Sprintf("doc-%02d", i))), http.StatusCreated)
	}
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("doc-%02d", n-1-i) // newest first
	}
	tests := []struct {
		name, path string
		headers    []string
		want       []string
		pages      int
	}{
		{"DefaultPageSize", "/v1.0/me/activities", nil, want, 2},
		{"MaxPageSize", "/v1.0/me/activities", []string{"Prefer", "odata.maxpagesize=10"}, want, 3},
		{"Top", "/v1.0/me/activities?$top=5", nil, want[:5], 1},
		{"TopAcrossPages", "/v1.0/me/activities?$top=15", []string{"Prefer", "odata.maxpagesize=4"}, want[:15], 4},
		{"TopCaseInsensitive", "/v1.0/me/activities?$TOP=3", nil, want[:3], 1},
		{"EncodedNames", "/v1.0/me/activities?%24top=2", nil, want[:2], 1},
		{"Recent", "/v1.0/me/activities/recent", nil, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, pages := pageThrough(t, alice, tc.path, tc.headers...)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || pages != tc.pages {
				t.Errorf("got %v in %d pages, want %v in %d", got, pages, tc.want, tc.pages)
			}
		})
	}
	t.Run("PreferenceApplied", func(t *testing.T) {
		r := alice.do("GET", "/v1.0/me/activities", nil, "Prefer", "odata.maxpagesize=7")
		if r.header.Get("Preference-Applied") != "odata.maxpagesize=7" || len(r.json()["value"].([]any)) != 7 {
			t.Errorf("Preference-Applied %q, %d items", r.header.Get("Preference-Applied"), len(r.json()["value"].([]any)))
		}
		next := r.json()["@odata.nextLink"].(string)
		// The JavaScript client spells it $skipToken.
		camel := strings.Replace(next, "$skiptoken=", "$skipToken=", 1)
		r = alice.do("GET", camel, nil)
		if v := r.json()["value"].([]any); len(v) != 7 || v[0].(map[string]any)["appActivityId"] != want[7] {
			t.Errorf("$skipToken page: %s", r.body)
		}
	})
	t.Run("Filter", func(t *testing.T) {
		all := alice.do("GET", "/v1.0/me/activities", nil, "Prefer", "odata.maxpagesize=100").json()["value"].([]any)
		pivot := all[10].(map[string]any)["lastModifiedDateTime"].(string)
		for _, op := range []string{"lt", "le", "gt", "ge"} {
			f := url.PathEscape("lastModifiedDateTime " + op + " " + pivot)
			got, _ := pageThrough(t, alice, "/v1.0/me/activities?$filter="+f)
			if len(got) == 0 || len(got) == n {
				t.Errorf("$filter %s %s kept %d of %d", op, pivot, len(got), n)
			}
		}
		lo, hi := all[20].(map[string]any)["lastModifiedDateTime"].(string), all[5].(map[string]any)["lastModifiedDateTime"].(string)
		f := url.PathEscape("lastModifiedDateTime ge " + lo + " and lastModifiedDateTime le " + hi)
		got, _ := pageThrough(t, alice, "/v1.0/me/activities?$filter="+f, "Prefer", "odata.maxpagesize=3")
		if len(got) < 16 {
			t.Errorf("range filter kept %d, want at least the 16 from index 5 to 20", len(got))
		}
		future := url.PathEscape("lastModifiedDateTime gt " + time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		if got, _ := pageThrough(t, alice, "/v1.0/me/activities?$filter="+future); len(got) != 0 {
			t.Errorf("future filter kept %v", got)
		}
	})
	t.Run("Select", func(t *testing.T) {
		r := alice.do("GET", "/v1.0/me/activities?$select=appActivityId,status&$top=1", nil)
		item := r.json()["value"].([]any)[0].(map[string]any)
		if len(item) != 3 || item["id"] == nil || item["status"] == nil || item["appActivityId"] == nil {
			t.Errorf("$select gave %v", item)
		}
	})
}

func TestList_QueryErrors(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	tests := []struct{ path, mention string }{
		{"/v1.0/me/activities?$orderby=lastModifiedDateTime", "$orderby"},
		{"/v1.0/me/activities?$skip=5", "$skip"},
		{"/v1.0/me/activities?$search=%22%22", "$search"},
		{"/v1.0/me/activities/recent?$search=knot", "$search"},
		{"/v1.0/me/activities?$search=knot&$count=true", "$count"},
		{"/v1.0/me/activities?$top=0", "$top"},
		{"/v1.0/me/activities?$top=x", "$top"},
		{"/v1.0/me/activities?$top=1&$top=2", "more than once"},
		{"/v1.0/me/activities?$filter=appDisplayName%20eq%202026-01-01T00:00:00Z", "'appDisplayName'"},
		{"/v1.0/me/activities?$filter=lastModifiedDateTime%20gt%20yesterday", "$filter"},
		{"/v1.0/me/activities?$filter=lastModifiedDateTime%20ne%202026-01-01T00:00:00Z", "'ne'"},
		{"/v1.0/me/activities?$select=color", "'color'"},
		{"/v1.0/me/activities?$expand=activity", "historyItems"},
		{"/v1.0/me/activities?$expand=historyItems($top=1)", "$top"},
		{"/v1.0/me/activities?$skiptoken=garbage", "$skiptoken"},
		{"/v1.0/me/activities?$skiptoken=%zz", "percent-encoded"},
		{"/v1.0/me/activities?$count=maybe", "$count"},
		{"/v1.0/me/activities/recent?$count=true", "$count"},
		{"/v1.0/me/activities/1?$top=1", "$top"},
		{"/v1.0/me/activities/$count?$top=1", "$top"},
	}
	for _, tc := range tests {
		r := alice.do("GET", tc.path, nil)
		wantError(t, tc.path, r, http.StatusBadRequest, tc.mention)
	}
	// A skiptoken of one list does not work on another.
	for i := range 3 {
		alice.do("POST", "/v1.0/me/activities", activityJSON(fmt.Sprint(i)))
	}
	next := alice.do("GET", "/v1.0/me/activities", nil, "Prefer", "odata.maxpagesize=1").json()["@odata.nextLink"].(string)
	tok := next[strings.Index(next, "$skiptoken="):]
	wantError(t, "foreign skiptoken", alice.do("GET", "/v1.0/me/activities/recent?"+tok, nil), http.StatusBadRequest, "another list")
}

func TestList_Recent(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	ids := map[string]string{}
	for _, k := range []string{"a", "b", "c", "unused"} {
		ids[k] = alice.do("PUT", "/v1.0/me/activities/"+k, activityJSON(k)).json()["id"].(string)
	}
	for _, k := range []string{"b", "a", "c", "b"} {
		r := alice.do("POST", "/v1.0/me/activities/"+ids[k]+"/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z"}`)
		wantStatus(t, "POST history item", r, http.StatusCreated)
		time.Sleep(2 * time.Millisecond)
	}
	for _, spelling := range []string{"recent", "recent()", "recent%28%29", "microsoft.graph.recent", "microsoft.graph.recent()"} {
		got, _ := pageThrough(t, alice, "/v1.0/me/activities/"+spelling, "Prefer", "odata.maxpagesize=2")
		if strings.Join(got, ",") != "b,c,a" {
			t.Errorf("%s = %v, want [b c a]", spelling, got)
		}
	}
	r := alice.do("GET", "/v1.0/me/activities/recent?$expand=historyItems", nil)
	first := r.json()["value"].([]any)[0].(map[string]any)
	if items := first["historyItems"].([]any); len(items) != 2 {
		t.Errorf("recent with $expand: %d items on b, want 2", len(items))
	}
}

// TestList_Search: $search finds activities by the words of their display text and description,
// only the caller's app's, ranked, paged with nextLinks; hostile input is an empty page.
func TestList_Search(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	for i, text := range []string{"Sailing basics", "Reef knot", "Bowline", "Reef knot again"} {
		a := activityJSON(fmt.Sprintf("doc-%d", i))
		a["visualElements"].(map[string]any)["displayText"] = text
		a["visualElements"].(map[string]any)["description"] = "notes " + strings.ToLower(text)
		wantStatus(t, "POST", alice.do("POST", "/v1.0/me/activities", a), http.StatusCreated)
	}
	other := activityJSON("other")
	other["visualElements"].(map[string]any)["displayText"] = "Reef knot of another app"
	wantStatus(t, "POST", e.as("alice", "music").do("POST", "/v1.0/me/activities", other), http.StatusCreated)

	got, pages := pageThrough(t, alice, `/v1.0/me/activities?$search=%22reef%20knot%22`, "Prefer", "odata.maxpagesize=1")
	slices.Sort(got)
	if strings.Join(got, ",") != "doc-1,doc-3" || pages != 2 {
		t.Errorf("$search=\"reef knot\" = %v in %d pages, want doc-1 and doc-3 in 2", got, pages)
	}
	for _, search := range []string{"kayak", "%22)%20OR%201%3D1%20--%22", "NEAR(reef%2C%20knot)", "%26%7C!%3A*"} {
		r := alice.do("GET", "/v1.0/me/activities?$search="+search, nil)
		wantStatus(t, search, r, http.StatusOK)
		if n := len(r.json()["value"].([]any)); n != 0 {
			t.Errorf("$search=%s found %d", search, n)
		}
	}
}
