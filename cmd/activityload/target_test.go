package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/sqlite"
)

// TestKeptIssuer: a run on a kept SQLite directory signs its tokens with the key the directory's
// database holds (that of the run that preloaded it), not with its own new key file, which the
// server would refuse.
func TestKeptIssuer(t *testing.T) {
	ctx := t.Context()
	dir, data := t.TempDir(), t.TempDir()
	first, err := auth.OpenLocalIssuer(filepath.Join(dir, "first.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(data, "activityd.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.ShareKeys(ctx, store); err != nil { // what the preloading run's server did
		t.Fatal(err)
	}
	store.Close()
	later, err := auth.OpenLocalIssuer(filepath.Join(dir, "later.pem"), "")
	if err != nil {
		t.Fatal(err)
	}

	kept, err := keptIssuer(ctx, filepath.Join(dir, "later.pem"), data)
	if err != nil {
		t.Fatal(err)
	}
	want, own, got := keyID(t, first), keyID(t, later), keyID(t, kept)
	if want == own {
		t.Fatalf("two new key files have one key id %q", want)
	}
	if got != want {
		t.Errorf("keptIssuer signs with key %q; want the database's %q (the run's own is %q)", got, want, own)
	}
}

// keyID is the kid of a token the issuer mints.
func keyID(t *testing.T, issuer *auth.LocalIssuer) string {
	t.Helper()
	tok, err := issuer.Mint("user00001", "loadapp", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(header, &h); err != nil || h.Kid == "" {
		t.Fatalf("token header %s: %v", header, err)
	}
	return h.Kid
}

// TestProcFields reads this process's own /proc files as the measurements read the servers'.
func TestProcFields(t *testing.T) {
	pid := os.Getpid()
	v, ok := procFields(pid, "status", "VmRSS:", "VmHWM:", "NoSuchField:")
	if !ok || v[0] <= 0 || v[1] < v[0] || v[2] != 0 {
		t.Errorf("VmRSS, VmHWM, NoSuchField = %v, %v; want a resident size, a peak at least as large, 0", v, ok)
	}
	if rss := procStatus(pid, "VmRSS:"); rss < v[0]<<10/2 {
		t.Errorf("procStatus(VmRSS) = %d bytes; want about %d kB", rss, v[0])
	}
	before, ok := procFields(pid, "io", "syscw:", "wchar:")
	if !ok {
		t.Fatal("/proc/self/io cannot be read")
	}
	if err := os.WriteFile(filepath.Join(t.TempDir(), "x"), make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if after, _ := procFields(pid, "io", "syscw:", "wchar:"); after[0] <= before[0] || after[1] < before[1]+1000 {
		t.Errorf("syscw, wchar = %v before a write of 1,000 bytes, %v after", before, after)
	}
	if v, ok := procFields(pid, "no-such-file", "x:"); ok || v[0] != 0 {
		t.Errorf("a file that cannot be read gave %v, %v", v, ok)
	}
}

// TestKeptPreload: a kept directory is reused only when this tool preloaded it with the same
// --users and --preload; an empty one is preloaded; anything else is refused, naming what is there.
func TestKeptPreload(t *testing.T) {
	c := config{users: 2, preload: 1}
	ids := [][]string{{"a"}, {"b"}}
	kept := t.TempDir()
	if err := savePreload(kept, c, ids); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(kept, "activityd.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := keptPreload(kept, c); err != nil || len(got) != 2 {
		t.Errorf("a kept directory: %v, %v; want its 2 users' ids", got, err)
	}
	if got, err := keptPreload(t.TempDir(), c); err != nil || got != nil {
		t.Errorf("an empty directory: %v, %v; want nil, nil (preload it)", got, err)
	}
	if _, err := keptPreload(kept, config{users: 3, preload: 1}); err == nil || !strings.Contains(err.Error(), "2 users × 1 activities, not 3 × 1") {
		t.Errorf("other --users: %v; want a refusal naming both", err)
	}
	dbOnly := t.TempDir()
	os.WriteFile(filepath.Join(dbOnly, "activityd.db"), nil, 0o600)
	if _, err := keptPreload(dbOnly, c); err == nil || !strings.Contains(err.Error(), "no preload.json") {
		t.Errorf("a database without preload.json: %v; want a refusal", err)
	}
	preloadOnly := t.TempDir()
	savePreload(preloadOnly, c, ids)
	if _, err := keptPreload(preloadOnly, c); err == nil || !strings.Contains(err.Error(), "no activityd.db") {
		t.Errorf("preload.json without a database: %v; want a refusal", err)
	}
}
