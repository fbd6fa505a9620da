package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/activityd/activityd/client"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/importer"
)

const exportSynopsis = `Usage: activityd export [flags] [FILE]

Writes every activity of the person, across their apps, with its history items, to FILE (or stdout)
as JSON Lines: one activity a line, every property as stored, and its app as "@activityd.appId".
'activityd import' reads it back, into this server or another. The token needs the scope
UserActivity.ReadWrite.All (activityd token --scopes UserActivity.ReadWrite.All). A summary goes to
stderr.
`

// export writes the person's export to a file or stdout.
func export(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var rf remoteFlags
	var app, since string
	fs := flag.NewFlagSet("activityd export", flag.ContinueOnError)
	rf.add(fs)
	fs.StringVar(&app, "only-app", "", "only the activities of this `app`")
	fs.StringVar(&since, "since", "", "only the activities modified since this `time` (RFC 3339, or a duration such as 24h back from now)")
	rest, err := parseFlagsArgs(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, exportSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	c, err := rf.client(ctx, "export")
	if err != nil {
		return err
	}
	var o client.ExportOptions
	o.App = app
	if since != "" {
		if d, err := time.ParseDuration(since); err == nil && d > 0 {
			o.Since = time.Now().Add(-d)
		} else if o.Since, err = time.Parse(time.RFC3339, since); err != nil {
			return usagef("export", "--since %q: want a time such as 2026-11-30T00:00:00Z, or a duration such as 24h", since)
		}
	}
	if len(rest) > 1 {
		return usagef("export", "want at most one FILE")
	}
	out, name := stdout, "stdout"
	var file *os.File
	if len(rest) == 1 && rest[0] != "-" {
		name = rest[0]
		// Written beside the target and renamed when complete: an interrupted export leaves no
		// half file under the name.
		file, err = os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
		if err != nil {
			return err
		}
		defer os.Remove(file.Name())
		defer file.Close()
		out = file
	}
	counter := &lineCounter{}
	start := time.Now()
	if _, err := c.Export(ctx, io.MultiWriter(out, counter), o); err != nil {
		return err
	}
	if len(counter.buf) != 0 {
		return fmt.Errorf("the export ended in the middle of a line: the server stopped early (see its log); %s is incomplete", name)
	}
	if file != nil {
		if err := file.Sync(); err != nil {
			return err
		}
		if err := file.Close(); err != nil {
			return err
		}
		if err := os.Rename(file.Name(), name); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "exported %d %s with %d history %s to %s in %s\n", counter.lines, plural(counter.lines, "activity", "activities"),
		counter.items, plural(counter.items, "item", "items"), name, time.Since(start).Round(time.Millisecond))
	return nil
}

// lineCounter counts the lines of an export and their history items as they go by; buf holds the
// line not yet ended.
type lineCounter struct {
	lines, items int
	buf          []byte
}

func (lc *lineCounter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lc.buf = append(lc.buf, b...)
			return n, nil
		}
		lc.buf = append(lc.buf, b[:i]...)
		var line struct {
			HistoryItems []json.RawMessage `json:"historyItems"`
		}
		json.Unmarshal(lc.buf, &line)
		lc.lines++
		lc.items += len(line.HistoryItems)
		lc.buf = lc.buf[:0]
		b = b[i+1:]
	}
	return n, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

const importSynopsis = `Usage: activityd import [flags] FILE...

Brings activities into the person's history on an activityd, keeping their times, apps and history
item ids. FILE is one of:

  an export of activityd (JSON Lines, from 'activityd export' or the timeline page);
  Graph JSON: responses of GET /me/activities?$expand=historyItems, one after another (--default-app
    names the app they belong to);
  Windows Timeline's database, ActivitiesCache.db (Windows 10 1803 and 2004+ layouts), read without
    touching it: each app's activities with their sessions; clipboard and other rows are skipped;
  an ActivityWatch export (aw-server or aw-server-rust): browser tabs become activities keyed by URL
    with a session per visit, windows become activities per app and title.

Importing is idempotent: the key is the app and the appActivityId, history items keep their ids, an
activity equal to the stored one is left alone, and one stored with a later lastModifiedDateTime is
kept (it is newer than the import). So an interrupted import is resumed by running it again. The
source file is only read. The token needs the scope UserActivity.ReadWrite.All.

Each item the server refuses is named on stderr with its file, line and reason, and the import goes on
(or stops with --strict). Exit status: 0 all imported, 4 some items skipped or a file read only in part, 1 failed, 2 wrong usage.
With --json, stdout has a JSON object a line, {"source", "result", "reason"}, where result is one of
created, updated, unchanged, newer, skipped, would send (--dry-run), left out (with a count: records
a reader leaves out on purpose) or read in part (a file read only up to a bound, such as
--timeline-max-rows).
`

