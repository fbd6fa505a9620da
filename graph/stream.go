package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/activityd/activityd"
)

// The live stream: GET …/activities/delta with Accept: text/event-stream (Server-Sent Events,
// https://html.spec.whatwg.org/multipage/server-sent-events.html). Each change is an event as it
// commits: its id is a delta token that resumes right after it, its data the JSON a delta page would
// hold for the activity. Last-Event-ID (or $deltatoken) replays what was missed, then the stream goes
// live, with no gap and no duplicate.

// Defaults of the stream.
const (
	DefaultHeartbeat         = 15 * time.Second
	DefaultMaxStreamsPerUser = 10
	streamRetry              = 2 * time.Second // the retry: hint sent to clients
	streamPoll               = 2 * time.Second // how often a stream looks at the log without a wake-up
	streamPage               = 100
	streamWriteWait          = 10 * time.Second // the most a write to a stream's client may take
	// streamStoreRetry is how long a stream waits to read again when the store cannot serve for now
	// (activity.Unavailable): the stream stays open instead of ending in 503s for its client.
	streamStoreRetry = time.Second
)

// unavailable reports whether the store classifies err as activity.Unavailable: it cannot serve for
// now and the same read may succeed a moment later.
func (s *Server) unavailable(err error) bool {
	var e *activity.Error
	return errors.As(activity.Classify(s.service.Store, err), &e) && e.Code == activity.Unavailable
}

// wantsEventStream reports whether the client asks for Server-Sent Events.
func wantsEventStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "text/event-stream" {
			q, err := strconv.ParseFloat(params["q"], 64)
			return params["q"] == "" || err == nil && q > 0 // q=0 means "not acceptable" (RFC 9110 §12.4.2)
		}
	}
	return false
}

// streams counts the open streams of each user and closes them all at shutdown.
type streams struct {
	mu     sync.Mutex
	open   map[string]int
	closed chan struct{}
	once   sync.Once
}

func newStreams() *streams { return &streams{open: map[string]int{}, closed: make(chan struct{})} }

// acquire counts one more stream of the user, or reports false at the limit.
func (st *streams) acquire(user string, limit int) (release func(), ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.open[user] >= limit {
		return nil, false
	}
	st.open[user]++
	return func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.open[user]--; st.open[user] == 0 {
			delete(st.open, user)
		}
	}, true
}

// OpenStreams returns how many live streams are open, for metrics.
func (s *Server) OpenStreams() int {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	n := 0
	for _, c := range s.streams.open {
		n += c
	}
	return n
}

// CloseStreams ends every live stream, so that clients reconnect (to another process, or to this one
// once it is back) and resume with Last-Event-ID. Call it when shutting down: http.Server.Shutdown
// waits for streams, which never go idle by themselves (RegisterOnShutdown is the place).
func (s *Server) CloseStreams() {
	s.streams.once.Do(func() { close(s.streams.closed) })
	s.hub.close()
}

