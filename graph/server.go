// Package graph serves the Microsoft Graph user-activities API over HTTP: the resource paths, the
// handlers, the wire JSON, the OData query options and the Graph error envelope. It turns OData into
// activity types at this edge. It must not import other adapters of activityd (sqlite, auth, …).
package graph

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/activityd/activityd"
	"golang.org/x/text/secure/precis"
)

// Verifier checks a bearer token and returns the principal it names (auth.Verifier is one).
type Verifier interface {
	Verify(ctx context.Context, token string) (activity.Principal, error)
}

// Defaults for Server.
const (
	DefaultMaxBodyBytes   = 1 << 20  // after gzip decompression
	DefaultMaxHeaderBytes = 64 << 10 // names and values of all request headers
	DefaultPageSize       = 100
	DefaultMaxPageSize    = 1000
	// MaxPageSize is the most any configuration allows: it bounds a skiptoken's page size.
	MaxPageSize = 10000
	// DefaultMaxPageBytes is the byte budget of a page of activities: with the largest activities
	// (two 64 KB JSON values each) a page holds about 30.
	DefaultMaxPageBytes = 4 << 20
	// DefaultMaxExpandItems and DefaultMaxExpandItemsPerPage bound $expand=historyItems.
	DefaultMaxExpandItems        = 100
	DefaultMaxExpandItemsPerPage = 2000
)

func (s *Server) maxPageBytes() int { return orDefault(s.MaxPageBytes, DefaultMaxPageBytes) }

func (s *Server) maxExpandItems() int { return orDefault(s.MaxExpandItems, DefaultMaxExpandItems) }

