package graph_test

import (
	"net/http"
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