// stream serves the live stream of the caller's changes from the token's position (from now when the
// client gives none), until the client goes, the server shuts down, or writing fails.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal, t *deltaToken) error {
	if requestInfoFrom(r.Context()).parentID != "" {
		return invalid("A live stream cannot be a $batch request; open it on a connection of its own.")
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		resumed, ok := parseDeltaToken(id, s.keys.token, p, s.MaxPageSize)
		if !ok || resumed.phase != 'c' {
			return s.syncStateNotFound(r, rp)
		}
		t = resumed
	}
	// Whatever the token, the stream starts at its position: one behind the log's horizon cannot.
	log, err := s.service.Store.ChangeLog(r.Context())
	if err != nil {
		return err
	}
	if t.pos.Before(log.Horizon) {
		return s.syncStateNotFound(r, rp)
	}
	t.phase = 'c' // a stream without a token starts from now: the state is the delta query's to page
	user := activity.UserKey(p.TenantID, p.UserID)
	release, ok := s.streams.acquire(user, s.maxStreamsPerUser())
	if !ok {
		s.hub.reap(user) // the user's clients that hung up give their slots back
		release, ok = s.streams.acquire(user, s.maxStreamsPerUser())
	}
	if !ok {
		w.Header().Set("Retry-After", "10")
		return errorf(http.StatusTooManyRequests, "TooManyRequests", "This user has %d live streams open, the most allowed; close one first.", s.maxStreamsPerUser())
	}
	handedOver := false
	defer func() {
		if !handedOver {
			release()
		}
	}()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	if r.ProtoMajor == 1 {
		// No chunking: the body ends when the connection closes (the setup the SSE specification
		// recommends), so that the hub can write events straight to the connection it takes over.
		h.Set("Transfer-Encoding", "identity")
	}
	// Every write has a deadline: a client that stops reading cannot hold the stream's goroutine (or
	// a shutdown) for longer.
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", streamRetry.Milliseconds()); err != nil {
		return nil
	}
	ctx := r.Context()
	for more := true; more; {
		var err error
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
		if _, more, err = s.streamPageApart(ctx, w, r, rp, p, t); err != nil || ctx.Err() != nil {
			return nil // the status is sent: a failure can only end the stream, and the client resumes
		}
	}
	if rc.Flush() != nil {
		return nil
	}
	if r.ProtoMajor == 1 && s.hub.takeOver(w, r, rp, p, t, user, release) {
		handedOver = true
		return nil
	}
	heartbeat := time.NewTicker(s.heartbeat())
	defer heartbeat.Stop()
	poll := time.NewTicker(streamPoll)
	defer poll.Stop()
	for {
		wake := s.changes().User(user) // taken before reading, so that a commit in between still wakes us
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
		sent, more, err := s.streamPageApart(ctx, w, r, rp, p, t)
		if err != nil && ctx.Err() == nil && s.unavailable(err) {
			// The store cannot serve for now: nothing was written; read again a moment later.
			select {
			case <-time.After(streamStoreRetry):
				continue
			case <-s.streams.closed:
				return nil
			case <-ctx.Done():
				return nil
			}
		}
		if err != nil || ctx.Err() != nil {
			return nil // the status is sent: a failure can only end the stream, and the client resumes
		}
		if sent {
			if rc.Flush() != nil {
				return nil
			}
		}
		if more {
			continue
		}
		select {
		case <-wake:
		case <-poll.C:
		case <-heartbeat.C:
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		case <-s.streams.closed:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// streamPageApart runs streamPage on a goroutine of its own and waits for it. The store's queries
// grow the stack of the goroutine that runs them (tens of kilobytes through the SQLite driver), and a
// stream's goroutine lives as long as the stream: run there, 10,000 idle streams would keep 10,000
// grown stacks.
func (s *Server) streamPageApart(ctx context.Context, w io.Writer, r *http.Request, rp *resourcePath, p activity.Principal, t *deltaToken) (sent, more bool, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		sent, more, err = s.streamPage(ctx, w, r, rp, p, t)
	}()
	<-done
	return sent, more, err
}

// streamPage writes an event for each change after t.pos, up to a page, and moves t.pos past them.
func (s *Server) streamPage(ctx context.Context, w io.Writer, r *http.Request, rp *resourcePath, p activity.Principal, t *deltaToken) (sent, more bool, err error) {
	page, err := s.service.Store.Changes(ctx, p, activity.ChangeQuery{After: t.pos, Limit: streamPage})
	if err != nil {
		return false, false, err
	}
	ids := make([]int64, 0, len(page.Changes))
	for _, c := range page.Changes {
		ids = append(ids, c.ActivityID)
	}
	found, err := s.service.Store.ActivitiesByID(ctx, p, ids)
	if err != nil {
		return false, false, err
	}
	var live []*activity.Activity
	for _, a := range found {
		live = append(live, a)
	}
	expanded, err := s.expandDelta(ctx, p, live, t)
	if err != nil {
		return false, false, err
	}
	buf := make([]byte, 0, 4096)
	for _, c := range page.Changes {
		t.pos = c.Position
		e := deltaEntry{id: c.ActivityID, activity: found[c.ActivityID], more: expanded[c.ActivityID], change: c}
		buf = append(buf[:0], "event: "...)
		kind := c.Kind
		if e.activity == nil {
			kind = activity.ChangeDeleted // the event says what its data says: the activity is gone
		}
		buf = append(buf, string(kind)...)
		buf = append(buf, "\nid: "...)
		buf = append(buf, t.encode(s.keys.token, p)...)
		buf = append(buf, '\n')
		buf = appendData(buf, s.appendDeltaEntry(nil, r, rp, e, t))
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return sent, false, err
		}
		sent = true
	}
	if t.pos.Before(page.Next) && !page.More {
		t.pos = page.Next
	}
	return sent, page.More, nil
}

// appendData appends an event's data field: a line of its own for each line of data, since an SSE
// line ends at CR, LF or CRLF (contentInfo is echoed as sent, and may hold line breaks between its
// tokens; a client joins the lines with LF, which JSON reads alike).
func appendData(b, data []byte) []byte {
	for {
		i := strings.IndexAny(string(data), "\r\n")
		b = append(b, "data: "...)
		if i < 0 {
			return append(append(b, data...), '\n')
		}
		b = append(append(b, data[:i]...), '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
}

func (s *Server) heartbeat() time.Duration {
	if s.Heartbeat > 0 {
		return s.Heartbeat
	}
	return DefaultHeartbeat
}

func (s *Server) maxStreamsPerUser() int {
	return orDefault(s.MaxStreamsPerUser, DefaultMaxStreamsPerUser)
}
