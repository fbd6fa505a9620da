package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// AWOptions are the choices of an ActivityWatch import.
type AWOptions struct {
	// PulseTime is the longest gap between two consecutive events of a bucket, for the same page or
	// window, that still makes one session; 0 is DefaultPulseTime.
	PulseTime time.Duration
	// TrimAFK cuts the periods that the afkstatus bucket of the same host marks "afk" out of the
	// sessions of the other buckets.
	TrimAFK bool
	// Incognito imports the tabs of private windows too; by default they are skipped.
	Incognito bool
	// SourceHost is the activitySourceHost of every activity; "" is DefaultAWSourceHost.
	SourceHost string
}

// DefaultPulseTime is the default AWOptions.PulseTime: a minute. The watchers already merge their
// heartbeats at 1 to 2 seconds while recording, so what an export holds is merged at that scale; two
// events of the same page with nothing between them but a short gap (the watcher was not reporting)
// are one visit. The time active still counts only what was recorded (see ActivityWatch).
const DefaultPulseTime = time.Minute

// DefaultAWSourceHost is the default activitySourceHost of ActivityWatch activities: the domain of the
// app that recorded them, as Graph asks (the watcher, not the page visited).
const DefaultAWSourceHost = "https://activitywatch.net"

// The server flavours an export can come from, as AWReport.Flavour names them.
const (
	FlavourPython = "aw-server"      // the Python server: buckets carry "name", events no "id"
	FlavourRust   = "aw-server-rust" // the Rust server: buckets carry "metadata", events an "id"
)

// AWReport says what an ActivityWatch import met and did.
type AWReport struct {
	Flavour      string        // FlavourPython, FlavourRust, or "" when the export does not tell
	Buckets      int           // buckets read
	Events       int           // events read, in every bucket
	Merged       int           // events merged into the session before them
	AFKTrimmed   time.Duration // time cut out of sessions as away from keyboard
	Untrimmed    []string      // with TrimAFK, the buckets whose host has no afkstatus bucket
	Activities   int           // activities made
	HistoryItems int           // history items made
	Skipped      int           // records passed to skip
}

// ActivityWatch reads an ActivityWatch export from r (name names it in messages) and yields one Item
// per activity. The export is what GET /api/0/export (and the web UI's export) of aw-server (Python)
// and aw-server-rust write:
//
//	{"buckets": {"<bucket id>": {"id", "type", "client", "hostname", "created", "data",
//	  "name" (Python) | "metadata", "last_updated" (Rust),
//	  "events": [{"id" (Rust only), "timestamp", "duration", "data": {...}}, ...]}}}
//
// Timestamps are RFC 3339: Python writes "+00:00" and six fraction digits or none, Rust "Z" and 0 to
// 9 digits; one without a zone is UTC, as aw-core reads it. Durations are seconds, a JSON number.
// Both servers list events newest first; they are sorted here. Sources:
// aw-core aw_core/models.py (Event.to_json_dict), aw-server aw_server/api.py (export_bucket),
// aw-server-rust aw-models/src/{bucket,event,duration}.rs.
//
// Buckets by type:
//
//   - "web.tab.current" (aw-watcher-web; data url, title, audible, incognito): an activity per page
//     URL, a history item per visit. Incognito tabs are skipped unless AWOptions.Incognito.
//   - "currentwindow" (aw-watcher-window; data app, title): an activity per app and window title.
//   - "afkstatus" (aw-watcher-afk; data status "afk" or "not-afk"): with TrimAFK, the "afk" periods
//     are cut out of the sessions of the other buckets of the same hostname.
//   - any other type is skipped, with one Skip for the bucket.
//
// Consecutive events of a bucket for the same page (or app and title) merge into one session by
// ActivityWatch's heartbeat rule (see mergeSessions). See awActivity for the mapping.
//
// The export is decoded token by token, an event at a time. What is kept of a bucket until it is
// turned into activities is 40 bytes an event, with each distinct string once: one bucket at a time,
// or every web and window bucket with TrimAFK, since the afkstatus bucket may come last. (300,000
// web events, 38 MB of JSON, peak at about 90 MB of heap, their history items included.) A file that is not JSON, is cut short, or is JSON of another shape is an
// error naming the file, the line and the column; an event that cannot be read is skipped, naming
// its bucket and position, and the import goes on. An error from yield stops the import and is
// returned.
func ActivityWatch(ctx context.Context, r io.Reader, name string, opt AWOptions, yield func(Item) error, skip func(Skip)) (AWReport, error) {
	if opt.PulseTime == 0 {
		opt.PulseTime = DefaultPulseTime
	}
	if opt.SourceHost == "" {
		opt.SourceHost = DefaultAWSourceHost
	}
	pr := &posReader{r: r}
	dec := json.NewDecoder(pr)
	dec.UseNumber()
	p := &awReader{ctx: ctx, name: name, opt: opt, yield: yield, skip: skip, dec: dec, pos: pr,
		afk: make(map[string][]span), index: make(map[string]int32)}
	p.intern("")
	err := p.export()
	if err == nil {
		err = p.finish()
	}
	p.rep.Flavour = p.flavour()
	return p.rep, err
}

