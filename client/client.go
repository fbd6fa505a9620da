package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Client calls one activityd (or Microsoft Graph) with one bearer token. Its zero value is not
// usable; make one with New. A Client is safe for concurrent use.
type Client struct {
	// Base is the service root, such as "https://activityd.example:8443/v1.0" (no trailing slash).
	Base string
	// Token is the bearer token sent with every request.
	Token string
	// Tokens, when not nil, gives the bearer token of each request instead of Token: an
	// oauth2.TokenSource that renews it (golang.org/x/oauth2). Its error ends the request.
	Tokens oauth2.TokenSource
	// HTTP sends the requests; nil is http.DefaultClient.
	HTTP *http.Client
	// MaxRetries is how many times a request answered 429 or 503 is sent again, after the
	// Retry-After the server asked for (RFC 9110 §10.2.3; seconds or an HTTP date), or after 1, 2, 4 …
	// seconds when it asked for none. Graph's throttling guidance: concepts/throttling.md.
	MaxRetries int
	// MaxWait caps a single wait before a retry.
	MaxWait time.Duration
}

// New returns a Client of the activityd at baseURL ("http://127.0.0.1:8080", with or without the
// "/v1.0" of the service root) with token, retrying throttled requests 5 times.
func New(baseURL, token string) *Client {
	base := strings.TrimRight(baseURL, "/")
	if !strings.HasSuffix(base, "/v1.0") && !strings.HasSuffix(base, "/beta") {
		base += "/v1.0"
	}
	return &Client{Base: base, Token: token, MaxRetries: 5, MaxWait: time.Minute}
}

// origin is the scheme and host of Base: where activityd's own routes (/privacy/…) are.
func (c *Client) origin() string {
	u, err := url.Parse(c.Base)
	if err != nil {
		return c.Base
	}
	return u.Scheme + "://" + u.Host
}

// Error is an error answer of the API: its HTTP status and Graph's error object
// ({"error": {"code", "message"}}, concepts/errors.md).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// do sends a request to url (absolute) and returns the response of a 2xx, retrying 429 and 503 as
// MaxRetries says; any other status is an *Error. body, when not nil, is sent again on a retry.
func (c *Client) do(ctx context.Context, method, url, contentType string, body []byte, header http.Header) (*http.Response, error) {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rd)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		token := c.Token
		if c.Tokens != nil {
			t, err := c.Tokens.Token()
			if err != nil {
				return nil, err
			}
			token = t.AccessToken
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if req.Header.Get("Accept") == "" {
			req.Header.Set("Accept", "application/json")
		}
		res, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		if res.StatusCode/100 == 2 {
			return res, nil
		}
		apiErr := readError(res)
		if (res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusServiceUnavailable) || attempt >= c.MaxRetries {
			return nil, apiErr
		}
		if err := sleep(ctx, c.retryAfter(res.Header.Get("Retry-After"), attempt)); err != nil {
			return nil, err
		}
	}
}

