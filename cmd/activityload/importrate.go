package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/client"
)

// importRate measures `activityd import` (BENCHMARKS.md): it writes --activities activities, each
// with a history item, as an export (JSON Lines, about 1 KB a line), starts activityd on --db (or
// SQLite), and times the import of the file by the activityd binary itself, then a second import of
// it (every activity unchanged). The baseline, in the same run and on the same server, is the same
// number of activities created by Graph PUTs with their history item, by 16 connections, for
// another user: import ÷ PUT is the figure that does not depend on the machine.
func importRate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("activityload import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("activityd", "./activityd", "the activityd binary to start, and to import with")
	db := fs.String("db", "", "PostgreSQL URL; without it, SQLite in a temporary directory")
	n := fs.Int("activities", 20000, "activities to import (each with a history item)")
	debug := fs.String("debug-addr", "", "passed to the server's --debug-addr, to profile it during the import (e.g. 127.0.0.1:6061; go tool pprof http://ADDR/debug/pprof/profile?seconds=5)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, keyFile, issuer, err := scratch("activityload-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	url, store := "", "sqlite"
	if *db != "" {
		var drop func()
		if url, drop, err = freshSchema(ctx, *db); err != nil {
			return err
		}
		defer drop()
		store = "postgres"
	}
	file := filepath.Join(dir, "export.jsonl")
	if err := writeExport(file, *n); err != nil {
		return err
	}
	var extra []string
	if *debug != "" {
		extra = []string{"--debug-addr", *debug}
	}
	srv, err := startServe(*bin, filepath.Join(dir, "data"), keyFile, url, extra, stderr)
	if err != nil {
		return err
	}
	defer srv.stop()
	person, err := issuer.Mint("importer", "cli", 24*time.Hour, auth.Scope, auth.ScopeAll)
	if err != nil {
		return err
	}
	run := func() (time.Duration, error) {
		cmd := exec.CommandContext(ctx, *bin, "import", file, "--url", srv.base, "--token", person)
		cmd.Stdout, cmd.Stderr = io.Discard, stderr
		start := time.Now()
		err := cmd.Run()
		return time.Since(start), err
	}
	first, err := run()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	second, err := run()
	if err != nil {
		return fmt.Errorf("second import: %w", err)
	}

	// The baseline: the same activities through Graph PUTs, 16 at a time.
	tok, err := issuer.Mint("putter", "notes", 24*time.Hour)
	if err != nil {
		return err
	}
	c := client.New(srv.base, tok)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	started, ended := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(*n) && failed.Load() == nil; i = next.Add(1) - 1 {
				a := exportActivity(int(i))
				a.App, a.CreatedDateTime, a.LastModifiedDateTime = "", nil, nil
				a.HistoryItems = []client.HistoryItem{{StartedDateTime: started, LastActiveDateTime: &ended}}
				if _, _, err := c.Put(ctx, &a); err != nil {
					failed.Store(&err)
				}
			}
		})
	}
	wg.Wait()
	puts := time.Since(start)
	if err := failed.Load(); err != nil {
		return fmt.Errorf("PUT: %w", *err)
	}
	rate := func(d time.Duration) float64 { return float64(*n) / d.Seconds() }
	fmt.Fprintf(stdout, "| store | activities | import | again (unchanged) | PUTs, 16 connections | import ÷ PUTs |\n|---|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(stdout, "| %s | %d | %.0f/s (%s) | %.0f/s | %.0f/s | %.2f |\n", store, *n, rate(first), first.Round(time.Millisecond),
		rate(second), rate(puts), rate(first)/rate(puts))
	return nil
}

// exportActivity is activity i as an export line holds it: about 1 KB, a history item, times in the
// past.
func exportActivity(i int) client.Activity {
	var a client.Activity
	json.Unmarshal([]byte(activityJSON(fmt.Sprintf("import-%07d", i))), &a)
	at := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	started, ended := at.Add(-30*time.Minute), at
	a.CreatedDateTime, a.LastModifiedDateTime, a.App = &at, &at, "notes"
	a.HistoryItems = []client.HistoryItem{{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), StartedDateTime: started,
		LastActiveDateTime: &ended, CreatedDateTime: &at, LastModifiedDateTime: &at}}
	return a
}

// writeExport writes n activities as an export file.
func writeExport(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := range n {
		a := exportActivity(i)
		if err := enc.Encode(&a); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
