package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// TestMe_Select is how the Go SDK's samples and most apps resolve the user: GET /me?$select=….
func TestMe_Select(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	r := alice.do("GET", "/v1.0/me?$select=id,displayName", nil)
	wantStatus(t, "GET /me?$select=id,displayName", r, http.StatusOK)
	got := r.json()
	if got["id"] != "alice" || got["displayName"] != "alice@example.com" || len(got) != 3 {
		t.Errorf("GET /me?$select=id,displayName = %s", r.body)
	}
	if ctx := got["@odata.context"].(string); !strings.HasSuffix(ctx, "/v1.0/$metadata#users(id,displayName)/$entity") {
		t.Errorf("@odata.context = %q", ctx)
	}
	r = alice.do("GET", "/beta/users/alice/?%24select=userPrincipalName", nil)
	if wantStatus(t, "GET /users/alice?$select", r, http.StatusOK); r.json()["userPrincipalName"] != "alice@example.com" || r.json()["id"] != nil {
		t.Errorf("GET /users/alice?$select=userPrincipalName = %s", r.body)
	}
	r = alice.do("GET", "/v1.0/me", nil)
	for _, name := range []string{"id", "displayName", "userPrincipalName", "mail", "givenName", "surname", "jobTitle", "businessPhones"} {
		if _, ok := r.json()[name]; !ok {
			t.Errorf("GET /me lacks %s: %s", name, r.body)
		}
	}
	wantError(t, "unknown property", alice.do("GET", "/v1.0/me?$select=id,shoeSize", nil), http.StatusBadRequest, "'shoeSize'")
	wantError(t, "unsupported option", alice.do("GET", "/v1.0/me?$expand=manager", nil), http.StatusBadRequest, "'$expand'")
	wantError(t, "another user", alice.do("GET", "/v1.0/users/bob?$select=id", nil), http.StatusForbidden, "bob")
}

