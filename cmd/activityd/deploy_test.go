package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
