package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd/auth"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// badRequest is one generated malformed request.
type badRequest struct {
	kind          string
	method, path  string // path is sent exactly as written (it may hold what url.Parse refuses)
	token         string
	body          []byte
	headers       []string
	requestLineOK bool // false: net/http itself refuses the request line, before any handler
}

// TestMalformedTraffic sends thousands of generated bad requests to a real activityd process: every
// answer must be a 4xx in the Graph error envelope, none a 5xx, and the data stored before must be
// unchanged after.
func TestMalformedTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("sends thousands of requests")
	}
	dir := t.TempDir()
	tok := mintToken(t, dir, "alice", "notes")
	p := startProcess(t, "--data", dir, "--throttle=false")

	// What is stored before the run.
	const item = "9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c"
	for i := range 3 {
		key := fmt.Sprintf("seed-%d", i)
		if s, b, err := request(t.Context(), "PUT", p.base+"/v1.0/me/activities/"+key, tok, activityBody(key)); err != nil || s != 201 {
			t.Fatalf("seed: %d %s %v", s, b, err)
		}
		if s, b, err := request(t.Context(), "PUT", p.base+"/v1.0/me/activities/"+key+"/historyItems/"+item, tok, historyBody); err != nil || s != 201 {
			t.Fatalf("seed history: %d %s %v", s, b, err)
		}
	}
	before := snapshot(t, p.base, tok)

	reqs := generateBadRequests(t, dir, tok)
	if len(reqs) < 2000 {
		t.Fatalf("generated only %d bad requests", len(reqs))
	}
	counts := map[string]int{}
	for _, br := range reqs {
		status, header, body := sendRaw(t, p.base, br)
		counts[br.kind]++
		if status < 400 || status > 499 {
			t.Fatalf("%s: %s %q: status %d, want a 4xx: %s", br.kind, br.method, br.path, status, body)
		}
		if !br.requestLineOK {
			continue
		}
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || json.Unmarshal(body, &env) != nil ||
			env.Error.Code == "" || env.Error.Message == "" {
			t.Fatalf("%s: %s %q: status %d without the Graph error envelope (%s): %s", br.kind, br.method, br.path, status, ct, body)
		}
	}
	if after := snapshot(t, p.base, tok); after != before {
		t.Errorf("stored data changed during the run:\nbefore %s\nafter  %s", before, after)
	}
	t.Logf("%d bad requests, every one a 4xx: %v", len(reqs), counts)
}

// fullActivity is a valid body for seed-0 with every property set, the Graph docs' example.
const fullActivity = `{"appActivityId":"seed-0","activitySourceHost":"https://www.contoso.com","userTimezone":"Africa/Casablanca",` +
	`"appDisplayName":"Contoso, Ltd.","activationUrl":"https://www.contoso.com/article?id=12345",` +
	`"contentUrl":"https://www.contoso.com/article?id=12345","fallbackUrl":"https://www.contoso.com/article?id=12345",` +
	`"contentInfo":{"@context":"https://schema.org","@type":"Article","author":"Jennifer Booth","name":"How to Tie a Reef Knot"},` +
	`"visualElements":{"attribution":{"iconUrl":"https://www.contoso.com/icon","alternateText":"Contoso, Ltd.","addImageQuery":false},` +
	`"description":"How to Tie a Reef Knot. A step-by-step visual guide to the art of nautical knot-tying.","backgroundColor":"#ff0000",` +
	`"displayText":"Contoso How-To: How to Tie a Reef Knot","content":{"$schema":"https://adaptivecards.io/schemas/adaptive-card.json",` +
	`"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"Contoso MainPage"}]}},` +
	`"historyItems":[{"startedDateTime":"2018-02-26T20:54:04.3457274+00:00","lastActiveDateTime":"2018-02-26T20:54:24.3457274+00:00"}]}`

const historyBody = `{"startedDateTime":"2026-11-27T10:00:00Z","lastActiveDateTime":"2026-11-27T10:05:00Z","userTimezone":"Europe/Berlin"}`

