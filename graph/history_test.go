package graph_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestHistoryItem_Lifecycle(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	id := alice.do("PUT", "/v1.0/me/activities/doc", activityJSON("doc")).json()["id"].(string)
	base := "/v1.0/me/activities/" + id + "/historyItems/"
	const g = "9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c"

	// The docs' example: 7 fractional digits and an offset in, UTC with Z out, duration computed.
	r := alice.do("PUT", base+g, `{"startedDateTime":"2015-02-11T20:54:04.3457274+00:00","lastActiveDateTime":"2015-02-11T20:54:24.3457274+00:00","userTimezone":"Africa/Casablanca"}`)
	wantStatus(t, "PUT item", r, http.StatusCreated)
	h := r.json()
	if h["id"] != g || h["activeDurationSeconds"] != float64(20) || h["startedDateTime"] != "2015-02-11T20:54:04.345727Z" || h["status"] != "active" {
		t.Errorf("PUT item: %s", r.body)
	}
	r = alice.do("PUT", base+strings.ToUpper(g), `{"startedDateTime":"2015-02-11T20:54:04Z","lastActiveDateTime":"2015-02-11T20:55:04Z"}`)
	wantStatus(t, "PUT item again (upper-case GUID)", r, http.StatusOK)
	if r.json()["activeDurationSeconds"] != float64(60) || r.json()["status"] != "updated" || r.json()["createdDateTime"] != h["createdDateTime"] {
		t.Errorf("replace: %s", r.body)
	}
	r = alice.do("PATCH", base+g, `{"activeDurationSeconds":5}`)
	wantStatus(t, "PATCH item", r, http.StatusOK)
	if r.json()["activeDurationSeconds"] != float64(5) || r.json()["startedDateTime"] != "2015-02-11T20:54:04Z" {
		t.Errorf("PATCH: %s", r.body)
	}
	r = alice.do("POST", "/v1.0/me/activities/doc/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z"}`)
	wantStatus(t, "POST item", r, http.StatusCreated)
	posted := r.json()
	if posted["activeDurationSeconds"] != nil || posted["lastActiveDateTime"] != nil {
		t.Errorf("an ongoing session has a duration: %s", r.body)
	}
	second := posted["id"].(string)

	r = alice.do("GET", base+g, nil)
	wantStatus(t, "GET item", r, http.StatusOK)
	r = alice.do("GET", base+g+"/activity", nil)
	if r.status != 200 || r.json()["id"] != id {
		t.Errorf("GET item/activity: %d %s", r.status, r.body)
	}
	got, _ := pageThrough(t, alice, "/v1.0/me/activities/"+id+"/historyItems", "Prefer", "odata.maxpagesize=1")
	if len(got) != 2 || got[0] != second {
		t.Errorf("history list = %v, want [%s %s]", got, second, g)
	}
	r = alice.do("GET", "/v1.0/me/activities/"+id+"/historyItems/$count", nil)
	if string(r.body) != "2" {
		t.Errorf("historyItems/$count = %q", r.body)
	}
	f := url.PathEscape("lastModifiedDateTime gt 2020-01-01T00:00:00Z")
	r = alice.do("GET", "/v1.0/me/activities?$expand=historyItems($filter="+f+")", nil)
	if items := r.json()["value"].([]any)[0].(map[string]any)["historyItems"].([]any); len(items) != 2 {
		t.Errorf("$expand with $filter: %d items", len(items))
	}
	f = url.PathEscape("lastModifiedDateTime lt 2020-01-01T00:00:00Z")
	r = alice.do("GET", "/v1.0/me/activities/"+id+"?$expand=historyItems($filter="+f+")", nil)
	if items := r.json()["historyItems"].([]any); len(items) != 0 {
		t.Errorf("$expand with an excluding $filter: %d items", len(items))
	}

	wantStatus(t, "DELETE item", alice.do("DELETE", base+g, nil), http.StatusNoContent)
	wantStatus(t, "GET deleted item", alice.do("GET", base+g, nil), http.StatusNotFound)
	wantStatus(t, "DELETE activity", alice.do("DELETE", "/v1.0/me/activities/"+id, nil), http.StatusNoContent)
	wantStatus(t, "item of a deleted activity", alice.do("GET", base+second, nil), http.StatusNotFound)
}

func TestHistoryItem_DeepInsert(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	body := activityJSON("deep")
	body["historyItems"] = []any{
		map[string]any{"userTimezone": "Africa/Casablanca", "startedDateTime": "2018-02-26T20:54:04.3457274+00:00",
			"lastActiveDateTime": "2018-02-26T20:54:24.3457274+00:00"},
		map[string]any{"id": "5f9d1f0e-6d0c-4a4b-8c58-0f36c3a6a7a1", "startedDateTime": "2018-02-26T21:00:00Z"},
	}
	r := alice.do("PUT", "/v1.0/me/activities/deep", body)
	wantStatus(t, "deep insert", r, http.StatusCreated)
	items := r.json()["historyItems"].([]any)
	if len(items) != 2 {
		t.Fatalf("deep insert answered %d items: %s", len(items), r.body)
	}
	first := items[0].(map[string]any)
	if first["activeDurationSeconds"] != float64(20) || len(first["id"].(string)) != 36 || first["status"] != "active" {
		t.Errorf("deep-inserted item: %v", first)
	}
	if items[1].(map[string]any)["id"] != "5f9d1f0e-6d0c-4a4b-8c58-0f36c3a6a7a1" {
		t.Errorf("client id not kept: %v", items[1])
	}
	r = alice.do("PATCH", "/v1.0/me/activities/deep", `{"historyItems":[]}`)
	wantError(t, "PATCH historyItems", r, http.StatusBadRequest, "historyItems")
}

func TestHistoryItem_Errors(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	id := alice.do("PUT", "/v1.0/me/activities/doc", activityJSON("doc")).json()["id"].(string)
	base := "/v1.0/me/activities/" + id + "/historyItems/"
	const g = "9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c"
	tests := []struct {
		method, path, body string
		status             int
		mention            string
	}{
		{"PUT", base + "not-a-guid", `{"startedDateTime":"2026-11-27T10:00:00Z"}`, 400, "not a GUID"},
		{"PUT", base + g, `{}`, 400, "startedDateTime"},
		{"PUT", base + g, `{"startedDateTime":"2026-11-27T10:00:00Z","lastActiveDateTime":"2026-11-27T09:00:00Z"}`, 400, "earlier"},
		{"PUT", base + g, `{"startedDateTime":"2026-11-27T10:00:00Z","activeDurationSeconds":-1}`, 400, "negative"},
		{"PUT", base + g, `{"startedDateTime":"2026-11-27T10:00:00Z","activeDurationSeconds":1.5}`, 400, "whole number"},
		{"PUT", base + g, `{"startedDateTime":"2026-11-27T10:00:00Z","activeDurationSeconds":"5"}`, 400, "must be a number"},
		{"PUT", base + g, `{"startedDateTime":"2026-11-27T10:00:00Z","id":"5f9d1f0e-6d0c-4a4b-8c58-0f36c3a6a7a1"}`, 400, "differs"},
		{"PUT", base + g, `{"startedDateTime":"2026-11-27T10:00:00Z","activity":{}}`, 400, "activity"},
		{"PUT", base + g, `{"startedDateTime":"2026-11-27T10:00:00Z","startedDateTime":"2026-11-27T10:00:00Z"}`, 400, "more than once"},
		{"PUT", "/v1.0/me/activities/missing/historyItems/" + g, `{"startedDateTime":"2026-11-27T10:00:00Z"}`, 404, "missing"},
		{"GET", base + g, "", 404, g},
		{"PATCH", base + g, `{"userTimezone":"UTC"}`, 404, g},
		{"DELETE", base + g, "", 404, g},
		{"GET", base + "nope", "", 400, "not a GUID"},
	}
	for _, tc := range tests {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		r := alice.do(tc.method, tc.path, body)
		wantError(t, tc.method+" "+tc.path+" "+tc.body, r, tc.status, tc.mention)
	}
}