func (s *Server) maxExpandItemsPerPage() int {
	return orDefault(s.MaxExpandItemsPerPage, DefaultMaxExpandItemsPerPage)
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Server is the Graph HTTP surface, mounted at /v1.0 and /beta.
type Server struct {
	// Observe, when set, is called after each request (each step of a $batch too) with its route
	// (as in the request log), method, status and duration: the metrics' hook.
	Observe func(route, method string, status int, d time.Duration)
	// Refused, when set, is called for each request refused for its token, with the reason:
	// "missing" (no bearer token), the verifier's own (an error with a Reason() string method, as
	// package auth's: expired, bad_signature, …), or "other".
	Refused func(reason string)

	service        *activity.Service
	verifier       Verifier
	logger         *slog.Logger
	routes         map[routeKey]handlerFunc
	MaxBodyBytes   int64
	MaxHeaderBytes int
	MaxJSONDepth   int
	PageSize       int // page size when the client sends no Prefer: odata.maxpagesize
	MaxPageSize    int // the most Prefer: odata.maxpagesize gets
	// MaxBatchBytes bounds the bytes of all the step responses of one $batch; 0 means
	// DefaultMaxBatchBytes.
	MaxBatchBytes int
	// MaxBatchDuration bounds the time the steps of one $batch take together; 0 means
	// DefaultMaxBatchDuration.
	MaxBatchDuration time.Duration
	// MaxPageBytes ends a page of activities early, with a nextLink, once its activities hold more
	// bytes than this; 0 means DefaultMaxPageBytes.
	MaxPageBytes int
	// MaxExpandItems bounds the history items $expand=historyItems gives each activity; more are
	// reached through historyItems@odata.nextLink. 0 means DefaultMaxExpandItems.
	MaxExpandItems int
	// MaxExpandItemsPerPage bounds the history items of one expanded page: its page size shrinks to
	// MaxExpandItemsPerPage / MaxExpandItems activities. 0 means DefaultMaxExpandItemsPerPage.
	MaxExpandItemsPerPage int
	// Throttle limits each principal's requests; nil turns throttling off. $batch steps count one by one.
	Throttle *activity.Throttle
	// AllowedOrigins are the web origins (scheme://host[:port]) whose pages may call the API from a
	// browser (CORS); "*" allows any origin. None by default.
	AllowedOrigins []string

	// Changes is woken after every commit to the store (on PostgreSQL, every process's); a live
	// stream waits for its user's. Without it streams look at the change log every two seconds.
	Changes *activity.Wakeups
	// Webhooks runs the validation handshake of a new subscription's URLs (notify.Notifier is one);
	// without it, subscriptions cannot be made.
	Webhooks Webhooks
	// Heartbeat is how often an idle live stream sends a comment; 0 means DefaultHeartbeat.
	Heartbeat time.Duration
	// MaxStreamsPerUser bounds the live streams one user has open; 0 means DefaultMaxStreamsPerUser.
	MaxStreamsPerUser int

	handler http.Handler // the middleware around route
	keys    keys
	streams *streams
	hub     *hub
	idle    activity.Wakeups // never notified: what streams wait on without Changes
}

func (s *Server) changes() *activity.Wakeups {
	if s.Changes != nil {
		return s.Changes
	}
	return &s.idle
}

// NewServer returns a Server over service that authenticates requests with verifier.
func NewServer(service *activity.Service, verifier Verifier, logger *slog.Logger) *Server {
	s := &Server{service: service, verifier: verifier, logger: logger, routes: routeTable(),
		MaxBodyBytes: DefaultMaxBodyBytes, MaxHeaderBytes: DefaultMaxHeaderBytes, MaxJSONDepth: DefaultMaxJSONDepth,
		PageSize: DefaultPageSize, MaxPageSize: DefaultMaxPageSize, streams: newStreams()}
	s.hub = newHub(s)
	secret := make([]byte, SecretSize)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails on supported platforms
	s.SetSecret(secret)
	s.handler = s.withRequestIDs(s.withLog(s.withCORS(http.HandlerFunc(s.route))))
	return s
}

// handlerFunc is a Graph handler: it gets the parsed path and the caller, writes a success, and
// returns any error for route to write in the Graph envelope.
type handlerFunc func(s *Server, w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error

type routeKey struct {
	method string
	kind   kind
}

// routeTable is the whole API on one screen. (It is built by NewServer rather than held in a package
// variable because $batch calls back into the handler, which reads the table.)
func routeTable() map[routeKey]handlerFunc {
	return map[routeKey]handlerFunc{
		{"GET", kindMe}:                  (*Server).handleMe,
		{"GET", kindActivities}:          (*Server).handleActivityList,
		{"POST", kindActivities}:         (*Server).handleActivityPost,
		{"POST", kindActivitiesRef}:      (*Server).handleActivityPost,
		{"GET", kindActivitiesCount}:     (*Server).handleActivityCount,
		{"GET", kindRecent}:              (*Server).handleActivityList,
		{"GET", kindDelta}:               (*Server).handleDelta,
		{"GET", kindActivity}:            (*Server).handleActivityGet,
		{"PUT", kindActivity}:            (*Server).handleActivityPut,
		{"PATCH", kindActivity}:          (*Server).handleActivityPatch,
		{"DELETE", kindActivity}:         (*Server).handleActivityDelete,
		{"GET", kindHistoryItems}:        (*Server).handleHistoryItemList,
		{"POST", kindHistoryItems}:       (*Server).handleHistoryItemPost,
		{"GET", kindHistoryItemsCount}:   (*Server).handleHistoryItemCount,
		{"GET", kindHistoryItem}:         (*Server).handleHistoryItemGet,
		{"PUT", kindHistoryItem}:         (*Server).handleHistoryItemPut,
		{"PATCH", kindHistoryItem}:       (*Server).handleHistoryItemPatch,
		{"DELETE", kindHistoryItem}:      (*Server).handleHistoryItemDelete,
		{"GET", kindHistoryItemActivity}: (*Server).handleHistoryItemActivity,
		{"POST", kindBatch}:              (*Server).handleBatch,
		{"POST", kindSubscriptions}:      (*Server).handleSubscriptionPost,
		{"GET", kindSubscriptions}:       (*Server).handleSubscriptionList,
		{"GET", kindSubscription}:        (*Server).handleSubscriptionGet,
		{"PATCH", kindSubscription}:      (*Server).handleSubscriptionPatch,
		{"DELETE", kindSubscription}:     (*Server).handleSubscriptionDelete,
	}
}

// ServeHTTP serves one Graph request through the middleware (ids, log, CORS) and the route table.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// route serves one Graph request once the middleware has run: limits, the path, authentication,
// throttling, then the handler; any error is written here, once, in the Graph envelope.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if s.serveMetadata(w, r) {
		return
	}
	if err := s.routeErr(w, r); err != nil {
		s.error(w, r, err)
	}
}

