package graph

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/activityd/activityd"
)

// The hub serves the live streams of HTTP/1.1 clients without a goroutine per stream. Once a
// stream has caught up, its handler takes the connection over from net/http (Hijack), hands it to the
// hub and returns: an idle stream then costs its connection and a few hundred bytes, where a running
// handler kept two goroutines and net/http's buffers (10,000 idle streams held 540 MB that way).
// A commit wakes the hub for the users it names; the hub then writes each of their streams' new
// events on a short-lived goroutine, one at a time per stream. HTTP/2 streams cannot be taken over
// and keep their handler (stream).

// hubPoll is how often the hub looks at every stream's log without a wake-up: what a lost wake-up
// could delay at worst (in one process none is lost; across processes a LISTEN that reconnects wakes
// every stream).
const hubPoll = 5 * time.Minute

// hubWriteWait bounds a write to a stream's client; a client that takes longer is dropped and
// resumes with Last-Event-ID.
const hubWriteWait = 10 * time.Second

type hub struct {
	s      *Server
	mu     sync.Mutex
	byUser map[string]map[*hubStream]struct{}
	closed bool
	start  sync.Once
	stop   chan struct{}

	qmu   sync.Mutex
	queue []*hubStream  // streams to flush, each once (its busy flag says it is here or being flushed)
	ready chan struct{} // a token when the queue is not empty
}

// hubWorkers flush streams: a wake-up of every stream (after a lost notification) queues them all
// rather than starting a goroutine each.
const hubWorkers = 8

// hubBeatWait bounds a heartbeat's write: a client whose connection cannot take 15 bytes at once is
// dropped, and resumes with Last-Event-ID.
const hubBeatWait = time.Second

// hubStream is one stream the hub serves.
type hubStream struct {
	conn    net.Conn
	user    string
	p       activity.Principal
	r       *http.Request // what links need of the request: scheme and host
	rp      resourcePath
	release func() // the user's stream count

	mu    sync.Mutex // guards what follows, and one writer at a time
	t     *deltaToken
	busy  bool // a flush is running
	again bool // another flush was asked for while it ran
	retry bool // a flush is due after streamStoreRetry: the store could not serve the last one
	gone  bool
}

func newHub(s *Server) *hub {
	return &hub{s: s, byUser: map[string]map[*hubStream]struct{}{}, stop: make(chan struct{}), ready: make(chan struct{}, 1)}
}

// takeOver hijacks the connection of a stream that has caught up and hands it to the hub, which
// writes what follows. It reports false when the connection cannot be taken over (HTTP/2), and the
// caller serves the stream itself.
func (h *hub) takeOver(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal, t *deltaToken, user string, release func()) bool {
	if r.ProtoMajor != 1 || h.s.Changes == nil {
		return false // without wake-ups, a stream keeps its handler, which polls
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	// What net/http had buffered is sent first; its buffers are then left behind.
	if err := rw.Flush(); err != nil {
		conn.Close()
		release()
		return true
	}
	st := &hubStream{conn: conn, user: user, p: p, t: t, release: release, rp: *rp,
		r: &http.Request{Host: r.Host, TLS: r.TLS, URL: &url.URL{Scheme: r.URL.Scheme}}}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		st.close()
		return true
	}
	if h.byUser[user] == nil {
		h.byUser[user] = map[*hubStream]struct{}{}
	}
	h.byUser[user][st] = struct{}{}
	h.mu.Unlock()
	h.start.Do(func() {
		h.s.changes().Listen(h.notify)
		go h.run()
		for range hubWorkers {
			go h.work()
		}
	})
	st.kick(h) // what committed between the catch-up and now
	return true
}

// notify wakes the streams of the users (nil: every stream).
func (h *hub) notify(users []string) {
	h.mu.Lock()
	var wake []*hubStream
	if users == nil {
		for _, set := range h.byUser {
			for st := range set {
				wake = append(wake, st)
			}
		}
	}
	for _, u := range users {
		for st := range h.byUser[u] {
			wake = append(wake, st)
		}
	}
	h.mu.Unlock()
	for _, st := range wake {
		st.kick(h)
	}
}

// run sends the heartbeats and the poll of every stream, until the hub closes.
func (h *hub) run() {
	heartbeat := time.NewTicker(h.s.heartbeat())
	defer heartbeat.Stop()
	poll := time.NewTicker(hubPoll)
	defer poll.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-poll.C:
			h.notify(nil)
		case <-heartbeat.C:
			h.mu.Lock()
			var all []*hubStream
			for _, set := range h.byUser {
				for st := range set {
					all = append(all, st)
				}
			}
			h.mu.Unlock()
			for _, st := range all {
				st.heartbeat(h)
			}
		}
	}
}

// enqueue queues a stream for a worker to flush.
func (h *hub) enqueue(st *hubStream) {
	h.qmu.Lock()
	h.queue = append(h.queue, st)
	h.qmu.Unlock()
	select {
	case h.ready <- struct{}{}:
	default:
	}
}