// retryAfter is how long to wait before retry attempt+1, as the Retry-After value v asks.
func (c *Client) retryAfter(v string, attempt int) time.Duration {
	d := time.Second << min(attempt, 6)
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	if c.MaxWait > 0 && d > c.MaxWait {
		d = c.MaxWait
	}
	return max(d, 0)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// readError reads an error answer and closes it.
func readError(res *http.Response) *Error {
	defer res.Body.Close()
	var body struct {
		Error struct{ Code, Message string }
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	e := &Error{Status: res.StatusCode}
	if json.Unmarshal(b, &body) == nil && body.Error.Message != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	} else {
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	return e
}

// getJSON GETs url and decodes its JSON answer into v.
func (c *Client) getJSON(ctx context.Context, url string, v any) error {
	res, err := c.do(ctx, http.MethodGet, url, "", nil, nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(v)
}

// path escapes an activity key (an id or an appActivityId) for one path segment.
func path(key string) string { return url.PathEscape(key) }

// Get returns the activity whose id or appActivityId is key (GET /me/activities/{key}), with its
// history items when expand is true. Errors: *Error (404 when the app has no such activity).
func (c *Client) Get(ctx context.Context, key string, expand bool) (*Activity, error) {
	u := c.Base + "/me/activities/" + path(key)
	if expand {
		u += "?$expand=historyItems"
	}
	var a Activity
	if err := c.getJSON(ctx, u, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Put creates or replaces the activity with a.AppActivityID, and the history items it carries (Graph's
// PUT /me/activities/{appActivityId}, projectrome-put-activity). It returns the stored activity and
// whether it was created (201) rather than replaced (200).
func (c *Client) Put(ctx context.Context, a *Activity) (*Activity, bool, error) {
	body, err := json.Marshal(a)
	if err != nil {
		return nil, false, err
	}
	res, err := c.do(ctx, http.MethodPut, c.Base+"/me/activities/"+path(a.AppActivityID), "application/json", body, nil)
	if err != nil {
		return nil, false, err
	}
	defer res.Body.Close()
	var out Activity
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, false, err
	}
	return &out, res.StatusCode == http.StatusCreated, nil
}

// Delete deletes the activity whose id is key, with its history items (DELETE /me/activities/{id}).
func (c *Client) Delete(ctx context.Context, key string) error {
	res, err := c.do(ctx, http.MethodDelete, c.Base+"/me/activities/"+path(key), "", nil, nil)
	if err != nil {
		return err
	}
	res.Body.Close()
	return nil
}

// ListOptions narrows List and Recent.
type ListOptions struct {
	Expand bool   // $expand=historyItems
	Filter string // an OData $filter on lastModifiedDateTime
	Search string // activityd's $search (whole words)
	Top    int    // at most this many in all; 0 is every one
}

// List calls f with each activity of the app (GET /me/activities), newest first, following
// @odata.nextLink until the last page (concepts/paging.md), or until f returns false.
func (c *Client) List(ctx context.Context, o ListOptions, f func(*Activity) bool) error {
	return c.pages(ctx, c.Base+"/me/activities"+o.query(), o.Top, f)
}

// Recent is List for GET /me/activities/recent: activities ordered by their latest history item.
func (c *Client) Recent(ctx context.Context, o ListOptions, f func(*Activity) bool) error {
	return c.pages(ctx, c.Base+"/me/activities/recent"+o.query(), o.Top, f)
}

func (o ListOptions) query() string {
	q := url.Values{}
	if o.Expand {
		q.Set("$expand", "historyItems")
	}
	if o.Filter != "" {
		q.Set("$filter", o.Filter)
	}
	if o.Search != "" {
		q.Set("$search", o.Search)
	}
	if o.Top > 0 {
		q.Set("$top", strconv.Itoa(o.Top))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + strings.ReplaceAll(q.Encode(), "%24", "$")
}

func (c *Client) pages(ctx context.Context, next string, top int, f func(*Activity) bool) error {
	n := 0
	for next != "" {
		var page struct {
			Value    []*Activity `json:"value"`
			NextLink string      `json:"@odata.nextLink"`
		}
		if err := c.getJSON(ctx, next, &page); err != nil {
			return err
		}
		for _, a := range page.Value {
			if !f(a) {
				return nil
			}
			if n++; top > 0 && n >= top {
				return nil
			}
		}
		next = page.NextLink
	}
	return nil
}

// ExportOptions narrows Export; the zero value exports everything.
type ExportOptions struct {
	App   string    // only the activities of this app
	Since time.Time // only those modified at this time or later (an incremental export)
}

// Export writes every activity of the person, across their apps, to w as JSON Lines (one activity a
// line with its history items and its app as "@activityd.appId"; GET /privacy/export). The token
// needs the scope UserActivity.ReadWrite.All. It returns the bytes written.
func (c *Client) Export(ctx context.Context, w io.Writer, o ExportOptions) (int64, error) {
	q := url.Values{}
	if o.App != "" {
		q.Set("app", o.App)
	}
	if !o.Since.IsZero() {
		q.Set("since", o.Since.UTC().Format(time.RFC3339))
	}
	u := c.origin() + "/privacy/export"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	res, err := c.do(ctx, http.MethodGet, u, "", nil, http.Header{"Accept": {"application/x-ndjson"}})
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	return io.Copy(w, res.Body)
}

// ImportLine is the server's answer for one line of an import (see Import).
type ImportLine struct {
	Line          int    `json:"line"`
	App           string `json:"app"`
	AppActivityID string `json:"appActivityId"`
	Result        string `json:"result"` // created, updated, unchanged, newer, skipped
	Reason        string `json:"reason"`
}

// Import sends lines (each one activity as an export holds it, without its newline) to the person's
// import (POST /privacy/import) in one request, and returns the server's answer for each line, in
// order; ImportLine.Line numbers them from 1. The token needs the scope UserActivity.ReadWrite.All.
// Keep a request under the server's limit (8 MiB); the CLI sends 1 MiB at a time.
func (c *Client) Import(ctx context.Context, lines [][]byte) ([]ImportLine, error) {
	body := bytes.Join(lines, []byte("\n"))
	res, err := c.do(ctx, http.MethodPost, c.origin()+"/privacy/import", "application/x-ndjson", body, nil)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var out struct {
		Value []ImportLine `json:"value"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("import: the answer is not JSON: %w", err)
	}
	return out.Value, nil
}
