package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd/auth"
)

// cli runs activityd with args against a server and returns its exit status and output, as main
// would give them.
func cli(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = exit(run(ctx, args, func(string) string { return "" }, &out, &errOut), &errOut)
	return code, out.String(), errOut.String()
}

// personToken mints a token with the person's scope for the local issuer of dir.
func personToken(t *testing.T, dir, user string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"token", "--data", dir, "--user", user, "--app", "cli", "--scopes", auth.Scope + "," + auth.ScopeAll}, os.Getenv, &out, &out); err != nil {
		t.Fatalf("token: %v: %s", err, out.String())
	}
	return strings.TrimSpace(out.String())
}

// TestCLI_Activities drives activities put, list, get, recent, rm and watch against a real server:
// human output by default, JSON with --json, and the exit statuses scripts rely on.
func TestCLI_Activities(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	tok := mintToken(t, dir, "alice", "notes")
	remote := []string{"--url", base, "--token", tok}
	file := filepath.Join(t.TempDir(), "a.json")
	os.WriteFile(file, []byte(`{"appActivityId":"doc-1","activitySourceHost":"https://notes.example","activationUrl":"https://notes.example/1",
		"visualElements":{"displayText":"Quarterly plan"},"historyItems":[{"startedDateTime":"2026-11-30T09:00:00Z","lastActiveDateTime":"2026-11-30T09:30:00Z"}]}`), 0o600)
	ctx := t.Context()

	// watch sees what the next commands do, as it happens.
	wctx, stopWatch := context.WithCancel(ctx)
	var watched lockedBuffer
	var wg sync.WaitGroup
	wg.Go(func() {
		run(wctx, append([]string{"activities", "watch", "--json"}, remote...), func(string) string { return "" }, &watched, &bytes.Buffer{})
	})
	time.Sleep(300 * time.Millisecond) // the stream starts from now

	if code, out, errOut := cli(t, ctx, append([]string{"activities", "put", file}, remote...)...); code != 0 || !strings.HasPrefix(out, "created doc-1 (id ") {
		t.Fatalf("put: %d %q %q", code, out, errOut)
	}
	if code, out, _ := cli(t, ctx, append([]string{"activities", "put", file}, remote...)...); code != 0 || !strings.HasPrefix(out, "replaced doc-1") {
		t.Errorf("put again: %d %q", code, out)
	}
	code, out, _ := cli(t, ctx, append([]string{"activities", "list", "--expand"}, remote...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "MODIFIED") || !strings.Contains(lines[1], "Quarterly plan") || !strings.Contains(lines[1], " 2 ") {
		t.Errorf("list: %d\n%s", code, out)
	}
	code, out, _ = cli(t, ctx, append([]string{"activities", "list", "--json", "--search", "quarterly"}, remote...)...)
	var a struct{ ID, AppActivityID string }
	if err := json.Unmarshal([]byte(out), &a); code != 0 || err != nil || a.AppActivityID != "doc-1" {
		t.Fatalf("list --json: %d %q %v", code, out, err)
	}
	if code, out, _ := cli(t, ctx, append([]string{"activities", "get", "doc-1"}, remote...)...); code != 0 || !strings.Contains(out, "30m0s active") {
		t.Errorf("get: %d\n%s", code, out)
	}
	if code, out, _ := cli(t, ctx, append([]string{"activities", "recent", "--json"}, remote...)...); code != 0 || !strings.Contains(out, `"doc-1"`) {
		t.Errorf("recent: %d %s", code, out)
	}
	if code, _, errOut := cli(t, ctx, append([]string{"activities", "get", "nope"}, remote...)...); code != exitNotFound || !strings.Contains(errOut, "not found") {
		t.Errorf("get a missing activity: %d %q, want %d", code, errOut, exitNotFound)
	}
	if code, out, _ := cli(t, ctx, append([]string{"activities", "rm", a.ID}, remote...)...); code != 0 || out != "deleted "+a.ID+"\n" {
		t.Errorf("rm: %d %q", code, out)
	}
	if code, _, _ := cli(t, ctx, append([]string{"activities", "rm", a.ID}, remote...)...); code != exitNotFound {
		t.Errorf("rm again: %d, want %d", code, exitNotFound)
	}
	if code, _, errOut := cli(t, ctx, "activities", "list", "--url", base); code != 2 || !strings.Contains(errOut, "no token") {
		t.Errorf("no token: %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, ctx, "activities", "list", "--url", base, "--token", "x.y.z"); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("a bad token: %d %q", code, errOut)
	}

	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(watched.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stopWatch()
	wg.Wait()
	var kinds []string
	for line := range strings.Lines(watched.String()) {
		var ch struct{ Kind, Token string }
		json.Unmarshal([]byte(line), &ch)
		if ch.Token == "" {
			t.Errorf("a change without its token: %s", line)
		}
		kinds = append(kinds, ch.Kind)
	}
	if strings.Join(kinds, ",") != "created,updated,deleted" {
		t.Errorf("watch saw %v, want created, updated, deleted", kinds)
	}
}

// TestCLI_ExportImport moves a person's history from one server to an empty one with export and
// import: the same activities and sessions arrive, a second import changes nothing, and bad lines are
// named with their file and line while the rest goes in (exit status 4).
func TestCLI_ExportImport(t *testing.T) {
	srcDir, dstDir := t.TempDir(), t.TempDir()
	src, dst := startServer(t, srcDir, nil), startServer(t, dstDir, nil)
	ctx := t.Context()
	tmp := t.TempDir()
	for i, app := range []string{"notes", "music"} {
		file := filepath.Join(tmp, app+".json")
		os.WriteFile(file, []byte(`{"appActivityId":"a`+app+`","activitySourceHost":"https://`+app+`.example","activationUrl":"https://`+app+`.example/1",
			"visualElements":{"displayText":"`+app+`"},"historyItems":[{"startedDateTime":"2026-11-2`+string(rune('1'+i))+`T09:00:00Z"}]}`), 0o600)
		if code, _, errOut := cli(t, ctx, "activities", "put", file, "--url", src, "--token", mintToken(t, srcDir, "alice", app)); code != 0 {
			t.Fatal(errOut)
		}
	}
	export := filepath.Join(tmp, "alice.jsonl")
	code, _, errOut := cli(t, ctx, "export", export, "--url", src, "--token", personToken(t, srcDir, "alice"))
	if code != 0 || !strings.Contains(errOut, "exported 2 activities with 2 history items to "+export) {
		t.Fatalf("export: %d %q", code, errOut)
	}
	dstTok := personToken(t, dstDir, "alice")
	if code, _, errOut := cli(t, ctx, "import", export, "--url", dst, "--token", dstTok); code != 0 || !strings.Contains(errOut, "2 activities: 2 created, 0 updated, 0 unchanged") {
		t.Fatalf("import: %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, ctx, "import", "--url", dst, "--token", dstTok, export); code != 0 || !strings.Contains(errOut, "2 unchanged") {
		t.Errorf("import again: %d %q", code, errOut)
	}
	again := filepath.Join(tmp, "again.jsonl")
	cli(t, ctx, "export", again, "--url", dst, "--token", dstTok)
	read := func(name string) string {
		b, _ := os.ReadFile(name)
		var out []string
		for line := range strings.Lines(string(b)) {
			var m map[string]any
			json.Unmarshal([]byte(line), &m)
			delete(m, "id")
			j, _ := json.Marshal(m)
			out = append(out, string(j))
		}
		return strings.Join(out, "\n")
	}
	if read(export) != read(again) {
		t.Errorf("after export and import:\n%s\nwant\n%s", read(again), read(export))
	}

	// Bad lines: named, skipped, the rest imported; --strict stops at the first.
	bad := filepath.Join(tmp, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"appActivityId":"x1","activitySourceHost":"https://x.example","activationUrl":"https://x.example/1","visualElements":{"displayText":"fine"},"@activityd.appId":"x"}
{"appActivityId":"x2"
{"appActivityId":"x3","@activityd.appId":"x"}
{"appActivityId":"x4","activitySourceHost":"https://x.example","activationUrl":"https://x.example/4","visualElements":{"displayText":"fine too"},"@activityd.appId":"x"}
`), 0o600)
	code, _, errOut = cli(t, ctx, "import", bad, "--url", dst, "--token", dstTok)
	if code != exitSkipped || !strings.Contains(errOut, "bad.jsonl:2: skipped: the line is not JSON") ||
		!strings.Contains(errOut, "bad.jsonl:3: skipped: The property 'activitySourceHost' is required.") ||
		!strings.Contains(errOut, "4 activities: 2 created") {
		t.Errorf("bad lines: %d\n%s", code, errOut)
	}
	code, _, errOut = cli(t, ctx, "import", bad, "--strict", "--url", dst, "--token", dstTok)
	if code != exitSkipped || !strings.Contains(errOut, "stopped: --strict") || strings.Contains(errOut, ":3:") {
		t.Errorf("--strict: %d\n%s", code, errOut)
	}
	if code, _, errOut := cli(t, ctx, "import", filepath.Join(tmp, "missing.jsonl"), "--url", dst, "--token", dstTok); code != 1 || !strings.Contains(errOut, "missing.jsonl") {
		t.Errorf("a missing file: %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, ctx, "import", export, "--dry-run"); code != 0 || !strings.Contains(errOut, "2 would be sent") {
		t.Errorf("--dry-run: %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, ctx, "import", export, "--url", dst, "--token", mintToken(t, dstDir, "alice", "notes")); code != 1 || !strings.Contains(errOut, "UserActivity.ReadWrite.All") {
		t.Errorf("an app's token: %d %q", code, errOut)
	}
}

// lockedBuffer is a bytes.Buffer that one goroutine writes while another reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCLI_ImportLongLine: a line longer than an import reads (8 MiB) is skipped with its line number,
// read past without holding it, and the next line goes in.
func TestCLI_ImportLongLine(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	file := filepath.Join(t.TempDir(), "long.jsonl")
	f, _ := os.Create(file)
	f.WriteString(`{"appActivityId":"big","x":"`)
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for range 9 {
		f.Write(chunk)
	}
	f.WriteString("\"}\n" + `{"appActivityId":"small","activitySourceHost":"https://x.example","activationUrl":"https://x.example/1","visualElements":{"displayText":"small"},"@activityd.appId":"x"}` + "\n")
	f.Close()
	code, _, errOut := cli(t, t.Context(), "import", file, "--url", base, "--token", personToken(t, dir, "alice"))
	if code != exitSkipped || !strings.Contains(errOut, "long.jsonl:1: skipped: the line is longer than 8 MiB") || !strings.Contains(errOut, "1 created") {
		t.Errorf("a 9 MiB line: %d\n%s", code, errOut)
	}
}

// TestCLI_ImportReview: what the review found, fixed: a UTF-8 byte order mark is read past; a saved
// error answer among Graph pages stops the import as incomplete; Graph JSON without --default-app
// stops before sending; a negative --pulse-time is a usage error.
func TestCLI_ImportReview(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	tok := personToken(t, dir, "alice")
	tmp := t.TempDir()
	line := `{"appActivityId":"bom","activitySourceHost":"https://x.example","activationUrl":"https://x.example/1","visualElements":{"displayText":"bom"},"@activityd.appId":"x"}`
	os.WriteFile(filepath.Join(tmp, "bom.jsonl"), []byte("\ufeff"+line+"\n"), 0o600)
	if code, _, errOut := cli(t, t.Context(), "import", filepath.Join(tmp, "bom.jsonl"), "--url", base, "--token", tok); code != 0 || !strings.Contains(errOut, "1 created") {
		t.Errorf("a byte order mark: %d %s", code, errOut)
	}
	page := `{"value":[{"appActivityId":"g1","activitySourceHost":"https://x.example","activationUrl":"https://x.example/1","visualElements":{"displayText":"g1"}}],"@odata.nextLink":"x"}`
	os.WriteFile(filepath.Join(tmp, "pages.json"), []byte(page+"\n"+`{"error":{"code":"TooManyRequests","message":"slow down"}}`), 0o600)
	code, _, errOut := cli(t, t.Context(), "import", filepath.Join(tmp, "pages.json"), "--default-app", "g", "--url", base, "--token", tok)
	if code != 1 || !strings.Contains(errOut, "page 2 is an error answer of the API (TooManyRequests: slow down)") {
		t.Errorf("a saved error page: %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, t.Context(), "import", filepath.Join(tmp, "pages.json"), "--url", base, "--token", tok); code != 1 || !strings.Contains(errOut, "name it with --default-app") {
		t.Errorf("Graph JSON without --default-app: %d %s", code, errOut)
	}
	if code, _, _ := cli(t, t.Context(), "import", filepath.Join(tmp, "bom.jsonl"), "--pulse-time", "-5m", "--url", base, "--token", tok); code != 2 {
		t.Errorf("--pulse-time -5m: %d, want 2", code)
	}
}
