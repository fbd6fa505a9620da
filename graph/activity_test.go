package graph_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestActivity_Lifecycle(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")

	r := alice.do("PUT", "/v1.0/me/activities/%2Farticle%3F12345", activityJSON("/article?12345"))
	wantStatus(t, "PUT create", r, http.StatusCreated)
	created := r.json()
	id := created["id"].(string)
	if created["status"] != "active" || created["appActivityId"] != "/article?12345" || r.header.Get("Location") == "" {
		t.Errorf("PUT create body: %s", r.body)
	}
	for _, k := range []string{"createdDateTime", "lastModifiedDateTime", "expirationDateTime"} {
		if v, _ := created[k].(string); !strings.HasSuffix(v, "Z") {
			t.Errorf("%s = %q, want a UTC time with Z", k, v)
		}
	}
	// contentInfo and visualElements.content come back as sent.
	var sent map[string]json.RawMessage
	b, _ := json.Marshal(activityJSON("x"))
	json.Unmarshal(b, &sent)
	var got map[string]json.RawMessage
	json.Unmarshal(r.body, &got)
	if string(got["contentInfo"]) != string(sent["contentInfo"]) {
		t.Errorf("contentInfo = %s, want %s", got["contentInfo"], sent["contentInfo"])
	}

	r = alice.do("PUT", "/v1.0/me/activities/%2Farticle%3F12345", activityJSON("/article?12345"))
	wantStatus(t, "PUT replace", r, http.StatusOK)
	if r.json()["id"] != id || r.json()["status"] != "updated" || r.json()["createdDateTime"] != created["createdDateTime"] {
		t.Errorf("PUT replace changed id or createdDateTime, or status is not updated: %s", r.body)
	}
	// The SDK's other encoding of the same key, and the body's appActivityId may be left out.
	body := activityJSON("")
	delete(body, "appActivityId")
	r = alice.do("PUT", "/v1.0/me/activities//article%3F12345", body)
	wantStatus(t, "PUT //key", r, http.StatusOK)
	r = alice.do("PUT", "/v1.0/users/alice/activities/%2Farticle%3F12345", body)
	wantStatus(t, "PUT /users/alice/…", r, http.StatusOK)
	if r.json()["id"] != id {
		t.Errorf("the three spellings of one key made different activities")
	}

	for _, path := range []string{"/v1.0/me/activities/" + id, "/beta/me/activities/%2Farticle%3F12345", "/v1.0/me/activities/" + id + "/"} {
		r = alice.do("GET", path, nil)
		wantStatus(t, "GET "+path, r, http.StatusOK)
		if r.json()["id"] != id {
			t.Errorf("GET %s = %s", path, r.body)
		}
	}

	r = alice.do("PATCH", "/v1.0/me/activities/"+id, `{"visualElements":{"displayText":"Renamed"},"appDisplayName":null}`)
	wantStatus(t, "PATCH", r, http.StatusOK)
	patched := r.json()
	if patched["visualElements"].(map[string]any)["displayText"] != "Renamed" || patched["appDisplayName"] != nil ||
		patched["activationUrl"] != "https://www.contoso.com/article?id=12345" {
		t.Errorf("PATCH result: %s", r.body)
	}
	r = alice.do("PATCH", "/v1.0/me/activities/"+id, `{"appActivityId":"other"}`)
	wantError(t, "PATCH appActivityId", r, http.StatusBadRequest, "appActivityId")

	r = alice.do("DELETE", "/v1.0/me/activities/"+id, nil)
	wantStatus(t, "DELETE", r, http.StatusNoContent)
	wantStatus(t, "GET after DELETE", alice.do("GET", "/v1.0/me/activities/"+id, nil), http.StatusNotFound)
	wantStatus(t, "DELETE again", alice.do("DELETE", "/v1.0/me/activities/"+id, nil), http.StatusNotFound)
}