// importFlags are the options of one import.
type importFlags struct {
	app       string
	dryRun    bool
	strict    bool
	trimAFK   bool
	incognito bool
	pulseTime time.Duration
	timeline  importer.TimelineOptions
}

// importSummary counts what an import did, by result (created, updated, unchanged, newer, skipped).
type importSummary map[string]int

func (s importSummary) String() string {
	total := s.total()
	var out string
	if _, dry := s["dry run"]; dry {
		out = fmt.Sprintf("%d %s read: %d would be sent, %d skipped (a dry run: nothing was sent)",
			total, plural(total, "activity", "activities"), s["would send"], s["skipped"])
	} else {
		out = fmt.Sprintf("%d %s: %d created, %d updated, %d unchanged, %d kept as newer, %d skipped",
			total, plural(total, "activity", "activities"), s["created"], s["updated"], s["unchanged"], s["newer"], s["skipped"])
	}
	if n := s["left out"]; n > 0 {
		out += fmt.Sprintf(" (and %d %s left out, above)", n, plural(n, "record", "records"))
	}
	if n := s[readInPart]; n == 1 {
		out += " (a file was read only in part, above)"
	} else if n > 1 {
		out += fmt.Sprintf(" (%d files were read only in part, above)", n)
	}
	return out
}

// readInPart counts, in an importSummary, the sources read only in part (importer.Skip.Partial):
// not an item, but the import exits as when items were skipped.
const readInPart = "read in part"

// source is one item of an import: a line to send and where it came from.
type source struct {
	where string // file:line, or file: row …
	line  []byte // one activity as an export line holds it
}

// maxImportRequest and maxImportLines bound one import request (the server takes 8 MiB and 10,000
// lines).
const (
	maxImportRequest = 1 << 20
	maxImportLines   = 5000
)