func (s *Server) routeErr(w http.ResponseWriter, r *http.Request) error {
	if n := headerBytes(r.Header); n > s.MaxHeaderBytes {
		return errorf(http.StatusRequestHeaderFieldsTooLarge, "invalidRequest", "The request headers hold %d bytes; at most %d are allowed.", n, s.MaxHeaderBytes)
	}
	rp, err := parsePath(r.Method, r.URL.EscapedPath())
	if err != nil {
		return err
	}
	info := requestInfoFrom(r.Context())
	info.route = kindNames[rp.kind]
	p, err := s.authenticate(r)
	if err != nil {
		return err
	}
	info.principal = p
	if rp.user != "" && !sameUser(rp.user, p) {
		return activity.Errorf(activity.Forbidden, "Access to the activities of user '%s' is denied; a token gives access to its own user only.", rp.user)
	}
	if err := s.throttle(w, r, rp, p); err != nil {
		return err
	}
	h, ok := s.routes[routeKey{r.Method, rp.kind}]
	if !ok {
		w.Header().Set("Allow", s.allowed(rp.kind))
		return errorf(http.StatusMethodNotAllowed, "notSupported", "The method %s is not supported for this resource; use %s.", r.Method, s.allowed(rp.kind))
	}
	if rp.key != "" && rp.kind != kindSubscription && !(r.Method == http.MethodPut && rp.kind == kindActivity) {
		if err := s.resolveKey(r.Context(), p, rp); err != nil {
			return err
		}
	}
	return h(s, w, r, rp, p)
}

// sameUser reports whether the {id} of /users/{id} names the caller: its object id (a GUID in any
// case, anything else exactly) or its sign-in name, compared under the PRECIS UsernameCaseMapped
// profile (RFC 8265 §3.2), never by ad-hoc case folding.
func sameUser(id string, p activity.Principal) bool {
	if a, ok := activity.ParseGUID(id); ok {
		if b, ok := activity.ParseGUID(p.UserID); ok && a == b {
			return true
		}
	}
	return id == p.UserID || p.UserName != "" && precis.UsernameCaseMapped.Compare(id, p.UserName)
}

var kindNames = map[kind]string{kindMe: "me", kindActivities: "activities", kindActivitiesCount: "activities/$count",
	kindActivitiesRef: "activities/$ref", kindRecent: "activities/recent", kindDelta: "activities/delta", kindSubscriptions: "subscriptions", kindSubscription: "subscription", kindActivity: "activity",
	kindHistoryItems: "historyItems", kindHistoryItemsCount: "historyItems/$count", kindHistoryItem: "historyItem",
	kindHistoryItemActivity: "historyItem/activity", kindBatch: "$batch"}

// allowed lists the methods a path kind supports, for the Allow header.
func (s *Server) allowed(k kind) string {
	var methods []string
	for _, m := range []string{"GET", "PUT", "POST", "PATCH", "DELETE"} {
		if _, ok := s.routes[routeKey{m, k}]; ok {
			methods = append(methods, m)
		}
	}
	return strings.Join(methods, ", ")
}

// headerBytes is the size of the request headers as sent, near enough.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// throttle counts the request against the principal's limits and, when one is reached, answers 429
// with Retry-After in whole seconds, as Graph does and as the SDKs' retry handlers expect.
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	if s.Throttle == nil || rp.kind == kindBatch {
		return nil
	}
	wait, rate, err := s.Throttle.Check(r.Context(), p, r.Method != http.MethodGet)
	if err != nil || rate == nil {
		return err
	}
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	kind := "reads"
	if r.Method != http.MethodGet {
		kind = "writes"
	}
	return errorf(http.StatusTooManyRequests, "TooManyRequests", "Too many requests: the limit of %d %s per %s for this user and app is reached; retry after %d seconds.",
		rate.N, kind, rate.Per, secs)
}

