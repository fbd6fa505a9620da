package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// streamEvent is one Server-Sent Event of the live stream.
type streamEvent struct{ kind, id, data string }

// openLiveStream opens GET base/v1.0/me/activities/delta as an event stream, resuming after
// lastEventID when it is not "". Events arrive on the channel until the stream ends.
func openLiveStream(t *testing.T, ctx context.Context, base, token, lastEventID string) <-chan streamEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1.0/me/activities/delta", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	events := make(chan streamEvent, 10000)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev streamEvent
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "":
				if ev.data != "" {
					events <- ev
				}
				ev = streamEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.kind = line[len("event: "):]
			case strings.HasPrefix(line, "id: "):
				ev.id = line[len("id: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[len("data: "):]
			}
		}
	}()
	return events
}

// receive takes n events from the stream, failing after a quiet minute.
func receive(t *testing.T, events <-chan streamEvent, n int) []streamEvent {
	t.Helper()
	var got []streamEvent
	for len(got) < n {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended after %d of %d events", len(got), n)
			}
			got = append(got, ev)
		case <-time.After(time.Minute):
			t.Fatalf("no event for a minute after %d of %d", len(got), n)
		}
	}
	return got
}

// TestProcesses_StreamAcrossProcesses: on one PostgreSQL, a write through one process reaches a
// stream served by another (LISTEN/NOTIFY wakes it; the change log is what it reads). Half of the
// writes commit behind a transaction that another program keeps open meanwhile: the log holds them
// back until it ends, and its end, which no one notifies, must wake the stream all the same.
func TestProcesses_StreamAcrossProcesses(t *testing.T) {
	db := pgtest.URL(t)
	key := filepath.Join(t.TempDir(), "issuer-key.pem")
	a := startProcess(t, "--db", db, "--data", t.TempDir(), "--issuer-key", key, "--throttle=false")
	b := startProcess(t, "--db", db, "--data", t.TempDir(), "--issuer-key", key, "--throttle=false")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"token", "--issuer-key", key, "--user", "alice", "--app", "notes"}, os.Getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	events := openLiveStream(t, t.Context(), b.base, tok, "")
	other, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	var holder pgx.Tx
	for i := range 20 {
		if i == 10 {
			if holder, err = other.Begin(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := holder.Exec(t.Context(), "SELECT pg_current_xact_id()"); err != nil {
				t.Fatal(err)
			}
		}
		if status, body, err := request(t.Context(), "PUT", a.base+fmt.Sprintf("/v1.0/me/activities/k%d", i), tok, activityBody(fmt.Sprintf("k%d", i))); err != nil || status != 201 {
			t.Fatalf("PUT through A: %d %s %v", status, body, err)
		}
	}
	time.Sleep(100 * time.Millisecond) // for B to hear of the last commits, and find them held back
	if err := holder.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i, ev := range receive(t, events, 20) {
		if ev.kind != "created" || !strings.Contains(ev.data, fmt.Sprintf(`"appActivityId":"k%d"`, i)) {
			t.Errorf("event %d on B: %s %s", i, ev.kind, ev.data)
		}
	}
}

// TestRun_StreamAcrossRestart: 1,000 changes with three forced disconnects and a restart of the
// server among them; the stream resumed with Last-Event-ID delivers each change exactly once, in
// commit order. A graceful shutdown ends open streams (the process exits 0 with one open).
func TestRun_StreamAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--data", dir, "--throttle=false", "--shutdown-timeout", "30s"}
	p := startProcess(t, args...)
	tok := mintToken(t, dir, "alice", "notes")
	next := 0
	write := func(base string, n int) {
		t.Helper()
		for ; n > 0; n-- {
			k := fmt.Sprintf("c%04d", next)
			if status, body, err := request(t.Context(), "PUT", base+"/v1.0/me/activities/"+k, tok, activityBody(k)); err != nil || status != 201 {
				t.Fatalf("PUT %s: %d %s %v", k, status, body, err)
			}
			next++
		}
	}
	var got []streamEvent
	last := func() string {
		if len(got) == 0 {
			return ""
		}
		return got[len(got)-1].id
	}
	ctx, cancel := context.WithCancel(t.Context())
	events := openLiveStream(t, ctx, p.base, tok, "")
	write(p.base, 200)
	got = append(got, receive(t, events, 200)...)
	for round := range 3 {
		cancel() // a forced disconnect: the client goes away, writes go on
		write(p.base, 100)
		if round == 1 {
			// A restart: SIGTERM with a stream open ends it, the process exits 0, and a new one serves
			// the same data.
			ctx, cancel = context.WithCancel(t.Context())
			open := openLiveStream(t, ctx, p.base, tok, last())
			got = append(got, receive(t, open, 100)...)
			p.cmd.Process.Signal(syscall.SIGTERM)
			if err := p.cmd.Wait(); err != nil {
				t.Fatalf("activityd with an open stream, after SIGTERM: %v", err)
			}
			for range open {
			}
			cancel()
			p = startProcess(t, args...)
			write(p.base, 100)
		}
		ctx, cancel = context.WithCancel(t.Context())
		events = openLiveStream(t, ctx, p.base, tok, last())
		write(p.base, 100)
		got = append(got, receive(t, events, next-len(got))...)
	}
	write(p.base, 1000-next)
	got = append(got, receive(t, events, next-len(got))...)
	cancel()
	if len(got) != 1000 {
		t.Fatalf("%d events for 1,000 changes", len(got))
	}
	for i, ev := range got {
		if ev.kind != "created" || !strings.Contains(ev.data, fmt.Sprintf(`"appActivityId":"c%04d"`, i)) {
			t.Fatalf("event %d: %s %.80s, want the creation of c%04d", i, ev.kind, ev.data, i)
		}
	}
}

// TestRun_PublicURL: with --public-url, every absolute link names it, whatever the Host header or
// forwarded headers say: nextLinks, Location, and the discovery document (which no cache may keep
// for another host).
func TestRun_PublicURL(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil, "--public-url", "https://activities.example.org", "--throttle=false")
	tok := mintToken(t, dir, "alice", "notes")
	for _, k := range []string{"a", "b"} {
		request(t.Context(), "PUT", base+"/v1.0/me/activities/"+k, tok, activityBody(k))
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/v1.0/me/activities", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Prefer", "odata.maxpagesize=1")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Host = "other.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"@odata.nextLink":"https://activities.example.org/v1.0/me/activities?`) {
		t.Errorf("nextLink does not follow --public-url: %s", b)
	}
	req, _ = http.NewRequestWithContext(t.Context(), "GET", base+"/.well-known/openid-configuration", nil)
	req.Host = "other.example"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"jwks_uri":"https://activities.example.org/.well-known/jwks.json"`) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("discovery: %s (Cache-Control %q)", b, resp.Header.Get("Cache-Control"))
	}
	// A bad --public-url stops the start with a line naming the flag.
	var errOut bytes.Buffer
	err = run(t.Context(), []string{"serve", "--data", t.TempDir(), "--public-url", "activities.example.org"}, func(string) string { return "" }, io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error()+errOut.String(), "--public-url") {
		t.Errorf("a bad --public-url: %v %s", err, errOut.String())
	}
}
