package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd/auth"
)

// logWatch is a log writer that reports the listen address once the server logs it.
type logWatch struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addr  chan string
	found bool
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if m := listening.FindSubmatch(l.buf.Bytes()); m != nil && !l.found {
		l.found = true
		l.addr <- string(m[1])
	}
	return len(p), nil
}

// startServer runs "activityd serve" on a free port with data in dir, and stops it at the end of the test.
func startServer(t *testing.T, dir string, env map[string]string, extra ...string) string {
	t.Helper()
	base, _ := startStoppable(t, dir, env, extra...)
	return base
}

// startStoppable is startServer with a function that stops the server before the test ends (a
// SQLite data directory serves one process at a time).
func startStoppable(t *testing.T, dir string, env map[string]string, extra ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logWatch{addr: make(chan string, 1)}
	done := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, extra...)
	go func() { done <- run(ctx, args, getenv, io.Discard, logs) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve returned %v after shutdown", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case addr := <-logs.addr:
		return "http://" + addr, stop
	case err := <-done:
		once.Do(cancel) // it has ended: nothing to wait for
		t.Fatalf("serve ended before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not listen within 10s")
	}
	return "", stop
}

// mintToken mints a token with "activityd token" for the local issuer of data directory dir, making its
// key first if no server has started there yet (token itself never makes one).
func mintToken(t *testing.T, dir, user, app string) string {
	t.Helper()
	if _, err := auth.OpenLocalIssuer(filepath.Join(dir, "issuer-key.pem"), ""); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"token", "--data", dir, "--user", user, "--app", app}, os.Getenv, &out, &errOut); err != nil {
		t.Fatalf("token: %v: %s", err, errOut.String())
	}
	tok := out.String()
	if strings.Count(tok, "\n") != 1 || strings.Count(tok, ".") != 2 {
		t.Fatalf("token printed %q, want one JWT on one line", tok)
	}
	return strings.TrimSpace(tok)
}

func TestRun_Serve(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base := startServer(t, dir, nil) // the server makes the issuer's key; token only reads it
	tok := mintToken(t, dir, "alice", "notes")

	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("GET", "/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, body := do("GET", "/.well-known/openid-configuration", "")
	var doc map[string]string
	json.Unmarshal([]byte(body), &doc)
	if code != 200 || doc["issuer"] != "https://activityd.local" || doc["jwks_uri"] != base+"/.well-known/jwks.json" {
		t.Errorf("discovery = %d %s", code, body)
	}
	activity := `{"appActivityId":"/a","activitySourceHost":"https://x.example","activationUrl":"x://a","visualElements":{"displayText":"A"}}`
	if code, body := do("PUT", "/v1.0/me/activities//a", activity); code != 201 {
		t.Fatalf("PUT = %d %s", code, body)
	}
	if code, body := do("GET", "/v1.0/me/activities", ""); code != 200 || !strings.Contains(body, `"appActivityId":"/a"`) {
		t.Errorf("GET = %d %s", code, body)
	}
	// No path cleaning in front of the Graph roots: the SDK's "//" form is not redirected.
	if code, _ := do("GET", "/v1.0/me/activities//a", ""); code != 200 {
		t.Errorf("GET //a = %d, want 200", code)
	}
	if code, _ := do("GET", "/nope", ""); code != 404 {
		t.Errorf("GET /nope = %d", code)
	}
}

func TestRun_RestartKeepsDataAndKey(t *testing.T) {
	dir := t.TempDir()
	tok := mintToken(t, dir, "alice", "notes")
	activity := `{"appActivityId":"k","activitySourceHost":"https://x.example","activationUrl":"x://k","visualElements":{"displayText":"K"}}`
	for i, want := range []int{201, 200} {
		base, stop := startStoppable(t, dir, map[string]string{"ACTIVITYD_LOG_FORMAT": "text"})
		req, _ := http.NewRequest("PUT", base+"/v1.0/me/activities/k", strings.NewReader(activity))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("run %d: PUT = %d, want %d", i, resp.StatusCode, want)
		}
		stop() // one process serves a SQLite database: the next run waits for this one to end
	}
}

func TestRun_TLS(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"cert", "--data", dir}, os.Getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	caFile := strings.TrimSpace(out.String())
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("activityd cert printed %q: %v", caFile, err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	certBefore, _ := os.ReadFile(filepath.Join(dir, "tls-cert.pem"))

	base := startServer(t, dir, nil, "--tls", "self-signed")
	base = strings.Replace(base, "http://127.0.0.1", "https://localhost", 1)
	tok := mintToken(t, dir, "alice", "notes")
	for _, key := range []string{"a", "b"} {
		req, _ := http.NewRequest("PUT", base+"/v1.0/me/activities/"+key, strings.NewReader(
			`{"activitySourceHost":"https://x.example","activationUrl":"x://`+key+`","visualElements":{"displayText":"`+key+`"}}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("PUT over TLS, trusting only the local CA: %v", err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", base+"/v1.0/me/activities", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Prefer", "odata.maxpagesize=1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page map[string]any
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if next, _ := page["@odata.nextLink"].(string); !strings.HasPrefix(next, base+"/v1.0/me/activities?") {
		t.Errorf("nextLink %q does not follow the scheme and host used (%s)", next, base)
	}
	certAfter, _ := os.ReadFile(filepath.Join(dir, "tls-cert.pem"))
	if !bytes.Equal(certBefore, certAfter) {
		t.Error("serve made a new certificate although the one from activityd cert covers its address")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("a client that does not trust the local CA connected")
	}
}

// TestRun_SlowClient checks that a client which does not finish its headers in time is cut off.
func TestRun_SlowClient(t *testing.T) {
	base := startServer(t, t.TempDir(), nil, "--read-header-timeout", "200ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /v1.0/me HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn) // the server closes the connection
	if err != nil {
		t.Fatalf("the connection was not closed within 5s: %v", err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("the connection closed after %v, before the header timeout", waited)
	}
}

func TestParseServe(t *testing.T) {
	env := map[string]string{"ACTIVITYD_ADDR": "127.0.0.1:9999", "ACTIVITYD_PAGE_SIZE": "50"}
	c, err := parseServe([]string{"--page-size", "25"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.PageSize != 25 || c.Data != "./activityd-data" {
		t.Errorf("config = %+v; want the env's addr, the flag's page size, the default data", c)
	}
	if !c.Throttle || len(c.WriteLimits) != 2 || c.WriteLimits[0].N != 100 || c.ReadLimits[1].N != 12000 {
		t.Errorf("throttling defaults %v %v %v, want Graph's limits, on", c.Throttle, c.ReadLimits, c.WriteLimits)
	}
}

func TestRun_Commands(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), nil, os.Getenv, &out, &out); err == nil {
		t.Error("no command succeeded")
	}
	if err := run(t.Context(), []string{"token", "--data", t.TempDir(), "--user", "a"}, os.Getenv, &out, &out); err == nil {
		t.Error("token without --app succeeded")
	}
	if err := run(t.Context(), []string{"frobnicate"}, os.Getenv, &out, &out); err == nil {
		t.Error("an unknown command succeeded")
	}
}