// snapshot is everything alice/notes has stored, history items included, as one string.
func snapshot(t *testing.T, base, tok string) string {
	t.Helper()
	status, body, err := request(t.Context(), "GET", base+"/v1.0/me/activities?$expand=historyItems", tok, "")
	if err != nil || status != 200 {
		t.Fatalf("snapshot: %d %s %v", status, body, err)
	}
	var v map[string]any
	json.Unmarshal(body, &v)
	delete(v, "@odata.context")
	out, _ := json.Marshal(v)
	return string(out)
}

func sendRaw(t *testing.T, base string, br badRequest) (int, http.Header, []byte) {
	t.Helper()
	u, _ := url.Parse(base)
	req := &http.Request{Method: br.method, URL: &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: br.path},
		Header: http.Header{}, Host: u.Host}
	if br.body != nil {
		req.Body = io.NopCloser(bytes.NewReader(br.body))
		req.ContentLength = int64(len(br.body))
		req.Header.Set("Content-Type", "application/json")
	}
	if br.token != "" {
		req.Header.Set("Authorization", br.token)
	}
	for i := 0; i+1 < len(br.headers); i += 2 {
		req.Header.Set(br.headers[i], br.headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("%s: %s %q: %v", br.kind, br.method, br.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// generateBadRequests builds the malformed requests, by kind. Each one is certainly wrong: none is a
// valid request by accident.
func generateBadRequests(t *testing.T, dir, tok string) []badRequest {
	bearer := "Bearer " + tok
	const act = "/v1.0/me/activities/seed-0"
	const hist = act + "/historyItems/9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c"
	var out []badRequest
	add := func(kind, method, path string, body []byte, headers ...string) {
		out = append(out, badRequest{kind: kind, method: method, path: path, token: bearer, body: body, headers: headers, requestLineOK: true})
	}
	activityDoc, historyDoc := []byte(fullActivity), []byte(historyBody)
	batchDoc := []byte(`{"requests":[{"id":"1","method":"GET","url":"/me/activities"},{"id":"2","method":"DELETE","url":"/me/activities/seed-1","dependsOn":["1"]}]}`)

	// Broken JSON: every strict prefix of a valid body, plain and gzipped; junk after a valid body.
	for i := range len(activityDoc) {
		add("broken-json", "PUT", act, activityDoc[:i])
		add("broken-json-gzip", "PUT", act, gzipBytes(activityDoc[:i]), "Content-Encoding", "gzip")
	}
	for i := range len(historyDoc) {
		add("broken-json", "PUT", hist, historyDoc[:i])
	}
	for i := range len(batchDoc) {
		add("broken-batch", "POST", "/v1.0/$batch", batchDoc[:i])
	}
	for _, junk := range []string{"x", "{}", "]", "null", `"a"`, "0"} {
		add("trailing-data", "PUT", act, append(append([]byte{}, activityDoc...), junk...))
	}
	// Invalid UTF-8 at every position of a body.
	for i := range len(activityDoc) {
		b := append(append(append([]byte{}, activityDoc[:i]...), 0xff), activityDoc[i:]...)
		add("invalid-utf8", "PUT", act, b)
	}
	for i := range len(historyDoc) {
		b := append(append(append([]byte{}, historyDoc[:i]...), 0xc3), historyDoc[i:]...)
		add("invalid-utf8", "PUT", hist, b)
	}
	// Wrong JSON types for every property.
	var doc map[string]json.RawMessage
	json.Unmarshal(activityDoc, &doc)
	wrong := map[string][]string{
		"appActivityId": {"1", "true", "[]", "{}"}, "activitySourceHost": {"1", "false", "[]"},
		"activationUrl": {"2", "{}", "[1]"}, "visualElements": {`"x"`, "1", "true", "[]"},
		"expirationDateTime": {"1", `"soon"`, "{}"}, "historyItems": {`"x"`, "1", "{}", "[1]", `[null]`},
		"appDisplayName": {"1", "[]"}, "userTimezone": {"1", "{}"}, "fallbackUrl": {"true"}, "contentUrl": {"[]"},
	}
	for prop, values := range wrong {
		for _, v := range values {
			d := map[string]json.RawMessage{}
			for k, x := range doc {
				d[k] = x
			}
			d[prop] = json.RawMessage(v)
			b, _ := json.Marshal(d)
			add("wrong-type", "PUT", act, b)
		}
	}
	for _, v := range []string{`"maybe"`, "1", "[]", "{}"} {
		add("wrong-type", "PUT", act, []byte(strings.Replace(string(activityDoc), `"visualElements":{`, `"visualElements":{"attribution":{"addImageQuery":`+v+`},`, 1)))
	}
	for _, v := range []string{`"5"`, "1.5", "99999999999", "-1", "true"} {
		add("wrong-type", "PUT", hist, []byte(`{"startedDateTime":"2026-11-27T10:00:00Z","activeDurationSeconds":`+v+`}`))
	}
	for _, name := range []string{"AppActivityId", "appactivityid", "displaytext", "unknownProperty", "id@", "historyitems"} {
		add("unknown-or-wrong-case", "PUT", act, []byte(strings.Replace(string(activityDoc), `"activationUrl"`, `"`+name+`":"x","activationUrl"`, 1)))
	}
	// Bad dates.
	for _, d := range []string{"2026-13-01T00:00:00Z", "yesterday", "2026-11-27", "2026-11-27T10:00:00", "2026-11-27T25:00:00Z",
		"0000-00-00T00:00:00Z", "2026-11-27T10:00:00.1234567890Z", "2026-11-27 10:00:00Z", "2026-11-27T10:00:00+25:00", "1e9"} {
		add("bad-date", "PUT", act, []byte(strings.Replace(string(activityDoc), `"activationUrl"`, `"expirationDateTime":"`+d+`","activationUrl"`, 1)))
		add("bad-date", "PUT", hist, []byte(`{"startedDateTime":"`+d+`"}`))
		add("bad-date", "GET", "/v1.0/me/activities?$filter=lastModifiedDateTime%20gt%20"+url.QueryEscape(d), nil)
	}
	// Huge, deep and compressed bodies.
	add("huge-body", "PUT", act, bytes.Repeat([]byte("a"), 2<<20))
	add("huge-body", "POST", "/v1.0/$batch", append([]byte(`{"requests":[`), bytes.Repeat([]byte(" "), 2<<20)...))
	add("gzip-bomb", "PUT", act, gzipBytes(bytes.Repeat([]byte(" "), 64<<20)), "Content-Encoding", "gzip")
	add("gzip-bomb", "POST", "/v1.0/$batch", gzipBytes(bytes.Repeat([]byte("["), 16<<20)), "Content-Encoding", "gzip")
	for _, depth := range []int{33, 100, 10000} {
		deep := strings.Replace(string(activityDoc), `"contentInfo":`, `"contentInfo":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`,"x":`, 1)
		add("deep-body", "PUT", act, []byte(deep))
	}
	add("bad-encoding", "PUT", act, []byte(`{}`), "Content-Encoding", "deflate")
	add("bad-media-type", "PUT", act, []byte(`a=b`), "Content-Type", "application/x-www-form-urlencoded")
	// Bad percent-encoding, and valid encodings of invalid UTF-8.
	for _, q := range []string{"$filter=%zz", "%zz=1", "$top=%", "$top=%ff", "$filter=%C3%28", "$select=%G0", "$expand=historyItems(%", "$skiptoken=%2"} {
		add("bad-percent-encoding", "GET", "/v1.0/me/activities?"+q, nil)
	}
	for _, path := range []string{"/v1.0/me/activities/%ff", "/v1.0/me/activities/%C3%28", "/v1.0/users/%ff/activities", "/v1.0/me/activities/seed-0/historyItems/%ff"} {
		add("bad-percent-encoding", "GET", path, nil)
		add("bad-percent-encoding", "PUT", path, activityDoc)
	}
	for _, path := range []string{"/v1.0/me/activities/%zz", "/v1.0/me/activities/%", "/v1.0/me/activities/a%2"} {
		out = append(out, badRequest{kind: "bad-request-line", method: "GET", path: path, token: bearer})
	}
	// Bad query options.
	for _, q := range []string{"$orderby=id", "$skip=1", "$search=%22%22", "$top=0", "$top=-1", "$top=1.5", "$top=99999999999999999999",
		"$filter=", "$filter=id%20eq%201", "$filter=lastModifiedDateTime", "$filter=((((", "$select=nope", "$select=", "$expand=nope",
		"$expand=historyItems($top=1)", "$count=maybe", "$skiptoken=!!!", "$skiptoken=Mi5hLjEuMi4uMC4w", "$top=1&$top=2", "$format=json"} {
		add("bad-query", "GET", "/v1.0/me/activities?"+q, nil)
		add("bad-query", "GET", "/v1.0/me/activities/recent?"+q, nil)
	}
	// Bad history item ids, unknown paths, wrong methods.
	for _, id := range []string{"x", "123", "9d0b74e4-4b41-43ea-b34d-f9c1bf9f809", "{9d0b74e4-4b41-43ea-b34d-f9c1bf9f809c", "zzzzzzzz-4b41-43ea-b34d-f9c1bf9f809c"} {
		add("bad-guid", "PUT", act+"/historyItems/"+id, historyDoc)
		add("bad-guid", "GET", act+"/historyItems/"+id, nil)
	}
	for _, path := range []string{"/nope", "/v2.0/me/activities", "/v1.0/me/events", "/v1.0/users", "/v1.0/me/activities/seed-0/nope", "/beta/$batch/x"} {
		add("unknown-path", "GET", path, nil)
	}
	for _, m := range []string{"DELETE", "PATCH", "PUT"} {
		add("wrong-method", m, "/v1.0/me/activities", activityDoc)
		add("wrong-method", m, "/v1.0/me/activities/recent", nil)
	}
	add("wrong-method", "GET", "/v1.0/$batch", nil)
	add("other-user", "GET", "/v1.0/users/bob/activities", nil)
	add("missing", "GET", "/v1.0/me/activities/no-such-key", nil)
	// Bad batches.
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf(`{"id":"%d","method":"GET","url":"/me"}`, i)
	}
	for _, b := range []string{`{}`, `{"requests":[]}`, `{"requests":[` + strings.Join(many, ",") + `]}`, `{"requests":{}}`, `[]`,
		`{"requests":[{"id":"a","method":"GET","url":"/me"},{"id":"a","method":"GET","url":"/me"}]}`,
		`{"requests":[{"id":"a","method":"GET","url":"/me","dependsOn":["a"]}]}`,
		`{"requests":[{"id":"a","method":"GET","url":"/me","dependsOn":["zz"]}]}`,
		`{"requests":[{"id":"a","method":"GET"}]}`, `{"requests":[{"id":1,"method":"GET","url":"/me"}]}`} {
		add("bad-batch", "POST", "/v1.0/$batch", []byte(b))
	}
	// Bad tokens.
	issuer, err := auth.OpenLocalIssuer(filepath.Join(dir, "issuer-key.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := issuer.Mint("alice", "notes", -time.Hour)
	issuer.Audience = "api://someone-else"
	wrongAud, _ := issuer.Mint("alice", "notes", time.Hour)
	parts := strings.Split(tok, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("a public key, used as an HMAC secret")}, nil)
	hs, _ := jwt.Signed(signer).Claims(map[string]any{"iss": auth.DefaultIssuer, "aud": "https://graph.microsoft.com", "oid": "x",
		"azp": "y", "scp": auth.Scope, "exp": time.Now().Add(time.Hour).Unix()}).Serialize()
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + string(sig)
	tokens := []string{"", "Bearer", "Bearer ", "Bearer x", "Basic YWxpY2U6cHc=", "bearer", "Bearer " + strings.Repeat("a", 20000),
		"Bearer " + expired, "Bearer " + wrongAud, "Bearer " + none, "Bearer " + hs, "Bearer " + tampered,
		"Bearer " + parts[0] + "." + parts[1], "Bearer a.b.c", "Token " + tok}
	for _, bad := range tokens {
		for _, r := range []struct {
			method, path string
			body         []byte
		}{{"GET", "/v1.0/me/activities", nil}, {"PUT", act, activityDoc}, {"DELETE", act, nil}, {"POST", "/v1.0/$batch", batchDoc}} {
			out = append(out, badRequest{kind: "bad-token", method: r.method, path: r.path, token: bad, body: r.body, requestLineOK: true})
		}
	}
	// A token in the query string is never read.
	add("token-in-query", "GET", "/v1.0/me/activities?access_token="+tok, nil)
	out[len(out)-1].token = ""
	return out
}