func TestActivity_Seed(t *testing.T) {
	// The seed page's own example request, sent exactly as printed there.
	seed, err := os.ReadFile("testdata/seed-request.json")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	alice := e.as("alice", "notes")
	for _, path := range []string{"/beta/me/activities", "/beta/me/activities/$ref", "/v1.0/users/alice/activities/$ref"} {
		r := alice.do("POST", path, string(seed))
		if r.status != http.StatusCreated && r.status != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, r.status, r.body)
		}
		a := r.json()
		at := a["visualElements"].(map[string]any)["attribution"].(map[string]any)
		if a["appActivityId"] != "App Activity Id value" || at["alternativeText"] != "Alternative Text value" ||
			at["alternateText"] != "Alternate Text value" || a["status"] == "String" {
			t.Errorf("POST %s: %s", path, r.body)
		}
	}
	r := alice.do("POST", "/v1.0/me/activities/$ref", `{"@odata.id":"https://graph.microsoft.com/v1.0/me/activities/1"}`)
	wantError(t, "POST $ref with @odata.id", r, http.StatusBadRequest, "contained")
	// An "@odata.id" inside free-form contentInfo is the client's data, not a reference.
	r = alice.do("POST", "/v1.0/me/activities/$ref", `{"contentInfo":{"@odata.id":"x"}}`)
	wantError(t, "POST $ref with @odata.id only in contentInfo", r, http.StatusBadRequest, "'appActivityId' is required")
}

func TestActivity_Gzip(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	r := alice.do("POST", "/v1.0/me/activities", gzipped(t, activityJSON("zipped")), "Content-Encoding", "gzip")
	wantStatus(t, "gzip POST", r, http.StatusCreated)
	r = alice.do("POST", "/v1.0/me/activities", "not gzip", "Content-Encoding", "gzip")
	wantError(t, "broken gzip", r, http.StatusBadRequest, "gzip")
	r = alice.do("POST", "/v1.0/me/activities", "{}", "Content-Encoding", "br")
	wantError(t, "brotli", r, http.StatusUnsupportedMediaType, "br")
	r = alice.do("POST", "/v1.0/me/activities", "a=b", "Content-Type", "application/x-www-form-urlencoded")
	wantError(t, "form body", r, http.StatusUnsupportedMediaType, "application/x-www-form-urlencoded")
	// A gzip bomb stops at the body limit.
	bomb := gzipped(t, map[string]any{"appActivityId": strings.Repeat("A", 50<<20)})
	r = alice.do("POST", "/v1.0/me/activities", bomb, "Content-Encoding", "gzip")
	wantError(t, "gzip bomb", r, http.StatusRequestEntityTooLarge, "larger than")
	// Incompressible data just under the limit gzips to just over it: that is too large, not broken gzip.
	noise := make([]byte, 1<<20-16)
	rand.Read(noise)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(noise)
	zw.Close()
	if buf.Len() <= 1<<20 {
		t.Fatalf("the compressed noise is %d bytes, not over the limit", buf.Len())
	}
	r = alice.do("POST", "/v1.0/me/activities", buf.Bytes(), "Content-Encoding", "gzip")
	wantError(t, "compressed body over the limit", r, http.StatusRequestEntityTooLarge, "larger than")
}