// TestActivity_KeySpellings: an appActivityId that is itself percent-encoded text, sent the same in
// the URL and the body (a Timeline browser extension did), is one key whichever way it is named.
func TestActivity_KeySpellings(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	const sent = "https%3A__example.org_a%3Fq%3D1"
	put := "/v1.0/me/activities/" + sent
	body := activityJSON(sent)
	r := alice.do("PUT", put, body)
	wantStatus(t, "first PUT", r, http.StatusCreated)
	id := r.json()["id"].(string)
	if r.json()["appActivityId"] != sent {
		t.Errorf("appActivityId stored as %v, want %q as sent", r.json()["appActivityId"], sent)
	}
	wantStatus(t, "second PUT", alice.do("PUT", put, body), http.StatusOK)
	delete(body, "appActivityId")
	if r := alice.do("PUT", put, body); r.status != http.StatusOK || r.json()["id"] != id {
		t.Errorf("PUT without appActivityId at the same URL: %d %s, want 200 for activity %s", r.status, r.body, id)
	}
	if r := alice.do("GET", put, nil); r.status != http.StatusOK || r.json()["id"] != id {
		t.Errorf("GET by the key as sent: %d %s", r.status, r.body)
	}
	wantStatus(t, "history item under the key as sent",
		alice.do("POST", put+"/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z"}`), http.StatusCreated)
	if n := len(alice.do("GET", "/v1.0/me/activities", nil).json()["value"].([]any)); n != 1 {
		t.Errorf("%d activities, want 1", n)
	}

	// The ordinary case is unchanged: the URL segment is decoded once and names the key.
	r = alice.do("PUT", "/v1.0/me/activities/a%2Fb", activityJSON("a/b"))
	wantStatus(t, "PUT a/b", r, http.StatusCreated)
	wantStatus(t, "PUT a/b without appActivityId", alice.do("PUT", "/v1.0/me/activities/a%2Fb", body), http.StatusOK)
	wantError(t, "a body naming another key", alice.do("PUT", "/v1.0/me/activities/a%2Fb", activityJSON("a%2Fc")), http.StatusBadRequest, "differs")
	if r := alice.do("DELETE", put, nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE by the key as sent: %d %s", r.status, r.body)
	}
	wantStatus(t, "gone", alice.do("GET", "/v1.0/me/activities/"+id, nil), http.StatusNotFound)
}

// TestPath_EmptySegments: /v1.0//me/… (Python and .NET SDK regressions) works like /v1.0/me/….
func TestPath_EmptySegments(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	wantStatus(t, "PUT //me", alice.do("PUT", "/v1.0//me/activities//slash", activityJSON("/slash")), http.StatusCreated)
	r := alice.do("POST", "/v1.0//me/activities/slash-item/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z"}`)
	wantStatus(t, "unknown activity", r, http.StatusNotFound)
	wantStatus(t, "history item", alice.do("POST", "/v1.0//me/activities/%2Fslash/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z"}`), http.StatusCreated)
	r = alice.do("GET", "/v1.0//users/me-token-to-replace/activities/recent()", nil)
	if wantStatus(t, "recent", r, http.StatusOK); len(r.json()["value"].([]any)) != 1 {
		t.Errorf("recent: %s", r.body)
	}
	if r := alice.do("GET", "/beta//me//activities", nil); r.status != 200 || r.json()["value"].([]any)[0].(map[string]any)["appActivityId"] != "/slash" {
		t.Errorf("list: %d %s", r.status, r.body)
	}
}

// TestCORS: pages of the allowed origins may call the API from a browser; others may not.
func TestCORS(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	anonymous := &client{e: e}
	const origin = "https://app.example"
	preflight := func(origin, method, headers string) *response {
		t.Helper()
		return anonymous.do("OPTIONS", "/v1.0/me/activities/x", nil, "Origin", origin,
			"Access-Control-Request-Method", method, "Access-Control-Request-Headers", headers)
	}
	// None allowed by default: a preflight is answered as any unauthenticated request.
	r := preflight(origin, "PUT", "authorization,content-type")
	if r.status != http.StatusUnauthorized || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight with no origins allowed: %d %v", r.status, r.header)
	}
	e.api.AllowedOrigins = []string{origin, "http://localhost:3000"}
	r = preflight(origin, "PUT", "authorization,content-type,content-encoding,client-request-id,sdkversion")
	wantStatus(t, "preflight", r, http.StatusNoContent)
	h := r.header
	if h.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "PATCH") ||
		h.Get("Access-Control-Allow-Headers") != "authorization,content-type,content-encoding,client-request-id,sdkversion" ||
		h.Get("Access-Control-Allow-Credentials") != "" || h.Get("Access-Control-Max-Age") == "" || !slices.Contains(h.Values("Vary"), "Origin") {
		t.Errorf("preflight headers: %v", h)
	}
	r = alice.do("GET", "/v1.0/me/activities", nil, "Origin", origin)
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "request-id") {
		t.Errorf("GET from an allowed origin: %d %v", r.status, r.header)
	}
	// An error still carries the headers, so that the page can read it.
	if r := anonymous.do("GET", "/v1.0/me/activities", nil, "Origin", origin); r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("401 from an allowed origin: %d %v", r.status, r.header)
	}
	wantError(t, "preflight from another origin", preflight("https://evil.example", "PUT", "authorization"), http.StatusForbidden, "https://evil.example")
	if r := alice.do("GET", "/v1.0/me/activities", nil, "Origin", "https://evil.example"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET from another origin got %v", r.header)
	}
	wantError(t, "malformed header list", preflight(origin, "PUT", "authorization, bad header"), http.StatusBadRequest, "header names")
	e.api.AllowedOrigins = []string{"*"}
	if r := preflight("https://any.example", "POST", ""); r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://any.example" {
		t.Errorf("preflight with *: %d %v", r.status, r.header)
	}
}

// TestActivity_RoundTrip walks every property of an activity and a history item: what a client
// stores reads back as it sent it, "" as "" and null as null, through PUT, GET, a list, $expand and
// PATCH, on both stores.
func TestActivity_RoundTrip(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	optional := []string{"appDisplayName", "fallbackUrl", "contentUrl", "userTimezone",
		"visualElements.description", "visualElements.backgroundColor",
		"visualElements.attribution.iconUrl", "visualElements.attribution.alternateText", "visualElements.attribution.alternativeText"}
	set := func(body map[string]any, path string, v any) {
		parts := strings.Split(path, ".")
		m := body
		for _, p := range parts[:len(parts)-1] {
			m = m[p].(map[string]any)
		}
		m[parts[len(parts)-1]] = v
	}
	get := func(body map[string]any, path string) (any, bool) {
		parts := strings.Split(path, ".")
		m := body
		for _, p := range parts[:len(parts)-1] {
			m = m[p].(map[string]any)
		}
		v, ok := m[parts[len(parts)-1]]
		return v, ok
	}
	for i, prop := range optional {
		for _, sent := range []any{"", nil, "x"} {
			key := fmt.Sprintf("rt-%d-%v", i, sent)
			body := activityJSON(key)
			set(body, prop, sent)
			body["historyItems"] = []any{map[string]any{"startedDateTime": "2026-11-27T10:00:00Z", "userTimezone": sent}}
			check := func(how string, a map[string]any) {
				t.Helper()
				got, ok := get(a, prop)
				if !ok && sent == nil && strings.HasSuffix(prop, "alternativeText") {
					ok = true // the 2017 name is written only when sent
				}
				if !ok || got != sent {
					t.Errorf("%s %s sent as %#v: read back %#v (present %v)", how, prop, sent, got, ok)
				}
			}
			r := alice.do("PUT", "/v1.0/me/activities/"+key, body)
			wantStatus(t, "PUT "+key, r, http.StatusCreated)
			check("PUT", r.json())
			id := r.json()["id"].(string)
			r = alice.do("GET", "/v1.0/me/activities/"+id+"?$expand=historyItems", nil)
			check("GET", r.json())
			if got := r.json()["historyItems"].([]any)[0].(map[string]any)["userTimezone"]; got != sent {
				t.Errorf("history item userTimezone sent as %#v: read back %#v", sent, got)
			}
			// PATCH another property keeps it; PATCH of the property itself sets it.
			patched := alice.do("PATCH", "/v1.0/me/activities/"+id, map[string]any{"activationUrl": "https://x.example/" + key})
			check("PATCH of another property", patched.json())
			if !strings.Contains(prop, ".") {
				r = alice.do("PATCH", "/v1.0/me/activities/"+id, map[string]any{prop: sent})
				check("PATCH", r.json())
			}
		}
	}
	r := alice.do("GET", "/v1.0/me/activities?$top=100", nil, "Prefer", "odata.maxpagesize=100")
	for _, v := range r.json()["value"].([]any) {
		a := v.(map[string]any)
		var i int
		var sent string
		if _, err := fmt.Sscanf(a["appActivityId"].(string), "rt-%d-%s", &i, &sent); err != nil {
			continue
		}
		want := map[string]any{"": "", "<nil>": nil, "x": "x"}[sent]
		if got, _ := get(a, optional[i]); got != want {
			t.Errorf("list: %s of %s = %#v, want %#v", optional[i], a["appActivityId"], got, want)
		}
	}
	// A history item PATCH keeps "" too.
	item := alice.do("POST", "/v1.0/me/activities/rt-0-x/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z","userTimezone":""}`)
	wantStatus(t, "POST item", item, http.StatusCreated)
	url := "/v1.0/me/activities/rt-0-x/historyItems/" + item.json()["id"].(string)
	if r := alice.do("PATCH", url, `{"activeDurationSeconds":5}`); r.json()["userTimezone"] != "" {
		t.Errorf("history item PATCH lost userTimezone \"\": %s", r.body)
	}
	if r := alice.do("PATCH", url, `{"userTimezone":null}`); r.json()["userTimezone"] != nil {
		t.Errorf("history item PATCH to null: %s", r.body)
	}
}

