package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/activityd/activityd"
)

// ConfirmAll is what a person types to delete everything.
const ConfirmAll = "delete everything"

func (s *Server) handlePrivacy(w http.ResponseWriter, r *http.Request, ss *session) error {
	pv, err := s.service.Privacy(r.Context(), ss.principal())
	if err != nil {
		return err
	}
	loc := location(r)
	data := map[string]any{"Privacy": pv, "Zone": loc.String()}
	// The message of the action just done, signed by done: a link cannot put words in the page.
	if msg, ok := s.verify("done", r.URL.Query().Get("done")); ok {
		data["Done"] = string(msg)
	}
	if s.now().Before(pv.PausedUntil) {
		data["PausedUntil"] = pv.PausedUntil.In(loc)
	}
	s.renderPage(w, r, ss, "privacy", data)
	return nil
}

// forgetRequest reads what a forget form names, and a sentence that says it.
func (s *Server) forgetRequest(r *http.Request) (activity.Forget, string, error) {
	var f activity.Forget
	now := s.now()
	loc := location(r)
	switch what := r.PostFormValue("what"); what {
	case "last":
		minutes, err := strconv.Atoi(r.PostFormValue("minutes"))
		if err != nil || minutes < 1 || minutes > 366*24*60 {
			return f, "", activity.Errorf(activity.Invalid, "Choose how many minutes to forget, from 1 to a year's.")
		}
		f.Range = activity.TimeRange{From: activity.Truncate(now.Add(-time.Duration(minutes) * time.Minute)), To: activity.Truncate(now)}
		return f, "everything of the last " + duration(minutes*60), nil
	case "range":
		from, err1 := time.ParseInLocation("2006-01-02T15:04", r.PostFormValue("from"), loc)
		to, err2 := time.ParseInLocation("2006-01-02T15:04", r.PostFormValue("to"), loc)
		if err1 != nil || err2 != nil {
			return f, "", activity.Errorf(activity.Invalid, "Give the range as two times, such as 2026-11-30T14:00.")
		}
		f.Range = activity.TimeRange{From: activity.Truncate(from), To: activity.Truncate(to.Add(time.Minute - time.Microsecond))}
		return f, fmt.Sprintf("everything from %s to %s", from.Format("2 Jan 2006 15:04"), to.Format("2 Jan 2006 15:04")), nil
	case "app":
		f.AppID = strings.TrimSpace(r.PostFormValue("app"))
		if !activity.ValidAppID(f.AppID) {
			return f, "", activity.Errorf(activity.Invalid, "Name the app to forget by its id, as its cards show it.")
		}
		return f, "everything of the app " + strconv.Quote(f.AppID), nil
	case "site":
		site, ok := activity.ParseSite(r.PostFormValue("site"))
		if !ok {
			return f, "", activity.Errorf(activity.Invalid, "%q is not a site; a site is a host name such as example.com.", r.PostFormValue("site"))
		}
		f.Site = site
		return f, "everything about the site " + f.Site + " and its subdomains", nil
	case "activity":
		public, err := strconv.ParseInt(r.PostFormValue("activity"), 10, 64)
		if err != nil || public <= 0 {
			return f, "", activity.Errorf(activity.Invalid, "That activity id is not one of the page's.")
		}
		f.ActivityID = s.ids.Stored(public)
		return f, "this activity: " + strconv.Quote(r.PostFormValue("title")), nil
	case "all":
		if strings.TrimSpace(strings.ToLower(r.PostFormValue("typed"))) != ConfirmAll {
			return f, "", activity.Errorf(activity.Invalid, "To delete everything, type %q in the box.", ConfirmAll)
		}
		f.All = true
		return f, "everything, from every app and device", nil
	default:
		return f, "", activity.Errorf(activity.Invalid, "The form names nothing to forget.")
	}
}

// handleForget asks to confirm, then forgets: activities go from every device through the change log.
func (s *Server) handleForget(w http.ResponseWriter, r *http.Request, ss *session) error {
	f, what, err := s.forgetRequest(r)
	if err != nil {
		return err
	}
	if r.PostFormValue("confirmed") != "yes" {
		s.confirm(w, r, ss, "/privacy/forget", "Forget "+what+"?",
			"This deletes it here and on every device that syncs with activityd. It cannot be undone.", "Forget")
		return nil
	}
	n, err := s.service.Forget(r.Context(), ss.principal(), f)
	if err != nil {
		return err
	}
	s.done(w, r, n, fmt.Sprintf("Forgot %d %s.", n.Activities, plural(n.Activities, "activity", "activities")))
	return nil
}

