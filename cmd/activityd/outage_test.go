package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/activityd/activityd/postgres/pgtest"
)

// tcpProxy forwards connections from a port of its own to PostgreSQL, and can cut them all and
// refuse new ones (an outage, as the server sees it) and come back on the same port.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every forwarded connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens again on the same port.
func (p *tcpProxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// TestOutage_Postgres cuts the server off from PostgreSQL under load, then brings PostgreSQL back:
// during the outage every answer is 503 with Retry-After (never a 500, which the Graph SDKs do not
// retry), /readyz says not ready within 5 s, the server serves again within 5 s of PostgreSQL's
// return, every write acknowledged is there, and no goroutine is left behind.
func TestOutage_Postgres(t *testing.T) {
	db := pgtest.URL(t)
	u, _ := url.Parse(db)
	proxy := newProxy(t, u.Host)
	u.Host = proxy.addr
	outageUnderLoad(t, u, proxy.cut, proxy.restore)
}

// TestOutage_PostgresRestart is TestOutage_Postgres with a real outage: a PostgreSQL of the test's
// own (initdb in a temporary directory, on a free port) stopped under load with pg_ctl's immediate
// mode (a crash, as PostgreSQL sees it: the next start replays its WAL) and started again.
func TestOutage_PostgresRestart(t *testing.T) {
	pg := newPGCluster(t)
	u, _ := url.Parse(pg.url())
	outageUnderLoad(t, u, func() { pg.ctl(t, "stop", "-m", "immediate") }, func() { pg.start(t) })
}

// TestPoolExhausted_Postgres: when every connection of the process's pool is busy for longer than
// pool_acquire_timeout, a request is answered 503 serviceNotAvailable with Retry-After (which the
// Graph SDKs retry), not left waiting, and the server serves again once a connection is free. The
// pool has one connection here, held by a write that waits on a table lock the test takes.
func TestPoolExhausted_Postgres(t *testing.T) {
	db := pgtest.URL(t)
	dir := t.TempDir()
	base := startServer(t, dir, nil, "--db", db+"&pool_max_conns=1&pool_acquire_timeout=500ms", "--purge-interval=0")
	tok := mintToken(t, dir, "alice", "notes")
	do := func(method, key string) (*http.Response, string) {
		var body io.Reader
		if method == "PUT" {
			body = strings.NewReader(activityBody(key))
		}
		req, _ := http.NewRequest(method, base+"/v1.0/me/activities/"+key, body)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}
	// A live stream, open before: it must stay open through the exhaustion and then carry on. Its
	// first event says it is live (caught up, not reading) before the pool is exhausted.
	events := openLiveStream(t, t.Context(), base, tok, "")
	if res, body := do("PUT", "before"); res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT before: %d %s", res.StatusCode, body)
	}
	if ev := receive(t, events, 1)[0]; !strings.Contains(ev.data, `"appActivityId":"before"`) {
		t.Fatalf("the stream's first event: %+v, want before", ev)
	}
	lock := pgtest.Hold(t, db, "LOCK TABLE activities IN ACCESS EXCLUSIVE MODE")
	// The held PUT. On a loaded machine the pool's one connection may be busy for longer than the
	// acquire timeout with something else (the stream's read of the change log, the statistics
	// upkeep) when it arrives: it is then answered 503 at once, never reaches the lock, and is sent
	// again.
	held := make(chan int, 1)
	sendHeld := func() {
		go func() {
			req, _ := http.NewRequest("PUT", base+"/v1.0/me/activities/held", strings.NewReader(activityBody("held")))
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Logf("the held PUT: %v", err)
				held <- 0
				return
			}
			res.Body.Close()
			held <- res.StatusCode
		}()
	}
	sendHeld()
	for waiting, deadline, sent := 0, time.Now().Add(30*time.Second), 1; waiting == 0; time.Sleep(10 * time.Millisecond) {
		select {
		case st := <-held:
			if st != http.StatusServiceUnavailable || sent == 5 {
				t.Fatalf("the held PUT was answered %d before it waited on the table lock (try %d)", st, sent)
			}
			t.Logf("the held PUT was answered %d before it reached the table lock (try %d): sent again", st, sent)
			sent++
			sendHeld()
		default:
		}
		// pg_locks, not pg_stat_activity's query: a statement whose plan is cached takes its locks
		// when it is bound, before pg_stat_activity shows its text (it still shows the request
		// counter's INSERT that came before it on the connection).
		if err := lock.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks
			WHERE NOT granted AND relation = 'activities'::regclass`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			rows, _ := lock.Query(t.Context(), `SELECT coalesce(state, ''), coalesce(wait_event_type, ''), coalesce(wait_event, ''),
				left(regexp_replace(query, '\s+', ' ', 'g'), 100) FROM pg_stat_activity WHERE datname = current_database()`)
			for rows.Next() {
				var state, kind, event, query string
				rows.Scan(&state, &kind, &event, &query)
				t.Logf("pg_stat_activity: %s | %s | %s | %s", state, kind, event, query)
			}
			rows.Close()
			rows, _ = lock.Query(t.Context(), `SELECT l.locktype, coalesce(l.relation::regclass::text, ''), l.mode,
				pg_blocking_pids(l.pid)::text, left(regexp_replace(a.query, '\s+', ' ', 'g'), 60)
				FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted`)
			for rows.Next() {
				var kind, rel, mode, blockers, query string
				rows.Scan(&kind, &rel, &mode, &blockers, &query)
				t.Logf("waits for a lock: %s %s %s, blocked by %s | %s", kind, rel, mode, blockers, query)
			}
			rows.Close()
			t.Fatal("the held PUT did not wait on the table lock within 30 s")
		}
	}

	res, body := do("GET", "before")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"serviceNotAvailable"`) {
		t.Errorf("GET while the pool's only connection is busy: %d %s, want 503 serviceNotAvailable", res.StatusCode, body)
	}
	if res.Header.Get("Retry-After") == "" {
		t.Error("the 503 has no Retry-After")
	}

	// Another process's commit wakes the stream (as its NOTIFY would), whose read of the change log
	// then finds no connection either: the stream waits and reads again, rather than ending.
	if err := pgtest.Hold(t, db, `SELECT pg_notify('activityd_changes', 'another-process'||chr(10)||'*')`).Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	select {
	case ev, ok := <-events:
		t.Fatalf("the stream, while the pool is exhausted: %v %v, want it open and quiet", ev, ok)
	default:
	}

	if err := lock.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, events, 1)[0]; ev.kind != "created" || !strings.Contains(ev.data, `"appActivityId":"held"`) {
		t.Errorf("the stream's event once the pool had a connection again: %+v, want held created", ev)
	}
	if st := <-held; st != http.StatusCreated {
		t.Errorf("the PUT that held the connection, once the lock was gone: %d, want 201", st)
	}
	for _, key := range []string{"before", "held"} {
		if res, body := do("GET", key); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s once a connection is free: %d %s", key, res.StatusCode, body)
		}
	}
}