// TestUsers_SameUser: /users/{id} names the caller by object id or by sign-in name under PRECIS
// (RFC 8265): case and width differences are one name, other look-alikes are not.
func TestUsers_SameUser(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	for _, u := range []string{"alice", "ALICE%40example.com", "%EF%BC%A1lice%40example.com" /* fullwidth A */, "me-token-to-replace"} {
		wantStatus(t, "/users/"+u, alice.do("GET", "/v1.0/users/"+u+"/activities", nil), http.StatusOK)
	}
	for _, u := range []string{"Alice" /* an oid is compared exactly */, "alice%40example.com%20", "a%C3%9Fice%40example.com", "alice%E2%80%8B%40example.com" /* zero-width space */} {
		wantStatus(t, "/users/"+u, alice.do("GET", "/v1.0/users/"+u+"/activities", nil), http.StatusForbidden)
	}
	guid := "6f0c8a0e-3b1a-4c2d-9e8f-0a1b2c3d4e5f"
	byOID := e.as(guid, "notes")
	wantStatus(t, "an oid GUID in upper case", byOID.do("GET", "/v1.0/users/"+strings.ToUpper(guid)+"/activities", nil), http.StatusOK)
}

// refusingWebhooks fails every handshake: a valid subscription body then reaches it, and the 400
// says so.
type refusingWebhooks struct{}

