package graph_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
)

func TestThrottle(t *testing.T) {
	e := newEnv(t)
	e.api.Throttle = &activity.Throttle{
		Limits:  activity.Limits{Reads: []activity.Rate{{N: 3, Per: time.Hour}}, Writes: []activity.Rate{{N: 2, Per: time.Hour}}},
		Counter: activity.NewMemoryCounter(),
	}
	alice, bob := e.as("alice", "notes"), e.as("bob", "notes")
	for i := range 3 {
		wantStatus(t, fmt.Sprintf("read %d", i+1), alice.do("GET", "/v1.0/me/activities", nil), http.StatusOK)
	}
	r := alice.do("GET", "/v1.0/me/activities", nil)
	wantError(t, "fourth read", r, http.StatusTooManyRequests, "3 reads per 1h0m0s")
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 || secs > 3600 {
		t.Errorf("Retry-After %q, want whole seconds within the hour", r.header.Get("Retry-After"))
	}
	if code := r.json()["error"].(map[string]any)["code"]; code != "TooManyRequests" {
		t.Errorf("code %v", code)
	}
	wantStatus(t, "bob is counted apart", bob.do("GET", "/v1.0/me/activities", nil), http.StatusOK)
	// Writes have their own limit, and each $batch step counts.
	steps := make([]string, 3)
	for i := range steps {
		steps[i] = fmt.Sprintf(`{"id":"%d","method":"PUT","url":"/me/activities/k%d","body":%s}`, i, i, mustJSON(t, activityJSON(fmt.Sprint("k", i))))
	}
	got := batchResponses(t, bob, `{"requests":[`+strings.Join(steps, ",")+`]}`)
	if got["0"]["status"] != float64(201) || got["1"]["status"] != float64(201) || got["2"]["status"] != float64(429) {
		t.Errorf("batch of three writes under a limit of two: %v %v %v", got["0"]["status"], got["1"]["status"], got["2"]["status"])
	}
	if h := got["2"]["headers"].(map[string]any); h["Retry-After"] == nil {
		t.Errorf("the throttled step has no Retry-After: %v", h)
	}
}
