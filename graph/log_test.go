package graph_test

import (
	"strings"
	"testing"
)

// TestRequestLog_NamesCaller: each request's log line names its caller (tenant, user, app), its
// remote address and user agent; a refusal's reason is logged at debug, with the request id.
func TestRequestLog_NamesCaller(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	r := alice.do("GET", "/v1.0/me/activities", nil, "User-Agent", "test-agent/1.0")
	bad := &client{e: e, token: "not.a.token"}
	r401 := bad.do("GET", "/v1.0/me/activities", nil)
	var okLine, refusedLine string
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, "request_id="+r.header.Get("request-id")) && strings.Contains(line, "msg=request") {
			okLine = line
		}
		if strings.Contains(line, "request_id="+r401.header.Get("request-id")) && strings.Contains(line, "msg=refused") {
			refusedLine = line
		}
	}
	for _, want := range []string{"tenant=https://issuer.test", "user=alice", "app=notes", "remote=127.0.0.1:", "user_agent=test-agent/1.0", "status=200"} {
		if !strings.Contains(okLine, want) {
			t.Errorf("the request line lacks %q: %s", want, okLine)
		}
	}
	if !strings.Contains(refusedLine, "level=DEBUG") || !strings.Contains(refusedLine, "status=401") || !strings.Contains(refusedLine, "reason=") {
		t.Errorf("the 401's reason is not logged at debug: %q", refusedLine)
	}
}

// TestMetadata: GET /v1.0/$metadata (and /beta) serves the CSDL document without a token, as XML.
func TestMetadata(t *testing.T) {
	e := newEnv(t)
	anon := &client{e: e}
	for _, path := range []string{"/v1.0/$metadata", "/beta/$metadata", "/v1.0/%24metadata"} {
		r := anon.do("GET", path, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "application/xml" || !strings.Contains(string(r.body), `<EntityType Name="userActivity" BaseType="graph.entity">`) {
			t.Errorf("%s: %d %s", path, r.status, r.header.Get("Content-Type"))
		}
	}
	if r := anon.do("POST", "/v1.0/$metadata", "x"); r.status != 405 {
		t.Errorf("POST $metadata: %d", r.status)
	}
}
