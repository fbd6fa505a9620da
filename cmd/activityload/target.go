package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/client"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/sqlite"
	"github.com/jackc/pgx/v5"
)

// target is a server under measurement, running as a process of its own.
type target struct {
	name      string
	base      string
	cmd       *exec.Cmd
	coldStart time.Duration     // from exec to the first answered request
	tokens    []string          // one per user
	issuer    *auth.LocalIssuer // signs the tokens when not the run's own: a kept database's keys
	ids       [][]string        // preloaded activity ids per user
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
		data := filepath.Join(dir, name)
		if name == "sqlite" && c.sqliteData != "" {
			data = c.sqliteData
		}
		args := []string{"serve", "--addr", addr, "--data", data, "--issuer-key", keyFile, "--log-level", "warn", "--throttle=false"}
		var store activity.Store
		if name == "postgres" {
			url, drop, err := freshSchema(ctx, c.db)
			if err != nil {
				return nil, err
			}
			t.cleanup = drop
			args = append(args, "--db", url)
			store, err = postgres.Open(ctx, url)
			if err != nil {
				return nil, err
			}
		} else {
			if c.sqliteData != "" {
				ids, err := keptPreload(data, c)
				if err != nil {
					return nil, fmt.Errorf("--sqlite-data: %w", err)
				}
				if ids != nil {
					t.ids = ids
					if t.issuer, err = keptIssuer(ctx, keyFile, data); err != nil {
						return nil, err
					}
					fmt.Fprintf(os.Stderr, "%s: %d users × %d activities preloaded before, in %s\n", name, c.users, c.preload, data)
					cmd = exec.Command(c.activityd, append(args, c.serverArgs...)...)
					break
				}
			}
			if err := os.MkdirAll(data, 0o700); err != nil {
				return nil, err
			}
			if store, err = sqlite.Open(ctx, filepath.Join(data, "activityd.db")); err != nil {
				return nil, err
			}
		}
		start := time.Now()
		t.ids, err = seed(ctx, c, store)
		store.Close()
		if err != nil {
			return nil, fmt.Errorf("preload %s: %w", name, err)
		}
		fmt.Fprintf(os.Stderr, "%s: preloaded %d users × %d activities in %s\n", name, c.users, c.preload, time.Since(start).Round(time.Second))
		if name == "sqlite" && c.sqliteData != "" {
			if err := savePreload(data, c, t.ids); err != nil {
				return nil, err
			}
		}
		cmd = exec.Command(c.activityd, append(args, c.serverArgs...)...)
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

// stop ends the process (SIGTERM, then SIGKILL after 30 s: a wrapper such as strace may ignore
// SIGTERM) and drops what it made.
func (t *target) stop() {
	t.cmd.Process.Signal(syscall.SIGTERM)
	kill := time.AfterFunc(30*time.Second, func() { t.cmd.Process.Kill() })
	t.cmd.Wait()
	kill.Stop()
	t.cleanup()
}

// peakRSS is the process's peak resident set size in bytes (VmHWM), or 0 where unknown.
func (t *target) peakRSS() int64 { return procStatus(t.cmd.Process.Pid, "VmHWM:") }

// cpuTime is the CPU time, user and system, that the process has used; ok is false where unknown.
// It reads utime and stime of /proc/pid/stat, in clock ticks of 1/100 s (USER_HZ, proc(5)).
func (t *target) cpuTime() (d time.Duration, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", t.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// The fields after the command's name, which is in parentheses and may hold spaces and
	// parentheses: the 14th and 15th of the line are the 12th and 13th of these.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b)[i+1:])
	if i < 0 || len(f) < 13 {
		return 0, false
	}
	user, err1 := strconv.ParseInt(f[11], 10, 64)
	system, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(user+system) * (time.Second / 100), true
}

// ioCount is what a process wrote: write system calls and bytes.
type ioCount struct{ calls, bytes int64 }

// written is what the process has written so far, to files and sockets alike (syscw and wchar of
// /proc/pid/io, proc(5)); ok is false where unknown.
func (t *target) written() (c ioCount, ok bool) {
	v, ok := procFields(t.cmd.Process.Pid, "io", "syscw:", "wchar:")
	return ioCount{calls: v[0], bytes: v[1]}, ok
}

// preload records what a kept SQLite data directory was preloaded with.
type preload struct {
	Users, Preload int
	IDs            [][]string
}

// savePreload records the preload of the kept directory dir, so that a later run can skip it.
func savePreload(dir string, c config, ids [][]string) error {
	b, err := json.Marshal(preload{Users: c.users, Preload: c.preload, IDs: ids})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "preload.json"), b, 0o600)
}

