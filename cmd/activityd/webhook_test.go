package main

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// receiver is a webhook receiver on loopback: it answers the validation handshake and records the
// notifications it accepts; it can be told to fail.
type receiver struct {
	srv     *httptest.Server
	caFile  string // its certificate, for SSL_CERT_FILE
	mu      sync.Mutex
	notes   []map[string]any // accepted notifications (value entries)
	life    []map[string]any // lifecycle notifications
	fail    int              // answer 500 to this many more notification POSTs
	refused int              // notification POSTs answered 500
	valid   int              // validation requests answered
	badEcho bool             // answer validations with the wrong token
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			rc.valid++
			w.Header().Set("Content-Type", "text/plain")
			if rc.badEcho {
				tok = "something else"
			}
			io.WriteString(w, tok)
			return
		}
		var body struct{ Value []map[string]any }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(400)
			return
		}
		if r.URL.Path == "/lifecycle" {
			rc.life = append(rc.life, body.Value...)
			w.WriteHeader(202)
			return
		}
		if rc.fail > 0 {
			rc.fail--
			rc.refused++
			w.WriteHeader(500)
			return
		}
		rc.notes = append(rc.notes, body.Value...)
		w.WriteHeader(202)
	}))
	t.Cleanup(rc.srv.Close)
	rc.caFile = filepath.Join(t.TempDir(), "receiver.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.srv.Certificate().Raw})
	if err := os.WriteFile(rc.caFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	return rc
}

// wait polls until cond holds, for at most a minute.
func (rc *receiver) wait(t *testing.T, what string, cond func(rc *receiver) bool) {
	t.Helper()
	rc.waitFor(t, time.Minute, what, cond)
}

// waitFor polls until cond holds, for at most d.
func (rc *receiver) waitFor(t *testing.T, d time.Duration, what string, cond func(rc *receiver) bool) {
	t.Helper()
	for start := time.Now(); time.Since(start) < d; time.Sleep(20 * time.Millisecond) {
		rc.mu.Lock()
		ok := cond(rc)
		rc.mu.Unlock()
		if ok {
			return
		}
	}
	t.Fatalf("%s: not within %s", what, d)
}

func subscriptionBody(url string, extra map[string]any) string {
	b := map[string]any{"changeType": "created,updated,deleted", "notificationUrl": url, "resource": "me/activities",
		"expirationDateTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "clientState": "the secret"}
	for k, v := range extra {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	j, _ := json.Marshal(b)
	return string(j)
}

// TestWebhooks: Graph's subscriptions against a receiver on loopback (allow-listed): the handshake,
// notifications with clientState, retries after 500s, a SIGKILL between commit and delivery (the
// notification still arrives, with the same id when repeated), the "missed" lifecycle notification,
// expiry, and the refusals.
func TestWebhooks(t *testing.T) {
	rc := newReceiver(t)
	dir := t.TempDir()
	env := []string{"SSL_CERT_FILE=" + rc.caFile}
	metrics := freePort(t)
	args := []string{"--data", dir, "--throttle=false", "--webhook-allow", "127.0.0.1", "--webhook-max-retry", "12s", "--metrics-addr", metrics}
	p := startProcessEnv(t, env, args...)
	tok := mintToken(t, dir, "alice", "notes")
	bob := mintToken(t, dir, "bob", "notes")
	post := func(token, body string) (int, map[string]any) {
		t.Helper()
		status, b, err := request(t.Context(), "POST", p.base+"/v1.0/subscriptions", token, body)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		json.Unmarshal(b, &v)
		return status, v
	}
	message := func(v map[string]any) string {
		if e, ok := v["error"].(map[string]any); ok {
			return e["message"].(string)
		}
		return fmt.Sprint(v)
	}

	// Refusals, each a 400 naming what is wrong.
	for _, tc := range []struct{ name, body, mention string }{
		{"Resource", subscriptionBody(rc.srv.URL, map[string]any{"resource": "me/events"}), "me/events"},
		{"ChangeType", subscriptionBody(rc.srv.URL, map[string]any{"changeType": "created,renamed"}), "renamed"},
		{"HTTP", subscriptionBody(strings.Replace(rc.srv.URL, "https:", "http:", 1), nil), "https"},
		{"NotAllowed", subscriptionBody(strings.Replace(rc.srv.URL, "127.0.0.1", "127.0.0.2", 1), nil), "not public"},
		{"ClientState", subscriptionBody(rc.srv.URL, map[string]any{"clientState": strings.Repeat("x", 129)}), "clientState"},
		{"Expiry", subscriptionBody(rc.srv.URL, map[string]any{"expirationDateTime": time.Now().Add(100 * time.Hour).UTC().Format(time.RFC3339)}), "4230 minutes"},
		{"Unknown", subscriptionBody(rc.srv.URL, map[string]any{"extra": 1}), "extra"},
	} {
		if status, v := post(tok, tc.body); status != 400 || !strings.Contains(message(v), tc.mention) {
			t.Errorf("%s: %d %s, want 400 naming %q", tc.name, status, message(v), tc.mention)
		}
	}
	rc.mu.Lock()
	rc.badEcho = true
	rc.mu.Unlock()
	if status, v := post(tok, subscriptionBody(rc.srv.URL, nil)); status != 400 || !strings.Contains(message(v), "Subscription validation request failed") {
		t.Errorf("a failed handshake: %d %s", status, message(v))
	}
	rc.mu.Lock()
	rc.badEcho = false
	rc.mu.Unlock()

	// A subscription, after the handshake.
	status, sub := post(tok, subscriptionBody(rc.srv.URL+"/notes", map[string]any{"lifecycleNotificationUrl": rc.srv.URL + "/lifecycle"}))
	if status != 201 || sub["id"] == nil || sub["clientState"] != "the secret" || sub["changeType"] != "created,updated,deleted" {
		t.Fatalf("POST /subscriptions: %d %v", status, sub)
	}
	id := sub["id"].(string)
	for _, who := range []string{bob} {
		if status, _, _ := request(t.Context(), "GET", p.base+"/v1.0/subscriptions/"+id, who, ""); status != 404 {
			t.Errorf("another user's GET of the subscription: %d", status)
		}
	}
	if status, b, _ := request(t.Context(), "GET", p.base+"/v1.0/subscriptions", tok, ""); status != 200 || !strings.Contains(string(b), id) {
		t.Errorf("GET /subscriptions: %d %s", status, b)
	}

	// A write is notified, with clientState and the activity's public id.
	status, body, _ := request(t.Context(), "PUT", p.base+"/v1.0/me/activities/one", tok, activityBody("one"))
	if status != 201 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	var created map[string]any
	json.Unmarshal(body, &created)
	rc.wait(t, "the first notification", func(rc *receiver) bool { return len(rc.notes) >= 1 })
	n := rc.notes[0]
	if n["subscriptionId"] != id || n["clientState"] != "the secret" || n["changeType"] != "created" ||
		n["resourceData"].(map[string]any)["id"] != created["id"] || n["tenantId"] == "" || n["id"] == "" {
		t.Errorf("notification %v", n)
	}

	// 500s are retried until accepted.
	rc.mu.Lock()
	rc.fail = 2
	rc.mu.Unlock()
	request(t.Context(), "DELETE", p.base+"/v1.0/me/activities/"+created["id"].(string), tok, "")
	rc.wait(t, "the deletion after two 500s", func(rc *receiver) bool { return len(rc.notes) >= 2 })
	if rc.refused != 2 || rc.notes[1]["changeType"] != "deleted" {
		t.Errorf("after two 500s: refused %d, notification %v", rc.refused, rc.notes[1])
	}

	// SIGKILL between commit and delivery: the receiver refuses, the server dies, and the one that
	// starts after delivers what was committed.
	rc.mu.Lock()
	rc.fail = 1000000
	rc.mu.Unlock()
	if status, b, _ := request(t.Context(), "PUT", p.base+"/v1.0/me/activities/two", tok, activityBody("two")); status != 201 {
		t.Fatalf("PUT two: %d %s", status, b)
	}
	rc.wait(t, "a refused attempt", func(rc *receiver) bool { return rc.refused > 2 })
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	rc.mu.Lock()
	rc.fail = 0
	rc.mu.Unlock()
	p = startProcessEnv(t, env, args...)
	// The killed process may have held the subscription's lease (a minute) and backed off after the
	// refusals: the new one delivers once both have passed.
	rc.waitFor(t, 3*time.Minute, "the notification committed before the kill", func(rc *receiver) bool { return len(rc.notes) >= 3 })
	if !strings.Contains(fmt.Sprint(rc.notes[2]["resource"]), "Activities/") || rc.notes[2]["changeType"] != "created" {
		t.Errorf("after the restart: %v", rc.notes[2])
	}

	// A receiver that keeps failing past --webhook-max-retry: a "missed" lifecycle notification.
	rc.mu.Lock()
	rc.fail = 1000000
	rc.mu.Unlock()
	request(t.Context(), "PUT", p.base+"/v1.0/me/activities/three", tok, activityBody("three"))
	rc.wait(t, "the missed lifecycle notification", func(rc *receiver) bool { return len(rc.life) >= 1 })
	if rc.life[0]["lifecycleEvent"] != "missed" || rc.life[0]["subscriptionId"] != id {
		t.Errorf("lifecycle notification %v", rc.life[0])
	}
	// The process that started after the kill delivered, failed and gave up, and counted each.
	scrape := scrapeMetrics(t, metrics)
	for _, outcome := range []string{"delivered", "failed", "given_up"} {
		if !regexp.MustCompile(`(?m)^activityd_webhook_deliveries_total\{outcome="` + outcome + `"\} [1-9]`).MatchString(scrape) {
			t.Errorf("/metrics does not count a %s delivery:\n%s", outcome, grepLines(scrape, "webhook"))
		}
	}

	// Renewal, deletion.
	renew := fmt.Sprintf(`{"expirationDateTime":%q}`, time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339))
	if status, b, _ := request(t.Context(), "PATCH", p.base+"/v1.0/subscriptions/"+id, tok, renew); status != 200 {
		t.Errorf("PATCH (renew): %d %s", status, b)
	}
	if status, _, _ := request(t.Context(), "PATCH", p.base+"/v1.0/subscriptions/"+id, tok, `{"notificationUrl":"https://x.example"}`); status != 400 {
		t.Errorf("PATCH of notificationUrl: %d, want 400", status)
	}
	if status, _, _ := request(t.Context(), "DELETE", p.base+"/v1.0/subscriptions/"+id, bob, ""); status != 404 {
		t.Errorf("another user's DELETE: %d, want 404", status)
	}
	if status, _, _ := request(t.Context(), "DELETE", p.base+"/v1.0/subscriptions/"+id, tok, ""); status != 204 {
		t.Errorf("DELETE: %d", status)
	}
	// Expiry: a subscription that expires is gone.
	status, short := post(tok, subscriptionBody(rc.srv.URL, map[string]any{"expirationDateTime": time.Now().Add(2 * time.Second).UTC().Format("2006-01-02T15:04:05.000Z")}))
	if status != 201 {
		t.Fatalf("a short subscription: %d %v", status, short)
	}
	time.Sleep(3 * time.Second)
	if status, _, _ := request(t.Context(), "GET", p.base+"/v1.0/subscriptions/"+short["id"].(string), tok, ""); status != 404 {
		t.Errorf("an expired subscription: %d, want 404", status)
	}
}

// TestWebhooks_SlowReceiver: a receiver that takes seconds to answer delays its own subscriptions
// only; another user's notification goes out meanwhile.
func TestWebhooks_SlowReceiver(t *testing.T) {
	var mu sync.Mutex
	slowDone, fastAt := 0, -1
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, tok)
			return
		}
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-time.After(30 * time.Second):
			}
			mu.Lock()
			slowDone++
			mu.Unlock()
		} else {
			mu.Lock()
			fastAt = slowDone // how many slow deliveries had finished when this one arrived
			mu.Unlock()
		}
		w.WriteHeader(202)
	}))
	defer srv.Close()
	defer close(release)
	caFile := filepath.Join(t.TempDir(), "receiver.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	dir := t.TempDir()
	p := startProcessEnv(t, []string{"SSL_CERT_FILE=" + caFile}, "--data", dir, "--throttle=false", "--webhook-allow", "127.0.0.1")
	alice, bob := mintToken(t, dir, "alice", "notes"), mintToken(t, dir, "bob", "notes")
	for range 5 {
		if status, b, _ := request(t.Context(), "POST", p.base+"/v1.0/subscriptions", alice, subscriptionBody(srv.URL+"/slow", nil)); status != 201 {
			t.Fatalf("alice's subscription: %d %s", status, b)
		}
	}
	if status, b, _ := request(t.Context(), "POST", p.base+"/v1.0/subscriptions", bob, subscriptionBody(srv.URL+"/fast", nil)); status != 201 {
		t.Fatalf("bob's subscription: %d %s", status, b)
	}
	request(t.Context(), "PUT", p.base+"/v1.0/me/activities/a", alice, activityBody("a"))
	request(t.Context(), "PUT", p.base+"/v1.0/me/activities/b", bob, activityBody("b"))
	for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		at := fastAt
		mu.Unlock()
		if at >= 0 {
			if at != 0 {
				t.Errorf("bob's notification waited for %d of alice's slow deliveries", at)
			}
			return
		}
	}
	t.Fatal("bob's notification did not arrive within a minute")
}
