package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/web/adaptivecard"
)

// maxSearchBytes bounds a search, as graph bounds $search.
const maxSearchBytes = 256

// sessionsShown is how many of an activity's newest sessions (history items) its card lists.
const sessionsShown = 5

// day is the activities of one local day, newest first.
type day struct {
	Date  time.Time // local midnight
	Cards []*card
}

// card is one activity as the page draws it; every string is escaped by html/template.
type card struct {
	ID          string // the public id, as the API shows it
	AppID       string
	App         string // the app's display name, else its id
	Icon        string // an https icon URL, or ""
	Color       string // a validated CSS hex colour, or ""
	Title       string
	Description string
	Content     template.HTML // the Adaptive Card, rendered safely
	Resume      *link
	Site        string
	Modified    time.Time // local
	Sessions    []visit
	Active      string // the active time of the sessions shown
	CSRF        string // of the session, for the card's forms
}

// visit is one history item: when it started and how long it was active.
type visit struct {
	Start    time.Time
	Duration string
}

// link is a URL safe to click: http, https or an app's own scheme.
type link struct {
	URL    template.URL
	Custom bool   // an app's scheme, so the page shows where it goes
	Target string // the URL as text
}

// timeline is the query of a screen of the timeline, from its URL.
type timeline struct {
	Search, App, Site string
	From, To          string // yyyy-mm-dd, local
	After             string // the cursor of this screen
}

func (t timeline) filtered() bool {
	return t.Search != "" || t.App != "" || t.Site != "" || t.From != "" || t.To != ""
}