// outageUnderLoad runs the outage checks against PostgreSQL at u: cut makes the outage, restore
// ends it (returning once PostgreSQL takes connections again).
func outageUnderLoad(t *testing.T, u *url.URL, cut, restore func()) {
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	dir := t.TempDir()
	base := startServer(t, dir, nil, "--db", u.String(), "--throttle=false")
	tok := mintToken(t, dir, "alice", "notes")

	var mu sync.Mutex
	var acked []string
	statuses := map[int]int{}
	var retryAfter int
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	outage := make(chan struct{})
	var restored atomic.Bool // answers after PostgreSQL is back do not count as the outage's
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				// A request sent before the cut may still succeed: only those sent after it count.
				sentInOutage := false
				select {
				case <-outage:
					sentInOutage = true
				default:
				}
				req, _ := http.NewRequestWithContext(ctx, "PUT", base+"/v1.0/me/activities/"+key, strings.NewReader(activityBody(key)))
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				if sentInOutage && !restored.Load() {
					statuses[res.StatusCode]++
					if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != "" {
						retryAfter++
					}
				}
				if res.StatusCode/100 == 2 {
					acked = append(acked, key)
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	// Under load, before the outage: the process's goroutines then (the writers' included) bound
	// those left once it is over and the writers have stopped.
	goroutines := runtime.NumGoroutine()
	cut()
	close(outage)
	cutAt := time.Now()
	ready := func() bool {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	for ready() {
		if time.Since(cutAt) > 5*time.Second {
			t.Fatal("/readyz still says ready 5 s into the outage")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	mu.Lock()
	during := fmt.Sprint(statuses)
	if statuses[http.StatusServiceUnavailable] == 0 || len(statuses) != 1 || retryAfter != statuses[http.StatusServiceUnavailable] {
		t.Errorf("answers during the outage: %s (%d with Retry-After); want only 503, each with Retry-After", during, retryAfter)
	}
	mu.Unlock()

	restored.Store(true)
	restore()
	backAt := time.Now()
	for !ready() {
		if time.Since(backAt) > 5*time.Second {
			t.Fatal("/readyz not ready 5 s after PostgreSQL came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		status, body, err := request(t.Context(), "PUT", base+"/v1.0/me/activities/after", tok, activityBody("after"))
		if err == nil && status/100 == 2 {
			break
		}
		if time.Since(backAt) > 5*time.Second {
			t.Fatalf("writes fail 5 s after PostgreSQL came back: %d %s %v", status, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, key := range acked {
		if status, body, err := request(t.Context(), "GET", base+"/v1.0/me/activities/"+key, tok, ""); err != nil || status != http.StatusOK {
			t.Fatalf("%s, acknowledged, after the outage: %d %s %v", key, status, body, err)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after the outage, %d under load before it", n, goroutines)
	}
	t.Logf("during the outage: %s; %d writes acknowledged in all", during, len(acked))
}

// pgCluster is a PostgreSQL server of a test's own: initdb in a temporary directory, started with
// pg_ctl on a free loopback port (as the postgres user when the test runs as root, which initdb
// refuses), stopped when the test ends.
type pgCluster struct {
	bin, dir, port string
	cred           *syscall.Credential
}

func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("no initdb (Debian's postgresql package): a PostgreSQL of the test's own cannot be made")
	}
	c := &pgCluster{bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "activityd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() {
		exec.Command(filepath.Join(c.bin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "stop", "-m", "immediate").Run()
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		pg, err := osuser.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user: initdb would refuse")
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	_, c.port, _ = net.SplitHostPort(freePort(t))
	c.run(t, "initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	c.start(t)
	return c
}

// run runs one of PostgreSQL's programs as the cluster's user and fails the test if it fails.
func (c *pgCluster) run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, log)
	}
}

func (c *pgCluster) ctl(t *testing.T, args ...string) {
	t.Helper()
	c.run(t, "pg_ctl", append([]string{"-D", filepath.Join(c.dir, "data"), "-w", "-t", "60"}, args...)...)
}

// start starts the server and returns once it takes connections.
func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	c.ctl(t, "-l", filepath.Join(c.dir, "log"), "-o", "-p "+c.port+" -c listen_addresses=127.0.0.1 -k "+c.dir, "start")
}

func (c *pgCluster) url() string {
	return "postgres://postgres@127.0.0.1:" + c.port + "/postgres?sslmode=disable"
}
