package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/activityd/activityd/auth"
	"github.com/jackc/pgx/v5"
)

// target is a server under measurement, running as a process of its own.
type target struct {
	name      string
	base      string
	cmd       *exec.Cmd
	coldStart time.Duration // from exec to the first answered request
	tokens    []string      // one per user
	ids       [][]string    // preloaded activity ids per user
	cleanup   func()
}

// startTarget starts the ceiling ("ceiling") or activityd on a store ("sqlite", "postgres").
func startTarget(ctx context.Context, c config, name, keyFile, dir string) (*target, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	t := &target{name: name, base: "http://" + addr, cleanup: func() {}}
	var cmd *exec.Cmd
	switch name {
	case "ceiling":
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(self, "ceiling", "--addr", addr)
	case "sqlite", "postgres":
		args := []string{"serve", "--addr", addr, "--data", filepath.Join(dir, name), "--issuer-key", keyFile, "--log-level", "warn", "--throttle=false"}
		if name == "postgres" {
			url, drop, err := freshSchema(ctx, c.db)
			if err != nil {
				return nil, err
			}
			t.cleanup = drop
			args = append(args, "--db", url)
		}
		cmd = exec.Command(c.activityd, args...)
	default:
		return nil, fmt.Errorf("unknown store %q", name)
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	t.cmd = cmd
	for {
		if resp, err := http.Get(t.base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			t.stop()
			return nil, fmt.Errorf("%s did not answer within 30s", name)
		}
		time.Sleep(time.Millisecond)
	}
	t.coldStart = time.Since(start)
	return t, nil
}

// stop ends the process and drops what it made.
func (t *target) stop() {
	t.cmd.Process.Signal(syscall.SIGTERM)
	t.cmd.Wait()
	t.cleanup()
}

// peakRSS is the process's peak resident set size in bytes (VmHWM), or 0 where unknown.
func (t *target) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", t.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb << 10
		}
	}
	return 0
}

// freshSchema makes a new schema in the database at url and returns a URL that uses it.
func freshSchema(ctx context.Context, url string) (string, func(), error) {
	if url == "" {
		return "", nil, fmt.Errorf("the postgres store needs --db")
	}
	b := make([]byte, 4)
	rand.Read(b)
	schema := "activityload_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	drop := func() {
		if conn, err := pgx.Connect(context.Background(), url); err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(context.Background())
		}
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema, drop, nil
}

// prepare mints a token per user and stores the preload: activities, each with one history item.
func (t *target) prepare(ctx context.Context, c config, issuer *auth.LocalIssuer, client *http.Client) error {
	t.tokens, t.ids = make([]string, c.users), make([][]string, c.users)
	for u := range c.users {
		tok, err := issuer.Mint(fmt.Sprintf("user%05d", u), "loadapp", 24*time.Hour)
		if err != nil {
			return err
		}
		t.tokens[u] = tok
	}
	if t.name == "ceiling" {
		for u := range t.ids {
			t.ids[u] = []string{"1234567890123456789"}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, c.users)
	sem := make(chan struct{}, 16)
	for u := range c.users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for i := range c.preload {
				key := fmt.Sprintf("preload-%d", i)
				body, err := send(ctx, client, "PUT", t.base+"/v1.0/me/activities/"+key, t.tokens[u], activityJSON(key))
				if err != nil {
					errs <- err
					return
				}
				id := jsonID(body)
				t.ids[u] = append(t.ids[u], id)
				if _, err := send(ctx, client, "PUT", t.base+"/v1.0/me/activities/"+id+"/historyItems/"+newGUID(), t.tokens[u], historyJSON); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// send makes one request and returns the body of a 2xx answer.
func send(ctx context.Context, client *http.Client, method, url, token, body string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return b, err
}

// jsonID picks "id":"…" out of a response without decoding all of it.
func jsonID(body []byte) string {
	s := string(body)
	i := strings.Index(s, `"id":"`)
	if i < 0 {
		return ""
	}
	s = s[i+6:]
	return s[:strings.IndexByte(s, '"')]
}

const historyJSON = `{"startedDateTime":"2026-11-27T10:00:00Z","lastActiveDateTime":"2026-11-27T10:05:00Z","userTimezone":"Africa/Casablanca"}`

func newGUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}
