package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/activityd/activityd"
)

// requestInfo is what the middleware knows of a request, filled in as it is served: the route and
// the caller are known only once the path is parsed and the token checked.
type requestInfo struct {
	id        string // request-id of the response
	clientID  string // client-request-id: the client's, or id
	parentID  string // the request-id of the $batch that holds this request; "" for a direct request
	route     string
	principal activity.Principal
	refusal   string // the message of a 401 or 403, logged at debug
}

type requestInfoKey struct{}

// requestInfoFrom returns the request's info, or an empty one outside the middleware.
func requestInfoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

// withRequestIDs gives every response a request-id and a client-request-id (the client's own when it
// sent a usable one), as Graph does, and the headers every answer carries. A $batch step gets ids of
// its own and remembers its batch's.
func (s *Server) withRequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &requestInfo{id: activity.NewGUID(), route: "unknown"}
		if parent, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.parentID = parent.id
		}
		info.clientID = r.Header.Get("client-request-id")
		if !usableClientID(info.clientID) {
			info.clientID = info.id
		}
		h := w.Header()
		h.Set("request-id", info.id)
		h.Set("client-request-id", info.clientID)
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
	})
}

// usableClientID reports whether a client-request-id can be echoed: short, printable ASCII.
func usableClientID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// withLog writes one line per request and turns a panic into a 500 in the Graph envelope, logged
// once with its request id. A client that went away before its answer is logged at info, not as an
// error: nothing is wrong with the server.
func (s *Server) withLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		info := requestInfoFrom(r.Context())
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.LogAttrs(r.Context(), slog.LevelError, "panic", slog.String("request_id", info.id),
					slog.String("panic", fmt.Sprint(v)))
				if sw.status == 0 {
					s.error(sw, r, fmt.Errorf("panic: %v", v))
				}
			}
			attrs := []slog.Attr{slog.String("method", r.Method), slog.String("route", info.route),
				slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)),
				slog.String("request_id", info.id)}
			if info.parentID != "" {
				attrs = append(attrs, slog.String("batch_request_id", info.parentID))
			}
			if p := info.principal; p.UserID != "" {
				attrs = append(attrs, slog.String("tenant", p.TenantID), slog.String("user", p.UserID), slog.String("app", p.AppID))
			}
			if info.parentID == "" {
				attrs = append(attrs, slog.String("remote", r.RemoteAddr), slog.String("user_agent", r.UserAgent()))
			}
			if errors.Is(r.Context().Err(), context.Canceled) {
				attrs = append(attrs, slog.Bool("client_gone", true))
			}
			s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
			if s.Observe != nil {
				s.Observe(info.route, r.Method, sw.status, time.Since(start))
			}
			if info.refusal != "" {
				// Why a caller was refused: wanted when a client cannot get in, noise otherwise.
				s.logger.LogAttrs(r.Context(), slog.LevelDebug, "refused", slog.String("request_id", info.id),
					slog.Int("status", sw.status), slog.String("reason", info.refusal))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// corsExposed are the response headers a page may read: the ids to quote in a support request, and
// what the Graph clients use to page, retry and locate.
var corsExposed = "request-id, client-request-id, Location, Retry-After, Preference-Applied, OData-Version"

// withCORS lets pages of the allowed origins call the API (the Fetch standard's CORS protocol): a
// preflight (OPTIONS with Access-Control-Request-Method) of an allowed origin is answered 204 before
// authentication, since browsers send no Authorization with it; other requests get the
// Access-Control-* headers beside their normal answer. Credentials (cookies) are never allowed: the
// API authenticates with bearer tokens, so "*" is as safe as a list.
func (s *Server) withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || len(s.AllowedOrigins) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		allowed := s.originAllowed(origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !preflight {
			if allowed {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Expose-Headers", corsExposed)
			}
			next.ServeHTTP(w, r)
			return
		}
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if !allowed {
			s.error(w, r, activity.Errorf(activity.Forbidden, "The origin '%s' may not call this API from a browser; the server's --cors-origins does not list it.", origin))
			return
		}
		headers := r.Header.Get("Access-Control-Request-Headers")
		if !validHeaderList(headers) {
			s.error(w, r, activity.Errorf(activity.Invalid, "The Access-Control-Request-Headers '%s' is not a list of header names.", headers))
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", "GET, PUT, POST, PATCH, DELETE")
		if headers != "" {
			h.Set("Access-Control-Allow-Headers", headers)
		}
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}

// originAllowed reports whether origin is in AllowedOrigins (scheme and host compared without case)
// or AllowedOrigins holds "*".
func (s *Server) originAllowed(origin string) bool {
	return slices.ContainsFunc(s.AllowedOrigins, func(o string) bool { return o == "*" || strings.EqualFold(o, origin) })
}

// validHeaderList reports whether s is a comma-separated list of HTTP field names (RFC 9110 §5.1).
func validHeaderList(s string) bool {
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" && s != "" {
			return false
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
				return false
			}
		}
	}
	return true
}

// Wrap serves h, a handler beside the Graph routes (the admin API), with the API's request ids,
// request log, metrics (route names it) and panic recovery; the error h returns is written in the
// Graph error envelope, as the API's are.
func (s *Server) Wrap(route string, h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return s.withRequestIDs(s.withLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requestInfoFrom(r.Context()).route = route
		if err := h(w, r); err != nil {
			s.error(w, r, err)
		}
	})))
}

// SetCaller names the caller of a request that Wrap serves, for its log line.
func SetCaller(r *http.Request, p activity.Principal) { requestInfoFrom(r.Context()).principal = p }