// work flushes queued streams until the hub closes.
func (h *hub) work() {
	for {
		h.qmu.Lock()
		var st *hubStream
		if len(h.queue) > 0 {
			st, h.queue = h.queue[0], h.queue[1:]
		}
		more := len(h.queue) > 0
		h.qmu.Unlock()
		if more {
			select {
			case h.ready <- struct{}{}: // another worker may start on the rest
			default:
			}
		}
		if st != nil {
			st.flush(h)
			continue
		}
		select {
		case <-h.stop:
			return
		case <-h.ready:
		}
	}
}

// close ends every stream the hub serves, and any it is handed later.
func (h *hub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	var all []*hubStream
	for _, set := range h.byUser {
		for st := range set {
			all = append(all, st)
		}
	}
	h.byUser = nil
	h.mu.Unlock()
	close(h.stop)
	for _, st := range all {
		st.mu.Lock()
		st.close()
		st.mu.Unlock()
	}
}

// drop forgets a stream whose client went away.
func (h *hub) drop(st *hubStream) {
	h.mu.Lock()
	if set := h.byUser[st.user]; set != nil {
		delete(set, st)
		if len(set) == 0 {
			delete(h.byUser, st.user)
		}
	}
	h.mu.Unlock()
	st.mu.Lock()
	st.close()
	st.mu.Unlock()
}

// close closes the connection once and gives the user's stream count back; st.mu is held or the
// stream is not shared yet.
func (st *hubStream) close() {
	if st.gone {
		return
	}
	st.gone = true
	st.conn.Close()
	st.release()
}

// kick makes sure a flush of the stream runs after now: one is queued, or the queued or running one
// goes round again.
func (st *hubStream) kick(h *hub) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gone || st.retry {
		return // a retry is due, which reads everything committed by then
	}
	if st.busy {
		st.again = true
		return
	}
	st.busy = true
	h.enqueue(st)
}

// flush writes the stream's new events until none is left.
func (st *hubStream) flush(h *hub) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), hubWriteWait)
		var buf bytes.Buffer
		st.mu.Lock()
		t := *st.t
		st.mu.Unlock()
		_, more, err := h.s.streamPage(ctx, &buf, st.r, &st.rp, st.p, &t)
		cancel()
		if err != nil && h.s.unavailable(err) {
			// The store cannot serve for now (out of connections, unreachable): nothing was written,
			// and the stream reads from the same position again a moment later instead of ending.
			// One retry at a time: wake-ups meanwhile wait for it rather than each starting a read.
			st.mu.Lock()
			st.busy, st.again, st.retry = false, false, true
			st.mu.Unlock()
			time.AfterFunc(streamStoreRetry, func() {
				st.mu.Lock()
				st.retry = false
				st.mu.Unlock()
				st.kick(h)
			})
			return
		}
		if err == nil && buf.Len() > 0 {
			_ = st.conn.SetWriteDeadline(time.Now().Add(hubWriteWait))
			_, err = st.conn.Write(buf.Bytes())
		}
		st.mu.Lock()
		if err != nil {
			st.busy = false
			st.mu.Unlock()
			h.drop(st)
			return
		}
		st.t = &t
		if more || st.again {
			st.again = false
			st.mu.Unlock()
			continue
		}
		st.busy = false
		st.mu.Unlock()
		return
	}
}

// reap drops the user's streams whose clients have hung up, so that a client that reconnects does not
// find its own dead streams holding the user's slots. The hub never reads from a connection it took
// over, so it asks: a read that times out at once means the client is still there; end of file or
// an error means it is gone.
func (h *hub) reap(user string) {
	h.mu.Lock()
	var streams []*hubStream
	for st := range h.byUser[user] {
		streams = append(streams, st)
	}
	h.mu.Unlock()
	for _, st := range streams {
		if st.hungUp() {
			h.drop(st)
		}
	}
}

// hungUp reports whether the client of an idle stream has closed its connection.
func (st *hubStream) hungUp() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gone || st.busy {
		return false
	}
	return peerClosed(st.conn)
}

// heartbeat writes a comment to an idle stream, on the hub's goroutine; a client that cannot take
// it, or has hung up, is dropped.
func (st *hubStream) heartbeat(h *hub) {
	if st.hungUp() {
		h.drop(st)
		return
	}
	st.mu.Lock()
	if st.gone || st.busy {
		st.mu.Unlock()
		return // a flush is writing: the stream is not idle
	}
	st.busy = true
	st.mu.Unlock()
	_ = st.conn.SetWriteDeadline(time.Now().Add(hubBeatWait))
	_, err := fmt.Fprint(st.conn, ": heartbeat\n\n")
	st.mu.Lock()
	st.busy = false
	again := st.again
	st.again = false
	st.mu.Unlock()
	if err != nil {
		h.drop(st)
		return
	}
	if again {
		st.kick(h)
	}
}
