package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runMain runs this test binary as activityd with args and returns its exit status and output.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ACTIVITYD_TEST_AS_MAIN=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// TestMain_ExitStatus checks the exit status and output of the real command: -h succeeds everywhere
// with the usage on stdout; a mistake in the command line is status 2 with one line and a hint (no
// usage); a start-up failure is status 1 with one line, before the server listens.
func TestMain_ExitStatus(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"serve", "-h"}, {"serve", "--help"}, {"token", "-h"}, {"cert", "-h"}} {
		code, stdout, stderr := runMain(t, args...)
		if code != 0 || !strings.Contains(stdout, "Usage") || stderr != "" {
			t.Errorf("activityd %q: status %d, stdout %d bytes, stderr %q; want 0 and the usage on stdout", args, code, len(stdout), stderr)
		}
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o700) // t.TempDir's mode follows the umask: the log would warn
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"serve", "--nope"}, 2, "activityd: unknown flag --nope\nrun 'activityd serve -h' for usage\n"},
		{[]string{"serve", "--log-level", "verbose"}, 2, "activityd: --log-level \"verbose\": want debug, info, warn or error\nrun 'activityd serve -h' for usage\n"},
		{[]string{"token", "--user", "alice"}, 2, "activityd: --user and --app are required\nrun 'activityd token -h' for usage\n"},
		{[]string{"cert", "--addr", "x"}, 2, "activityd: --addr \"x\": want host:port, such as 127.0.0.1:8080\nrun 'activityd cert -h' for usage\n"},
		{[]string{"frobnicate"}, 2, "activityd: unknown command \"frobnicate\"\nrun 'activityd -h' for usage\n"},
		{[]string{"serve", "--data", filepath.Join(dir, "new"), "--addr", "127.0.0.1:0", "--tls-cert", missing, "--tls-key", missing}, 1,
			"activityd: --tls-cert " + missing + ": no such file or directory\n"},
		{[]string{"serve", "--data", dir, "--addr", busy.Addr().String()}, 1,
			"activityd: --addr " + busy.Addr().String() + ": bind: address already in use\n"},
		{[]string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--debug-addr", busy.Addr().String()}, 1,
			"activityd: --debug-addr " + busy.Addr().String() + ": bind: address already in use\n"},
	}
	for _, tc := range tests {
		code, stdout, stderr := runMain(t, tc.args...)
		if code != tc.code || stderr != tc.stderr || stdout != "" {
			t.Errorf("activityd %q: status %d, stdout %q, stderr %q; want %d and %q", tc.args, code, stdout, stderr, tc.code, tc.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("a start that failed on --tls-cert left a data directory behind")
	}
}

// TestRun_PurgeOff checks that --purge-interval 0 turns the purge off (it panicked after listening).
func TestRun_PurgeOff(t *testing.T) {
	base := startServer(t, t.TempDir(), nil, "--purge-interval", "0")
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz = %d", resp.StatusCode)
	}
}