// importCmd imports files into the person's history.
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var rf remoteFlags
	var f importFlags
	fs := flag.NewFlagSet("activityd import", flag.ContinueOnError)
	rf.add(fs)
	fs.StringVar(&f.app, "default-app", "", "the `app` the activities belong to, for inputs that do not say (Graph JSON)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "read and convert everything and say what would be sent, without sending it")
	fs.BoolVar(&f.strict, "strict", false, "stop at the first item the server or the reader refuses")
	fs.BoolVar(&f.trimAFK, "trim-afk", false, "ActivityWatch: cut the time away from the keyboard (its afkstatus bucket) out of sessions")
	fs.BoolVar(&f.incognito, "incognito", false, "ActivityWatch: import the tabs of private windows too (skipped by default)")
	fs.DurationVar(&f.pulseTime, "pulse-time", importer.DefaultPulseTime, "ActivityWatch: the longest gap between two events of one page or window that still makes one session")
	fs.IntVar(&f.timeline.MaxRows, "timeline-max-rows", importer.DefaultTimelineMaxRows, "Windows Timeline: the most `rows` read from a database; one with more is read up to it, and the import says so")
	fs.StringVar(&f.timeline.SourceHost, "timeline-source-host", importer.DefaultTimelineSourceHost, "Windows Timeline: the activitySourceHost `URL` of activities whose app names no host")
	rest, err := parseFlagsArgs(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, importSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usagef("import", "want one or more FILEs")
	}
	if f.pulseTime <= 0 {
		return usagef("import", "--pulse-time %s: want a positive duration, such as 1m", f.pulseTime)
	}
	if f.timeline.MaxRows <= 0 {
		return usagef("import", "--timeline-max-rows %d: want a positive number of rows, such as %d", f.timeline.MaxRows, importer.DefaultTimelineMaxRows)
	}
	if _, err := graph.ParsePublicURL(f.timeline.SourceHost); err != nil {
		return usagef("import", "--timeline-source-host %q: want an origin (http or https, a host name and at most a port from 1 to 65535; no user, path or query), such as %s", f.timeline.SourceHost, importer.DefaultTimelineSourceHost)
	}
	var c *client.Client
	if !f.dryRun {
		var err error
		if c, err = rf.client(ctx, "import"); err != nil {
			return err
		}
	}
	total := importSummary{}
	for i, name := range rest {
		sum, err := importFile(ctx, c, name, f, rf.json, stdout, stderr)
		for k, n := range sum {
			total[k] += n
		}
		if err != nil && !strings.HasPrefix(err.Error(), name) {
			err = fmt.Errorf("%s: %w", name, err)
		}
		if err != nil {
			if left := rest[i+1:]; len(left) > 0 {
				err = fmt.Errorf("%w (the import stopped here: not read: %s)", err, strings.Join(left, ", "))
			}
			return err
		}
	}
	if len(rest) > 1 {
		fmt.Fprintf(stderr, "all files: %s\n", total)
	}
	var said []string
	if n := total["skipped"]; n > 0 {
		said = append(said, fmt.Sprintf("%d %s skipped (named above)", n, plural(n, "item was", "items were")))
	}
	if n := total[readInPart]; n > 0 {
		said = append(said, fmt.Sprintf("%d %s read only in part (said above)", n, plural(n, "file was", "files were")))
	}
	if len(said) > 0 {
		return &exitError{exitSkipped, errors.New(strings.Join(said, "; "))}
	}
	return nil
}

// importFile imports one file, sending its items in requests of up to maxImportRequest bytes.
func importFile(ctx context.Context, c *client.Client, name string, f importFlags, asJSON bool, stdout, stderr io.Writer) (importSummary, error) {
	file, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory, not a file to import")
	}
	prog := newProgress(stderr, name, st.Size())
	defer prog.done()
	in := &countingReader{r: file, progress: prog}
	sum := importSummary{}
	if f.dryRun {
		sum["dry run"] = 0
	}
	start := time.Now()
	var batch []source
	size := 0
	var mu sync.Mutex // report is called by the reader and by the request in flight
	report := func(where, result, reason string) {
		mu.Lock()
		defer mu.Unlock()
		sum[result]++
		if asJSON {
			json.NewEncoder(stdout).Encode(map[string]string{"source": where, "result": result, "reason": reason})
		} else if result == "skipped" || result == readInPart {
			prog.println(fmt.Sprintf("%s: %s: %s", where, result, reason))
		}
	}
	send := func(batch []source) error {
		lines := make([][]byte, len(batch))
		for i, s := range batch {
			lines[i] = s.line
		}
		res, err := c.Import(ctx, lines)
		if err != nil {
			return err
		}
		if len(res) != len(batch) {
			return fmt.Errorf("the server answered for %d of %d items", len(res), len(batch))
		}
		for i, r := range res {
			report(batch[i].where, r.Result, r.Reason)
			if r.Result == "skipped" && f.strict {
				return &exitError{exitSkipped, fmt.Errorf("%s: %s (stopped: --strict)", batch[i].where, r.Reason)}
			}
		}
		return nil
	}
	// One request is in flight while the next is read and converted, so that the reader and the
	// server work at once; answers are reported in order.
	var inflight chan error
	wait := func() error {
		if inflight == nil {
			return nil
		}
		err := <-inflight
		inflight = nil
		return err
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		sending := batch
		batch, size = nil, 0
		if f.dryRun {
			for _, s := range sending {
				report(s.where, "would send", "")
			}
			return nil
		}
		if err := wait(); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- send(sending) }()
		inflight = done
		if f.strict {
			return wait()
		}
		return nil
	}
	emit := func(s source) error {
		if f.strict || size+len(s.line) > maxImportRequest || len(batch) >= maxImportLines {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, s)
		size += len(s.line) + 1
		if f.strict {
			return flush()
		}
		return nil
	}
	// notice reports a record skipped, or a source read only in part (it reached a bound: said, and
	// the import exits as for skips, but it counts as no item); --strict stops at either.
	notice := func(result string) func(where, reason string) error {
		return func(where, reason string) error {
			report(where, result, reason)
			if f.strict {
				return &exitError{exitSkipped, fmt.Errorf("%s: %s (stopped: --strict)", where, reason)}
			}
			return nil
		}
	}
	skip, partial := notice("skipped"), notice(readInPart)
	// What a reader leaves out on purpose (rows that are not activities, private tabs) is said once
	// per reason at the end, with a count; it is not an error.
	var leftOut []string
	leftOutN := map[string]int{}
	leave := func(reason string) {
		mu.Lock()
		defer mu.Unlock()
		if leftOutN[reason] == 0 {
			leftOut = append(leftOut, reason)
		}
		leftOutN[reason]++
		sum["left out"]++
	}
	err = readSource(ctx, in, name, f, emit, skip, partial, leave, stderr)
	if err == nil {
		err = flush()
	}
	if werr := wait(); err == nil {
		err = werr
	}
	prog.done()
	for _, reason := range leftOut {
		if asJSON {
			json.NewEncoder(stdout).Encode(map[string]any{"source": name, "result": "left out", "reason": reason, "count": leftOutN[reason]})
		} else {
			fmt.Fprintf(stderr, "%s: left out (%d): %s\n", name, leftOutN[reason], reason)
		}
	}
	if err == nil || sum.total() > 0 {
		elapsed := time.Since(start)
		fmt.Fprintf(stderr, "%s: %s in %s", name, sum, elapsed.Round(time.Millisecond))
		if n := sum.total(); n > 0 && elapsed > 0 && !f.dryRun {
			fmt.Fprintf(stderr, " (%.0f/s)", float64(n)/elapsed.Seconds())
		}
		fmt.Fprintln(stderr)
	}
	return sum, err
}

