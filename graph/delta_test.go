package graph_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// deltaRound follows a delta query from url to its deltaLink, applying each page to state (by id),
// and returns the deltaLink. Every page carries exactly one of nextLink and deltaLink.
func deltaRound(t *testing.T, c *client, url string, state map[string]map[string]any) string {
	t.Helper()
	for pages := 0; pages < 10000; pages++ {
		r := c.do("GET", url, nil, "Prefer", "odata.maxpagesize=7")
		wantStatus(t, "GET "+url, r, http.StatusOK)
		body := r.json()
		next, hasNext := body["@odata.nextLink"].(string)
		delta, hasDelta := body["@odata.deltaLink"].(string)
		if hasNext == hasDelta {
			t.Fatalf("a delta page with nextLink %q and deltaLink %q: want exactly one", next, delta)
		}
		for _, v := range body["value"].([]any) {
			a := v.(map[string]any)
			id := a["id"].(string)
			if _, removed := a["@removed"]; removed {
				delete(state, id)
			} else {
				state[id] = a
			}
		}
		if hasDelta {
			return delta
		}
		url = next
	}
	t.Fatal("the delta query does not end")
	return ""
}

// listing is the caller's activities by id, from a plain paged list.
func listing(t *testing.T, c *client) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	next := "/v1.0/me/activities"
	for next != "" {
		r := c.do("GET", next, nil, "Prefer", "odata.maxpagesize=1000")
		for _, v := range r.json()["value"].([]any) {
			a := v.(map[string]any)
			out[a["id"].(string)] = a
		}
		next, _ = r.json()["@odata.nextLink"].(string)
	}
	return out
}

