package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/activityd/activityd/client"
)

// Exit statuses of the commands that call a server, beyond 0 (done), 1 (failed) and 2 (usage).
const (
	exitNotFound = 3 // get or rm of an activity the app does not have
	exitSkipped  = 4 // an import that skipped some items (each is named on stderr)
)

// exitError is an error with its own exit status.
type exitError struct {
	status int
	err    error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// remoteFlags are the flags of every command that calls a server.
type remoteFlags struct {
	url, token, tokenFile string
	json                  bool
	timeout               time.Duration
}

func (r *remoteFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&r.url, "url", "", "the activityd to call: its `URL` (the service root /v1.0 is added; default the server of\nactivityd login's --token-file, else "+defaultURL+")")
	fs.StringVar(&r.token, "token", "", "the bearer `token` to send (from activityd token, or your sign-in)")
	fs.StringVar(&r.tokenFile, "token-file", "", "read the bearer token from this `file` instead: activityd login's, renewed\nwhen it expires, or a bare token")
	fs.BoolVar(&r.json, "json", false, "print JSON (one object a line) instead of a table, for scripts")
	fs.DurationVar(&r.timeout, "timeout", 30*time.Second, "the most one request may take")
}

// defaultURL is the server a command calls when neither --url nor a login names one.
const defaultURL = "http://127.0.0.1:8080"

// client returns the client the flags name, or a usage error for cmd. A token file of activityd
// login gives the server (unless --url names one) and renews its token as it expires.
func (r *remoteFlags) client(ctx context.Context, cmd string) (*client.Client, error) {
	tok := strings.TrimSpace(r.token)
	var tokens *loginTokens
	base := r.url
	if r.tokenFile != "" {
		saved, raw, ok, err := readLogin(r.tokenFile)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission):
			return nil, usagef(cmd, "--token-file: %v", err)
		case err != nil:
			return nil, err
		case ok:
			tokens = &loginTokens{ctx: ctx, path: r.tokenFile, cur: saved, timeout: r.timeout}
			tok = saved.AccessToken
			if base == "" {
				base = saved.Server
			}
		default:
			tok = strings.TrimSpace(raw)
		}
	}
	if base == "" {
		base = defaultURL
	}
	if tok == "" {
		return nil, usagef(cmd, "no token: give --token, --token-file or ACTIVITYD_TOKEN (sign in with 'activityd login URL --token-file FILE', or on the server's machine make one with 'activityd token --user NAME --app NAME')")
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, usagef(cmd, "--url %q: want an http or https URL, such as %s", base, defaultURL)
	}
	c := client.New(base, tok)
	if tokens != nil {
		c.Tokens = tokens
	}
	return c, nil
}

const activitiesSynopsis = `Usage: activityd activities COMMAND [flags] [ARGS]

Calls an activityd (or Microsoft Graph) as one app, with the app's token:

  list               the app's activities, newest first ($search, $filter, --top)
  recent             the app's activities by their latest session
  get KEY            one activity (by id or appActivityId), with its history items
  put [FILE]         create or replace the activity in FILE (JSON; - or none: stdin)
  rm KEY...          delete activities by id
  watch              follow the live stream: print each change as it happens (Ctrl-C ends)

Output is a table with times in the local zone, or JSON with --json (one object a line). Exit
status: 0 done, 1 failed, 2 wrong usage, 3 no such activity.
`

