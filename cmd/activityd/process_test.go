package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestMain lets the test binary be activityd itself: with ACTIVITYD_TEST_AS_MAIN=1 it runs main, so
// that tests can start real activityd processes and kill them.
func TestMain(m *testing.M) {
	if os.Getenv("ACTIVITYD_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// process is a running activityd process.
type process struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
}

// startProcess starts "activityd serve" with args on a free port and waits until it listens.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	return startProcessEnv(t, nil, args...)
}

// startProcessEnv is startProcess with more environment variables (KEY=value).
func startProcessEnv(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "ACTIVITYD_TEST_AS_MAIN=1"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(p.kill)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			} else if strings.Contains(sc.Text(), "level=ERROR") {
				t.Logf("activityd: %s", sc.Text())
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("activityd %v exited before listening", args)
		}
		p.base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("activityd %v did not listen within 30s", args)
	}
	return p
}

// kill ends the process with SIGKILL: no shutdown, no flushing.
func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// request sends one request with a bearer token and returns the status and body.
func request(ctx context.Context, method, url, token, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func activityBody(key string) string {
	return fmt.Sprintf(`{"appActivityId":%q,"activitySourceHost":"https://x.example","activationUrl":"x://%s",`+
		`"visualElements":{"displayText":%q},"contentInfo":{"n":%d}}`, key, key, "doc "+key, rand.Int())
}

func TestProcesses_SharedDatabase(t *testing.T) {
	db := pgtest.URL(t)
	key := filepath.Join(t.TempDir(), "shared-issuer-key.pem")
	// Three processes start at once on one new database: the migrations run once.
	procs := make([]*process, 3)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() {
			procs[i] = startProcess(t, "--db", db, "--data", t.TempDir(), "--issuer-key", key,
				"--read-limits", "5/1h", "--write-limits", "200/1h")
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	files, _ := os.ReadDir("../../postgres/migrations")
	var migrations int
	conn.QueryRow(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&migrations)
	if migrations != len(files) {
		t.Errorf("schema_migrations holds %d rows after three concurrent starts, want one per file (%d)", migrations, len(files))
	}

	tok := mintToken(t, t.TempDir(), "alice", "notes") // a key of its own...
	var out bytes.Buffer
	if err := run(t.Context(), []string{"token", "--issuer-key", key, "--user", "alice", "--app", "notes"}, os.Getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := request(t.Context(), "GET", procs[0].base+"/v1.0/me/activities", tok, ""); status != 401 {
		t.Errorf("a token of another key: status %d, want 401", status) // ...is not trusted
	}
	tok = strings.TrimSpace(out.String()) // the shared key is trusted by every process

	status, body, err := request(t.Context(), "PUT", procs[0].base+"/v1.0/me/activities/one", tok, activityBody("one"))
	if err != nil || status != 201 {
		t.Fatalf("PUT through process 0: %d %s %v", status, body, err)
	}
	for i, p := range procs[1:] {
		status, got, _ := request(t.Context(), "GET", p.base+"/v1.0/me/activities/one", tok, "")
		if status != 200 || !sameActivity(t, body, got) {
			t.Errorf("GET through process %d: %d %s", i+1, status, got)
		}
	}

	// The same appActivityId upserted at once through every process: one activity, no 5xx.
	var mu sync.Mutex
	statuses := map[int]int{}
	for _, p := range procs {
		for range 8 {
			wg.Go(func() {
				for range 5 {
					s, b, err := request(t.Context(), "PUT", p.base+"/v1.0/me/activities/contended", tok, activityBody("contended"))
					mu.Lock()
					statuses[s]++
					mu.Unlock()
					if err != nil || s >= 500 {
						t.Errorf("contended PUT: %d %s %v", s, b, err)
					}
				}
			})
		}
	}
	wg.Wait()
	if statuses[201] != 1 || statuses[200] != 3*8*5-1 {
		t.Errorf("contended PUTs answered %v, want one 201 and the rest 200", statuses)
	}
	var n int
	conn.QueryRow(t.Context(), "SELECT COUNT(*) FROM activities WHERE app_activity_id = 'contended'").Scan(&n)
	if n != 1 {
		t.Errorf("%d activities stored for one appActivityId", n)
	}

	// Throttling holds across processes: six reads through three processes against a limit of five.
	var out2 bytes.Buffer
	run(t.Context(), []string{"token", "--issuer-key", key, "--user", "carol", "--app", "notes"}, os.Getenv, &out2, io.Discard)
	carol := strings.TrimSpace(out2.String())
	var throttled []int
	for i := range 6 {
		status, _, _ := request(t.Context(), "GET", procs[i%3].base+"/v1.0/me/activities", carol, "")
		if status == http.StatusTooManyRequests {
			throttled = append(throttled, i)
		}
	}
	if len(throttled) != 1 || throttled[0] != 5 {
		t.Errorf("reads throttled: %v, want only the sixth", throttled)
	}
}

// sameActivity reports whether two activity responses hold the same object, @odata.context aside
// (it names the host, which differs between processes).
func sameActivity(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	delete(x, "@odata.context")
	delete(y, "@odata.context")
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return bytes.Equal(xs, ys)
}

func TestCrash_SQLite(t *testing.T) {
	dir := t.TempDir()
	testCrash(t, dir, "--data", dir, "--throttle=false")
}

func TestCrash_Postgres(t *testing.T) {
	dir := t.TempDir()
	testCrash(t, dir, "--data", dir, "--db", pgtest.URL(t), "--throttle=false")
}

// testCrash runs writers against a real activityd process, kills it with SIGKILL at random moments
// and restarts it, ten times; then every write that was answered 2xx must read back identical.
func testCrash(t *testing.T, dir string, args ...string) {
	if testing.Short() {
		t.Skip("the crash test starts eleven processes")
	}
	tok := mintToken(t, dir, "alice", "notes")
	var mu sync.Mutex
	acked := map[string][]byte{} // appActivityId → the 2xx response
	const kills, writers = 10, 8
	for round := range kills {
		p := startProcess(t, args...)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		firstAck := make(chan struct{})
		var once sync.Once
		for w := range writers {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					key := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					status, body, err := request(ctx, "PUT", p.base+"/v1.0/me/activities/"+key, tok, activityBody(key))
					if err != nil {
						return // the process is gone
					}
					if status != 201 {
						t.Errorf("PUT %s: %d %s", key, status, body)
						return
					}
					mu.Lock()
					acked[key] = body
					mu.Unlock()
					once.Do(func() { close(firstAck) })
				}
			})
		}
		// The kill comes at a random moment after the process has acknowledged a write (a fresh
		// process on a loaded machine can take longer than the random wait to answer its first).
		select {
		case <-firstAck:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no write acknowledged within 30s", round)
		}
		time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
		p.kill()
		cancel()
		wg.Wait()
	}
	p := startProcess(t, args...)
	if len(acked) < kills {
		t.Fatalf("only %d writes were acknowledged in %d rounds", len(acked), kills)
	}
	for key, want := range acked {
		status, got, err := request(t.Context(), "GET", p.base+"/v1.0/me/activities/"+key, tok, "")
		if err != nil || status != 200 || !sameActivity(t, want, got) {
			t.Fatalf("acknowledged write %s after %d kills: %d %s %v; want %s", key, kills, status, got, err, want)
		}
	}
	t.Logf("%d acknowledged writes read back identical after %d SIGKILLs", len(acked), kills)
}
