package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/client"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/sqlite"
)

// server is a real Graph server on SQLite, with writes throttled to writes per second, and a token.
func server(t *testing.T, writes int) (*httptest.Server, string) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	issuer, err := auth.OpenLocalIssuer(filepath.Join(t.TempDir(), "issuer.key"), "https://activityd.test")
	if err != nil {
		t.Fatal(err)
	}
	verifier := &auth.Verifier{Issuers: []auth.Issuer{issuer.Issuer()}, Audiences: auth.GraphAudiences}
	api := graph.NewServer(activity.NewService(store), verifier, slog.New(slog.DiscardHandler))
	api.SetSecret(make([]byte, graph.SecretSize))
	if writes > 0 {
		api.Throttle = &activity.Throttle{Limits: activity.Limits{Writes: []activity.Rate{{N: writes, Per: time.Second}}}, Counter: activity.NewMemoryCounter()}
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	tok, err := issuer.Mint("alice", "notes", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return srv, tok
}

// countingTransport counts the requests sent.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestBatch_RetriesThrottledSteps: 25 writes in JSON batches against a server that takes 10 writes a
// second; the steps answered 429 are sent again after their Retry-After, and every write lands.
func TestBatch_RetriesThrottledSteps(t *testing.T) {
	srv, tok := server(t, 10)
	c := client.New(srv.URL, tok)
	counter := &countingTransport{}
	c.HTTP = &http.Client{Transport: counter}
	var reqs []client.BatchRequest
	for i := range 25 {
		key := fmt.Sprintf("k%d", i)
		reqs = append(reqs, client.BatchRequest{Method: "PUT", URL: "/me/activities/" + key, Body: &client.Activity{AppActivityID: key,
			ActivitySourceHost: "https://x.example", ActivationURL: "https://x.example/" + key, VisualElements: client.VisualInfo{DisplayText: key}}})
	}
	res, err := c.Batch(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Status != http.StatusCreated {
			t.Errorf("step %d: %d %s", i, r.Status, r.Body)
		}
	}
	if counter.n.Load() < 3 {
		t.Errorf("%d batch requests: the throttled steps were not sent again", counter.n.Load())
	}
	n := 0
	if err := c.List(t.Context(), client.ListOptions{}, func(*client.Activity) bool { n++; return true }); err != nil || n != 25 {
		t.Errorf("listed %d activities (%v), want 25", n, err)
	}
}

// TestList_Pages follows @odata.nextLink across pages, and stops when asked.
func TestList_Pages(t *testing.T) {
	srv, tok := server(t, 0)
	c := client.New(srv.URL+"/v1.0/", tok)
	for i := range 45 {
		key := fmt.Sprintf("k%02d", i)
		if _, _, err := c.Put(t.Context(), &client.Activity{AppActivityID: key, ActivitySourceHost: "https://x.example",
			ActivationURL: "https://x.example/" + key, VisualElements: client.VisualInfo{DisplayText: key}}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	if err := c.List(t.Context(), client.ListOptions{}, func(a *client.Activity) bool { seen = append(seen, a.AppActivityID); return true }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 45 || seen[0] != "k44" {
		t.Errorf("listed %d activities, first %q; want 45, newest first", len(seen), seen[0])
	}
	seen = nil
	c.List(t.Context(), client.ListOptions{Top: 3}, func(a *client.Activity) bool { seen = append(seen, a.AppActivityID); return true })
	if len(seen) != 3 {
		t.Errorf("--top 3 gave %d", len(seen))
	}
	_, err := c.Get(t.Context(), "missing", false)
	if client.StatusOf(err) != http.StatusNotFound {
		t.Errorf("a missing activity: %v", err)
	}
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Code != "itemNotFound" {
		t.Errorf("the error is not Graph's: %#v", err)
	}
}

// TestWatch_Resumes: the stream delivers changes in order; a second Watch from the last token
// delivers only what came after it.
func TestWatch_Resumes(t *testing.T) {
	srv, tok := server(t, 0)
	c := client.New(srv.URL, tok)
	from, err := c.Latest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		if _, _, err := c.Put(t.Context(), &client.Activity{AppActivityID: key, ActivitySourceHost: "https://x.example",
			ActivationURL: "https://x.example/" + key, VisualElements: client.VisualInfo{DisplayText: key}}); err != nil {
			t.Fatal(err)
		}
	}
	put("a")
	put("b")
	watch := func(from string, want int) (keys []string, last string) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		stop := errors.New("enough")
		err := c.Watch(ctx, from, func(ch client.Change) error {
			keys, last = append(keys, ch.Activity.AppActivityID), ch.Token
			if len(keys) == want {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Fatalf("watch: %v after %v", err, keys)
		}
		return keys, last
	}
	keys, last := watch(from, 2)
	if fmt.Sprint(keys) != "[a b]" {
		t.Errorf("watched %v, want [a b]", keys)
	}
	put("c")
	if keys, _ := watch(last, 1); fmt.Sprint(keys) != "[c]" {
		t.Errorf("resumed with %v, want [c]", keys)
	}
}

// TestDelta_Pulls: the first pull gives the current state and a token; the next gives what changed
// since, deletions included, once.
func TestDelta_Pulls(t *testing.T) {
	srv, tok := server(t, 0)
	c := client.New(srv.URL, tok)
	put := func(key string) *client.Activity {
		a, _, err := c.Put(t.Context(), &client.Activity{AppActivityID: key, ActivitySourceHost: "https://x.example",
			ActivationURL: "https://x.example/" + key, VisualElements: client.VisualInfo{DisplayText: key}})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := put("a")
	put("b")
	pull := func(from string) (got []string, token string) {
		token, err := c.Delta(t.Context(), from, func(ch client.Change) error {
			key := ch.ID
			if ch.Activity != nil {
				key = ch.Activity.AppActivityID
			}
			got = append(got, ch.Kind+" "+key)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, token
	}
	got, token := pull("")
	if len(got) != 2 || token == "" {
		t.Fatalf("first pull: %v, token %q", got, token)
	}
	put("c")
	if err := c.Delete(t.Context(), a.ID); err != nil {
		t.Fatal(err)
	}
	got, token2 := pull(token)
	if fmt.Sprint(got) != "[updated c deleted "+a.ID+"]" || token2 == token {
		t.Errorf("second pull: %v", got)
	}
	if got, _ := pull(token2); len(got) != 0 {
		t.Errorf("third pull: %v, want nothing", got)
	}
	if _, err := c.Delta(t.Context(), "garbage", func(client.Change) error { return nil }); client.StatusOf(err) != http.StatusGone {
		t.Errorf("a bad token: %v, want 410", err)
	}
}
