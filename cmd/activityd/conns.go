package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// bodyDeadline gives every request body a read deadline that moves with progress: each read must
// bring bytes within timeout of the one before (or of the request's start), so that a client that
// sends its headers and then stalls (with a token or without) lets go of its connection after
// timeout, while a slow but moving upload of a large body still completes. The deadline is set
// before the handler runs, so that it also bounds what net/http reads of an unread body after a 401.
// A read past it fails, and the handler answers it as a body it could not read. An answer given
// before the body was read (a 401, a 413) closes the connection, so that net/http does not wait for
// the rest of the body to keep the connection alive.
func bodyDeadline(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if timeout > 0 && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
				body := &progressBody{ReadCloser: r.Body, rc: rc, timeout: timeout}
				r.Body = body
				lc, _ := r.Context().Value(connKey{}).(*limitedConn)
				w = &closeIfUnread{ResponseWriter: w, body: body, conn: lc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

type progressBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	eof     bool
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// closeIfUnread marks an answer "Connection: close" when the request's body was not read to its end,
// and has its connection linger at close (limitedConn), so that a client still sending its body
// reads the answer rather than a reset.
type closeIfUnread struct {
	http.ResponseWriter
	body    *progressBody
	conn    *limitedConn // nil over TLS
	checked bool
}

func (c *closeIfUnread) check() {
	if !c.checked {
		c.checked = true
		if !c.body.eof {
			c.Header().Set("Connection", "close")
			if c.conn != nil {
				c.conn.linger.Store(true)
			}
		}
	}
}

func (c *closeIfUnread) WriteHeader(status int) { c.check(); c.ResponseWriter.WriteHeader(status) }
func (c *closeIfUnread) Write(b []byte) (int, error) {
	c.check()
	return c.ResponseWriter.Write(b)
}
func (c *closeIfUnread) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// limitListener bounds the connections open at once, overall and per client address: past either
// bound a new connection is answered at once with a 503 that says why (over plain HTTP; over TLS it
// is closed, since the answer cannot be written before a handshake) and closed, rather than held
// until the process runs out of file descriptors and no one is served.
type limitListener struct {
	net.Listener
	max, perAddr int // 0 is no bound
	plain        bool

	mu     sync.Mutex
	open   int
	byAddr map[string]int
}

func newLimitListener(ln net.Listener, max, perAddr int, plain bool) *limitListener {
	return &limitListener{Listener: ln, max: max, perAddr: perAddr, plain: plain, byAddr: map[string]int{}}
}

// refusal is what a connection past the bounds reads.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		l.mu.Lock()
		var why string
		switch {
		case l.max > 0 && l.open >= l.max:
			why = "The server holds as many connections as it may; try again in a moment."
		case l.perAddr > 0 && l.byAddr[host] >= l.perAddr:
			why = "This client address holds as many connections as one address may; close some, or try again in a moment."
		default:
			l.open++
			l.byAddr[host]++
		}
		l.mu.Unlock()
		if why == "" {
			return &limitedConn{Conn: c, l: l, host: host}, nil
		}
		go l.refuse(c, why)
	}
}

func (l *limitListener) refuse(c net.Conn, why string) {
	defer c.Close()
	if !l.plain {
		return
	}
	body := `{"error":{"code":"serviceNotAvailable","message":"` + why + `"}}`
	c.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, refusal, len(body), body)
}

func (l *limitListener) release(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byAddr[host]--; l.byAddr[host] <= 0 {
		delete(l.byAddr, host)
	}
}

type limitedConn struct {
	net.Conn
	l      *limitListener
	host   string
	once   sync.Once
	linger atomic.Bool // set by closeIfUnread
}

// connKey is the context key of a request's *limitedConn (http.Server.ConnContext: withConn).
type connKey struct{}

// withConn is the http.Server's ConnContext: it gives requests their connection, for closeIfUnread.
func withConn(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitedConn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// Close closes the connection. After an answer given before its request's body was read, it first
// closes the sending side and reads what the client is still sending, for at most half a second and
// 1 MiB (as net/http does for a body past its limit): closing with unread bytes would send a TCP
// reset, which can destroy the answer before the client reads it.
func (c *limitedConn) Close() error {
	if tc, ok := c.Conn.(*net.TCPConn); ok && c.linger.Load() {
		tc.CloseWrite()
		tc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.CopyN(io.Discard, tc, 1<<20)
	}
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.host) })
	return err
}

// openFileLimit returns the process's limit of open files (Go raises the soft limit to the hard one
// at start, on Linux and macOS: os package, since Go 1.19), for the start-up log and the default
// bound on connections.
func openFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}
