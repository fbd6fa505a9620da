package graph

import (
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
	activity.Invalid:          {http.StatusBadRequest, "invalidRequest"},
	activity.NotFound:         {http.StatusNotFound, "itemNotFound"},
	activity.Conflict:         {http.StatusConflict, "nameAlreadyExists"},
	activity.Unauthenticated:  {http.StatusUnauthorized, "InvalidAuthenticationToken"},
	activity.Forbidden:        {http.StatusForbidden, "accessDenied"},
	activity.NotAllowed:       {http.StatusMethodNotAllowed, "notSupported"},
	activity.TooLarge:         {http.StatusRequestEntityTooLarge, "invalidRequest"},
	activity.HeadersTooLarge:  {http.StatusRequestHeaderFieldsTooLarge, "invalidRequest"},
	activity.UnsupportedMedia: {http.StatusUnsupportedMediaType, "invalidRequest"},
	activity.FailedDependency: {http.StatusFailedDependency, "failedDependency"},
	activity.TooManyRequests:  {http.StatusTooManyRequests, "TooManyRequests"},
	activity.Internal:         {http.StatusInternalServerError, "generalException"},
}

// error writes err in the Graph error envelope. Internal errors are logged here, once, with the
// request id, and reach the client only as a generic message.
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	code := activity.ErrorCode(err)
	if se, ok := err.(*odata.SyntaxError); ok {
		code, err = activity.Invalid, activity.Errorf(activity.Invalid, "%s", se.Error())
	}
	m, ok := errorStatus[code]
	if !ok {
		m = errorStatus[activity.Internal]
	}
	if code == activity.Internal {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", w.Header().Get("request-id")), slog.String("error", err.Error()))
	}
	if code == activity.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	s.writeJSON(w, m.status, appendError(nil, m.code, activity.ErrorMessage(err), w.Header()))
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
