package graph

import (
	"bytes"
	"context"
	"errors"

	"github.com/activityd/activityd"
)

// MaxImportLines is the most lines one import request may hold.
const MaxImportLines = 10000

// Import stores the activities of body, JSON Lines in the shape Server.Export writes (one userActivity
// a line, with its historyItems and its app as the "@activityd.appId" annotation), for the person p,
// each as its app: see activity.Service.Import for what is kept and what is compared. Blank lines are
// passed over. A line that cannot be decoded, has no app, or that the service refuses (Invalid,
// Forbidden: a blocked app or site, paused recording) is skipped with its reason, and the next line
// is imported; an error of the store stops the import and is returned with the lines done so far.
func (s *Server) Import(ctx context.Context, p activity.Principal, body []byte) ([]activity.ImportLine, error) {
	// The answer holds a result per line: the lines of one request are bounded, whatever they hold.
	n := bytes.Count(body, []byte("\n"))
	if len(body) > 0 && body[len(body)-1] != '\n' {
		n++ // the last line has no newline
	}
	if n > MaxImportLines {
		return nil, activity.Errorf(activity.Invalid, "The import holds %d lines; at most %d go in one request: send it in parts (the activityd import command does).", n, MaxImportLines)
	}
	var out []activity.ImportLine
	// Lines are decoded first, then imported an app at a time, each app's in one transaction.
	type pending struct {
		at int // index in out
		a  *activity.Activity
	}
	byApp := map[string][]pending{}
	var apps []string
	for n := 1; len(body) > 0; n++ {
		line, rest, _ := bytes.Cut(body, []byte("\n"))
		body = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		res := activity.ImportLine{Line: n}
		a, app, err := decodeImport(line, s.MaxJSONDepth)
		switch {
		case err != nil:
		case app == "":
			err = activity.Errorf(activity.Invalid, "The line has no '%s' annotation naming the app that recorded the activity.", appAnnotation)
		case !activity.ValidAppID(app):
			err = activity.Errorf(activity.Invalid, "The annotation '%s' is not an app id: 1 to 256 characters, none a control character.", appAnnotation)
		default:
			res.App, res.AppActivityID = app, a.AppActivityID
			if _, ok := byApp[app]; !ok {
				apps = append(apps, app)
			}
			byApp[app] = append(byApp[app], pending{len(out), a})
		}
		if err != nil {
			res.Result, res.Reason = activity.ImportSkipped, reason(err)
		}
		out = append(out, res)
	}
	for _, app := range apps {
		owner := p
		owner.AppID, owner.AllApps = app, false
		lines := byApp[app]
		as := make([]*activity.Activity, len(lines))
		for i, l := range lines {
			as[i] = l.a
		}
		results, errs, err := s.service.Import(ctx, owner, as)
		if err != nil {
			return nil, err
		}
		for i, l := range lines {
			out[l.at].Result = results[i]
			if errs[i] != nil {
				out[l.at].Reason = reason(errs[i])
			}
		}
	}
	return out, nil
}

// reason is the message of a refusal, as the API would give it.
func reason(err error) string {
	var e *activity.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