// awReader reads one export.
type awReader struct {
	ctx   context.Context
	name  string
	opt   AWOptions
	yield func(Item) error
	skip  func(Skip)
	dec   *json.Decoder
	pos   *posReader
	rep   AWReport

	python, rust bool              // evidence of the flavour
	afk          map[string][]span // per hostname, the periods marked afk
	pending      []*awBucket       // with TrimAFK, the buckets waiting for every afkstatus bucket

	// strs and index intern the strings of events: a page or window recurs in thousands of events.
	strs  []string
	index map[string]int32
}

// intern returns the index of s in p.strs, adding it when new.
func (p *awReader) intern(s string) int32 {
	if i, ok := p.index[s]; ok {
		return i
	}
	i := int32(len(p.strs))
	p.strs = append(p.strs, s)
	p.index[s] = i
	return i
}

// awBucket is one bucket as read, with its events reduced to what an activity needs.
type awBucket struct {
	id, typ, client, hostname string
	events                    []awEvent
	skipped                   int // events of a type not imported, counted only
}

// The bucket types imported (afkstatus only with AWOptions.TrimAFK).
const (
	awWeb    = "web.tab.current"
	awWindow = "currentwindow"
	awAFK    = "afkstatus"
)

var awTypes = map[string]bool{awWeb: true, awWindow: true, awAFK: true}

// awEvent is one event, as small as it can be kept: its period in Unix nanoseconds, its place in the
// bucket (1-based, as listed) and its strings, interned (awReader.str).
type awEvent struct {
	start, dur              int64
	n                       int32
	url, title, app, status int32
	incognito               bool
}

// awRawEvent is an event as the export writes it.
type awRawEvent struct {
	ID        json.RawMessage `json:"id"`
	Timestamp string          `json:"timestamp"`
	Duration  json.Number     `json:"duration"`
	Data      struct {
		URL       string `json:"url"`
		Title     string `json:"title"`
		App       string `json:"app"`
		Status    string `json:"status"`
		Incognito bool   `json:"incognito"`
	} `json:"data"`
}

func (p *awReader) export() error {
	if err := p.delim('{', "an ActivityWatch export is a JSON object"); err != nil {
		return err
	}
	found := false
	for p.dec.More() {
		key, err := p.key()
		if err != nil {
			return err
		}
		if key != "buckets" {
			if err := p.skipValue(); err != nil {
				return err
			}
			continue
		}
		found = true
		if err := p.buckets(); err != nil {
			return err
		}
	}
	if _, err := p.dec.Token(); err != nil { // the closing brace
		return p.syntax(err, 0)
	}
	if !found {
		return fmt.Errorf("%s: not an ActivityWatch export: it has no \"buckets\" object", p.name)
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return p.errorf(p.dec.InputOffset(), "more data follows the export's end")
	}
	return nil
}

func (p *awReader) buckets() error {
	if err := p.delim('{', "\"buckets\" is an object of buckets by id"); err != nil {
		return err
	}
	for p.dec.More() {
		id, err := p.key()
		if err != nil {
			return err
		}
		b, err := p.bucket(id)
		if err != nil {
			return err
		}
		p.rep.Buckets++
		if err := p.bucketDone(b); err != nil {
			return err
		}
	}
	_, err := p.dec.Token()
	return p.syntax(err, 0)
}

func (p *awReader) bucket(id string) (*awBucket, error) {
	b := &awBucket{id: id}
	if err := p.delim('{', fmt.Sprintf("bucket %q is an object", id)); err != nil {
		return nil, err
	}
	for p.dec.More() {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		switch key {
		case "type", "client", "hostname":
			var s *string
			if err := p.value(&s, fmt.Sprintf("bucket %q: %q is a string", id, key)); err != nil {
				return nil, err
			}
			switch {
			case s == nil:
			case key == "type":
				b.typ = *s
			case key == "client":
				b.client = *s
			default:
				b.hostname = *s
			}
		case "events":
			if err := p.events(b); err != nil {
				return nil, err
			}
		default:
			p.python = p.python || key == "name"
			p.rust = p.rust || key == "metadata" || key == "last_updated"
			if err := p.skipValue(); err != nil {
				return nil, err
			}
		}
	}
	_, err := p.dec.Token()
	return b, p.syntax(err, 0)
}

