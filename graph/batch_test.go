package graph_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// batchResponses posts a batch and returns its responses by id.
func batchResponses(t *testing.T, c *client, body string) map[string]map[string]any {
	t.Helper()
	r := c.do("POST", "/v1.0/$batch", body)
	wantStatus(t, "POST $batch", r, http.StatusOK)
	out := map[string]map[string]any{}
	for _, v := range r.json()["responses"].([]any) {
		m := v.(map[string]any)
		out[m["id"].(string)] = m
	}
	return out
}

func TestBatch(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	doc := activityJSON("/batch?X")
	body := fmt.Sprintf(`{"requests":[
		{"id":"put","method":"PUT","url":"/me/activities/%%2Fbatch%%3FX","headers":{"accept":"application/json","content-type":"application/json"},"body":%s,"dependsOn":[]},
		{"id":"get","method":"GET","url":"/me/activities?%%24top=1","headers":{"accept":"application/json"},"body":null,"dependsOn":["put"]},
		{"id":"missing","method":"GET","url":"/v1.0/me/activities/nope","dependsOn":["put"]},
		{"id":"after-missing","method":"GET","url":"me/activities","dependsOn":["missing"]},
		{"id":"count","method":"GET","url":"/beta/me/activities/$count"},
		{"id":"delete","method":"DELETE","url":"/me/activities/%%2Fbatch%%3FX","dependsOn":["get","count"]},
		{"id":"other-user","method":"GET","url":"/users/bob/activities"}
	]}`, mustJSON(t, doc))
	got := batchResponses(t, alice, body)
	want := map[string]float64{"put": 201, "get": 200, "missing": 404, "after-missing": 424, "count": 200, "delete": 204, "other-user": 403}
	for id, status := range want {
		r, ok := got[id]
		if !ok {
			t.Errorf("step %s has no response", id)
			continue
		}
		if r["status"] != status {
			t.Errorf("step %s: status %v, want %v: %v", id, r["status"], status, r["body"])
		}
		h := r["headers"].(map[string]any)
		_, hasBody := r["body"]
		switch {
		case status == 204 && hasBody:
			t.Errorf("step %s: a 204 with a body key", id)
		case status != 204 && id != "count" && !strings.HasPrefix(fmt.Sprint(h["Content-Type"]), "application/json"):
			t.Errorf("step %s: headers %v lack Content-Type spelled exactly so", id, h)
		case status >= 400:
			if msg := r["body"].(map[string]any)["error"].(map[string]any)["message"]; msg == "" {
				t.Errorf("step %s: error without a message", id)
			}
		}
	}
	if v := got["get"]["body"].(map[string]any)["value"].([]any); len(v) != 1 {
		t.Errorf("GET step after the PUT saw %d activities", len(v))
	}
	wantStatus(t, "the batch's DELETE took effect", alice.do("GET", "/v1.0/me/activities/%2Fbatch%3FX", nil), http.StatusNotFound)
}