// activities runs an activities subcommand.
func activities(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "help" {
		fmt.Fprint(stdout, activitiesSynopsis)
		if len(args) == 0 {
			return usagef("activities", "no command given")
		}
		return nil
	}
	sub := args[0]
	name := "activities " + sub
	var rf remoteFlags
	var o client.ListOptions
	var expand bool
	var from string
	fs := flag.NewFlagSet("activityd "+name, flag.ContinueOnError)
	rf.add(fs)
	switch sub {
	case "list", "recent":
		fs.StringVar(&o.Search, "search", "", "only activities with these `words` ($search; list only)")
		fs.StringVar(&o.Filter, "filter", "", "an OData `$filter` on lastModifiedDateTime")
		fs.IntVar(&o.Top, "top", 20, "at most this many activities; 0 for every one")
		fs.BoolVar(&o.Expand, "expand", false, "with their history items")
	case "get":
		fs.BoolVar(&expand, "expand", true, "with its history items")
	case "watch":
		fs.StringVar(&from, "from", "", "resume right after this change: an event's delta `token` (printed with --json); default: from now")
	case "put", "rm":
	default:
		fmt.Fprint(stderr, activitiesSynopsis)
		return usagef("activities", "unknown command %q", sub)
	}
	rest, err := parseFlagsArgs(fs, args[1:], getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, activitiesSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	if o.Top < 0 {
		return usagef(name, "--top %d: want 0 (every one) or a positive number", o.Top)
	}
	c, err := rf.client(ctx, name)
	if err != nil {
		return err
	}
	out := newPrinter(stdout, rf.json)
	timed := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, rf.timeout) }
	switch sub {
	case "list", "recent":
		if len(rest) != 0 {
			return usagef(name, "unexpected argument %q", rest[0])
		}
		call := c.List
		if sub == "recent" {
			call = c.Recent
		}
		ctx, cancel := timed()
		defer cancel()
		err = call(ctx, o, func(a *client.Activity) bool { out.activity(a); return true })
		if err == nil {
			err = out.flush()
		}
		return err
	case "get":
		if len(rest) != 1 {
			return usagef(name, "want one KEY (an id or appActivityId)")
		}
		ctx, cancel := timed()
		defer cancel()
		a, err := c.Get(ctx, rest[0], expand)
		if err != nil {
			return notFound(err)
		}
		if rf.json {
			return json.NewEncoder(stdout).Encode(a)
		}
		out.detail(a)
		return nil
	case "put":
		if len(rest) > 1 {
			return usagef(name, "want at most one FILE")
		}
		in := io.Reader(os.Stdin)
		if len(rest) == 1 && rest[0] != "-" {
			f, err := os.Open(rest[0])
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		var a client.Activity
		dec := json.NewDecoder(io.LimitReader(in, 4<<20))
		if err := dec.Decode(&a); err != nil {
			return fmt.Errorf("the activity is not JSON: %w", err)
		}
		if a.AppActivityID == "" {
			return fmt.Errorf("the activity has no appActivityId")
		}
		ctx, cancel := timed()
		defer cancel()
		stored, created, err := c.Put(ctx, &a)
		if err != nil {
			return err
		}
		if rf.json {
			return json.NewEncoder(stdout).Encode(stored)
		}
		verb := "replaced"
		if created {
			verb = "created"
		}
		fmt.Fprintf(stdout, "%s %s (id %s)\n", verb, stored.AppActivityID, stored.ID)
		return nil
	case "rm":
		if len(rest) == 0 {
			return usagef(name, "want one or more activity ids")
		}
		reqs := make([]client.BatchRequest, len(rest))
		for i, key := range rest {
			reqs[i] = client.BatchRequest{Method: "DELETE", URL: "/me/activities/" + url.PathEscape(key)}
		}
		ctx, cancel := timed()
		defer cancel()
		res, err := c.Batch(ctx, reqs)
		if err != nil {
			return err
		}
		var missing []string
		for i, r := range res {
			if err := r.Err(); client.StatusOf(err) == 404 {
				missing = append(missing, rest[i])
			} else if err != nil {
				return fmt.Errorf("%s: %w", rest[i], err)
			} else if !rf.json {
				fmt.Fprintf(stdout, "deleted %s\n", rest[i])
			} else {
				json.NewEncoder(stdout).Encode(map[string]string{"deleted": rest[i]})
			}
		}
		if len(missing) > 0 {
			return &exitError{exitNotFound, fmt.Errorf("no such activity: %s", strings.Join(missing, ", "))}
		}
		return nil
	case "watch":
		if len(rest) != 0 {
			return usagef(name, "unexpected argument %q", rest[0])
		}
		if !rf.json {
			fmt.Fprintln(stderr, "watching; Ctrl-C ends")
		}
		return c.Watch(ctx, from, func(ch client.Change) error {
			out.change(ch)
			return out.flush()
		})
	}
	return nil
}

