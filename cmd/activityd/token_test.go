package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestToken_NeverCreatesKey checks that token finds the server's key or fails naming the path it
// tried, and never makes a key that no server uses.
func TestToken_NeverCreatesKey(t *testing.T) {
	root := t.TempDir()
	mistyped := filepath.Join(root, "activityd-dta")
	tests := []struct {
		args []string
		env  map[string]string
		path string // the path the error must name
	}{
		{args: []string{"--data", mistyped}, path: filepath.Join(mistyped, "issuer-key.pem")},
		{env: map[string]string{"ACTIVITYD_DATA": mistyped}, path: filepath.Join(mistyped, "issuer-key.pem")},
		{args: []string{"--issuer-key", filepath.Join(root, "keys", "k.pem")}, path: filepath.Join(root, "keys", "k.pem")},
		{env: map[string]string{"ACTIVITYD_ISSUER_KEY": filepath.Join(root, "etc", "k.pem")}, path: filepath.Join(root, "etc", "k.pem")},
		// From another directory, with the default --data: the absolute path says where it looked.
		{path: must(filepath.Abs("activityd-data/issuer-key.pem"))},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		args := append([]string{"token", "--user", "alice", "--app", "notes"}, tc.args...)
		err := run(t.Context(), args, func(k string) string { return tc.env[k] }, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.path) || strings.Contains(err.Error(), "\n") {
			t.Errorf("token %q %v = %v, want one line naming %s", tc.args, tc.env, err, tc.path)
		}
		if out.Len() != 0 {
			t.Errorf("token %q printed %q", tc.args, out.String())
		}
		if _, err := os.Stat(tc.path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("token %q made %s", tc.args, tc.path)
		}
		if _, err := os.Stat(filepath.Dir(tc.path)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("token %q made %s", tc.args, filepath.Dir(tc.path))
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestToken_OtherKey checks that a token of another data directory's key gets a 401 that says so.
func TestToken_OtherKey(t *testing.T) {
	base := startServer(t, t.TempDir(), nil)
	tok := mintToken(t, t.TempDir(), "alice", "notes")
	req, _ := http.NewRequest("GET", base+"/v1.0/me/activities", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code, Message string }
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 401 || !strings.Contains(body.Error.Message, "signed by another key") || !strings.Contains(body.Error.Message, "data directory") {
		t.Errorf("a token of another data directory: %d %+v, want 401 saying it was signed by another key", resp.StatusCode, body.Error)
	}
}

// TestToken_Names checks the user names token refuses, in one line naming the flag.
func TestToken_Names(t *testing.T) {
	dir := t.TempDir()
	mintToken(t, dir, "alice", "notes") // makes the key
	for _, user := range []string{"ǅ", "alice smith", "bob\n"} {
		err := run(t.Context(), []string{"token", "--data", dir, "--user", user, "--app", "notes"}, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "--user: ") || exit(err, io.Discard) != 2 {
			t.Errorf("token --user %q = %v, want a usage error naming --user", user, err)
		}
	}
	err := run(t.Context(), []string{"token", "--data", dir, "--user", "alice", "--app", "notes", "--scopes", "Mail.Read"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "--scopes: ") || exit(err, io.Discard) != 2 {
		t.Errorf("token --scopes Mail.Read = %v, want a usage error naming --scopes", err)
	}
}