func keysOf(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestDelta(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.as("alice", "notes"), e.as("bob", "notes")
	ids := map[string]string{}
	for i := range 10 {
		k := fmt.Sprintf("doc-%d", i)
		ids[k] = alice.do("PUT", "/v1.0/me/activities/"+k, activityJSON(k)).json()["id"].(string)
	}
	state := map[string]map[string]any{}
	deltaLink := deltaRound(t, alice, "/v1.0/me/activities/delta", state)
	if len(state) != 10 {
		t.Fatalf("the initial state holds %d activities, want 10", len(state))
	}
	// Changes: a new one, a replaced one, a deleted one, one with a new history item.
	alice.do("PUT", "/v1.0/me/activities/new", activityJSON("new"))
	changed := activityJSON("doc-1")
	changed["appDisplayName"] = "changed"
	alice.do("PUT", "/v1.0/me/activities/doc-1", changed)
	alice.do("DELETE", "/v1.0/me/activities/doc-2", nil)
	alice.do("POST", "/v1.0/me/activities/doc-3/historyItems", `{"startedDateTime":"2026-11-27T10:00:00Z"}`)
	alice.do("PATCH", "/v1.0/me/activities/doc-1", map[string]any{"appDisplayName": "changed again"})
	bob.do("PUT", "/v1.0/me/activities/bobs", activityJSON("bobs")) // another user: not in Alice's delta
	r := alice.do("GET", deltaLink, nil)
	wantStatus(t, "deltaLink", r, http.StatusOK)
	value := r.json()["value"].([]any)
	got := map[string]map[string]any{}
	for _, v := range value {
		got[v.(map[string]any)["id"].(string)] = v.(map[string]any)
	}
	if len(value) != 4 || len(got) != 4 {
		t.Errorf("the changes hold %d entries (%d activities), want 4, each once: %s", len(value), len(got), r.body)
	}
	if a := got[ids["doc-1"]]; a == nil || a["appDisplayName"] != "changed again" {
		t.Errorf("doc-1 in its current state: %v", a)
	}
	if a := got[ids["doc-2"]]; a == nil || a["@removed"].(map[string]any)["reason"] != "deleted" || len(a) != 2 {
		t.Errorf("doc-2 as removed: %v", a)
	}
	if got[ids["doc-3"]] == nil {
		t.Errorf("a history item's change does not mark its activity changed")
	}
	deltaRound(t, alice, deltaLink, state)
	if want := listing(t, alice); strings.Join(keysOf(state), ",") != strings.Join(keysOf(want), ",") {
		t.Errorf("after applying the changes: %v, want %v", keysOf(state), keysOf(want))
	}
	// Nothing changed since: an empty page with a deltaLink.
	last := r.json()["@odata.deltaLink"].(string)
	if r := alice.do("GET", last, nil); len(r.json()["value"].([]any)) != 0 || r.json()["@odata.deltaLink"] == nil {
		t.Errorf("no change since: %s", r.body)
	}
	// $deltatoken=latest, every spelling, /users/{id} and /beta.
	for _, u := range []string{"/v1.0/me/activities/delta?$deltatoken=latest", "/beta/me/activities/delta()?$deltatoken=latest",
		"/v1.0/users/alice/activities/microsoft.graph.delta()?%24deltatoken=latest", "/v1.0/me/activities/microsoft.graph.delta?$deltatoken=latest"} {
		r := alice.do("GET", u, nil)
		if r.status != 200 || len(r.json()["value"].([]any)) != 0 || r.json()["@odata.deltaLink"] == nil || r.json()["@odata.nextLink"] != nil {
			t.Errorf("%s: %d %s", u, r.status, r.body)
		}
	}
}

func TestDelta_SelectExpand(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	body := activityJSON("a")
	body["historyItems"] = []any{map[string]any{"startedDateTime": "2026-11-27T10:00:00Z"}}
	alice.do("PUT", "/v1.0/me/activities/a", body)
	r := alice.do("GET", "/v1.0/me/activities/delta?$select=appActivityId&$expand=historyItems", nil)
	a := r.json()["value"].([]any)[0].(map[string]any)
	if len(a) != 3 || a["appActivityId"] != "a" || len(a["historyItems"].([]any)) != 1 {
		t.Errorf("initial page with $select and $expand: %v", a)
	}
	link := r.json()["@odata.deltaLink"].(string)
	alice.do("POST", "/v1.0/me/activities/a/historyItems", `{"startedDateTime":"2026-11-27T11:00:00Z"}`)
	r = alice.do("GET", link, nil)
	a = r.json()["value"].([]any)[0].(map[string]any)
	if len(a) != 3 || a["appActivityId"] != "a" || len(a["historyItems"].([]any)) != 2 {
		t.Errorf("the deltaLink forgot $select or $expand: %v", a)
	}
	wantError(t, "options beside a token", alice.do("GET", link+"&$select=id", nil), http.StatusBadRequest, "token")
	wantError(t, "unsupported option", alice.do("GET", "/v1.0/me/activities/delta?$filter=lastModifiedDateTime%20gt%202020-01-01T00:00:00Z", nil), http.StatusBadRequest, "$filter")
}

// TestDelta_Gone: a token that is malformed, another principal's, or older than the log's horizon is
// 410 syncStateNotFound with a Location to start over; never another principal's data.
func TestDelta_Gone(t *testing.T) {
	e := newEnv(t)
	alice, bob, aliceMusic := e.as("alice", "notes"), e.as("bob", "notes"), e.as("alice", "music")
	alice.do("PUT", "/v1.0/me/activities/a", activityJSON("a"))
	link := alice.do("GET", "/v1.0/me/activities/delta", nil).json()["@odata.deltaLink"].(string)
	alice.do("PUT", "/v1.0/me/activities/b", activityJSON("b"))
	gone := func(what string, c *client, url string) {
		t.Helper()
		r := c.do("GET", url, nil)
		wantStatus(t, what, r, http.StatusGone)
		if code := r.json()["error"].(map[string]any)["code"]; code != "syncStateNotFound" || !strings.HasSuffix(r.header.Get("Location"), "/v1.0/me/activities/delta") {
			t.Errorf("%s: code %v, Location %q", what, code, r.header.Get("Location"))
		}
	}
	gone("another user", bob, link)
	gone("another app", aliceMusic, link)
	gone("malformed", alice, "/v1.0/me/activities/delta?$deltatoken=bm9wZQ")
	gone("altered", alice, link[:len(link)-3]+"AAA")
	if r := alice.do("GET", link, nil); r.status != 200 || len(r.json()["value"].([]any)) != 1 {
		t.Errorf("the real token: %d %s", r.status, r.body)
	}
	// The trim keeps the newest change; with one more after b, the token's position is behind it.
	alice.do("PUT", "/v1.0/me/activities/c", activityJSON("c"))
	if _, err := e.store.TrimChanges(t.Context(), time.Now().Add(time.Hour), 1000); err != nil {
		t.Fatal(err)
	}
	gone("past the horizon", alice, link)
}

// TestDelta_UnderWrites: a client that applies delta pages while 10 writers create, replace and
// delete ends equal to a full listing (randomized, 1,000 changes, repeated).
func TestDelta_UnderWrites(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			e := newEnv(t)
			alice := e.as("alice", "notes")
			state := map[string]map[string]any{}
			link := deltaRound(t, alice, "/v1.0/me/activities/delta", state)
			var wg sync.WaitGroup
			done := make(chan struct{})
			for w := range 10 {
				wg.Go(func() {
					rnd := rand.New(rand.NewPCG(uint64(round), uint64(w)))
					for range 100 {
						k := fmt.Sprintf("k%d", rnd.IntN(40))
						switch rnd.IntN(3) {
						case 0, 1:
							alice.do("PUT", "/v1.0/me/activities/"+k, activityJSON(k))
						default:
							alice.do("DELETE", "/v1.0/me/activities/"+k, nil)
						}
					}
				})
			}
			go func() { wg.Wait(); close(done) }()
			for running := true; running; {
				select {
				case <-done:
					running = false
				default:
				}
				link = deltaRound(t, alice, link, state)
			}
			deltaRound(t, alice, link, state) // what the writers did after the last round
			want := listing(t, alice)
			if strings.Join(keysOf(state), ",") != strings.Join(keysOf(want), ",") {
				t.Fatalf("after applying every change: %v, want %v", keysOf(state), keysOf(want))
			}
			for id, a := range want {
				if state[id]["lastModifiedDateTime"] != a["lastModifiedDateTime"] {
					t.Errorf("activity %s: %v, want the current %v", id, state[id]["lastModifiedDateTime"], a["lastModifiedDateTime"])
				}
			}
		})
	}
}