// query returns the URL query of the timeline with after as its cursor.
func (t timeline) query(after string) string {
	v := url.Values{}
	for k, s := range map[string]string{"q": t.Search, "app": t.App, "site": t.Site, "from": t.From, "to": t.To, "after": after} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

func (s *Server) handleTimeline(w http.ResponseWriter, r *http.Request, ss *session) error {
	loc := location(r)
	if r.URL.Query().Get("tz") == loc.String() {
		// A zone chosen in the URL is kept, so that the next screens, the live stream and the
		// browser's script all draw in it.
		http.SetCookie(w, &http.Cookie{Name: "tz", Value: url.QueryEscape(loc.String()), Path: "/",
			MaxAge: 365 * 24 * 3600, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
	}
	v := r.URL.Query()
	t := timeline{Search: strings.TrimSpace(v.Get("q")), App: v.Get("app"), Site: v.Get("site"),
		From: v.Get("from"), To: v.Get("to"), After: v.Get("after")}
	q := activity.ActivityQuery{Limit: orDefault(s.PageSize, DefaultPageSize), AllApps: true, App: t.App,
		Search: t.Search, HistoryItems: sessionsShown, MaxBytes: 4 << 20}
	if len(t.Search) > maxSearchBytes {
		for n := maxSearchBytes; n > 0; n-- {
			if utf8.RuneStart(t.Search[n]) {
				t.Search = t.Search[:n]
				break
			}
		}
		q.Search = t.Search
	}
	var problems []string
	if t.App != "" && !activity.ValidAppID(t.App) {
		problems = append(problems, "That app filter is not an app id.")
	}
	if !utf8.ValidString(t.Search) {
		problems = append(problems, "The search is not valid text.")
	}
	if t.Site != "" {
		site, ok := activity.ParseSite(t.Site)
		if !ok {
			problems = append(problems, fmt.Sprintf("%q is not a site; a site is a host name such as example.com.", t.Site))
		}
		q.Site = site
	}
	if t.From != "" {
		d, err := time.ParseInLocation(time.DateOnly, t.From, loc)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%q is not a date; dates are written 2026-11-30.", t.From))
		}
		q.Modified.From = activity.Truncate(d)
	}
	if t.To != "" {
		d, err := time.ParseInLocation(time.DateOnly, t.To, loc)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%q is not a date; dates are written 2026-11-30.", t.To))
		} else {
			q.Modified.To = activity.Truncate(d.AddDate(0, 0, 1).Add(-time.Microsecond))
		}
	}
	if !q.Modified.From.IsZero() && !q.Modified.To.IsZero() && q.Modified.From.After(q.Modified.To) {
		problems = append(problems, "The range ends before it starts: put the earlier date in From.")
	}
	if t.After != "" {
		c, ok := s.parseCursor(t.After)
		if !ok {
			problems = append(problems, "That link to older activities has expired; start again from the newest.")
		}
		q.After = c
	}
	var page *activity.ActivityPage
	if len(problems) == 0 {
		var err error
		if page, err = s.service.ListActivities(r.Context(), ss.principal(), q); err != nil {
			return err
		}
	} else {
		page = &activity.ActivityPage{}
	}
	days := s.group(page.Activities, loc, s.csrf(ss))
	older := ""
	if page.Next != nil {
		older = "/?" + t.query(s.cursor(page.Next))
	}
	first := t.After == "" && !t.filtered() // the newest, unfiltered screen: the one that goes live
	data := map[string]any{"Days": days, "Timeline": t, "Older": older, "Problems": problems,
		"Zone": loc.String(), "Position": "", "First": first, "Filtered": t.filtered()}
	if msg, ok := s.verify("done", v.Get("done")); ok {
		data["Done"] = string(msg)
	}
	if r.URL.Query().Get("fragment") == "1" {
		return s.renderFragment(w, "days", data)
	}
	if log, err := s.service.Store.ChangeLog(r.Context()); err == nil && first {
		data["Position"] = s.position(log.Latest)
	}
	s.renderPage(w, r, ss, "timeline", data)
	return nil
}

// group turns a page of activities, newest first, into days of the location.
func (s *Server) group(as []*activity.Activity, loc *time.Location, csrf string) []*day {
	var days []*day
	for _, a := range as {
		c := s.card(a, loc, csrf)
		y, m, d := c.Modified.Date()
		date := time.Date(y, m, d, 0, 0, 0, 0, loc)
		if len(days) == 0 || !days[len(days)-1].Date.Equal(date) {
			days = append(days, &day{Date: date})
		}
		days[len(days)-1].Cards = append(days[len(days)-1].Cards, c)
	}
	return days
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)

// card draws one activity.
func (s *Server) card(a *activity.Activity, loc *time.Location, csrf string) *card {
	c := &card{CSRF: csrf, ID: strconv.FormatInt(s.ids.Public(a.ID), 10), AppID: a.AppID, App: a.AppDisplayName,
		Title: a.VisualElements.DisplayText, Description: a.VisualElements.Description,
		Site: activity.Site(a), Modified: a.LastModifiedDateTime.In(loc)}
	if c.App == "" {
		c.App = a.AppID
	}
	if hexColor.MatchString(a.VisualElements.BackgroundColor) {
		c.Color = a.VisualElements.BackgroundColor
	}
	if at := a.VisualElements.Attribution; at != nil {
		if u, err := url.Parse(at.IconURL); err == nil && u.Scheme == "https" && u.Host != "" {
			c.Icon = u.String()
		}
	}
	if html, ok := adaptivecard.Render(a.VisualElements.Content); ok {
		c.Content = html
	}
	for _, raw := range []string{a.ActivationURL, a.FallbackURL, a.ContentURL} {
		if l := safeLink(raw); l != nil {
			c.Resume = l
			break
		}
	}
	var active int
	items := slices.Clone(a.HistoryItems)
	slices.SortFunc(items, func(x, y *activity.HistoryItem) int { return y.StartedDateTime.Compare(x.StartedDateTime) })
	for _, h := range items {
		v := visit{Start: h.StartedDateTime.In(loc)}
		if h.ActiveDurationSeconds != nil {
			active += int(*h.ActiveDurationSeconds)
			v.Duration = duration(int(*h.ActiveDurationSeconds))
		}
		c.Sessions = append(c.Sessions, v)
	}
	if active > 0 {
		c.Active = duration(active)
	}
	return c
}

// duration writes seconds for a person: "45 s", "12 min", "2 h 5 min".
func duration(seconds int) string {
	switch {
	case seconds < 60:
		return fmt.Sprintf("%d s", seconds)
	case seconds < 3600:
		return fmt.Sprintf("%d min", seconds/60)
	case seconds%3600 < 60:
		return fmt.Sprintf("%d h", seconds/3600)
	default:
		return fmt.Sprintf("%d h %d min", seconds/3600, seconds%3600/60)
	}
}

// safeLink returns raw as a link a person may click (adaptivecard.SafeURL's rule): an http or https
// URL, or an app's own scheme (ms-word:, spotify:), showing its target; never javascript:, data:,
// vbscript:, a local file or a handler malware opens.
func safeLink(raw string) *link {
	u, custom, ok := adaptivecard.SafeURL(raw)
	if !ok {
		return nil
	}
	return &link{URL: template.URL(u), Custom: custom, Target: u}
}

// location returns the person's time zone: the tz cookie the page sets from the browser's (or the
// one they chose), else UTC.
func location(r *http.Request) *time.Location {
	name := r.URL.Query().Get("tz")
	if name == "" {
		if c, err := r.Cookie("tz"); err == nil {
			name, _ = url.QueryUnescape(c.Value)
		}
	}
	if name == "" || len(name) > 64 || strings.Contains(name, "..") {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil || !canonicalZone(name) {
		return time.UTC
	}
	return loc
}

// canonicalZone reports whether name is an IANA zone a browser also knows: not Go's Local, nor the
// zone database's own files (Factory, posixrules, posix/…, right/…).
func canonicalZone(name string) bool {
	return name == "UTC" || strings.Contains(name, "/") && !strings.HasPrefix(name, "posix/") && !strings.HasPrefix(name, "right/") &&
		!strings.HasPrefix(name, "Etc/Unknown")
}

// cursor signs a page cursor into a URL-safe string: the public id of its last activity and its
// time, or a search's offset.
func (s *Server) cursor(c *activity.Cursor) string {
	msg := fmt.Sprintf("%d.%d.%d", c.Time.UnixMicro(), s.ids.Public(c.ID), c.Offset)
	if c.Time.IsZero() {
		msg = fmt.Sprintf("0.0.%d", c.Offset)
	}
	return s.sign("cursor", []byte(msg))
}

func (s *Server) parseCursor(v string) (*activity.Cursor, bool) {
	msg, ok := s.verify("cursor", v)
	if !ok {
		return nil, false
	}
	var t, id int64
	var offset int
	if _, err := fmt.Sscanf(string(msg), "%d.%d.%d", &t, &id, &offset); err != nil {
		return nil, false
	}
	c := &activity.Cursor{Offset: offset}
	if t != 0 {
		c.Time, c.ID = time.UnixMicro(t).UTC(), s.ids.Stored(id)
	}
	return c, true
}

// position signs a change log position: where the page's live stream starts.
func (s *Server) position(p activity.Position) string {
	return s.sign("position", fmt.Appendf(nil, "%d.%d", p.Tx, p.Seq))
}

func (s *Server) parsePosition(v string) (activity.Position, bool) {
	msg, ok := s.verify("position", v)
	if !ok {
		return activity.Position{}, false
	}
	var p activity.Position
	_, err := fmt.Sscanf(string(msg), "%d.%d", &p.Tx, &p.Seq)
	return p, err == nil
}

var funcs = template.FuncMap{
	// userCode shows a device's user code as devices show it: XXXX-XXXX (RFC 8628 §6.1).
	"userCode": func(code string) string {
		if len(code) == 8 {
			return code[:4] + "-" + code[4:]
		}
		return code
	},
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"list": func(v ...int) []int { return v },
	"iso":  func(t time.Time) string { return t.Format(time.RFC3339) },
	"date": func(t time.Time) string { return t.Format("Monday, 2 January 2006") },
	"clock": func(t time.Time) string {
		return t.Format("15:04")
	},
	"style": func(color string) template.CSS {
		if !hexColor.MatchString(color) {
			return ""
		}
		return template.CSS("--brand: " + color)
	},
}

// renderPage writes a whole page for a signed-in person.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, ss *session, name string, data map[string]any) {
	data["CSRF"] = s.csrf(ss)
	data["User"] = ss.UserName
	if ss.UserName == "" {
		data["User"] = ss.UserID
	}
	s.render(w, r, http.StatusOK, name, data)
}

// render writes a template, whole, or a plain error when it fails (never half a page).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var b bytes.Buffer
	if err := s.pages.ExecuteTemplate(&b, name, data); err != nil {
		s.logger.Error("render page", "page", name, "error", err)
		http.Error(w, "The page could not be drawn.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *Server) renderFragment(w http.ResponseWriter, name string, data any) error {
	var b bytes.Buffer
	if err := s.pages.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
	return nil
}

// fail writes an error page with a message that says what to do.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, message string) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		code := map[int]string{400: "invalidRequest", 401: "InvalidAuthenticationToken", 403: "accessDenied",
			404: "itemNotFound", 409: "conflict", 429: "TooManyRequests"}[status]
		if code == "" {
			code = "generalException"
		}
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
		return
	}
	s.render(w, r, status, "error", map[string]any{"Status": status, "Message": message})
}

// error writes err: a domain error's message with its status, anything else as a logged 500.
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	err = activity.Classify(s.service.Store, err)
	var e *activity.Error
	if errors.As(err, &e) {
		status := map[string]int{activity.Invalid: 400, activity.NotFound: 404, activity.Conflict: 409,
			activity.Unauthenticated: 401, activity.Forbidden: 403, activity.Unavailable: 503, activity.StorageFull: 507}[e.Code]
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		if status >= 500 {
			s.logger.Warn("web: store "+e.Code, "path", r.URL.Path, "error", err)
		}
		if status != 0 {
			s.fail(w, r, status, e.Message)
			return
		}
	}
	if r.Context().Err() != nil {
		return // the person went away
	}
	s.logger.Error("web", "path", r.URL.Path, "error", err)
	s.fail(w, r, http.StatusInternalServerError, "Something went wrong on the server; try again in a moment.")
}
