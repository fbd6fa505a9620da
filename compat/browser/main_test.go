package browser

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// activityd is the real binary, built from the repository and started the way a user starts it.
type activityd struct {
	bin, data string
	addr      string       // 127.0.0.1:port it listens on
	client    *http.Client // trusts the local CA of --tls self-signed, and only that
	ca        *x509.CertPool

	mu  sync.Mutex
	log bytes.Buffer // its stderr, shown when a test fails
}

// startActivityd builds activityd and serves it over TLS with a certificate it makes, signed by a
// local CA, with the extra flags given; it stops when the test ends.
func startActivityd(t *testing.T, flags ...string) *activityd {
	t.Helper()
	return startActivitydSeeded(t, nil, flags...)
}

// startActivitydSeeded is startActivityd with a data directory that seed fills first (nil: none).
func startActivitydSeeded(t *testing.T, seed func(data string), flags ...string) *activityd {
	t.Helper()
	dir := t.TempDir()
	a := &activityd{bin: filepath.Join(dir, "activityd"), data: filepath.Join(dir, "data")}
	build := exec.Command("go", "build", "-o", a.bin, "./cmd/activityd")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build activityd: %v\n%s", err, out)
	}
	if seed != nil {
		if err := os.MkdirAll(a.data, 0o700); err != nil {
			t.Fatal(err)
		}
		seed(a.data)
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", a.data, "--tls", "self-signed"}, flags...)
	cmd := exec.Command(a.bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("activityd's log:\n%s", a.logText())
		}
	})
	if a.addr, err = a.listenAddr(stderr); err != nil {
		cmd.Wait()
		t.Fatalf("activityd %s: %v\n%s", strings.Join(args, " "), err, a.logText())
	}
	a.trustCA(t)
	return a
}

// listenAddr reads the server's log until it says where it listens, keeping every line.
func (a *activityd) listenAddr(stderr interface{ Read([]byte) (int, error) }) (string, error) {
	re := regexp.MustCompile(`msg=listening addr=(\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			a.mu.Lock()
			fmt.Fprintln(&a.log, sc.Text())
			a.mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			return "", fmt.Errorf("exited before listening (a flag this build does not know?)")
		}
		return addr, nil
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("did not start listening within 30s")
	}
}

func (a *activityd) logText() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

// logLines counts the lines of the server's log that match the regular expression.
func (a *activityd) logLines(expr string) int {
	re := regexp.MustCompile(expr)
	n := 0
	for line := range strings.Lines(a.logText()) {
		if re.MatchString(line) {
			n++
		}
	}
	return n
}

// trustCA reads the local CA that "activityd cert" names, for the test's own HTTP client.
func (a *activityd) trustCA(t *testing.T) {
	t.Helper()
	out, err := exec.Command(a.bin, "cert", "--data", a.data).Output()
	if err != nil {
		t.Fatalf("activityd cert: %v", err)
	}
	pem, err := os.ReadFile(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	a.ca = x509.NewCertPool()
	if !a.ca.AppendCertsFromPEM(pem) {
		t.Fatalf("activityd cert: no certificate in %s", out)
	}
	a.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.ca}}}
}

// token mints a bearer token with the real "activityd token" command.
func (a *activityd) token(t *testing.T, user, app string) string {
	t.Helper()
	out, err := exec.Command(a.bin, "token", "--data", a.data, "--user", user, "--app", app).Output()
	if err != nil {
		t.Fatalf("activityd token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// personToken mints the token a person signs in to the timeline with: activityd's own scope for
// the person's view across apps.
func (a *activityd) personToken(t *testing.T, user string) string {
	t.Helper()
	out, err := exec.Command(a.bin, "token", "--data", a.data, "--user", user, "--app", "timeline",
		"--scopes", "UserActivity.ReadWrite.All").Output()
	if err != nil {
		t.Fatalf("activityd token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// leafSPKI connects to the server as host, checks that its certificate chains to the local CA and
// names host, and returns the certificate's public key hash in Chromium's
// --ignore-certificate-errors-spki-list form.
func (a *activityd) leafSPKI(t *testing.T, host string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", a.addr, &tls.Config{RootCAs: a.ca, ServerName: host})
	if err != nil {
		t.Fatalf("TLS to activityd as %s, trusting its local CA: %v", host, err)
	}
	defer conn.Close()
	return spki(conn.ConnectionState().PeerCertificates[0])
}

// spki is the base64 SHA-256 of a certificate's SubjectPublicKeyInfo.
func spki(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