func (refusingWebhooks) Validate(context.Context, string) error {
	return activity.Errorf(activity.Invalid, "handshake refused in this test")
}

// TestSubscriptions_Refusals: what a subscription body gets wrong is a 400 naming it, before any
// handshake; a valid body reaches the handshake.
func TestSubscriptions_Refusals(t *testing.T) {
	e := newEnv(t)
	e.api.Webhooks = refusingWebhooks{}
	alice := e.as("alice", "notes")
	body := func(extra map[string]any) map[string]any {
		b := map[string]any{"changeType": "created", "notificationUrl": "https://hooks.example/x", "resource": "me/activities",
			"expirationDateTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
		for k, v := range extra {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	tests := []struct {
		name    string
		extra   map[string]any
		mention string
	}{
		{"NoExpiry", map[string]any{"expirationDateTime": nil}, "'expirationDateTime' is required"},
		{"IDNotString", map[string]any{"id": map[string]any{"x": 1}}, "'id' must be a string"},
		{"UserInfo", map[string]any{"notificationUrl": "https://user@hooks.example/x"}, "user name or password"},
		{"OtherUser", map[string]any{"resource": "users/bob/activities"}, "users/bob/activities"},
		{"RichNotifications", map[string]any{"includeResourceData": true}, "includeResourceData"},
	}
	for _, tc := range tests {
		wantError(t, tc.name, alice.do("POST", "/v1.0/subscriptions", body(tc.extra)), http.StatusBadRequest, tc.mention)
	}
	for _, resource := range []string{"me/activities", "/users/alice/activities", "users/alice@example.com/activities"} {
		wantError(t, "resource "+resource, alice.do("POST", "/v1.0/subscriptions", body(map[string]any{"resource": resource})), http.StatusBadRequest, "handshake refused")
	}
	wantError(t, "an empty $deltatoken", alice.do("GET", "/v1.0/me/activities/delta?$deltatoken=", nil), http.StatusBadRequest, "empty")
	wantError(t, "an empty $skiptoken", alice.do("GET", "/v1.0/me/activities?$skiptoken=", nil), http.StatusBadRequest, "empty")
	wantError(t, "both tokens", alice.do("GET", "/v1.0/me/activities/delta?$deltatoken=latest&$skiptoken=abc", nil), http.StatusBadRequest, "exclude")
}
