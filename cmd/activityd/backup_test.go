package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBackup_UnderLoad backs up a server while four clients write to it, restores the backup into a
// new directory and serves it: every write acknowledged before the backup started is there, and the
// old tokens still work (the issuer's key came along).
func TestBackup_UnderLoad(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	tok := mintToken(t, dir, "alice", "notes")
	ctx, stop := context.WithCancel(t.Context())
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				status, _, err := request(ctx, "PUT", base+"/v1.0/me/activities/"+key, tok, activityBody(key))
				if err == nil && status/100 == 2 {
					mu.Lock()
					acked = append(acked, key)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	archive := filepath.Join(t.TempDir(), "backup.tar.gz")
	code, _, errOut := cli(t, t.Context(), "backup", "--data", dir, archive)
	time.Sleep(200 * time.Millisecond) // and writes go on after it
	stop()
	wg.Wait()
	if code != 0 || !strings.Contains(errOut, "backed up") {
		t.Fatalf("backup: %d %q", code, errOut)
	}
	if len(before) < 20 {
		t.Fatalf("only %d writes before the backup: the load did not run", len(before))
	}
	if code, _, errOut := cli(t, t.Context(), "backup", "--data", dir, archive); code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("a backup over a file: %d %q", code, errOut)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	if code, _, errOut := cli(t, t.Context(), "restore", archive, "--data", restored); code != 0 {
		t.Fatalf("restore: %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, t.Context(), "restore", archive, "--data", restored); code != 1 || !strings.Contains(errOut, "already holds") {
		t.Errorf("a restore over a database: %d %q", code, errOut)
	}
	base2 := startServer(t, restored, nil)
	for _, key := range before {
		if status, body, err := request(t.Context(), "GET", base2+"/v1.0/me/activities/"+key, tok, ""); err != nil || status != http.StatusOK {
			t.Fatalf("%s, acknowledged before the backup, after restore: %d %s %v", key, status, body, err)
		}
	}
}

// TestRestore_BadArchives: what is not a backup of activityd is refused with the reason, and the
// data directory is left without a database.
func TestRestore_BadArchives(t *testing.T) {
	tmp := t.TempDir()
	write := func(name string, files map[string][]byte) string {
		path := filepath.Join(tmp, name)
		f, _ := os.Create(path)
		zw := gzip.NewWriter(f)
		tw := tar.NewWriter(zw)
		for n, b := range files {
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg})
			tw.Write(b)
		}
		tw.Close()
		zw.Close()
		f.Close()
		return path
	}
	foreign := filepath.Join(tmp, "foreign.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`CREATE TABLE notes (x)`)
	db.Close()
	foreignBytes, _ := os.ReadFile(foreign)
	plain := filepath.Join(tmp, "plain.txt")
	os.WriteFile(plain, []byte("not an archive"), 0o600)
	good := write("good.tar.gz", map[string][]byte{"activityd.db": foreignBytes})
	goodBytes, _ := os.ReadFile(good)
	truncated := filepath.Join(tmp, "truncated.tar.gz")
	os.WriteFile(truncated, goodBytes[:len(goodBytes)/2], 0o600)
	for _, c := range []struct {
		name, archive, want string
	}{
		{"not gzip", plain, "not gzip"},
		{"truncated", truncated, "damaged"},
		{"a path out of the directory", write("evil.tar.gz", map[string][]byte{"../evil": []byte("x")}), `"../evil"`},
		{"no database", write("empty.tar.gz", map[string][]byte{"issuer-key.pem": []byte("x")}), "no activityd.db"},
		{"another program's database", good, "not one of activityd"},
		{"not SQLite", write("text.tar.gz", map[string][]byte{"activityd.db": []byte(strings.Repeat("text ", 1000))}), "not a SQLite database"},
	} {
		data := filepath.Join(tmp, "data-"+strings.ReplaceAll(c.name, " ", "-"))
		code, _, errOut := cli(t, t.Context(), "restore", c.archive, "--data", data)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: %d %q, want 1 and %q", c.name, code, errOut, c.want)
		}
		if _, err := os.Stat(filepath.Join(data, "activityd.db")); err == nil {
			t.Errorf("%s: a database was put in place", c.name)
		}
	}
}

// TestRestore_StaleJournal: restoring where a crashed server's database was removed but its -wal and
// -shm were left removes them (they would corrupt the restored database), and the server starts.
func TestRestore_StaleJournal(t *testing.T) {
	dir := t.TempDir()
	base, stop := startStoppable(t, dir, nil)
	tok := mintToken(t, dir, "alice", "notes")
	request(t.Context(), "PUT", base+"/v1.0/me/activities/k", tok, activityBody("k"))
	archive := filepath.Join(t.TempDir(), "b.tar.gz")
	if code, _, errOut := cli(t, t.Context(), "backup", "--data", dir, archive); code != 0 {
		t.Fatal(errOut)
	}
	for i := range 50 {
		request(t.Context(), "PUT", base+fmt.Sprintf("/v1.0/me/activities/x%d", i), tok, activityBody(fmt.Sprint("x", i)))
	}
	stop()
	os.WriteFile(filepath.Join(dir, "activityd.db-wal"), []byte(strings.Repeat("stale", 1000)), 0o600)
	os.Remove(filepath.Join(dir, "activityd.db"))
	os.Remove(filepath.Join(dir, "issuer-key.pem"))
	code, _, errOut := cli(t, t.Context(), "restore", archive, "--data", dir)
	if code != 0 || !strings.Contains(errOut, "removed") {
		t.Fatalf("restore: %d %s", code, errOut)
	}
	base = startServer(t, dir, nil)
	if status, _, _ := request(t.Context(), "GET", base+"/v1.0/me/activities/k", tok, ""); status != 200 {
		t.Errorf("after the restore: %d", status)
	}
}
