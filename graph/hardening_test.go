package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/activityd/activityd"
)

// TestPublicIDs: the ids clients see are not the stored ones (SQLite's stored ids carry the creation
// second and a hash of the owner), yet every route takes them, and a stored id names nothing.
func TestPublicIDs(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	var public []string
	for _, k := range []string{"one", "two", "three"} {
		r := alice.do("PUT", "/v1.0/me/activities/"+k, activityJSON(k))
		wantStatus(t, "PUT "+k, r, http.StatusCreated)
		id := r.json()["id"].(string)
		public = append(public, id)
		if !strings.HasSuffix(r.header.Get("Location"), "/me/activities/"+id) {
			t.Errorf("Location %q does not name the public id %s", r.header.Get("Location"), id)
		}
		a, err := e.store.FindActivity(t.Context(), activity.Principal{TenantID: testIssuer, UserID: "alice", AppID: "notes"}, activity.Ref{AppActivityID: k})
		if err != nil {
			t.Fatal(err)
		}
		if a.IDString() == id {
			t.Errorf("activity %s: the public id is the stored id %s", k, id)
		}
		wantStatus(t, "GET by the stored id", alice.do("GET", "/v1.0/me/activities/"+a.IDString(), nil), http.StatusNotFound)
		if r := alice.do("GET", "/v1.0/me/activities/"+id, nil); r.status != 200 || r.json()["appActivityId"] != k {
			t.Errorf("GET by the public id: %d %s", r.status, r.body)
		}
		item := alice.do("POST", "/v1.0/me/activities/"+id+"/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z"}`)
		wantStatus(t, "POST item", item, http.StatusCreated)
		back := alice.do("GET", "/v1.0/me/activities/"+id+"/historyItems/"+item.json()["id"].(string)+"/activity", nil)
		if back.status != 200 || back.json()["id"] != id {
			t.Errorf("the item's activity: %d %s, want id %s", back.status, back.body, id)
		}
	}
	if public[0][:4] == public[1][:4] && public[1][:4] == public[2][:4] {
		t.Errorf("public ids made one after another share their leading digits: %v", public)
	}
	// Paging carries public ids only, and still walks every activity once.
	seen := map[string]bool{}
	next := "/v1.0/me/activities"
	for next != "" {
		r := alice.do("GET", next, nil, "Prefer", "odata.maxpagesize=1")
		for _, v := range r.json()["value"].([]any) {
			seen[v.(map[string]any)["id"].(string)] = true
		}
		next, _ = r.json()["@odata.nextLink"].(string)
	}
	for _, id := range public {
		if !seen[id] {
			t.Errorf("paging missed %s: %v", id, seen)
		}
	}
}

// TestSkipToken_Forged: a nextLink whose token was altered is refused, not trusted.
func TestSkipToken_Forged(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	for _, k := range []string{"a", "b", "c"} {
		alice.do("PUT", "/v1.0/me/activities/"+k, activityJSON(k))
	}
	r := alice.do("GET", "/v1.0/me/activities", nil, "Prefer", "odata.maxpagesize=1")
	next := r.json()["@odata.nextLink"].(string)
	i := strings.Index(next, "$skiptoken=") + len("$skiptoken=") + 3
	c := byte('A')
	if next[i] == 'A' {
		c = 'B'
	}
	forged := next[:i] + string(c) + next[i+1:]
	wantError(t, "forged token", alice.do("GET", forged, nil), http.StatusBadRequest, "$skiptoken")
	wantStatus(t, "the real token", alice.do("GET", next, nil), http.StatusOK)
}

// TestExpand_Bounded: $expand=historyItems gives each activity at most MaxExpandItems items, with a
// historyItems@odata.nextLink to the rest, and an expanded page holds at most MaxExpandItemsPerPage.
func TestExpand_Bounded(t *testing.T) {
	e := newEnv(t)
	e.api.MaxExpandItems, e.api.MaxExpandItemsPerPage = 3, 7 // pages of 2 activities
	alice := e.as("alice", "notes")
	var items []any
	for i := range 8 {
		items = append(items, map[string]any{"id": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "startedDateTime": "2026-11-27T10:00:00Z"})
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		body := activityJSON(k)
		body["historyItems"] = items
		wantStatus(t, "PUT "+k, alice.do("PUT", "/v1.0/me/activities/"+k, body), http.StatusCreated)
	}
	seen := map[string]int{}
	next := "/v1.0/me/activities?$expand=historyItems"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		r := alice.do("GET", next, nil, "Prefer", "odata.maxpagesize=100")
		wantStatus(t, "GET "+next, r, http.StatusOK)
		value := r.json()["value"].([]any)
		if len(value) > 2 {
			t.Errorf("an expanded page of %d activities, want at most 7/3 = 2", len(value))
		}
		for _, v := range value {
			a := v.(map[string]any)
			got := a["historyItems"].([]any)
			if len(got) != 3 {
				t.Errorf("activity %v: %d expanded items, want 3", a["appActivityId"], len(got))
			}
			// The rest of the activity's items, through its nextLink.
			itemsNext, _ := a["historyItems@odata.nextLink"].(string)
			if itemsNext == "" {
				t.Fatalf("activity %v: no historyItems@odata.nextLink: %v", a["appActivityId"], a)
			}
			n := len(got)
			for itemsNext != "" {
				r := alice.do("GET", itemsNext, nil)
				wantStatus(t, "items nextLink", r, http.StatusOK)
				n += len(r.json()["value"].([]any))
				itemsNext, _ = r.json()["@odata.nextLink"].(string)
			}
			seen[a["appActivityId"].(string)] = n
		}
		next, _ = r.json()["@odata.nextLink"].(string)
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if seen[k] != 8 {
			t.Errorf("activity %s: %d items reached, want 8", k, seen[k])
		}
	}
	// The nextLink keeps the $expand's filter.
	r := alice.do("GET", "/v1.0/me/activities/a?$expand=historyItems($filter=lastModifiedDateTime%20ge%202000-01-01T00:00:00Z)", nil)
	if link, _ := r.json()["historyItems@odata.nextLink"].(string); !strings.Contains(link, "$filter=lastModifiedDateTime%20ge%202000-01-01T00%3A00%3A00Z&") {
		t.Errorf("items nextLink %q lost the $filter", link)
	}
}

// TestPage_Bytes: a page of large activities ends early, with a nextLink, at MaxPageBytes.
func TestPage_Bytes(t *testing.T) {
	e := newEnv(t)
	e.api.MaxPageBytes = 100 << 10
	alice := e.as("alice", "notes")
	for i := range 6 {
		body := activityJSON(fmt.Sprint(i))
		body["contentInfo"] = map[string]any{"text": strings.Repeat("x", 40<<10)}
		alice.do("PUT", "/v1.0/me/activities/"+fmt.Sprint(i), body)
	}
	total, next := 0, "/v1.0/me/activities"
	for next != "" {
		r := alice.do("GET", next, nil, "Prefer", "odata.maxpagesize=1000")
		n := len(r.json()["value"].([]any))
		if n > 3 {
			t.Errorf("a page of %d activities of 40 KB past a budget of 100 KB", n)
		}
		total += n
		next, _ = r.json()["@odata.nextLink"].(string)
	}
	if total != 6 {
		t.Errorf("%d activities reached, want 6", total)
	}
}

// TestHistoryItems_Bounded: an activity holds at most the service's MaxHistoryItems.
func TestHistoryItems_Bounded(t *testing.T) {
	e := newEnv(t)
	e.service.MaxHistoryItems = 2
	alice := e.as("alice", "notes")
	alice.do("PUT", "/v1.0/me/activities/a", activityJSON("a"))
	for range 2 {
		wantStatus(t, "item", alice.do("POST", "/v1.0/me/activities/a/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z"}`), http.StatusCreated)
	}
	wantError(t, "third item", alice.do("POST", "/v1.0/me/activities/a/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z"}`),
		http.StatusBadRequest, "most history items allowed (2)")
}

// TestNUL: U+0000 is refused alike by both stores (PostgreSQL's text cannot hold it), in the body and
// in the URL, with a 400 naming where it is; inside free-form JSON its escape is kept.
func TestNUL(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	for _, prop := range []string{"appDisplayName", "activationUrl", "fallbackUrl", "userTimezone"} {
		body := activityJSON("nul")
		body[prop] = "a\x00b"
		wantError(t, prop, alice.do("PUT", "/v1.0/me/activities/nul", body), http.StatusBadRequest, "'"+prop+"' holds the character U+0000")
	}
	body := activityJSON("nul")
	body["visualElements"].(map[string]any)["description"] = "a\x00b"
	wantError(t, "description", alice.do("PUT", "/v1.0/me/activities/nul", body), http.StatusBadRequest, "visualElements.description")
	wantError(t, "appActivityId in the URL", alice.do("PUT", "/v1.0/me/activities/a%00b", activityJSON("a\x00b")), http.StatusBadRequest, "U+0000")
	wantError(t, "key of a GET", alice.do("GET", "/v1.0/me/activities/a%00b", nil), http.StatusBadRequest, "U+0000")
	wantError(t, "history item", alice.do("POST", "/v1.0/me/activities/x/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z","userTimezone":"a\u0000"}`),
		http.StatusBadRequest, "U+0000")
	body = activityJSON("escaped")
	body["contentInfo"] = map[string]any{"text": "a\x00b"} // encoded as "a\u0000b": JSON text, kept
	r := alice.do("PUT", "/v1.0/me/activities/escaped", body)
	wantStatus(t, "\\u0000 inside contentInfo", r, http.StatusCreated)
	if got := r.json()["contentInfo"].(map[string]any)["text"]; got != "a\x00b" {
		t.Errorf("contentInfo.text = %q", got)
	}
}

// TestLog_BatchAndHangUp: a $batch step's log line names its batch; a request whose client went
// away is not logged as an error.
func TestLog_BatchAndHangUp(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	r := alice.do("POST", "/v1.0/$batch", `{"requests":[{"id":"1","method":"GET","url":"/me/activities"}]}`)
	batchID := r.header.Get("request-id")
	var stepLine string
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, "route=activities") {
			stepLine = line
		}
	}
	if !strings.Contains(stepLine, "batch_request_id="+batchID) {
		t.Errorf("the step's log line %q does not name its batch %s", stepLine, batchID)
	}
	// A client that hung up: its request's context is done before the store is asked.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/v1.0/me/activities", nil)
	req.Header.Set("Authorization", "Bearer "+alice.token)
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("a request whose client went away: %d %s, want the store's failure", rec.Code, rec.Body)
	}
	if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("a client hanging up was logged as an error:\n%s", logs)
	}
	if !strings.Contains(e.logs.String(), "client_gone=true") {
		t.Errorf("the hang-up is not in the request log:\n%s", e.logs.String())
	}
}