func (p *awReader) events(b *awBucket) error {
	if err := p.delim('[', fmt.Sprintf("bucket %q: \"events\" is an array", b.id)); err != nil {
		return err
	}
	if b.typ != "" && !awTypes[b.typ] {
		// A bucket of a type not imported, whose type came before its events (both servers write it
		// first): its events are only counted.
		for p.dec.More() {
			at := p.dec.InputOffset()
			var raw json.RawMessage // one event at a time: faster than walking its tokens
			if err := p.dec.Decode(&raw); err != nil {
				return p.syntax(err, at)
			}
			p.rep.Events++
			b.skipped++
		}
		_, err := p.dec.Token()
		return p.syntax(err, 0)
	}
	for n := 1; p.dec.More(); n++ {
		if n%4096 == 0 {
			if err := p.ctx.Err(); err != nil {
				return err
			}
		}
		start := p.dec.InputOffset()
		var raw awRawEvent
		err := p.dec.Decode(&raw)
		p.rep.Events++
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			p.skipEvent(b, n, fmt.Sprintf("its %s is a JSON %s, not a %s", te.Field, te.Value, typeWord(te.Type.Kind().String())))
			continue
		case err != nil:
			return p.syntax(err, start)
		}
		p.rust = p.rust || len(raw.ID) > 0 && string(raw.ID) != "null"
		start, dur, why := readEvent(&raw)
		if why != "" {
			p.skipEvent(b, n, why)
			continue
		}
		d := raw.Data
		b.events = append(b.events, awEvent{start: start, dur: dur, n: int32(min(n, math.MaxInt32)), url: p.intern(d.URL),
			title: p.intern(d.Title), app: p.intern(d.App), status: p.intern(d.Status), incognito: d.Incognito})
	}
	_, err := p.dec.Token()
	return p.syntax(err, 0)
}

// readEvent reads an event's timestamp and duration, in nanoseconds, or says why it cannot.
func readEvent(raw *awRawEvent) (start, dur int64, why string) {
	t, err := parseAWTime(raw.Timestamp)
	if err != nil {
		return 0, 0, err.Error()
	}
	if t.Before(minAWTime) || t.After(maxAWTime) {
		return 0, 0, fmt.Sprintf("its timestamp %q is before 1970 or after 2200", raw.Timestamp)
	}
	secs := 0.0
	if raw.Duration != "" {
		if secs, err = raw.Duration.Float64(); err != nil || math.IsInf(secs, 0) {
			return 0, 0, fmt.Sprintf("its duration %q is not a number of seconds", string(raw.Duration))
		}
	}
	if secs < 0 || secs > maxAWSeconds {
		return 0, 0, fmt.Sprintf("its duration %s s is negative or longer than a year", raw.Duration)
	}
	return t.UnixNano(), int64(math.Round(secs * 1e9)), ""
}

// The times an event may have: within them, Unix nanoseconds hold any time and any end.
var (
	minAWTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxAWTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// maxAWSeconds bounds an event's duration: no watcher records a year without a break.
const maxAWSeconds = 366 * 24 * 3600

// parseAWTime reads an event timestamp: RFC 3339 with any number of fraction digits, "T" or a
// space between date and time; without a zone it is UTC, as aw-core's _timestamp_parse assumes.
func parseAWTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("it has no timestamp")
	}
	norm := s
	if len(norm) > 10 && norm[10] == ' ' {
		norm = norm[:10] + "T" + norm[11:]
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, norm); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("its timestamp %q is not an RFC 3339 time", s)
}

func typeWord(kind string) string {
	if kind == "struct" {
		return "object"
	}
	return kind
}

func (p *awReader) skipEvent(b *awBucket, n int, why string) {
	p.rep.Skipped++
	p.skip(Skip{Source: fmt.Sprintf("%s: bucket %q, event %d", p.name, b.id, n), Reason: why})
}

func (p *awReader) skipBucket(b *awBucket, why string) {
	p.rep.Skipped++
	p.skip(Skip{Source: fmt.Sprintf("%s: bucket %q", p.name, b.id), Reason: why})
}

// leaveOut is skipBucket for what the options leave out on purpose (Skip.Deliberate).
func (p *awReader) leaveOut(b *awBucket, why string) {
	p.rep.Skipped++
	p.skip(Skip{Source: fmt.Sprintf("%s: bucket %q", p.name, b.id), Reason: why, Deliberate: true})
}

// flavour names the server the export came from, when it tells.
func (p *awReader) flavour() string {
	switch {
	case p.rust && !p.python:
		return FlavourRust
	case p.python && !p.rust:
		return FlavourPython
	}
	return ""
}