// event is one Server-Sent Event.
type event struct{ kind, id, data string }

// openStream opens the live stream of c, resuming after lastEventID when it is not "".
func openStream(t *testing.T, ctx context.Context, c *client, lastEventID string) (*http.Response, <-chan event) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.e.srv.URL+"/v1.0/me/activities/delta", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan event, 1000)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					events <- ev
				}
				ev = event{}
			case strings.HasPrefix(line, "event: "):
				ev.kind = line[len("event: "):]
			case strings.HasPrefix(line, "id: "):
				ev.id = line[len("id: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[len("data: "):]
			}
		}
	}()
	return resp, events
}

// TestStream: changes arrive as events as they commit; a stream resumed with Last-Event-ID after
// disconnects delivers every change exactly once, in commit order.
func TestStream(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.as("alice", "notes"), e.as("bob", "notes")
	ctx, cancel := context.WithCancel(t.Context())
	resp, events := openStream(t, ctx, alice, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	const total = 300
	var got []event
	lastID := ""
	next := 0
	write := func(n int) {
		for ; n > 0 && next < total; n-- {
			k := fmt.Sprintf("s%04d", next)
			alice.do("PUT", "/v1.0/me/activities/"+k, activityJSON(k))
			next++
		}
	}
	receive := func(n int) {
		t.Helper()
		for ; n > 0; n-- {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("the stream ended after %d events", len(got))
				}
				got = append(got, ev)
				lastID = ev.id
			case <-time.After(10 * time.Second):
				t.Fatalf("no event within 10 s after %d events", len(got))
			}
		}
	}
	bob.do("PUT", "/v1.0/me/activities/bobs", activityJSON("bobs")) // never on Alice's stream
	write(50)
	receive(50)
	// Three disconnects, each with writes while away; each resume replays what was missed.
	for range 3 {
		cancel()
		for range events {
		}
		write(50)
		ctx, cancel = context.WithCancel(t.Context())
		_, events = openStream(t, ctx, alice, lastID)
		write(25)
		receive(75)
	}
	write(total)
	receive(total - len(got))
	cancel()
	for i, ev := range got {
		var want = fmt.Sprintf(`"appActivityId":"s%04d"`, i)
		if ev.kind != "created" || !strings.Contains(ev.data, want) {
			t.Fatalf("event %d: %s %s, want the creation of s%04d", i, ev.kind, ev.data, i)
		}
	}
	// A token from the stream also works as a deltaToken.
	if r := alice.do("GET", "/v1.0/me/activities/delta?$deltatoken="+lastID, nil); r.status != 200 {
		t.Errorf("an event id as $deltatoken: %d %s", r.status, r.body)
	}
}