// keptPreload returns the preloaded ids of dir when it holds a database this tool preloaded with c's
// users and preload, and nil when it holds no database (the run preloads it). Anything else is an
// error naming what is there: preloading again into a database made by other parameters would leave
// it with two preloads and the signing keys of the first, which this run's tokens would not match.
func keptPreload(dir string, c config) ([][]string, error) {
	_, dbErr := os.Stat(filepath.Join(dir, "activityd.db"))
	ids, err := loadPreload(dir, c)
	switch {
	case err == nil && dbErr == nil:
		return ids, nil
	case err == nil:
		return nil, fmt.Errorf("%s has preload.json but no activityd.db: remove the directory, or give another", dir)
	case errors.Is(err, fs.ErrNotExist) && errors.Is(dbErr, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s holds activityd.db but no preload.json (not preloaded by this tool, or its preload was cut short): give an empty directory", dir)
	default:
		return nil, fmt.Errorf("%w: give the same --users and --preload, or another directory", err)
	}
}

// loadPreload returns the ids preloaded into dir by an earlier run with the same users and preload.
func loadPreload(dir string, c config) ([][]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "preload.json"))
	if err != nil {
		return nil, err
	}
	var p preload
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "preload.json"), err)
	}
	if p.Users != c.users || p.Preload != c.preload {
		return nil, fmt.Errorf("%s was preloaded with %d users × %d activities, not %d × %d", dir, p.Users, p.Preload, c.users, c.preload)
	}
	if len(p.IDs) != p.Users {
		return nil, fmt.Errorf("%s holds the ids of %d users, not %d", filepath.Join(dir, "preload.json"), len(p.IDs), p.Users)
	}
	return p.IDs, nil
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

// principal is who the local issuer's token for user u speaks for.
func principal(u int) activity.Principal {
	name := fmt.Sprintf("user%05d", u)
	return activity.Principal{TenantID: auth.LocalTenant, UserID: auth.UserID(name), AppID: "loadapp", UserName: name}
}

// keptIssuer is the local issuer of a kept SQLite data directory. The server keeps its signing keys
// in its database (auth.LocalIssuer.ShareKeys), starting from the key file of the run that made the
// database, and signs and verifies with those: this run's tokens must be signed with them too.
func keptIssuer(ctx context.Context, keyFile, data string) (*auth.LocalIssuer, error) {
	issuer, err := auth.LoadLocalIssuer(keyFile, "")
	if err != nil {
		return nil, err
	}
	store, err := sqlite.Open(ctx, filepath.Join(data, "activityd.db"))
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if err := issuer.ShareKeys(ctx, store); err != nil {
		return nil, fmt.Errorf("the signing keys of %s: %w", data, err)
	}
	return issuer, nil
}

// mintTokens mints a token per user, with t.issuer when set, else with issuer.
func (t *target) mintTokens(c config, issuer *auth.LocalIssuer) error {
	if t.issuer != nil {
		issuer = t.issuer
	}
	t.tokens = make([]string, c.users)
	for u := range c.users {
		tok, err := issuer.Mint(principal(u).UserName, "loadapp", 24*time.Hour)
		if err != nil {
			return err
		}
		t.tokens[u] = tok
	}
	if t.name == "ceiling" {
		t.ids = make([][]string, c.users)
		for u := range t.ids {
			t.ids[u] = []string{"1234567890123456789"}
		}
	}
	return nil
}

// seed stores the preload straight into the store, before the server starts: each user gets
// c.preload activities of about 1 KB, each with one history item. It returns the public ids (those
// the server will show) per user.
func seed(ctx context.Context, c config, store activity.Store) ([][]string, error) {
	secret, err := store.Secret(ctx, "graph", graph.SecretSize)
	if err != nil {
		return nil, err
	}
	public := graph.PublicIDs(secret)
	svc := activity.NewService(store)
	ids := make([][]string, c.users)
	users := make(chan int)
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for u := range users {
				p := principal(u)
				for i := range c.preload {
					a, err := decodeActivity(fmt.Sprintf("preload-%d", i))
					if err != nil {
						errs <- err
						return
					}
					start := time.Now().Add(-time.Hour)
					a.HistoryItems = []*activity.HistoryItem{{StartedDateTime: start, LastActiveDateTime: start.Add(5 * time.Minute)}}
					if _, err := svc.UpsertActivity(ctx, p, a); err != nil {
						errs <- err
						return
					}
					ids[u] = append(ids[u], strconv.FormatInt(public.Public(a.ID), 10))
				}
			}
		})
	}
	for u := range c.users {
		select {
		case users <- u:
		case err := <-errs:
			close(users)
			wg.Wait()
			return nil, err
		}
	}
	close(users)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return ids, nil
}

// decodeActivity turns the 1 KB request body into an activity, as the server would store it: the
// wire form through the client package's types.
func decodeActivity(key string) (*activity.Activity, error) {
	var w client.Activity
	if err := json.Unmarshal([]byte(activityJSON(key)), &w); err != nil {
		return nil, err
	}
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	return &activity.Activity{AppActivityID: w.AppActivityID, ActivitySourceHost: w.ActivitySourceHost,
		ActivationURL: w.ActivationURL, AppDisplayName: str(w.AppDisplayName), FallbackURL: str(w.FallbackURL),
		ContentURL: str(w.ContentURL), ContentInfo: w.ContentInfo, UserTimezone: str(w.UserTimezone),
		VisualElements: activity.VisualInfo{DisplayText: w.VisualElements.DisplayText, Description: str(w.VisualElements.Description),
			BackgroundColor: str(w.VisualElements.BackgroundColor), Content: w.VisualElements.Content}}, nil
}

const historyJSON = `{"startedDateTime":"2026-11-27T10:00:00Z","lastActiveDateTime":"2026-11-27T10:05:00Z","userTimezone":"Africa/Casablanca"}`

func newGUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}
