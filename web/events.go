package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/activityd/activityd"
)

// event is what the page's live stream sends for one changed activity: its public id, the kind of
// change, and for a live activity its card and day, drawn as the page draws them.
type event struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // created, updated, deleted
	HTML string `json:"html,omitempty"`
	Day  string `json:"day,omitempty"` // yyyy-mm-dd, local
}

// handleEvents is the page's live stream (Server-Sent Events): every change to the person's
// activities, through any app, after the position the page was drawn at, as it commits. Each
// event's id is a signed position, so a reconnecting browser (Last-Event-ID) misses nothing.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	ss := s.session(r)
	if ss == nil {
		s.fail(w, r, http.StatusUnauthorized, "You are signed out; sign in to see your timeline live.")
		return
	}
	after := r.Header.Get("Last-Event-ID")
	if after == "" {
		after = r.URL.Query().Get("after")
	}
	pos, ok := s.parsePosition(after)
	if !ok {
		s.fail(w, r, http.StatusBadRequest, "The live stream needs the position of the page; reload the page.")
		return
	}
	p := ss.principal()
	user := activity.UserKey(p.TenantID, p.UserID)
	if !s.openStream(user) {
		s.fail(w, r, http.StatusTooManyRequests, "Too many of your timeline pages are open at once; close some.")
		return
	}
	defer s.closeStream(user)
	loc := location(r)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// A position the change log has been trimmed past cannot be followed without missing deletions:
	// the page is told to reload (and so draws the present).
	if log, err := s.service.Store.ChangeLog(r.Context()); err == nil && pos.Before(log.Horizon) {
		w.Write([]byte("event: reload\ndata: {}\n\n"))
		rc.Flush()
		return
	}
	rc.Flush()
	// The stream ends with the session; the page's reconnection then finds itself signed out.
	expires := time.NewTimer(time.Until(time.Unix(ss.Expires, 0)))
	defer expires.Stop()
	heartbeat := time.NewTicker(orDefault(s.Heartbeat, DefaultHeartbeat))
	defer heartbeat.Stop()
	poll := time.NewTicker(2 * time.Second) // without wake-ups, and as a backstop
	defer poll.Stop()
	var buf bytes.Buffer
	for {
		var wake <-chan struct{}
		if s.Changes != nil {
			wake = s.Changes.User(user) // taken before reading, so a commit in between still wakes
		}
		page, err := s.service.Store.Changes(r.Context(), p, activity.ChangeQuery{After: pos, Limit: 100, AllApps: true})
		if err != nil {
			if r.Context().Err() == nil {
				s.logger.Error("timeline stream", "error", err)
			}
			return
		}
		if len(page.Changes) > 0 {
			buf.Reset()
			if err := s.appendEvents(r, &buf, ss, p, page, loc); err != nil {
				s.logger.Error("timeline stream", "error", err)
				return
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			rc.Flush()
		}
		pos = page.Next
		if page.More {
			continue
		}
		select {
		case <-r.Context().Done():
			return
		case <-expires.C:
			return
		case <-wake:
		case <-poll.C:
		case <-heartbeat.C:
			if _, err := w.Write([]byte(": heartbeat\n\n")); err != nil {
				return
			}
			rc.Flush()
		}
	}
}

// appendEvents writes the events of a page of changes: one per activity, in its state now.
func (s *Server) appendEvents(r *http.Request, buf *bytes.Buffer, ss *session, p activity.Principal, page *activity.ChangePage, loc *time.Location) error {
	// Only the last change of each activity matters: it is drawn as it is now.
	last := map[int64]int{}
	byApp := map[string][]int64{}
	for i, c := range page.Changes {
		last[c.ActivityID] = i
		byApp[c.AppID] = append(byApp[c.AppID], c.ActivityID)
	}
	live := map[int64]*activity.Activity{}
	for app, ids := range byApp {
		owner := p
		owner.AppID = app
		found, err := s.service.Store.ActivitiesByID(r.Context(), owner, ids)
		if err != nil {
			return err
		}
		var as []*activity.Activity
		for id, a := range found {
			a.AppID = app
			live[id] = a
			as = append(as, a)
		}
		// Drawn with their sessions, like the page's cards.
		if _, err := s.service.ExpandHistoryItems(r.Context(), owner, as, activity.TimeRange{}, sessionsShown); err != nil {
			return err
		}
	}
	for i, c := range page.Changes {
		if last[c.ActivityID] != i {
			continue
		}
		e := event{ID: s.publicID(c.ActivityID), Kind: string(c.Kind)}
		if a := live[c.ActivityID]; a != nil {
			var html bytes.Buffer
			if err := s.pages.ExecuteTemplate(&html, "card", s.card(a, loc, s.csrf(ss))); err != nil {
				return err
			}
			e.HTML = html.String()
			e.Day = a.LastModifiedDateTime.In(loc).Format(time.DateOnly)
		} else {
			e.Kind = string(activity.ChangeDeleted)
		}
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf.WriteString("id: " + s.position(c.Position) + "\ndata: ")
		buf.Write(data)
		buf.WriteString("\n\n")
	}
	// The position after the whole page, so that a reconnect does not replay skipped changes.
	buf.WriteString("id: " + s.position(page.Next) + "\n\n")
	return nil
}

func (s *Server) publicID(stored int64) string {
	return strconv.FormatInt(s.ids.Public(stored), 10)
}

func (s *Server) openStream(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[user] >= orDefault(s.MaxStreamsPerUser, DefaultMaxStreamsPerUser) {
		return false
	}
	s.streams[user]++
	return true
}

func (s *Server) closeStream(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[user]--; s.streams[user] <= 0 {
		delete(s.streams, user)
	}
}