// handleSettings changes the block-lists and the pause. Blocking forgets the past, so it is
// confirmed first.
func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request, ss *session) error {
	p := ss.principal()
	pv, err := s.service.Privacy(r.Context(), p)
	if err != nil {
		return err
	}
	app, site := strings.TrimSpace(r.PostFormValue("app")), strings.TrimSpace(r.PostFormValue("site"))
	var message string
	switch action := r.PostFormValue("action"); action {
	case "block-app", "block-site":
		what := "the app " + strconv.Quote(app)
		if action == "block-site" {
			host, ok := activity.ParseSite(site)
			if !ok {
				return activity.Errorf(activity.Invalid, "%q is not a site; a site is a host name such as example.com.", site)
			}
			what, site = "the site "+host+" and its subdomains", host
			pv.BlockedSites = append(pv.BlockedSites, host)
		} else {
			if app == "" {
				return activity.Errorf(activity.Invalid, "Name the app to block.")
			}
			pv.BlockedApps = append(pv.BlockedApps, app)
		}
		if r.PostFormValue("confirmed") != "yes" {
			s.confirm(w, r, ss, "/privacy/settings", "Block "+what+"?",
				"Nothing of it will be recorded from now on, and everything it recorded before is forgotten on every device.", "Block and forget")
			return nil
		}
		message = "Blocked " + what + "."
	case "unblock-app":
		if app == "" {
			return activity.Errorf(activity.Invalid, "Name the app to unblock.")
		}
		if !slices.Contains(pv.BlockedApps, app) {
			return activity.Errorf(activity.NotFound, "The app %q is not blocked.", app)
		}
		pv.BlockedApps = slices.DeleteFunc(pv.BlockedApps, func(a string) bool { return a == app })
		message = "Unblocked the app " + strconv.Quote(app) + "."
	case "unblock-site":
		host, _ := activity.ParseSite(site)
		if !slices.Contains(pv.BlockedSites, host) {
			return activity.Errorf(activity.NotFound, "The site %q is not blocked.", site)
		}
		pv.BlockedSites = slices.DeleteFunc(pv.BlockedSites, func(a string) bool { return a == host })
		message = "Unblocked the site " + host + "."
	case "pause":
		minutes, err := strconv.Atoi(r.PostFormValue("minutes"))
		if err != nil || minutes < 1 || minutes > 366*24*60 {
			return activity.Errorf(activity.Invalid, "Choose how long to pause, from 1 minute to a year.")
		}
		pv.PausedUntil = s.now().Add(time.Duration(minutes) * time.Minute)
		message = "Recording is paused for " + duration(minutes*60) + "."
	case "resume":
		pv.PausedUntil = time.Time{}
		message = "Recording is on again."
	default:
		return activity.Errorf(activity.Invalid, "The form names no change to the settings.")
	}
	n, err := s.service.SetPrivacy(r.Context(), p, pv)
	if err != nil {
		return err
	}
	if n.Activities > 0 {
		message += fmt.Sprintf(" Forgot %d %s.", n.Activities, plural(n.Activities, "activity", "activities"))
	}
	s.done(w, r, n, message)
	return nil
}

// handleSettingsRead answers the privacy settings as JSON (the privacy API).
func (s *Server) handleSettingsRead(w http.ResponseWriter, r *http.Request, ss *session) error {
	pv, err := s.service.Privacy(r.Context(), ss.principal())
	if err != nil {
		return err
	}
	out := map[string]any{"blockedApps": append([]string{}, pv.BlockedApps...), "blockedSites": append([]string{}, pv.BlockedSites...), "pausedUntil": nil}
	if s.now().Before(pv.PausedUntil) {
		out["pausedUntil"] = pv.PausedUntil.UTC().Format(time.RFC3339)
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(out)
}

// confirm shows the form again as a question with one button that confirms it; a call of the
// privacy API must say confirmed=yes itself.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request, ss *session, action, question, detail, button string) {
	if ss.bearer {
		s.fail(w, r, http.StatusBadRequest, question+" "+detail+" Send confirmed=yes to go ahead.")
		return
	}
	var fields [][2]string
	for k, vs := range r.PostForm {
		if k != "csrf" && k != "confirmed" && len(vs) > 0 {
			fields = append(fields, [2]string{k, vs[0]})
		}
	}
	slices.SortFunc(fields, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	s.renderPage(w, r, ss, "confirm", map[string]any{"Action": action, "Question": question, "Detail": detail,
		"Button": button, "Fields": fields, "Back": backTo(r)})
}

// done answers a privacy action: JSON for a script, else back to where the form was, with a message.
func (s *Server) done(w http.ResponseWriter, r *http.Request, n activity.Forgotten, message string) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"forgotten": n, "message": message})
		return
	}
	http.Redirect(w, r, backTo(r)+sep(backTo(r))+"done="+url.QueryEscape(s.sign("done", []byte(message))), http.StatusSeeOther)
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

