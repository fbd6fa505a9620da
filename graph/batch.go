package graph

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/activityd/activityd"
)

// MaxBatchSteps is Graph's limit on the requests of one $batch.
// https://learn.microsoft.com/graph/json-batching
const MaxBatchSteps = 20

// batchStep is one request of a $batch body.
type batchStep struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// handleBatch runs the steps of a JSON batch through ServeHTTP itself, each with the outer request's
// token, so that every step meets the same authentication, isolation, limits and throttling as a
// direct call. Steps run one at a time in dependency order; a step whose dependency failed is 424.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request, rp *resourcePath, _ activity.Principal) {
	if _, err := parseQuery(r.URL.RawQuery, 0, nil); err != nil {
		s.error(w, r, err)
		return
	}
	body, err := s.readBody(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	steps, order, err := parseBatch(body)
	if err != nil {
		s.error(w, r, err)
		return
	}
	status := make(map[string]int, len(steps))
	results := make(map[string][]byte, len(steps))
	for _, i := range order {
		step := steps[i]
		key := strings.ToLower(step.ID)
		failed := ""
		for _, d := range step.DependsOn {
			if status[strings.ToLower(d)] >= 400 {
				failed = d
				break
			}
		}
		var sw *stepWriter
		if failed != "" {
			sw = newStepWriter()
			s.error(sw, r, activity.Errorf(activity.FailedDependency, "The request '%s' depends on '%s', which failed.", step.ID, failed))
		} else {
			sw = s.runStep(r, rp, step)
		}
		status[key] = sw.status
		results[key] = appendStepResponse(nil, step.ID, sw)
	}
	b := append(make([]byte, 0, 1024), `{"responses":[`...)
	for i, step := range steps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, results[strings.ToLower(step.ID)]...)
	}
	s.writeJSON(w, http.StatusOK, append(b, "]}"...))
}

// parseBatch decodes and checks a batch body, and returns its steps and an order to run them in that
// puts every step after its dependencies.
func parseBatch(body []byte) ([]batchStep, []int, error) {
	var env struct {
		Requests []batchStep `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, nil, invalid("The $batch body is not valid: %v.", err)
	}
	steps := env.Requests
	switch {
	case len(steps) == 0:
		return nil, nil, invalid("The $batch body holds no requests.")
	case len(steps) > MaxBatchSteps:
		return nil, nil, invalid("The $batch body holds %d requests; at most %d are allowed.", len(steps), MaxBatchSteps)
	}
	index := map[string]int{}
	for i, st := range steps {
		if st.ID == "" || st.Method == "" || st.URL == "" {
			return nil, nil, invalid("Request %d of the $batch needs an id, a method and a url.", i+1)
		}
		if _, dup := index[strings.ToLower(st.ID)]; dup {
			return nil, nil, invalid("The request id '%s' appears more than once in the $batch.", st.ID)
		}
		index[strings.ToLower(st.ID)] = i
	}
	for _, st := range steps {
		for _, d := range st.DependsOn {
			if _, ok := index[strings.ToLower(d)]; !ok {
				return nil, nil, invalid("The request '%s' depends on '%s', which is not in the $batch.", st.ID, d)
			}
		}
	}
	order, err := batchOrder(steps, index)
	return steps, order, err
}

// batchOrder sorts the steps so that each follows its dependencies, keeping the body's order
// otherwise, and refuses cycles.
func batchOrder(steps []batchStep, index map[string]int) ([]int, error) {
	state := make([]int, len(steps)) // 0 new, 1 visiting, 2 done
	var order []int
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return invalid("The dependsOn of the $batch requests form a cycle through '%s'.", steps[i].ID)
		case 2:
			return nil
		}
		state[i] = 1
		for _, d := range steps[i].DependsOn {
			if err := visit(index[strings.ToLower(d)]); err != nil {
				return err
			}
		}
		state[i] = 2
		order = append(order, i)
		return nil
	}
	for i := range steps {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// runStep replays one step as a request to the server.
func (s *Server) runStep(outer *http.Request, rp *resourcePath, step batchStep) *stepWriter {
	sw := newStepWriter()
	target, err := stepURL(rp.version, step.URL)
	if err != nil {
		s.error(sw, outer, err)
		return sw
	}
	var body []byte
	if len(step.Body) > 0 && string(step.Body) != "null" {
		if step.Body[0] != '{' {
			s.error(sw, outer, invalid("The body of request '%s' must be a JSON object.", step.ID))
			return sw
		}
		body = step.Body
	}
	req, err := http.NewRequestWithContext(outer.Context(), strings.ToUpper(step.Method), target, bytes.NewReader(body))
	if err != nil {
		s.error(sw, outer, invalid("The url '%s' of request '%s' is not valid.", step.URL, step.ID))
		return sw
	}
	req.Host, req.TLS, req.RemoteAddr = outer.Host, outer.TLS, outer.RemoteAddr
	for k, v := range step.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", outer.Header.Get("Authorization"))
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	s.ServeHTTP(sw, req)
	return sw
}

// stepURL turns a step's url, relative to the version root and perhaps carrying the version itself
// ("/v1.0/me/activities", as the JavaScript client sends it), into a path on this server.
func stepURL(version, u string) (string, error) {
	if strings.Contains(u, "://") {
		return "", invalid("The url '%s' of a $batch request must be relative, such as /me/activities.", u)
	}
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	for _, v := range []string{"/v1.0", "/beta"} {
		if hasSegment(u, v) {
			return u, nil
		}
	}
	if hasSegment(strings.ToLower(strings.SplitN(u, "?", 2)[0]), "/$batch") {
		return "", invalid("A $batch request cannot hold another $batch.")
	}
	return "/" + version + u, nil
}

// stepWriter keeps a step's response in memory.
type stepWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newStepWriter() *stepWriter { return &stepWriter{header: http.Header{}} }

func (w *stepWriter) Header() http.Header { return w.header }

func (w *stepWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *stepWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// appendStepResponse appends one entry of "responses": headers as JSON strings with Go's canonical
// names (the Go SDK looks "Content-Type" up case-sensitively), a JSON body as an object, another body
// base64-encoded, and no body at all for a 204.
func appendStepResponse(b []byte, id string, sw *stepWriter) []byte {
	o := newObject(b)
	o.str("id", id)
	o.key("status")
	o.b = strconv.AppendInt(o.b, int64(sw.status), 10)
	o.key("headers")
	h := newObject(o.b)
	names := make([]string, 0, len(sw.header))
	for k := range sw.header {
		if k != "Content-Length" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		h.str(k, strings.Join(sw.header.Values(k), ", "))
	}
	o.b = h.close()
	if sw.status != http.StatusNoContent && sw.body.Len() > 0 {
		o.key("body")
		if mt, _, _ := mime.ParseMediaType(sw.header.Get("Content-Type")); mt == "application/json" {
			o.b = append(o.b, sw.body.Bytes()...)
		} else {
			o.b = appendString(o.b, base64.StdEncoding.EncodeToString(sw.body.Bytes()))
		}
	}
	return o.close()
}