func (s importSummary) total() int {
	n := 0
	for k, v := range s {
		if k != "left out" && k != readInPart {
			n += v
		}
	}
	return n
}

// readSource reads the items of one file, whatever its kind, calling emit with each and skip with
// each record it cannot turn into one; what it met goes to report.
func readSource(ctx context.Context, in *countingReader, name string, f importFlags, emit func(source) error, skip, partial func(where, reason string) error, leftOut func(reason string), report io.Writer) error {
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(512)
	if bytes.HasPrefix(head, []byte("\ufeff")) { // a UTF-8 byte order mark, as Windows tools write
		br.Discard(3)
		head = head[3:]
	}
	if bytes.HasPrefix(head, []byte{0xff, 0xfe}) || bytes.HasPrefix(head, []byte{0xfe, 0xff}) {
		return errors.New("the file is UTF-16 (as PowerShell 5's > writes it): convert it to UTF-8 first, e.g. Get-Content in.json | Set-Content -Encoding utf8 out.json")
	}
	// --strict: a skip inside an importer stops it at its next item (its skip callback returns
	// nothing), and the import ends with that skip's error.
	var stop error
	yield := func(it importer.Item) error {
		if stop != nil {
			return stop
		}
		microseconds(&it.Activity)
		line, err := json.Marshal(&it.Activity)
		if err != nil {
			return err
		}
		return emit(source{where: it.Source, line: line})
	}
	skipped := func(s importer.Skip) {
		if s.Deliberate {
			leftOut(s.Reason)
			return
		}
		if s.Partial {
			if err := partial(s.Source, s.Reason); err != nil && stop == nil {
				stop = err
			}
			return
		}
		if err := skip(s.Source, s.Reason); err != nil && stop == nil {
			stop = err
		}
	}
	switch kind := sniff(head); kind {
	case "jsonl":
		return readJSONLines(br, filepath.Base(name), f.app, emit, skip)
	case "graph":
		return readGraphPages(br, filepath.Base(name), f.app, emit, skip)
	case "timeline":
		in.progress.countItems() // the database is read by SQLite, not through in
		rep, err := importer.WindowsTimeline(ctx, name, f.timeline, func(it importer.Item) error {
			in.progress.add(1)
			return yield(it)
		}, skipped)
		if err == nil {
			err = stop
		}
		if err == nil {
			fmt.Fprintf(report, "%s: a Windows Timeline database (the %s layout%s): %d rows, %d %s with %d %s, %d %s left out or skipped\n",
				name, rep.Layout, copiedNote(rep.Copied), rep.Rows, rep.Activities, plural(rep.Activities, "activity", "activities"),
				rep.HistoryItems, plural(rep.HistoryItems, "history item", "history items"), rep.Skipped, plural(rep.Skipped, "row", "rows"))
		}
		return err
	case "activitywatch":
		opt := importer.AWOptions{TrimAFK: f.trimAFK, Incognito: f.incognito, PulseTime: f.pulseTime}
		rep, err := importer.ActivityWatch(ctx, br, filepath.Base(name), opt, yield, skipped)
		if err == nil {
			err = stop
		}
		if err == nil {
			flavour := rep.Flavour
			if flavour == "" {
				flavour = "ActivityWatch"
			}
			fmt.Fprintf(report, "%s: an export of %s: %d %s, %d %s (%d merged into sessions), %d %s with %d %s, %d %s left out or skipped",
				name, flavour, rep.Buckets, plural(rep.Buckets, "bucket", "buckets"), rep.Events, plural(rep.Events, "event", "events"), rep.Merged,
				rep.Activities, plural(rep.Activities, "activity", "activities"), rep.HistoryItems, plural(rep.HistoryItems, "history item", "history items"),
				rep.Skipped, plural(rep.Skipped, "record", "records"))
			if f.trimAFK {
				fmt.Fprintf(report, ", %s away from the keyboard cut out", rep.AFKTrimmed.Round(time.Second))
			}
			fmt.Fprintln(report)
			for _, b := range rep.Untrimmed {
				fmt.Fprintf(report, "%s: %s: no afkstatus bucket for its host, so its time away was not cut out\n", name, b)
			}
		}
		return err
	default:
		return errors.New(kind)
	}
}