func TestActivity_StrictJSON(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	valid, _ := json.Marshal(activityJSON("k"))
	with := func(old, new string) string { return strings.Replace(string(valid), old, new, 1) }
	tests := []struct{ name, body, mention string }{
		{"Empty", "", "empty"},
		{"Null", "null", "JSON object"},
		{"Array", "[]", "JSON object"},
		{"Broken", `{"appActivityId":`, "not valid JSON"},
		{"Trailing", string(valid) + "{}", "more than one"},
		{"InvalidUTF8", "{\"appActivityId\":\"\xff\"}", "UTF-8"},
		{"Unknown", with(`"appActivityId"`, `"color":"red","appActivityId"`), "'color'"},
		{"NotAnAnnotation", with(`"appActivityId"`, `"id@":"x","appActivityId"`), "'id@'"},
		{"NotAnAnnotationEither", with(`"appActivityId"`, `"@odata":"x","appActivityId"`), "'@odata'"},
		{"WrongCase", with(`"activationUrl"`, `"activationURL"`), "did you mean 'activationUrl'"},
		{"Duplicate", with(`"appActivityId":"k"`, `"appActivityId":"k","appActivityId":"k"`), "more than once"},
		{"WrongType", with(`"appDisplayName":"Contoso, Ltd."`, `"appDisplayName":5`), "'appDisplayName' must be a string"},
		{"NestedUnknown", with(`"displayText"`, `"title":"x","displayText"`), "'visualElements.title'"},
		{"NestedWrongType", with(`"addImageQuery":false`, `"addImageQuery":"maybe"`), "visualElements.attribution.addImageQuery"},
		{"VisualElementsNotObject", with(`"visualElements":{`, `"visualElements":5,"x":{`), "'visualElements' must be an object"},
		{"BadDate", with(`"appActivityId"`, `"expirationDateTime":"tomorrow","appActivityId"`), "expirationDateTime"},
		{"ZonelessDate", with(`"appActivityId"`, `"expirationDateTime":"2026-11-27T02:25:56.6595947","appActivityId"`), "expirationDateTime"},
		{"MissingRequired", with(`"activationUrl":"https://www.contoso.com/article?id=12345",`, ``), "'activationUrl' is required"},
		{"MissingDisplayText", with(`"displayText":"Contoso How-To: How to Tie a Reef Knot"`, `"displayText":null`), "visualElements.displayText"},
		{"Deep", with(`"contentInfo":{`, `"contentInfo":{"a":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`,`), "nested"},
		{"HistoryNotArray", with(`"appActivityId"`, `"historyItems":{},"appActivityId"`), "'historyItems' must be an array"},
		{"HistoryBadItem", with(`"appActivityId"`, `"historyItems":[{"startedDateTime":"2026-11-27T10:00:00Z","id":"nope"}],"appActivityId"`), "must be a GUID"},
		{"HistoryNoStart", with(`"appActivityId"`, `"historyItems":[{}],"appActivityId"`), "startedDateTime"},
		{"TooLongString", with(`"appDisplayName":"Contoso, Ltd."`, `"appDisplayName":"`+strings.Repeat("x", 5000)+`"`), "appDisplayName"},
		{"TooManyHistoryItems", with(`"appActivityId"`, `"historyItems":[`+strings.TrimSuffix(strings.Repeat(`{"startedDateTime":"2026-11-27T10:00:00Z"},`, 101), ",")+`],"appActivityId"`), "at most 100"},
		{"LargeContentInfo", with(`"contentInfo":{`, `"contentInfo":{"a":"`+strings.Repeat("x", 70<<10)+`",`), "contentInfo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := alice.do("PUT", "/v1.0/me/activities/k", tc.body)
			wantError(t, tc.name, r, http.StatusBadRequest, tc.mention)
		})
	}
	wantStatus(t, "nothing stored", alice.do("GET", "/v1.0/me/activities/k", nil), http.StatusNotFound)

	t.Run("Lenient", func(t *testing.T) {
		// The docs' own examples send addImageQuery as a string, server-set properties, annotations,
		// offsets with 7 fractional digits: all accepted; the boolean comes back a boolean.
		body := with(`"addImageQuery":false`, `"addImageQuery":"false","@odata.type":"microsoft.graph.imageInfo","iconUrl@odata.type":"#String"`)
		body = strings.Replace(body, `"appActivityId"`, `"@odata.type":"#microsoft.graph.userActivity","status":"String","id":"x","createdDateTime":"2017-01-01T00:00:01.0610721+03:00","appActivityId"`, 1)
		r := alice.do("PUT", "/v1.0/me/activities/k", body)
		wantStatus(t, "lenient PUT", r, http.StatusCreated)
		if !strings.Contains(string(r.body), `"addImageQuery":false`) {
			t.Errorf("addImageQuery not echoed as a boolean: %s", r.body)
		}
		r = alice.do("PUT", "/v1.0/me/activities/other", valid)
		wantError(t, "body/URL mismatch", r, http.StatusBadRequest, "differs")
	})
}

func TestLimits(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	r := alice.do("GET", "/v1.0/me/activities", nil, "X-Padding", strings.Repeat("x", 70<<10))
	wantError(t, "70 KiB of headers", r, http.StatusRequestHeaderFieldsTooLarge, "headers")
	e.api.MaxJSONDepth = 3
	r = alice.do("PUT", "/v1.0/me/activities/k", activityJSON("k"))
	wantError(t, "a body deeper than --max-json-depth", r, http.StatusBadRequest, "deeper than 3")
	r = alice.do("GET", "/v1.0/me/activities", nil, "Prefer", "odata.maxpagesize=5000")
	if r.header.Get("Preference-Applied") != "odata.maxpagesize=1000" {
		t.Errorf("maxpagesize 5000 applied as %q, want the largest page, 1000", r.header.Get("Preference-Applied"))
	}
}

func TestActivity_Isolation(t *testing.T) {
	e := newEnv(t)
	aliceNotes, aliceMusic, bobNotes := e.as("alice", "notes"), e.as("alice", "music"), e.as("bob", "notes")
	r := aliceNotes.do("PUT", "/v1.0/me/activities/doc", activityJSON("doc"))
	wantStatus(t, "PUT", r, http.StatusCreated)
	id := r.json()["id"].(string)
	for name, c := range map[string]*client{"another app": aliceMusic, "another user": bobNotes} {
		for _, path := range []string{"/v1.0/me/activities/" + id, "/v1.0/me/activities/doc", "/v1.0/me/activities/" + id + "/historyItems"} {
			wantStatus(t, name+" GET "+path, c.do("GET", path, nil), http.StatusNotFound)
		}
		wantStatus(t, name+" DELETE", c.do("DELETE", "/v1.0/me/activities/"+id, nil), http.StatusNotFound)
		wantStatus(t, name+" PATCH", c.do("PATCH", "/v1.0/me/activities/"+id, `{"appDisplayName":"x"}`), http.StatusNotFound)
		list := c.do("GET", "/v1.0/me/activities", nil)
		if v := list.json()["value"].([]any); len(v) != 0 {
			t.Errorf("%s lists %d activities, want 0", name, len(v))
		}
	}
	// The same appActivityId under another principal is another activity.
	r = bobNotes.do("PUT", "/v1.0/me/activities/doc", activityJSON("doc"))
	wantStatus(t, "bob's PUT", r, http.StatusCreated)
	if r.json()["id"] == id {
		t.Error("two principals share an activity id")
	}
	wantStatus(t, "alice's still there", aliceNotes.do("GET", "/v1.0/me/activities/"+id, nil), http.StatusOK)
	// /users/{id}: the caller by oid, sign-in name (any case) or the SDK's placeholder; anyone else is 403.
	for _, u := range []string{"alice", "ALICE%40example.com", "me-token-to-replace"} {
		wantStatus(t, "/users/"+u, aliceNotes.do("GET", "/v1.0/users/"+u+"/activities/"+id, nil), http.StatusOK)
	}
	wantError(t, "/users/bob", aliceNotes.do("GET", "/v1.0/users/bob/activities", nil), http.StatusForbidden, "bob")
}

func TestActivity_Methods(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	r := alice.do("PUT", "/v1.0/me/activities", activityJSON("x"))
	wantStatus(t, "PUT on the collection", r, http.StatusMethodNotAllowed)
	if r.header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow = %q", r.header.Get("Allow"))
	}
	wantStatus(t, "DELETE recent", alice.do("DELETE", "/v1.0/me/activities/recent", nil), http.StatusMethodNotAllowed)
	wantStatus(t, "unknown root", alice.do("GET", "/v2.0/me/activities", nil), http.StatusNotFound)
	wantStatus(t, "unknown segment", alice.do("GET", "/v1.0/me/events", nil), http.StatusNotFound)
	r = alice.do("GET", "/v1.0/me", nil)
	wantStatus(t, "GET /me", r, http.StatusOK)
	if r.json()["id"] != "alice" || r.json()["userPrincipalName"] != "alice@example.com" {
		t.Errorf("GET /me = %s", r.body)
	}
}

func TestActivity_Count(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	for i := range 3 {
		alice.do("POST", "/v1.0/me/activities", activityJSON(fmt.Sprint(i)))
	}
	r := alice.do("GET", "/v1.0/me/activities/$count", nil, "Accept", "text/plain;q=0.9")
	if r.status != 200 || string(r.body) != "3" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("$count = %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	r = alice.do("GET", "/v1.0/me/activities?$count=true&$top=1", nil)
	if r.json()["@odata.count"] != float64(3) || len(r.json()["value"].([]any)) != 1 {
		t.Errorf("$count=true: %s", r.body)
	}
}
