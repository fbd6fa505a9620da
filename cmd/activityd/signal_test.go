package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSignals_StopGracefully: SIGTERM, SIGINT and SIGHUP each stop the server gracefully: it logs
// "stopped" and exits 0, and what it acknowledged is there after a restart.
func TestSignals_StopGracefully(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0", "--data", dir)
			cmd.Env = append(os.Environ(), "ACTIVITYD_TEST_AS_MAIN=1")
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			var mu sync.Mutex
			var logs strings.Builder
			addr := make(chan string, 1)
			done := make(chan struct{})
			go func() {
				defer close(done)
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					mu.Lock()
					logs.WriteString(sc.Text() + "\n")
					mu.Unlock()
					if m := listening.FindStringSubmatch(sc.Text()); m != nil {
						addr <- m[1]
					}
				}
			}()
			var base string
			select {
			case a := <-addr:
				base = "http://" + a
			case <-time.After(30 * time.Second):
				t.Fatal("no listening line")
			}
			tok := mintToken(t, dir, "alice", "notes")
			if status, body, err := request(t.Context(), "PUT", base+"/v1.0/me/activities/k", tok, activityBody("k")); err != nil || status != 201 {
				t.Fatalf("PUT: %d %s %v", status, body, err)
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			<-done
			mu.Lock()
			out := logs.String()
			mu.Unlock()
			if err != nil || !strings.Contains(out, "msg=stopped") {
				t.Fatalf("after %s: %v\n%s", sig, err, out)
			}
			base = startServer(t, dir, nil)
			if status, _, _ := request(t.Context(), "GET", base+"/v1.0/me/activities/k", tok, ""); status != 200 {
				t.Errorf("after %s and a restart: %d", sig, status)
			}
		})
	}
}

// TestVersion prints the module, commit (when built from a checkout with -buildvcs) and Go version.
func TestVersion(t *testing.T) {
	code, stdout, stderr := runMain(t, "version")
	if code != 0 || !regexp.MustCompile(`^activityd \S+ .*go1\.\d+`).MatchString(stdout) || stderr != "" {
		t.Errorf("activityd version: %d %q %q", code, stdout, stderr)
	}
}

// TestServe_SecondProcessRefused: a second server on the data directory of a running one stops at
// once with a message naming the first, and the first goes on serving.
func TestServe_SecondProcessRefused(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	code, _, stderr := runMain(t, "serve", "--data", dir, "--addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "is in use by process") || !strings.Contains(stderr, "several processes need PostgreSQL") {
		t.Errorf("a second server: %d %q", code, stderr)
	}
	if res, err := http.Get(base + "/readyz"); err != nil || res.StatusCode != 200 {
		t.Errorf("the first server after the second was refused: %v %v", res, err)
	}
}
