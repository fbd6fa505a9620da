package msgraph

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The activityd process every test talks to: the real binary, started the way a user starts it.
var (
	activityd string // path of the built binary
	dataDir   string
	baseURL   string // e.g. http://127.0.0.1:41234
)

func TestMain(m *testing.M) {
	code, err := runMain(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat/msgraph:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runMain(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "activityd-compat-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	activityd, dataDir = filepath.Join(dir, "activityd"), filepath.Join(dir, "data")
	build := exec.Command("go", "build", "-o", activityd, "./cmd/activityd")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("build activityd: %w", err)
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", dataDir}
	if db := os.Getenv("ACTIVITYD_TEST_DB"); db != "" {
		args = append(args, "--db", db)
	}
	cmd := exec.Command(activityd, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	addr, err := listenAddr(stderr)
	if err != nil {
		return 0, err
	}
	baseURL = "http://" + addr
	return m.Run(), nil
}

// listenAddr reads the server's log until it says where it listens, then keeps draining it.
func listenAddr(stderr interface{ Read([]byte) (int, error) }) (string, error) {
	re := regexp.MustCompile(`msg=listening addr=(\S+)`)
	sc := bufio.NewScanner(stderr)
	found := make(chan string, 1)
	go func() {
		for sc.Scan() {
			line := sc.Text()
			if m := re.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
			if os.Getenv("ACTIVITYD_TEST_LOG") != "" || strings.Contains(line, "level=ERROR") {
				fmt.Fprintln(os.Stderr, "activityd:", line)
			}
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			return "", fmt.Errorf("activityd exited before listening")
		}
		return addr, nil
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("activityd did not start listening within 30s")
	}
}

// token mints a bearer token with the real "activityd token" command.
func token(t *testing.T, user, app string) string {
	t.Helper()
	out, err := exec.CommandContext(context.Background(), activityd, "token", "--data", dataDir, "--user", user, "--app", app).Output()
	if err != nil {
		t.Fatalf("activityd token: %v", err)
	}
	return strings.TrimSpace(string(out))
}