// backTo is where a confirmation's Cancel goes, and where a done action returns: the page's own
// paths only.
func backTo(r *http.Request) string {
	if b := r.PostFormValue("back"); b == "/" || strings.HasPrefix(b, "/?") || b == "/privacy" {
		return b
	}
	return "/privacy"
}

// handleExport downloads everything as JSON Lines (graph.Server.Export); the parameters app and since
// (RFC 3339) narrow it to one app, or to what was modified since then. Errors: 400 for a bad parameter.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request, ss *session) error {
	var f activity.ExportFilter
	if since := r.URL.Query().Get("since"); since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			s.fail(w, r, http.StatusBadRequest, "The parameter 'since' must be a time in RFC 3339 form, such as 2026-11-30T00:00:00Z; '"+since+"' is not.")
			return nil
		}
		f.Since = t
	}
	if app := r.URL.Query().Get("app"); app != "" {
		if !activity.ValidAppID(app) {
			s.fail(w, r, http.StatusBadRequest, "The parameter 'app' is not an app id: 1 to 256 characters, none a control character.")
			return nil
		}
		f.App = app
	}
	w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="activityd-`+s.now().Format(time.DateOnly)+`.jsonl"`)
	n, err := s.exporter.Export(r.Context(), w, ss.principal(), f)
	if err != nil {
		// Lines already sent cannot be taken back; the download ends short and the log says so.
		if r.Context().Err() != nil {
			s.logger.Info("export ended by the client", "user", ss.UserID, "written", n)
		} else {
			s.logger.Error("export", "user", ss.UserID, "written", n, "error", err)
		}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// handleImport imports JSON Lines in the shape of an export (graph.Server.Import) for the person:
// the body of a privacy API call, or the file of the privacy page's upload form ("file"). The API
// answers {"value": [graph.ImportLine...], "summary": {result: count}}; the form goes back to the page
// with the summary as its message. Errors: 413 past MaxImportBytes, 415 for another content type.
func (s *Server) handleImport(w http.ResponseWriter, r *http.Request, ss *session) error {
	var body []byte
	var err error
	if ss.bearer {
		if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
			s.fail(w, r, http.StatusUnsupportedMediaType, "The Content-Encoding '"+enc+"' is not supported here; send the JSON Lines uncompressed, in parts of at most 8 MiB.")
			return nil
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, _ := mime.ParseMediaType(ct)
			switch mt {
			case "application/x-ndjson", "application/jsonl", "application/json", "text/plain":
			default:
				s.fail(w, r, http.StatusUnsupportedMediaType, "The Content-Type '"+ct+"' is not supported; send JSON Lines as application/x-ndjson.")
				return nil
			}
		}
		body, err = io.ReadAll(r.Body)
	} else {
		var f multipart.File
		if f, _, err = r.FormFile("file"); err == nil {
			body, err = io.ReadAll(f)
			f.Close()
		} else if errors.Is(err, http.ErrMissingFile) {
			s.fail(w, r, http.StatusBadRequest, "Choose a file to import: an export of activityd (JSON Lines).")
			return nil
		}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("The import is larger than %d bytes; send it in parts (the activityd import command does).", MaxImportBytes))
			return nil
		}
		return activity.Errorf(activity.Invalid, "The import could not be read: %v.", err)
	}
	switch {
	case bytes.HasPrefix(body, []byte("SQLite format 3\x00")):
		s.fail(w, r, http.StatusBadRequest, "This is a database (a Windows Timeline ActivitiesCache.db?), not an export of activityd: bring it in with activityd import FILE on a computer with the file.")
		return nil
	case bytes.Contains(body[:min(len(body), 256)], []byte(`"buckets"`)):
		s.fail(w, r, http.StatusBadRequest, "This is an ActivityWatch export, not an export of activityd: bring it in with activityd import FILE.")
		return nil
	}
	lines, err := s.exporter.Import(r.Context(), ss.principal(), body)
	if err != nil {
		return err
	}
	summary := map[activity.ImportResult]int{}
	for _, l := range lines {
		summary[l.Result]++
	}
	if ss.bearer {
		w.Header().Set("Content-Type", "application/json")
		return json.NewEncoder(w).Encode(map[string]any{"value": append([]activity.ImportLine{}, lines...), "summary": summary})
	}
	message := fmt.Sprintf("Imported %d %s: %d new, %d updated, %d unchanged, %d kept because this server's were newer, %d skipped.",
		len(lines), plural(len(lines), "activity", "activities"), summary["created"], summary["updated"], summary["unchanged"], summary["newer"], summary[activity.ImportSkipped])
	for _, l := range lines {
		if l.Result == activity.ImportSkipped {
			message += fmt.Sprintf(" Line %d: %s", l.Line, l.Reason)
			break
		}
	}
	s.done(w, r, activity.Forgotten{}, message)
	return nil
}