func copiedNote(copied bool) string {
	if copied {
		return ", read from a copy with its -wal file"
	}
	return ", opened read-only and immutable"
}

// sniff tells the kind of an input from its first bytes: "jsonl", "graph", or a sentence saying
// why it is neither.
func sniff(head []byte) string {
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	switch {
	case len(head) == 0:
		return "the file is empty"
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		return "timeline" // its reader says so when it is not a Timeline database
	case len(trimmed) == 0 || trimmed[0] != '{':
		return "not JSON Lines, Graph JSON or a database this command knows"
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "not JSON Lines, Graph JSON or a database this command knows"
	}
	key, err := dec.Token()
	if err != nil {
		return "jsonl" // a long first object: its reader gives the precise error
	}
	switch key {
	case "@odata.context", "value", "@odata.nextLink", "@odata.deltaLink":
		return "graph"
	case "buckets":
		return "activitywatch"
	}
	return "jsonl"
}

// maxLine is the longest line of JSON Lines that an import reads (an activity is at most a few MiB).
const maxLine = 8 << 20

// readJSONLines reads an export: one activity a line.
func readJSONLines(br *bufio.Reader, name, app string, emit func(source) error, skip func(where, reason string) error) error {
	for n := 1; ; n++ {
		line, err := readLine(br)
		where := fmt.Sprintf("%s:%d", name, n)
		switch {
		case errors.Is(err, errLongLine):
			if err := skip(where, fmt.Sprintf("the line is longer than %d MiB", maxLine>>20)); err != nil {
				return err
			}
			continue
		case err == io.EOF && len(line) == 0:
			return nil
		case err != nil && err != io.EOF:
			return err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			if err := skip(where, "the line is not JSON"+truncatedHint(err)); err != nil {
				return err
			}
			continue
		}
		line, reason := withApp(line, app)
		if err := pass(where, line, reason, emit, skip); err != nil {
			return err
		}
	}
}

