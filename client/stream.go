package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	sse "github.com/tmaxmax/go-sse"
)

// Change is one event of the live stream: an activity of the app created, updated or deleted.
type Change struct {
	Kind  string // "created", "updated" or "deleted" (the SSE event type)
	Token string // the event's id: a delta token that resumes right after this change
	ID    string // the activity's id
	// Activity is the activity as it is now, as a delta page would hold it; nil when deleted.
	Activity *Activity
}

// Latest returns a delta token for now: the stream or a delta query from it sees only changes made
// after this call (GET {root}/me/activities/delta?$deltatoken=latest).
func (c *Client) Latest(ctx context.Context) (string, error) {
	var page struct {
		DeltaLink string `json:"@odata.deltaLink"`
	}
	if err := c.getJSON(ctx, c.Base+"/me/activities/delta?$deltatoken=latest", &page); err != nil {
		return "", err
	}
	u, err := url.Parse(page.DeltaLink)
	if err != nil || u.Query().Get("$deltatoken") == "" {
		return "", fmt.Errorf("delta: the answer holds no deltaLink with a $deltatoken: %q", page.DeltaLink)
	}
	return u.Query().Get("$deltatoken"), nil
}

// Watch follows the app's live stream (GET {root}/me/activities/delta with Accept: text/event-stream,
// Server-Sent Events; the parser is github.com/tmaxmax/go-sse) from the delta token from, or from now
// when from is "", calling f with each change in commit order. When the connection drops it
// reconnects with Last-Event-ID, so that no change is missed or seen twice, waiting 2 s (the
// server's retry hint), then longer while it keeps failing, up to 30 s. It returns when ctx ends
// (nil), when f returns an error (that error), or when the server refuses the stream (an *Error:
// 410 when the token is older than the change log keeps, 401 or 403 for the token, 429 past the
// open streams allowed).
func (c *Client) Watch(ctx context.Context, from string, f func(Change) error) error {
	token := from
	if token == "" {
		var err error
		if token, err = c.Latest(ctx); err != nil {
			return err
		}
	}
	wait := 2 * time.Second
	for {
		got, err := c.watchOnce(ctx, &token, f)
		var apiErr *Error
		var stop stopped
		switch {
		case errors.As(err, &stop):
			return stop.err
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &apiErr):
			return err
		}
		if got {
			wait = 2 * time.Second
		} else {
			wait = min(wait*2, 30*time.Second)
		}
		if sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// stopped is the error of f, which ends Watch.
type stopped struct{ err error }

func (s stopped) Error() string { return s.err.Error() }

// watchOnce reads one connection's events, moving *token past each; it reports whether any came.
func (c *Client) watchOnce(ctx context.Context, token *string, f func(Change) error) (got bool, err error) {
	res, err := c.do(ctx, http.MethodGet, c.Base+"/me/activities/delta", "", nil,
		http.Header{"Accept": {"text/event-stream"}, "Last-Event-ID": {*token}})
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	for ev, err := range sse.Read(res.Body, nil) {
		if err != nil {
			return got, err
		}
		if ev.Type == "" && ev.Data == "" {
			continue
		}
		ch := Change{Kind: ev.Type, Token: ev.LastEventID}
		var data struct {
			ID      string          `json:"id"`
			Removed json.RawMessage `json:"@removed"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
			return got, fmt.Errorf("stream: an event's data is not JSON: %w", err)
		}
		ch.ID = data.ID
		if data.Removed == nil {
			var a Activity
			if err := json.Unmarshal([]byte(ev.Data), &a); err != nil {
				return got, fmt.Errorf("stream: an event's data is not an activity: %w", err)
			}
			ch.Activity = &a
		} else {
			ch.Kind = "deleted"
		}
		got = true
		if err := f(ch); err != nil {
			return got, stopped{err}
		}
		if ch.Token != "" {
			*token = ch.Token
		}
	}
	return got, nil
}