// notFound gives a 404 its exit status.
func notFound(err error) error {
	if client.StatusOf(err) == 404 {
		return &exitError{exitNotFound, err}
	}
	return err
}

// printer prints activities as a table (times in the local zone) or as JSON Lines.
type printer struct {
	w    io.Writer
	json bool
	tw   *tabwriter.Writer
	head bool
}

func newPrinter(w io.Writer, asJSON bool) *printer {
	return &printer{w: w, json: asJSON, tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
}

// local formats a time for people: the local zone, to the minute.
func local(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// cut shortens s to n characters for a table cell.
func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func (p *printer) activity(a *client.Activity) {
	if p.json {
		json.NewEncoder(p.w).Encode(a)
		return
	}
	if !p.head {
		fmt.Fprintln(p.tw, "MODIFIED\tAPP ACTIVITY ID\tDISPLAY TEXT\tSESSIONS\tID")
		p.head = true
	}
	sessions := "-"
	if a.HistoryItems != nil {
		sessions = fmt.Sprint(len(a.HistoryItems))
	}
	fmt.Fprintf(p.tw, "%s\t%s\t%s\t%s\t%s\n", local(a.LastModifiedDateTime), cut(a.AppActivityID, 36), cut(a.VisualElements.DisplayText, 48), sessions, a.ID)
}

func (p *printer) change(ch client.Change) {
	if p.json {
		json.NewEncoder(p.w).Encode(map[string]any{"kind": ch.Kind, "id": ch.ID, "token": ch.Token, "activity": ch.Activity})
		return
	}
	text := ""
	if ch.Activity != nil {
		text = ch.Activity.AppActivityID + "  " + cut(ch.Activity.VisualElements.DisplayText, 60)
	}
	fmt.Fprintf(p.tw, "%s\t%s\t%s\t%s\n", time.Now().Format("15:04:05"), ch.Kind, ch.ID, text)
}

// detail prints one activity and its sessions for a person.
func (p *printer) detail(a *client.Activity) {
	fmt.Fprintf(p.tw, "id\t%s\n", a.ID)
	fmt.Fprintf(p.tw, "appActivityId\t%s\n", a.AppActivityID)
	fmt.Fprintf(p.tw, "displayText\t%s\n", a.VisualElements.DisplayText)
	if d := str(a.VisualElements.Description); d != "" {
		fmt.Fprintf(p.tw, "description\t%s\n", cut(d, 100))
	}
	if n := str(a.AppDisplayName); n != "" {
		fmt.Fprintf(p.tw, "app\t%s\n", n)
	}
	fmt.Fprintf(p.tw, "activationUrl\t%s\n", a.ActivationURL)
	fmt.Fprintf(p.tw, "created\t%s\n", local(a.CreatedDateTime))
	fmt.Fprintf(p.tw, "modified\t%s\n", local(a.LastModifiedDateTime))
	fmt.Fprintf(p.tw, "expires\t%s\n", local(a.ExpirationDateTime))
	for _, h := range a.HistoryItems {
		dur := "ongoing"
		if h.ActiveDurationSeconds != nil {
			dur = (time.Duration(*h.ActiveDurationSeconds) * time.Second).String()
		}
		fmt.Fprintf(p.tw, "session\t%s to %s, %s active\n", local(&h.StartedDateTime), local(h.LastActiveDateTime), dur)
	}
	p.tw.Flush()
}

func (p *printer) flush() error {
	if p.json {
		return nil
	}
	return p.tw.Flush()
}