func truncatedHint(err error) string {
	if err == io.EOF {
		return " (the file ends in the middle of it)"
	}
	return ""
}

var errLongLine = errors.New("line too long")

// readLine reads one line without its newline, at most maxLine bytes; a longer one is consumed and
// reported as errLongLine. At the end of the input it returns the last line with io.EOF.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		if len(line)+len(part) > maxLine {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, errLongLine
		}
		line = append(line, part...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), err
	}
}

// pass hands one item on: to skip when there is a reason to, else to emit.
func pass(where string, line []byte, reason string, emit func(source) error, skip func(where, reason string) error) error {
	if reason != "" {
		return skip(where, reason)
	}
	return emit(source{where: where, line: line})
}

// withApp returns an activity's JSON with the app annotation "@activityd.appId": the line's own, or
// else app. The reason is set when neither names one.
func withApp(obj []byte, app string) ([]byte, string) {
	var head struct {
		App *string `json:"@activityd.appId"`
	}
	if err := json.Unmarshal(obj, &head); err != nil {
		return nil, "the line is not a JSON object"
	}
	if head.App != nil {
		return obj, ""
	}
	if app == "" {
		return nil, `the activity does not say which app recorded it ("@activityd.appId"): name it with --default-app`
	}
	inner := bytes.TrimSpace(obj[1:])
	name, _ := json.Marshal(app)
	out := append([]byte(`{"@activityd.appId":`), name...)
	if len(inner) > 0 && inner[0] != '}' {
		out = append(out, ',')
	}
	return append(out, inner...), ""
}

// readGraphPages reads Graph JSON: collection pages ({"value": [...]}) one after another, as saved
// from GET /me/activities?$expand=historyItems and its nextLinks.
func readGraphPages(br *bufio.Reader, name, app string, emit func(source) error, skip func(where, reason string) error) error {
	dec := json.NewDecoder(br)
	for page := 1; ; page++ {
		var p struct {
			Value *[]json.RawMessage `json:"value"`
			Error *struct{ Code, Message string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("page %d is not a Graph collection page ({\"value\": [...]}): %w", page, err)
		}
		switch {
		case p.Error != nil:
			return fmt.Errorf("page %d is an error answer of the API (%s: %s), not a page: the pages after it were never saved, so the file is incomplete", page, p.Error.Code, p.Error.Message)
		case p.Value == nil:
			return fmt.Errorf("page %d has no \"value\": not a Graph collection page", page)
		}
		for i, v := range *p.Value {
			where := fmt.Sprintf("%s: page %d, activity %d", name, page, i+1)
			line, reason := withApp(compact(v), app)
			if reason != "" && app == "" && strings.Contains(reason, "--default-app") {
				// Graph's pages never name the app: every item would be skipped the same way.
				return errors.New("the Graph JSON does not say which app recorded its activities: name it with --default-app")
			}
			if err := pass(where, line, reason, emit, skip); err != nil {
				return err
			}
		}
	}
}

// compact removes the insignificant spaces of JSON, so that it holds on one line.
func compact(v []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return v
	}
	return b.Bytes()
}

// countingReader counts the bytes read for the progress display.
type countingReader struct {
	r        io.Reader
	progress *progress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.progress.add(n)
	return n, err
}

// microseconds truncates an activity's times to microseconds, the precision activityd keeps (and
// Graph's seven fraction digits hold): aw-server-rust writes nanoseconds.
func microseconds(a *client.Activity) {
	trunc := func(t *time.Time) {
		if t != nil {
			*t = t.Truncate(time.Microsecond)
		}
	}
	trunc(a.CreatedDateTime)
	trunc(a.LastModifiedDateTime)
	trunc(a.ExpirationDateTime)
	for i := range a.HistoryItems {
		h := &a.HistoryItems[i]
		h.StartedDateTime = h.StartedDateTime.Truncate(time.Microsecond)
		trunc(h.LastActiveDateTime)
		trunc(h.CreatedDateTime)
		trunc(h.LastModifiedDateTime)
		trunc(h.ExpirationDateTime)
	}
}
