package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDeploy_SystemdUnit: deploy/activityd.service is a unit systemd accepts without a warning
// (systemd-analyze verify, which only warns about unknown keys and bad values), and its ExecStart
// is a command line activityd serve accepts.
func TestDeploy_SystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../../deploy/activityd.service")
	if err != nil {
		t.Fatal(err)
	}
	var exec0 string
	for line := range strings.Lines(string(unit)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart="); ok {
			exec0 = v
		}
	}
	fields := strings.Fields(exec0)
	if len(fields) < 2 || fields[0] != "/usr/local/bin/activityd" || fields[1] != "serve" {
		t.Fatalf("ExecStart=%s", exec0)
	}
	if _, err := parseServe(fields[2:], func(string) string { return "" }, io.Discard); err != nil {
		t.Errorf("ExecStart's flags: %v", err)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit's syntax is not checked")
	}
	self, _ := os.Executable()
	path := filepath.Join(t.TempDir(), "activityd.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/activityd", self)), 0o644)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDeploy_Image builds the container image as the README says (make image: the release binary
// on scratch) and runs it: it serves as an unprivileged user, its health check turns healthy,
// docker exec runs the CLI on its data, SIGTERM (docker stop) ends it gracefully with status 0, and
// its data outlives the container. It needs a Docker daemon: ACTIVITYD_TEST_DOCKER=1 runs it
// (.ci/run starts one); the container shares the host's network (the daemon may have no bridge).
func TestDeploy_Image(t *testing.T) {
	if os.Getenv("ACTIVITYD_TEST_DOCKER") == "" {
		t.Skip("ACTIVITYD_TEST_DOCKER is not set: the container image is not built (.ci/run sets it and starts a Docker daemon)")
	}
	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	image := "activityd-test:" + strconv.Itoa(os.Getpid())
	make := exec.Command("make", "image", "IMAGE="+image)
	make.Dir = "../.."
	make.Env = append(os.Environ(), "IMAGE="+image)
	if out, err := make.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
	if user := docker("image", "inspect", "-f", "{{.Config.User}}", image); user != "65532:65532" {
		t.Errorf("the image runs as %q, want the unprivileged 65532:65532", user)
	}
	volume := "activityd-test-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { exec.Command("docker", "volume", "rm", "-f", volume).Run() })
	addr := freePort(t)
	start := func() string {
		t.Helper()
		id := docker("run", "-d", "--network", "host", "-v", volume+":/data", "-e", "ACTIVITYD_ADDR="+addr,
			"--health-interval", "1s", "--health-start-period", "30s", image)
		t.Cleanup(func() { exec.Command("docker", "rm", "-f", id).Run() })
		deadline := time.Now().Add(90 * time.Second)
		for {
			status := docker("inspect", "-f", "{{.State.Health.Status}}", id)
			if status == "healthy" {
				return id
			}
			if time.Now().After(deadline) {
				t.Fatalf("the container is %s after 90 s; its log:\n%s", status, docker("logs", id))
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	id := start()
	base := "http://" + addr
	// The CLI in the container works on its data directory (ACTIVITYD_DATA=/data).
	tok := docker("exec", id, "/activityd", "token", "--user", "alice", "--app", "notes")
	if st := putActivity(t, base, tok, "boxed"); st != http.StatusCreated {
		t.Fatalf("PUT into the container: %d", st)
	}
	if out := docker("exec", id, "/activityd", "health"); out != "ok" {
		t.Errorf("activityd health in the container: %q", out)
	}
	docker("stop", "-t", "20", id)
	if code := docker("inspect", "-f", "{{.State.ExitCode}}", id); code != "0" {
		t.Errorf("docker stop: exit status %s, want 0", code)
	}
	if logs := docker("logs", id); !strings.Contains(logs, "stopped") {
		t.Errorf("the log after docker stop does not say stopped:\n%s", logs)
	}
	// The volume keeps the data and the key: a new container answers the same token.
	start()
	if st, ids := listActivities(t, base, tok); st != 200 || len(ids) != 1 || ids[0] != "boxed" {
		t.Errorf("after a new container on the volume: %d %v", st, ids)
	}
}

// TestHealth: activityd health says ok for a ready server, over http and, with the server's own
// --tls settings, over https; and fails (exit 1) when nothing listens.
func TestHealth(t *testing.T) {
	for _, tlsArgs := range [][]string{nil, {"--tls", "self-signed"}} {
		dir := t.TempDir()
		addr := freePort(t)
		base, _ := startStoppable(t, dir, nil, append([]string{"--addr", addr}, tlsArgs...)...)
		var out strings.Builder
		if err := run(t.Context(), append([]string{"health", "--addr", addr}, tlsArgs...), func(string) string { return "" }, &out, io.Discard); err != nil || out.String() != "ok\n" {
			t.Errorf("health of %s: %v %q", base, err, out.String())
		}
	}
	closed := freePort(t)
	if err := run(t.Context(), []string{"health", "--addr", closed}, func(string) string { return "" }, io.Discard, io.Discard); err == nil || exit(err, io.Discard) != 1 {
		t.Errorf("health of a port nothing listens on: %v", err)
	}
}
