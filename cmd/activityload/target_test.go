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
	v := procFields(pid, "status", "VmRSS:", "VmHWM:", "NoSuchField:")
	if v[0] <= 0 || v[1] < v[0] || v[2] != 0 {
		t.Errorf("VmRSS, VmHWM, NoSuchField = %v; want a resident size, a peak at least as large, 0", v)
	}
	if rss := procStatus(pid, "VmRSS:"); rss < v[0]<<10/2 {
		t.Errorf("procStatus(VmRSS) = %d bytes; want about %d kB", rss, v[0])
	}
	if io := procFields(pid, "io", "syscw:", "wchar:"); io[0] <= 0 || io[1] <= 0 {
		t.Errorf("syscw, wchar = %v; want the writes this test binary has made", io)
	}
	if v := procFields(pid, "no-such-file", "x:"); v[0] != 0 {
		t.Errorf("a file that cannot be read gave %v", v)
	}
}