// authenticate checks the bearer token of the Authorization header; a token in the query string is
// never read.
func (s *Server) authenticate(r *http.Request) (activity.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		s.refused("missing")
		return activity.Principal{}, activity.Errorf(activity.Unauthenticated, "Access token is empty: send Authorization: Bearer <token>.")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		s.refused("missing")
		return activity.Principal{}, activity.Errorf(activity.Unauthenticated, "The Authorization header must be 'Bearer <token>'.")
	}
	p, err := s.verifier.Verify(r.Context(), strings.TrimSpace(token))
	if reason := RefusalReason(err); reason != "" {
		s.refused(reason)
	}
	return p, err
}

// RefusalReason returns why a Verifier refused a token: its error's Reason() (package auth's:
// expired, bad_signature, …), "other" for another Unauthenticated or Forbidden error, and "" when
// err is nil or not a refusal (the server failed).
func RefusalReason(err error) string {
	if code := activity.ErrorCode(err); code != activity.Unauthenticated && code != activity.Forbidden {
		return ""
	}
	var rr interface{ Reason() string }
	if errors.As(err, &rr) {
		return rr.Reason()
	}
	return "other"
}

func (s *Server) refused(reason string) {
	if s.Refused != nil {
		s.Refused(reason)
	}
}

// readBody reads a JSON request body: at most MaxBodyBytes after decompressing gzip, which the Graph
// SDKs always send, so that a gzip bomb stops at the limit.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, errorf(http.StatusUnsupportedMediaType, "invalidRequest", "The Content-Type '%s' is not supported; send application/json.", ct)
		}
	}
	tooLarge := errorf(http.StatusRequestEntityTooLarge, "invalidRequest", "The request body is larger than %d bytes.", s.MaxBodyBytes)
	// The limit applies to what is sent as well as to what it decompresses to: a stream of empty gzip
	// members decompresses to nothing, however long it is.
	body := io.Reader(http.MaxBytesReader(nil, r.Body, s.MaxBodyBytes))
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, bodyError(err, tooLarge)
		}
		defer zr.Close()
		body = zr
	default:
		return nil, errorf(http.StatusUnsupportedMediaType, "invalidRequest", "The Content-Encoding '%s' is not supported; send gzip or none.", enc)
	}
	b, err := io.ReadAll(io.LimitReader(body, s.MaxBodyBytes+1))
	if err != nil {
		return nil, bodyError(err, tooLarge)
	}
	if int64(len(b)) > s.MaxBodyBytes {
		return nil, tooLarge
	}
	return b, nil
}

// bodyError is the client's error for a body that could not be read.
func bodyError(err, tooLarge error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The server's --read-timeout: the body stopped arriving. The client may be gone; if not,
		// it learns why.
		return errorf(http.StatusRequestTimeout, "requestTimeout", "The request body stopped arriving: no bytes came within the server's read timeout.")
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return activity.Errorf(activity.Invalid, "The request body is not valid gzip.")
	}
	return activity.Errorf(activity.Invalid, "The request body could not be read.")
}

// jsonContentType is what Graph sends; its media type is exactly application/json, which the
// JavaScript client requires.
const jsonContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

func (s *Server) writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	h.Set("OData-Version", "4.0")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// baseURL is the scheme and host of absolute links in responses: the request's URL scheme when the
// PublicOrigin middleware set it, else the connection's; the request's Host, which that middleware
// also sets.
func baseURL(r *http.Request) string {
	scheme := r.URL.Scheme
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	return scheme + "://" + r.Host
}

// statusWriter records the status a handler wrote, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what is buffered to the client, for streamed responses; a writer that cannot flush
// (a $batch step) ignores it.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
