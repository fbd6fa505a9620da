package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd/sqlite"
)

// TestDiskFull_SQLite runs the server on a small filesystem of its own (a tmpfs of 16 MiB, which
// needs root to mount) and fills it: writes are refused with 507 and a message that says so, never
// a 500; reads go on; once space is freed, writes succeed again without a restart, and the database
// passes SQLite's integrity check.
func TestDiskFull_SQLite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "small")
	os.MkdirAll(dir, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mounting a 16 MiB tmpfs needs root (it is how the test makes a disk fill up): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v %s", err, out)
		}
	})
	data := filepath.Join(dir, "data")
	base := startServer(t, data, nil, "--throttle=false")
	tok := mintToken(t, data, "alice", "notes")
	big := func(key string) string {
		return fmt.Sprintf(`{"appActivityId":%q,"activitySourceHost":"https://x.example","activationUrl":"https://x.example/%s",`+
			`"visualElements":{"displayText":"doc %s"},"contentInfo":{"text":%q}}`, key, key, key, strings.Repeat("x", 60000))
	}
	if status, body, err := request(t.Context(), "PUT", base+"/v1.0/me/activities/first", tok, big("first")); err != nil || status != 201 {
		t.Fatalf("first write: %d %s %v", status, body, err)
	}
	// Most of the space goes to a file, the rest to writes until they are refused.
	filler := filepath.Join(dir, "filler")
	f, _ := os.Create(filler)
	f.Write(make([]byte, 10<<20))
	f.Close()
	statuses := map[int]int{}
	var full string
	for i := 0; i < 400 && statuses[http.StatusInsufficientStorage] < 5; i++ {
		status, body, err := request(t.Context(), "PUT", base+fmt.Sprintf("/v1.0/me/activities/k%d", i), tok, big(fmt.Sprint("k", i)))
		if err != nil {
			t.Fatal(err)
		}
		statuses[status]++
		if status == http.StatusInsufficientStorage {
			full = string(body)
		}
	}
	if statuses[http.StatusInsufficientStorage] == 0 || statuses[http.StatusInternalServerError] > 0 || !strings.Contains(full, "storage is full") {
		t.Fatalf("writes on a full disk: %v, last 507 %s; want 507s saying so and no 500", statuses, full)
	}
	if status, body, err := request(t.Context(), "GET", base+"/v1.0/me/activities/first", tok, ""); err != nil || status != 200 {
		t.Errorf("a read on a full disk: %d %s %v", status, body, err)
	}
	os.Remove(filler)
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body, err := request(t.Context(), "PUT", base+"/v1.0/me/activities/after", tok, big("after"))
		if err == nil && status == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes after space came back: %d %s %v", status, body, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := sqlite.Check(context.Background(), filepath.Join(data, "activityd.db")); err != nil {
		t.Errorf("after the disk was full: %v", err)
	}
	t.Logf("writes while filling: %v", statuses)
}

// TestBusy_SQLite: another process holding SQLite's write lock past the store's busy timeout (10 s)
// makes a write a 503 serviceNotAvailable with Retry-After, which the Graph SDKs retry, not a 500;
// once the lock is let go, writes succeed again.
func TestBusy_SQLite(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil, "--throttle=false")
	tok := mintToken(t, dir, "alice", "notes")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "activityd.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", base+"/v1.0/me/activities/busy", strings.NewReader(activityBody("busy")))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "serviceNotAvailable") {
		t.Errorf("a write while another process holds the lock: %d Retry-After %q %s, want 503 serviceNotAvailable with Retry-After",
			res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if st := putActivity(t, base, tok, "after"); st != http.StatusCreated {
		t.Errorf("a write once the lock is let go: %d", st)
	}
}
