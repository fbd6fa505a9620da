package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"

	"github.com/activityd/activityd"
)

// Export writes every live activity of p's user, through every app, to w as JSON Lines (one
// userActivity per line, newest first, in Graph's wire form with all its history items and the
// instance annotation "@activityd.appId" naming the app that wrote it), and returns how many it
// wrote. It is the person's "download everything", and the input of a later import (Server.Import).
// f narrows it to one app, or to the activities modified since a time (an incremental export).
func (s *Server) Export(ctx context.Context, w io.Writer, p activity.Principal, f activity.ExportFilter) (int, error) {
	q := activity.ActivityQuery{Limit: 100, AllApps: true, MaxBytes: s.maxPageBytes(), App: f.App, ChangedSince: f.Since}
	n := 0
	var line []byte
	for {
		page, err := s.service.ListActivities(ctx, p, q)
		if err != nil {
			return n, err
		}
		for _, a := range page.Activities {
			owner := p
			owner.AppID = a.AppID
			a.HistoryItems = []*activity.HistoryItem{}
			hq := activity.HistoryQuery{Limit: 1000}
			for {
				items, err := s.service.Store.ListHistoryItems(ctx, owner, a.ID, hq)
				if err != nil {
					return n, err
				}
				a.HistoryItems = append(a.HistoryItems, items.Items...)
				if items.Next == nil {
					break
				}
				hq.After = items.Next
			}
			line = appendActivity(line[:0], a, s.publicID(a.ID), nil, "", "")
			// The app, as an instance annotation before the closing brace.
			line = append(append(append(line[:len(line)-1], `,"`...), appAnnotation...), `":`...)
			line = appendString(line, a.AppID)
			line = append(line, '}')
			// contentInfo and an Adaptive Card are kept as sent, which may be across lines; a line
			// of JSON Lines holds one value, so those are compacted here (a string's line breaks
			// are escapes already).
			if bytes.ContainsAny(line, "\r\n") {
				var compact bytes.Buffer
				if err := json.Compact(&compact, line); err == nil {
					line = append(line[:0], compact.Bytes()...)
				}
			}
			line = append(line, '\n')
			if _, err := w.Write(line); err != nil {
				return n, err
			}
			n++
		}
		if page.Next == nil {
			return n, nil
		}
		q.After = page.Next
	}
}
