package graph

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/odata"
)

// errorStatus maps each activity error code to an HTTP status and a Graph error code.
// https://learn.microsoft.com/graph/errors
var errorStatus = map[string]struct {
	status int
	code   string
}{
	activity.Invalid:         {http.StatusBadRequest, "invalidRequest"},
	activity.NotFound:        {http.StatusNotFound, "itemNotFound"},
	activity.Conflict:        {http.StatusConflict, "nameAlreadyExists"},
	activity.Unauthenticated: {http.StatusUnauthorized, "InvalidAuthenticationToken"},
	activity.Forbidden:       {http.StatusForbidden, "accessDenied"},
	activity.Unavailable:     {http.StatusServiceUnavailable, "serviceNotAvailable"},
	activity.StorageFull:     {http.StatusInsufficientStorage, "quotaLimitReached"},
	activity.Internal:        {http.StatusInternalServerError, "generalException"},
}

// unavailableRetry is the Retry-After of a 503 for a store that cannot serve for now: the Graph SDKs
// wait that long and retry (Kiota's retry handler retries 503 three times).
const unavailableRetry = "5"

// httpError is an error of the HTTP exchange rather than of the domain: a method the resource does
// not have, a media type, a size, throttling, a $batch dependency. Its message is safe to show.
type httpError struct {
	status   int
	code     string // the Graph error code
	message  string
	location string // a Location header to send, or ""
}

func (e *httpError) Error() string { return e.message }

// errorf returns an httpError with the status, the Graph error code and a formatted message.
func errorf(status int, code, format string, args ...any) error {
	return &httpError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// StatusError returns an error that a handler served by Wrap returns for a failure of the HTTP
// exchange itself (405, 413, 415): the envelope carries status, the Graph error code code and
// message, which must be safe to show.
func StatusError(status int, code, message string) error {
	return &httpError{status: status, code: code, message: message}
}

// error writes err in the Graph error envelope. Internal errors are logged here, once, with the
// request id, and reach the client only as a generic message; those of a request whose client went
// away are not the server's fault and are logged at info.
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	err = activity.Classify(s.service.Store, err)
	code := activity.ErrorCode(err)
	if se, ok := err.(*odata.SyntaxError); ok {
		code, err = activity.Invalid, activity.Errorf(activity.Invalid, "%s", se.Error())
	}
	m, ok := errorStatus[code]
	if !ok {
		m = errorStatus[activity.Internal]
	}
	message := activity.ErrorMessage(err)
	var he *httpError
	switch {
	case errors.As(err, &he):
		m.status, m.code, message = he.status, he.code, he.message
		if he.location != "" {
			w.Header().Set("Location", he.location)
		}
	case code == activity.Internal && r.Context().Err() != nil:
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request ended by the client",
			slog.String("request_id", w.Header().Get("request-id")), slog.String("error", err.Error()))
	case code == activity.Internal:
		s.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", w.Header().Get("request-id")), slog.String("error", err.Error()))
	case code == activity.Unauthenticated:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		requestInfoFrom(r.Context()).refusal = message
	case code == activity.Forbidden:
		requestInfoFrom(r.Context()).refusal = message
	case code == activity.Unavailable || code == activity.StorageFull:
		if code == activity.Unavailable {
			w.Header().Set("Retry-After", unavailableRetry)
		}
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "store "+code,
			slog.String("request_id", w.Header().Get("request-id")), slog.String("error", err.Error()))
	}
	s.writeJSON(w, m.status, appendError(nil, m.code, message, w.Header()))
}

// appendError appends the Graph error envelope. innerError.date is UTC with a Z, which every Graph
// client's date parser accepts (Graph itself omits the zone, which some of them reject).
func appendError(b []byte, code, message string, h http.Header) []byte {
	o := newObject(b)
	o.key("error")
	e := newObject(o.b)
	e.str("code", code)
	e.str("message", message)
	e.key("innerError")
	in := newObject(e.b)
	in.str("date", time.Now().UTC().Format("2006-01-02T15:04:05Z"))
	in.str("request-id", h.Get("request-id"))
	in.str("client-request-id", h.Get("client-request-id"))
	e.b = in.close()
	o.b = e.close()
	return o.close()
}
