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
		ch, err := change([]byte(ev.Data))
		if err != nil {
			return got, fmt.Errorf("stream: %w", err)
		}
		ch.Token = ev.LastEventID
		if ch.Kind != "deleted" && ev.Type != "" {
			ch.Kind = ev.Type
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

// Delta pulls the app's changes (Graph's delta query, GET {root}/me/activities/delta): from the
// delta token from, the activities changed since, each once in its current state, as Changes of
// Kind "updated" (a delta page does not tell created from updated), and those deleted since as
// "deleted"; from "" the current state, every activity as "created".
// It follows @odata.nextLink to the last page and returns the token of its @odata.deltaLink, to pass
// next time. Errors: an *Error, 410 when from is older than the change log keeps (start again from
// "").
func (c *Client) Delta(ctx context.Context, from string, f func(Change) error) (string, error) {
	next := c.Base + "/me/activities/delta"
	if from != "" {
		next += "?$deltatoken=" + url.QueryEscape(from)
	}
	for {
		var page struct {
			Value     []json.RawMessage `json:"value"`
			NextLink  string            `json:"@odata.nextLink"`
			DeltaLink string            `json:"@odata.deltaLink"`
		}
		if err := c.getJSON(ctx, next, &page); err != nil {
			return "", err
		}
		for _, v := range page.Value {
			ch, err := change(v)
			if err != nil {
				return "", err
			}
			if from == "" {
				ch.Kind = "created"
			}
			if err := f(ch); err != nil {
				return "", err
			}
		}
		switch {
		case page.NextLink != "":
			next = page.NextLink
		case page.DeltaLink != "":
			u, err := url.Parse(page.DeltaLink)
			if err != nil || u.Query().Get("$deltatoken") == "" {
				return "", fmt.Errorf("delta: the last page's deltaLink holds no $deltatoken: %q", page.DeltaLink)
			}
			return u.Query().Get("$deltatoken"), nil
		default:
			return "", errors.New("delta: a page with neither @odata.nextLink nor @odata.deltaLink")
		}
	}
}

// change reads one entry of a delta page or stream event: an activity, or {"id", "@removed"}.
func change(data []byte) (Change, error) {
	var head struct {
		ID      string          `json:"id"`
		Removed json.RawMessage `json:"@removed"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Change{}, fmt.Errorf("delta: an entry is not JSON: %w", err)
	}
	ch := Change{ID: head.ID, Kind: "updated"}
	if head.Removed != nil {
		ch.Kind = "deleted"
		return ch, nil
	}
	var a Activity
	if err := json.Unmarshal(data, &a); err != nil {
		return Change{}, fmt.Errorf("delta: an entry is not an activity: %w", err)
	}
	ch.Activity = &a
	return ch, nil
}
