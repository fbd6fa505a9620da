package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/activityd/activityd/sqlite"
)

// TestServe_DataDirNotWritable checks that a data directory the process cannot write stops the start,
// before it listens, with one line naming the directory and the reason (it used to listen, answer
// reads and fail every write with 500). As root, whom modes do not stop, the server runs as nobody.
func TestServe_DataDirNotWritable(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A database made earlier, which can still be read.
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "activityd.db"))
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	os.Chmod(filepath.Join(dir, "activityd.db"), 0o644)
	if os.Geteuid() != 0 {
		os.Chmod(dir, 0o500)
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		var logs bytes.Buffer
		err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, func(string) string { return "" }, io.Discard, &logs)
		if err == nil || err.Error() != "data directory "+dir+" is not writable: permission denied" {
			t.Errorf("serve on a read-only data directory = %v", err)
		}
		if strings.Contains(logs.String(), "listening") {
			t.Errorf("serve listened: %s", logs.String())
		}
		return
	}
	// Root: a directory of root's, mode 0755, which nobody may not write, and a copy of this test
	// binary that nobody may run.
	os.Chmod(filepath.Dir(root), 0o755) // t.TempDir's own parent
	os.Chmod(root, 0o755)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(root, "activityd")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", dir)
	cmd.Env = append(os.Environ(), "ACTIVITYD_TEST_AS_MAIN=1")
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("serve as nobody on root's data directory: %v, want exit status 1; stderr: %s", err, stderr.String())
	}
	if want := "activityd: data directory " + dir + " is not writable: permission denied\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

// TestServe_DatabaseNotWritable checks the same of an existing database file that cannot be written.
func TestServe_DatabaseNotWritable(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "activityd.db")
	if err := os.Mkdir(db, 0o700); err != nil { // a directory where the file should be: even root cannot write it
		t.Fatal(err)
	}
	var logs bytes.Buffer
	err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, func(string) string { return "" }, io.Discard, &logs)
	if err == nil || !strings.HasPrefix(err.Error(), "database file "+db+" is not writable: ") || strings.Contains(logs.String(), "listening") {
		t.Errorf("serve with an unwritable database file = %v; logs %s", err, logs.String())
	}
}

// TestServe_DataDirIsAFile checks the start-up error for a data directory that is a file.
func TestServe_DataDirIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	os.WriteFile(file, nil, 0o600)
	err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", file}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || err.Error() != "data directory "+file+" is not a directory" {
		t.Errorf("serve with a file as data directory = %v", err)
	}
	err = run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(file, "sub")}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "data directory "+filepath.Join(file, "sub")) {
		t.Errorf("serve with a data directory under a file = %v", err)
	}
}

func TestDataNeeds(t *testing.T) {
	pg := "postgres://x/db"
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{LocalIssuer: true}, "the SQLite database and the local issuer's key"},
		{Config{DB: pg, LocalIssuer: true}, "the local issuer's key"},
		{Config{DB: pg, LocalIssuer: true, IssuerKey: "/etc/activityd/key.pem"}, ""},
		{Config{DB: pg, LocalIssuer: false}, ""},
		{Config{DB: pg, TLS: "self-signed"}, "the self-signed TLS files"},
	}
	for _, tc := range tests {
		if got := dataNeeds(tc.cfg); got != tc.want {
			t.Errorf("dataNeeds(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

// TestServe_PostgresNoDataDir checks that with --db no data directory is created unless something
// goes in it, and that the log says what does.
func TestServe_PostgresNoDataDir(t *testing.T) {
	db := pgtest.URL(t)
	root := t.TempDir()
	data := filepath.Join(root, "activityd-data")
	logs := startServerLogs(t, data, "--db", db, "--issuer-key", filepath.Join(root, "keys", "issuer-key.pem"))
	if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve --db --issuer-key made the data directory %s", data)
	}
	if strings.Contains(logs(), "data directory") {
		t.Errorf("the log mentions a data directory: %s", logs())
	}
	data2 := filepath.Join(root, "data2")
	logs = startServerLogs(t, data2, "--db", db)
	if _, err := os.Stat(filepath.Join(data2, "issuer-key.pem")); err != nil {
		t.Errorf("serve --db without --issuer-key: %v", err)
	}
	if !strings.Contains(logs(), "the data directory holds the local issuer's key") {
		t.Errorf("the log does not say what the data directory holds: %s", logs())
	}
}

// startServerLogs is startServer that also returns the log so far.
func startServerLogs(t *testing.T, dir string, extra ...string) func() string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logWatch{addr: make(chan string, 1)}
	done := make(chan error, 1)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, extra...)
	go func() { done <- run(ctx, args, func(string) string { return "" }, io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	})
	select {
	case <-logs.addr:
	case err := <-done:
		t.Fatalf("serve ended before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not listen within 10s")
	}
	return func() string {
		logs.mu.Lock()
		defer logs.mu.Unlock()
		return logs.buf.String()
	}
}

// TestServe_FileModes checks that the data directory is made 0700 and every file in it 0600 whatever
// the umask (the SQLite driver made the database readable by everyone), and that an existing data
// directory open to others is reported in the log.
func TestServe_FileModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	base := startServer(t, dir, nil, "--tls", "self-signed")
	base = strings.Replace(base, "http://127.0.0.1", "https://localhost", 1)
	tok := mintToken(t, dir, "alice", "notes")
	// A write, so that the WAL is in use.
	ca, _ := os.ReadFile(filepath.Join(dir, caCertFile))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	req, _ := http.NewRequest("PUT", base+"/v1.0/me/activities/a", strings.NewReader(activityBody("a")))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("PUT = %d", resp.StatusCode)
	}
	info, _ := os.Stat(dir)
	if info.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %04o under umask 0, want 0700", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		info, _ := e.Info()
		names = append(names, e.Name())
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %04o under umask 0, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	for _, want := range []string{"activityd.db", "activityd.db-wal", "activityd.db-shm", "issuer-key.pem", "tls-ca.pem", "tls-key.pem"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("no %s among %v", want, names)
		}
	}

	open := t.TempDir()
	os.Chmod(open, 0o755)
	logs := startServerLogs(t, open)
	if !strings.Contains(logs(), "is open to other users (mode 0755)") {
		t.Errorf("no warning about a data directory open to others: %s", logs())
	}
}
