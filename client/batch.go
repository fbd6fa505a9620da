package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// BatchSize is the most requests one JSON batch may hold (concepts/json-batching.md).
const BatchSize = 20

// BatchRequest is one request of a JSON batch: a method and a URL relative to the service root
// ("/me/activities/x"), with an optional JSON body.
type BatchRequest struct {
	Method string
	URL    string
	Body   any // marshalled as JSON; nil for none
}

// BatchResponse is the answer to one BatchRequest.
type BatchResponse struct {
	Status  int
	Headers map[string]string
	Body    json.RawMessage
}

// Err is the response as an *Error when its status is not 2xx, else nil.
func (r *BatchResponse) Err() error {
	if r.Status/100 == 2 {
		return nil
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(r.Body, &body)
	return &Error{Status: r.Status, Code: body.Error.Code, Message: body.Error.Message}
}

// Batch sends reqs as JSON batches (POST {root}/$batch, BatchSize requests each) and returns a
// response for each request, in order. A request answered 429 or 503 inside a batch is sent again in
// a later batch after the longest Retry-After its batch asked for, up to MaxRetries times; after that
// its 429 or 503 is its response. The error is that of a batch request itself.
func (c *Client) Batch(ctx context.Context, reqs []BatchRequest) ([]BatchResponse, error) {
	out := make([]BatchResponse, len(reqs))
	pending := make([]int, len(reqs)) // indexes of reqs still to send
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		var again []int
		var wait time.Duration
		for start := 0; start < len(pending); start += BatchSize {
			part := pending[start:min(start+BatchSize, len(pending))]
			type step struct {
				ID      string            `json:"id"`
				Method  string            `json:"method"`
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers,omitempty"`
				Body    any               `json:"body,omitempty"`
			}
			body := struct {
				Requests []step `json:"requests"`
			}{}
			for _, i := range part {
				s := step{ID: strconv.Itoa(i), Method: reqs[i].Method, URL: reqs[i].URL, Body: reqs[i].Body}
				if s.Body != nil {
					s.Headers = map[string]string{"Content-Type": "application/json"}
				}
				body.Requests = append(body.Requests, s)
			}
			b, err := json.Marshal(body)
			if err != nil {
				return nil, err
			}
			res, err := c.do(ctx, http.MethodPost, c.Base+"/$batch", "application/json", b, nil)
			if err != nil {
				return nil, err
			}
			var answer struct {
				Responses []struct {
					ID      string            `json:"id"`
					Status  int               `json:"status"`
					Headers map[string]string `json:"headers"`
					Body    json.RawMessage   `json:"body"`
				} `json:"responses"`
			}
			err = json.NewDecoder(res.Body).Decode(&answer)
			res.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("$batch: the answer is not JSON: %w", err)
			}
			for _, r := range answer.Responses {
				i, err := strconv.Atoi(r.ID)
				if err != nil || i < 0 || i >= len(reqs) {
					return nil, fmt.Errorf("$batch: the answer names a request %q that was not sent", r.ID)
				}
				out[i] = BatchResponse{Status: r.Status, Headers: r.Headers, Body: r.Body}
				if (r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable) && attempt < c.MaxRetries {
					again = append(again, i)
					wait = max(wait, c.retryAfter(header(r.Headers, "Retry-After"), attempt))
				}
			}
		}
		pending = again
		if len(pending) > 0 {
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
	}
	for i, r := range out {
		if r.Status == 0 {
			return nil, fmt.Errorf("$batch: no answer for request %d (%s %s)", i, reqs[i].Method, reqs[i].URL)
		}
	}
	return out, nil
}

// header returns the value of a header in a batch response's map, whatever its case.
func header(h map[string]string, name string) string {
	for k, v := range h {
		if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(name) {
			return v
		}
	}
	return ""
}
