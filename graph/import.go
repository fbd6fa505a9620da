package graph

import (
	"bytes"
	"context"
	"errors"

	"github.com/activityd/activityd"
)

// Import stores the activities of body, JSON Lines in the shape Server.Export writes (one userActivity
// a line, with its historyItems and its app as the "@activityd.appId" annotation), for the person p,
// each as its app: see activity.Service.Import for what is kept and what is compared. Blank lines are
// passed over. A line that cannot be decoded, has no app, or that the service refuses (Invalid,
// Forbidden: a blocked app or site, paused recording) is skipped with its reason, and the next line
// is imported; an error of the store stops the import and is returned with the lines done so far.
func (s *Server) Import(ctx context.Context, p activity.Principal, body []byte) ([]activity.ImportLine, error) {
	var out []activity.ImportLine
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
			owner := p
			owner.AppID, owner.AllApps = app, false
			var result activity.ImportResult
			result, err = s.service.Import(ctx, owner, a)
			res.Result = result
		}
		if err != nil {
			var e *activity.Error
			if !errors.As(err, &e) || e.Code == activity.Internal || e.Code == activity.Unauthenticated {
				return out, err
			}
			res.Result, res.Reason = activity.ImportSkipped, e.Message
		}
		out = append(out, res)
	}
	return out, nil
}
