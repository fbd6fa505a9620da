package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawRequest opens a connection to base and writes head (a request's line and headers, ended by an
// empty line) and then body.
func rawRequest(t *testing.T, base, head, body string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head+body); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSlowClients: a body that stops arriving lets go of its connection after --read-timeout (with a
// token: 408; without one: 401 at once, before any body), a slow body that keeps moving completes,
// and connections past --max-conns-per-addr and --max-conns are refused at once with a 503 that says
// why, while the others are served.
func TestSlowClients(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil, "--read-timeout", "2s", "--max-conns-per-addr", "8", "--throttle=false")
	tok := mintToken(t, dir, "alice", "notes")
	put := func(key string, length int) string {
		return fmt.Sprintf("PUT /v1.0/me/activities/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", key, tok, length)
	}

	// A stalled body, with a token: 408 after the read timeout, and the connection closed.
	c := rawRequest(t, base, put("stalled", 1000), `{"appActivityId":`)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || res.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("a stalled body: %v %v", res, err)
	}
	if waited := time.Since(start); waited < 1500*time.Millisecond || waited > 6*time.Second {
		t.Errorf("answered after %v, want about the read timeout (2s)", waited)
	}

	// No token, and a body that never comes: 401 at once.
	c = rawRequest(t, base, "PUT /v1.0/me/activities/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", "")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start = time.Now()
	res, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || res.StatusCode != http.StatusUnauthorized || time.Since(start) > time.Second {
		t.Fatalf("no token, no body: %v %v after %v", res, err, time.Since(start))
	}
	if _, err := io.ReadAll(c); err != nil { // closed by the server within the read timeout
		t.Errorf("the connection of the 401 was not closed: %v", err)
	}

	// A slow body that moves: 500 ms between parts, 6 parts, past the read timeout in all.
	body := activityBody("slow")
	c = rawRequest(t, base, put("slow", len(body)), "")
	for i := 0; i < len(body); i += len(body)/6 + 1 {
		time.Sleep(500 * time.Millisecond)
		io.WriteString(c, body[i:min(i+len(body)/6+1, len(body))])
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if res, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("a slow body that moves: %v %v", res, err)
	}
	c.Close()

	// Past the bound on one address: refused with a 503 that says why; the others are still served.
	// Connections are opened one at a time until one is refused: the server may still count one of
	// the earlier ones, closed by the client but not yet seen closed, so the refusal may come first
	// at the 8th; it must come by the 9th.
	var held []net.Conn
	var answer []byte
	for len(held) < 12 {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if answer, _ = io.ReadAll(c); len(answer) > 0 {
			break
		}
		c.SetReadDeadline(time.Time{})
		held = append(held, c)
	}
	if !strings.HasPrefix(string(answer), "HTTP/1.1 503") || !strings.Contains(string(answer), "This client address holds as many connections") {
		t.Errorf("after %d connections held, the next one: %q", len(held), answer)
	}
	if len(held) > 8 || len(held) < 7 {
		t.Errorf("%d connections of one address held before a refusal, want 8 (7 while one closed earlier is still counted)", len(held))
	}
	io.WriteString(held[0], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	held[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if res, err := http.ReadResponse(bufio.NewReader(held[0]), nil); err != nil || res.StatusCode != 200 {
		t.Errorf("a held connection is not served: %v %v", res, err)
	}
	for _, c := range held {
		c.Close()
	}
	// Once they close, new connections are served again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil && res.StatusCode == 200 {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the connections closed: %v %v", res, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