func TestStream_Limits(t *testing.T) {
	e := newEnv(t)
	e.api.MaxStreamsPerUser = 2
	alice, bob := e.as("alice", "notes"), e.as("bob", "notes")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for range 2 {
		if resp, _ := openStream(t, ctx, alice, ""); resp.StatusCode != 200 {
			t.Fatalf("stream: %d", resp.StatusCode)
		}
	}
	resp, _ := openStream(t, ctx, alice, "")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a third stream of one user: %d, want 429", resp.StatusCode)
	}
	if resp, _ := openStream(t, ctx, bob, ""); resp.StatusCode != 200 {
		t.Errorf("another user's stream: %d", resp.StatusCode)
	}
	if resp, _ := openStream(t, ctx, alice, "bm9wZQ"); resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusGone {
		t.Errorf("a bad Last-Event-ID: %d, want 410", resp.StatusCode)
	}
	// Clients that hung up give their slots back at once: the user reconnects without a 429.
	carol := e.as("carol", "notes")
	for range 2 {
		cctx, hangUp := context.WithCancel(ctx)
		if resp, _ := openStream(t, cctx, carol, ""); resp.StatusCode != 200 {
			t.Fatalf("carol's stream: %d", resp.StatusCode)
		}
		hangUp()
	}
	time.Sleep(100 * time.Millisecond) // the hang-ups reach the server
	if resp, _ := openStream(t, ctx, carol, ""); resp.StatusCode != 200 {
		t.Errorf("a stream after two that hung up: %d, want 200", resp.StatusCode)
	}
	anonymous := &client{e: e}
	if resp, _ := openStream(t, ctx, anonymous, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a stream without a token: %d", resp.StatusCode)
	}
	// Closing the streams (shutdown) ends them.
	e.api.CloseStreams()
	resp, events := openStream(t, ctx, bob, "")
	if resp.StatusCode == 200 {
		select {
		case _, ok := <-events:
			if ok {
				t.Errorf("a stream after CloseStreams sent an event")
			}
		case <-time.After(5 * time.Second):
			t.Errorf("a stream after CloseStreams stayed open")
		}
	}
}

// TestStream_Refusals: a $batch step cannot be a stream (it would never answer); a stream from a
// token behind the log's horizon is 410 whatever the token's phase; Accept with q=0 is no stream.
func TestStream_Refusals(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	got := batchResponses(t, alice, `{"requests":[{"id":"1","method":"GET","url":"/me/activities/delta","headers":{"Accept":"text/event-stream"}}]}`)
	if got["1"]["status"] != float64(400) {
		t.Errorf("a stream as a $batch step: %v", got["1"])
	}
	for _, k := range []string{"a", "b"} {
		alice.do("PUT", "/v1.0/me/activities/"+k, activityJSON(k))
	}
	first := alice.do("GET", "/v1.0/me/activities/delta", nil, "Prefer", "odata.maxpagesize=1")
	next := first.json()["@odata.nextLink"].(string) // an initial-phase token
	for _, k := range []string{"c", "d"} {
		alice.do("PUT", "/v1.0/me/activities/"+k, activityJSON(k))
	}
	if _, err := e.store.TrimChanges(t.Context(), time.Now().Add(time.Hour), 1000); err != nil {
		t.Fatal(err)
	}
	r := alice.do("GET", next, nil, "Accept", "text/event-stream")
	wantStatus(t, "a stream from an initial-phase token behind the horizon", r, http.StatusGone)
	r = alice.do("GET", "/v1.0/me/activities/delta?$deltatoken=latest", nil, "Accept", "text/event-stream;q=0, application/json")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("Accept text/event-stream;q=0: %d %q", r.status, r.header.Get("Content-Type"))
	}
}