func TestBatch_Errors(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	steps := func(n int) string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/me/activities"}`, i))
		}
		return `{"requests":[` + strings.Join(s, ",") + `]}`
	}
	tests := []struct{ name, body, mention string }{
		{"TooMany", steps(21), "at most 20"},
		{"None", `{"requests":[]}`, "no requests"},
		{"NotJSON", `{"requests":`, "not valid"},
		{"Unknown", `{"requests":[],"extra":1}`, "'extra' does not exist"},
		{"WrongCase", `{"Requests":[{"id":"a","method":"GET","url":"/me"}]}`, "did you mean 'requests'"},
		{"DuplicateKey", `{"requests":[{"id":"a","method":"GET","url":"/me"}],"requests":[]}`, "'requests' appears more than once"},
		{"StepDuplicateKey", `{"requests":[{"id":"a","id":"b","method":"GET","url":"/me"}]}`, "'requests[0].id' appears more than once"},
		{"StepUnknown", `{"requests":[{"id":"a","method":"GET","url":"/me","Body":{}}]}`, "did you mean 'body'"},
		{"StepWrongType", `{"requests":[{"id":1,"method":"GET","url":"/me"}]}`, "'requests[0].id' must be a string, not a number"},
		{"HeadersWrongType", `{"requests":[{"id":"a","method":"GET","url":"/me","headers":{"x":1}}]}`, "'requests[0].headers.x' must be a string"},
		{"RequestsNotArray", `{"requests":{}}`, "'requests' must be an array"},
		{"DuplicateID", `{"requests":[{"id":"a","method":"GET","url":"/me"},{"id":"A","method":"GET","url":"/me"}]}`, "more than once"},
		{"MissingURL", `{"requests":[{"id":"a","method":"GET"}]}`, "url"},
		{"UnknownDependency", `{"requests":[{"id":"a","method":"GET","url":"/me","dependsOn":["b"]}]}`, "'b'"},
		{"Cycle", `{"requests":[{"id":"a","method":"GET","url":"/me","dependsOn":["b"]},{"id":"b","method":"GET","url":"/me","dependsOn":["a"]}]}`, "cycle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, tc.name, alice.do("POST", "/v1.0/$batch", tc.body), http.StatusBadRequest, tc.mention)
		})
	}
	if got := batchResponses(t, alice, steps(20)); len(got) != 20 {
		t.Errorf("20 steps gave %d responses", len(got))
	}
	got := batchResponses(t, alice, `{"requests":[
		{"id":"absolute","method":"GET","url":"https://evil.example.com/v1.0/me"},
		{"id":"scheme-relative","method":"GET","url":"//evil.example.com/v1.0/me"},
		{"id":"string-body","method":"POST","url":"/me/activities","body":"eyJ9"},
		{"id":"after","method":"GET","url":"/me","dependsOn":["absolute"],"headers":{"client-request-id":"mine"}}]}`)
	for id, status := range map[string]float64{"absolute": 400, "scheme-relative": 400, "string-body": 400, "after": 424} {
		if got[id]["status"] != status {
			t.Errorf("step %s: %v, want %v", id, got[id], status)
		}
		// The errors the $batch makes itself carry ids too.
		inner := got[id]["body"].(map[string]any)["error"].(map[string]any)["innerError"].(map[string]any)
		h := got[id]["headers"].(map[string]any)
		if inner["request-id"] == "" || inner["client-request-id"] == "" || inner["request-id"] != h["Request-Id"] {
			t.Errorf("step %s: ids %v, headers %v", id, inner, h)
		}
	}
	if cid := got["after"]["headers"].(map[string]any)["Client-Request-Id"]; cid != "mine" {
		t.Errorf("a failed dependency's client-request-id is %v, want the step's own", cid)
	}
	// A $batch inside a $batch, in every spelling, refuses the whole batch before any step runs.
	for _, u := range []string{"/$batch", "/v1.0/$batch", "/beta/$batch", "/%24batch", "/v1.0/%24batch", "$BATCH", "/v1.0//$batch", "/beta/%24Batch/"} {
		body := `{"requests":[{"id":"put","method":"PUT","url":"/me/activities/nested-marker","body":` + mustJSON(t, activityJSON("nested-marker")) +
			`},{"id":"nested","method":"POST","url":"` + u + `","body":{"requests":[]}}]}`
		wantError(t, "nested "+u, alice.do("POST", "/v1.0/$batch", body), http.StatusBadRequest, "cannot hold another")
	}
	wantStatus(t, "no step of a refused $batch ran", alice.do("GET", "/v1.0/me/activities/nested-marker", nil), http.StatusNotFound)
	wantStatus(t, "GET $batch", alice.do("GET", "/v1.0/$batch", nil), http.StatusMethodNotAllowed)
	anonymous := &client{e: e}
	wantStatus(t, "$batch without a token", anonymous.do("POST", "/v1.0/$batch", steps(1)), http.StatusUnauthorized)
}

func TestBatch_ResponseBudget(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	big := activityJSON("big")
	big["contentInfo"] = map[string]any{"text": strings.Repeat("x", 60<<10)}
	wantStatus(t, "PUT big", alice.do("PUT", "/v1.0/me/activities/big", big), http.StatusCreated)
	e.api.MaxBatchBytes = 150 << 10 // two answers of ~62 KB fit, the third does not
	var steps []string
	for i := range 4 {
		steps = append(steps, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/me/activities/big"}`, i))
	}
	got := batchResponses(t, alice, `{"requests":[`+strings.Join(steps, ",")+`]}`)
	for id, status := range map[string]float64{"0": 200, "1": 200, "2": 413, "3": 413} {
		if got[id]["status"] != status {
			t.Errorf("step %s: status %v, want %v", id, got[id]["status"], status)
		}
	}
	msg := got["2"]["body"].(map[string]any)["error"].(map[string]any)["message"].(string)
	if !strings.Contains(msg, "budget") {
		t.Errorf("over-budget step: message %q", msg)
	}
}

// TestBatch_TimeBudget: a step that would start after the batch's time budget gets a 408 of its own.
func TestBatch_TimeBudget(t *testing.T) {
	e := newEnv(t)
	e.api.MaxBatchDuration = time.Nanosecond // every step after the first starts past it
	alice := e.as("alice", "notes")
	got := batchResponses(t, alice, `{"requests":[{"id":"1","method":"GET","url":"/me"},{"id":"2","method":"GET","url":"/me"}]}`)
	if got["1"]["status"] != float64(200) || got["2"]["status"] != float64(408) {
		t.Errorf("steps: %v %v, want 200 then 408", got["1"]["status"], got["2"]["status"])
	}
}
