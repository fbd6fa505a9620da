package graph

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/activityd/activityd"
)

// MaxBatchSteps is Graph's limit on the requests of one $batch.
// https://learn.microsoft.com/graph/json-batching
const MaxBatchSteps = 20

// DefaultMaxBatchBytes is the default budget of a $batch response: the bytes of all its steps'
// responses together.
const DefaultMaxBatchBytes = 32 << 20

// batchStep is one request of a $batch body.
type batchStep struct {
	ID        string
	Method    string
	URL       string
	Headers   map[string]string
	Body      []byte // a JSON object, or nil
	DependsOn []string
}

// handleBatch runs the steps of a JSON batch through the server's own handler, each with the outer
// request's token, so that every step meets the same authentication, isolation, limits and
// throttling as a direct call. Steps run one at a time in dependency order; a step whose dependency
// failed is 424. Each step's response is written as soon as it is known (Graph's responses come in
// any order, matched by id), so memory holds one step's response at a time; all of them together
// may take at most MaxBatchBytes, and a step past that gets an error of its own.
// https://learn.microsoft.com/graph/json-batching
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request, rp *resourcePath, _ activity.Principal) error {
	if _, err := parseQuery(r.URL.RawQuery, 0, nil); err != nil {
		return err
	}
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	steps, order, err := parseBatch(body, rp.version, s.MaxJSONDepth)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"responses":[`)
	budget := s.maxBatchBytes()
	status := make(map[string]int, len(steps))
	started := time.Now()
	for n, i := range order {
		step := steps[i]
		var sw *stepWriter
		if spent := time.Since(started); n > 0 && spent > s.maxBatchDuration() {
			// Each step is bounded; this bounds them together (20 steps of 10 s each would be 200 s).
			sw = newStepWriter(r, step)
			s.error(sw, r, errorf(http.StatusRequestTimeout, "requestTimeout", "The request '%s' did not run: the $batch had taken %s, past its budget of %s; send it again.",
				step.ID, spent.Round(time.Millisecond), s.maxBatchDuration()))
		} else {
			sw = s.batchStep(r, rp, step, status)
		}
		if sw.body.Len() > budget {
			over := sw.body.Len()
			sw = newStepWriter(r, step)
			s.error(sw, r, errorf(http.StatusRequestEntityTooLarge, "invalidRequest", "The response to request '%s' (%d bytes) does not fit in what is left of the $batch response's budget (%d of %d bytes); send it in a $batch of its own, or ask for smaller pages.",
				step.ID, over, budget, s.maxBatchBytes()))
		}
		budget -= sw.body.Len()
		status[strings.ToLower(step.ID)] = sw.status
		b := appendStepResponse(make([]byte, 0, sw.body.Len()+512), step.ID, sw)
		if n > 0 {
			_, _ = io.WriteString(w, ",")
		}
		if _, err := w.Write(b); err != nil {
			return nil // the client went away; nothing more can be said
		}
	}
	_, _ = io.WriteString(w, "]}")
	return nil
}

// DefaultMaxBatchDuration is how long the steps of one $batch may take together: a step that would
// start later gets a 408 of its own.
const DefaultMaxBatchDuration = time.Minute

func (s *Server) maxBatchDuration() time.Duration {
	if s.MaxBatchDuration > 0 {
		return s.MaxBatchDuration
	}
	return DefaultMaxBatchDuration
}

func (s *Server) maxBatchBytes() int {
	if s.MaxBatchBytes > 0 {
		return s.MaxBatchBytes
	}
	return DefaultMaxBatchBytes
}

// batchStep answers one step: 424 when a dependency failed, else the step run through the server.
func (s *Server) batchStep(outer *http.Request, rp *resourcePath, step batchStep, status map[string]int) *stepWriter {
	for _, d := range step.DependsOn {
		if status[strings.ToLower(d)] >= 400 {
			sw := newStepWriter(outer, step)
			s.error(sw, outer, errorf(http.StatusFailedDependency, "failedDependency", "The request '%s' depends on '%s', which failed.", step.ID, d))
			return sw
		}
	}
	return s.runStep(outer, rp, step)
}

// batchFields are the members of a $batch body's request object.
var batchFields = []string{"id", "method", "url", "headers", "body", "dependsOn"}

// parseBatch decodes and checks a batch body as strictly as an activity body (exact names, no
// duplicates, no unknown members), and returns its steps and an order to run them in that puts every
// step after its dependencies. A step that names $batch, in any spelling, refuses the whole batch
// before any step runs.
func parseBatch(body []byte, version string, maxDepth int) ([]batchStep, []int, error) {
	d, err := newDecoder(body, maxDepth)
	if err != nil {
		return nil, nil, err
	}
	var steps []batchStep
	seenRequests := false
	_, err = d.object("", func(name, path string) error {
		if name != "requests" {
			return unknownBatch(path, name, []string{"requests"})
		}
		seenRequests = true
		steps, err = d.batchSteps()
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	switch {
	case !seenRequests || len(steps) == 0:
		return nil, nil, invalid("The $batch body holds no requests.")
	case len(steps) > MaxBatchSteps:
		return nil, nil, invalid("The $batch body holds %d requests; at most %d are allowed.", len(steps), MaxBatchSteps)
	}
	index := map[string]int{}
	for i, st := range steps {
		if st.ID == "" || st.Method == "" || st.URL == "" {
			return nil, nil, invalid("Request %d of the $batch needs an id, a method and a url.", i+1)
		}
		if len(st.ID) > 128 || strings.ContainsFunc(st.ID, unicode.IsControl) {
			return nil, nil, invalid("The id of request %d of the $batch must be at most 128 characters, none of them a control character.", i+1)
		}
		if _, dup := index[strings.ToLower(st.ID)]; dup {
			return nil, nil, invalid("The request id '%s' appears more than once in the $batch.", st.ID)
		}
		index[strings.ToLower(st.ID)] = i
		if isBatchURL(version, st.Method, st.URL) {
			return nil, nil, invalid("The request '%s' of the $batch is itself a $batch; a $batch cannot hold another.", st.ID)
		}
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

// batchSteps reads the "requests" array of a $batch body.
func (d *decoder) batchSteps() ([]batchStep, error) {
	if ok, err := d.begin('[', "requests"); !ok || err != nil {
		return nil, err
	}
	var steps []batchStep
	for d.more() {
		n := len(steps) + 1
		if n > MaxBatchSteps {
			return nil, invalid("The $batch body holds more than %d requests; at most %d are allowed.", MaxBatchSteps, MaxBatchSteps)
		}
		var st batchStep
		path := fmt.Sprintf("requests[%d]", n-1)
		ok, err := d.object(path, func(name, full string) (err error) {
			switch name {
			case "id":
				st.ID, err = d.str(full)
			case "method":
				st.Method, err = d.str(full)
			case "url":
				st.URL, err = d.str(full)
			case "headers":
				st.Headers, err = d.stringMap(full)
			case "body":
				st.Body, err = d.raw(full)
			case "dependsOn":
				st.DependsOn, err = d.strings(full)
			default:
				err = unknownBatch(full, name, batchFields)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, invalid("The property '%s' must be an object, not null.", path)
		}
		steps = append(steps, st)
	}
	d.i++ // ']'
	return steps, nil
}

// stringMap reads an object of strings (a step's headers), or null.
func (d *decoder) stringMap(path string) (map[string]string, error) {
	m := map[string]string{}
	_, err := d.object(path, func(name, full string) error {
		v, err := d.str(full)
		m[name] = v
		return err
	})
	return m, err
}

// strings reads an array of strings (a step's dependsOn), or null.
func (d *decoder) strings(path string) ([]string, error) {
	if ok, err := d.begin('[', path); !ok || err != nil {
		return nil, err
	}
	var list []string
	for d.more() {
		v, err := d.str(path)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	d.i++ // ']'
	return list, nil
}

// unknownBatch is the error for a member a $batch body does not have.
func unknownBatch(full, name string, known []string) error {
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return invalid("The property '%s' does not exist in a $batch body; did you mean '%s'? Property names are case-sensitive.", full, k)
		}
	}
	return invalid("The property '%s' does not exist in a $batch body; the properties here are %s.", full, strings.Join(known, ", "))
}

// isBatchURL reports whether a step's url names $batch in any spelling: with or without the version,
// percent-encoded, in any case. It is parsed by the same path parser as every request.
func isBatchURL(version, method, raw string) bool {
	target, err := stepURL(version, raw)
	if err != nil {
		return false
	}
	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	rp, err := parsePath(strings.ToUpper(method), u.EscapedPath())
	return err == nil && rp.kind == kindBatch
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

// runStep replays one step as a request to the server, with ids of its own.
func (s *Server) runStep(outer *http.Request, rp *resourcePath, step batchStep) *stepWriter {
	sw := newStepWriter(outer, step)
	if step.Body != nil && step.Body[0] != '{' {
		s.error(sw, outer, invalid("The body of request '%s' must be a JSON object.", step.ID))
		return sw
	}
	target, err := stepURL(rp.version, step.URL)
	if err != nil {
		s.error(sw, outer, err)
		return sw
	}
	req, err := http.NewRequestWithContext(outer.Context(), strings.ToUpper(step.Method), target, bytes.NewReader(step.Body))
	if err != nil {
		s.error(sw, outer, invalid("The url '%s' of request '%s' is not valid.", step.URL, step.ID))
		return sw
	}
	req.Host, req.TLS, req.RemoteAddr = outer.Host, outer.TLS, outer.RemoteAddr
	for k, v := range step.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", outer.Header.Get("Authorization"))
	if step.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	sw.header = http.Header{} // the step's own response headers, ids included, come from the handler
	s.ServeHTTP(sw, req)
	return sw
}

// stepURL turns a step's url, relative to the version root and perhaps carrying the version itself
// ("/v1.0/me/activities", as the JavaScript client sends it), into a path on this server.
func stepURL(version, u string) (string, error) {
	if strings.Contains(u, "://") || strings.HasPrefix(u, "//") {
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
	return "/" + version + u, nil
}

// stepWriter keeps a step's response in memory.
type stepWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// newStepWriter returns the writer of a step's response. It carries ids from the start, so that an
// error the $batch makes for the step itself (a malformed step, a failed dependency) has them too:
// a request-id of its own, and the step's client-request-id or else the $batch's.
func newStepWriter(outer *http.Request, step batchStep) *stepWriter {
	h := http.Header{}
	h.Set("request-id", activity.NewGUID())
	clientID := step.Headers["client-request-id"]
	for k, v := range step.Headers {
		if strings.EqualFold(k, "client-request-id") {
			clientID = v
		}
	}
	if !usableClientID(clientID) {
		clientID = requestInfoFrom(outer.Context()).clientID
	}
	if clientID == "" {
		clientID = h.Get("request-id")
	}
	h.Set("client-request-id", clientID)
	return &stepWriter{header: h}
}

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
