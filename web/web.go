// Package web serves the person's side of activityd: the timeline page at / (their activities
// across every app, grouped by day, searchable, live), the privacy controls, sign-in and the
// embedded assets. Pages are rendered on the server with html/template and read without JavaScript;
// app.js adds live updates, endless scrolling and local dates. It must not import other adapters
// (graph, sqlite, auth, …): cmd/activityd wires it to them through the small interfaces below.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/activityd/activityd"
)

// Verifier checks a bearer token and returns the principal it names (auth.Verifier is one).
type Verifier interface {
	Verify(ctx context.Context, token string) (activity.Principal, error)
}

// Exporter writes every activity of a person as JSON Lines and says how many, and imports such lines
// back (graph.Server is one).
type Exporter interface {
	Export(ctx context.Context, w io.Writer, p activity.Principal, f activity.ExportFilter) (int, error)
	Import(ctx context.Context, p activity.Principal, body []byte) ([]activity.ImportLine, error)
}

// Defaults for Server.
const (
	DefaultSessionTTL        = 12 * time.Hour
	DefaultPageSize          = 50 // activities on one screen
	DefaultHeartbeat         = 15 * time.Second
	DefaultMaxStreamsPerUser = 16
	// SecretSize is the size of the key that signs sessions, CSRF tokens and stream positions.
	SecretSize = 32
	// MaxImportBytes is the largest body of POST /privacy/import; a larger import is sent in parts
	// (the activityd import command sends 1 MiB at a time).
	MaxImportBytes = 8 << 20
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server is the timeline page and the privacy controls.
type Server struct {
	service  *activity.Service
	verifier Verifier
	ids      *activity.PublicIDs
	exporter Exporter
	logger   *slog.Logger
	key      []byte
	pages    *template.Template
	mux      *http.ServeMux

	// Changes is woken after every commit to the store; without it the live stream looks at the
	// change log every two seconds.
	Changes *activity.Wakeups
	// Now returns the current time; nil means time.Now.
	Now               func() time.Time
	SessionTTL        time.Duration // how long a sign-in lasts; 0 means DefaultSessionTTL
	PageSize          int           // 0 means DefaultPageSize
	Heartbeat         time.Duration // 0 means DefaultHeartbeat
	MaxStreamsPerUser int           // 0 means DefaultMaxStreamsPerUser
	// Accounts, when set, signs people in with a name and a password and serves the consent, device
	// and devices pages of the sign-in provider; without it only a token signs in (on loopback).
	Accounts Accounts
	// External, when set, adds "Sign in with …" through an external OpenID Connect provider.
	External External
	// Secure marks cookies Secure (set when activityd serves TLS); cookies are then __Host- cookies.
	Secure bool

	mu      sync.Mutex
	streams map[string]int // open live streams by user (activity.UserKey)
}

// New returns the web Server. secret (SecretSize bytes, the same for every process on a store)
// signs its cookies, CSRF tokens and stream positions; ids turns stored activity ids into the
// public ones the API shows.
func New(service *activity.Service, verifier Verifier, ids *activity.PublicIDs, exporter Exporter, secret []byte, logger *slog.Logger) *Server {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("activityd web v1"))
	s := &Server{service: service, verifier: verifier, ids: ids, exporter: exporter, logger: logger,
		key: mac.Sum(nil), streams: map[string]int{}}
	s.pages = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
	static, _ := fs.Sub(staticFS, "static")
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(http.FileServerFS(static))))
	m.HandleFunc("GET /{$}", s.page(s.handleTimeline))
	m.HandleFunc("GET /timeline", s.page(s.handleTimeline))
	m.HandleFunc("GET /timeline/events", s.handleEvents)
	m.HandleFunc("GET /signin", s.handleSignInForm)
	m.HandleFunc("POST /signin", s.handleSignIn)
	m.HandleFunc("POST /signout", s.form(s.handleSignOut))
	m.HandleFunc("GET /signin/external", s.withExternal(s.handleExternalStart))
	m.HandleFunc("GET "+ExternalCallbackPath, s.withExternal(s.handleExternalCallback))
	m.HandleFunc("GET /consent", s.signedIn(s.handleConsent))
	m.HandleFunc("POST /consent", s.withAccounts(s.form(s.handleConsentAnswer)))
	m.HandleFunc("GET /device", s.signedIn(s.handleDevice))
	m.HandleFunc("POST /device", s.withAccounts(s.form(s.handleDeviceAnswer)))
	m.HandleFunc("GET /devices", s.signedIn(s.handleDevices))
	m.HandleFunc("POST /devices/revoke", s.withAccounts(s.form(s.handleDeviceRevoke)))
	m.HandleFunc("GET /privacy", s.page(s.handlePrivacy))
	m.HandleFunc("POST /privacy/forget", s.privacyAPI(s.handleForget, s.form(s.handleForget)))
	m.HandleFunc("POST /privacy/settings", s.privacyAPI(s.handleSettings, s.form(s.handleSettings)))
	m.HandleFunc("GET /privacy/settings", s.privacyAPI(s.handleSettingsRead, s.page(s.handlePrivacy)))
	m.HandleFunc("GET /privacy/export", s.privacyAPI(s.handleExport, s.page(s.handleExport)))
	m.HandleFunc("POST /privacy/import", s.bearerAPI(s.handleImport, MaxImportBytes, s.formOf(s.handleImport, MaxImportBytes+64<<10)))
	s.mux = m
	return s
}

// contentSecurityPolicy is the pages' policy: no inline script, no framing, forms to this server
// only, and to formTarget too when it is not empty (a CSP source expression: the consent page's
// answer ends at the app, and CSP Level 3 applies form-action to a form's redirects).
func contentSecurityPolicy(formTarget string) string {
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; " +
		"img-src 'self' https:; connect-src 'self'; form-action " + formAction + "; base-uri 'none'; frame-ancestors 'none'"
}

// ServeHTTP serves the page's routes with its security headers: a strict Content-Security-Policy
// (no inline script, no framing), no sniffing, no referrer, no caching of personal pages. Requests
// that change state must come from the page itself: Go's CrossOriginProtection (Sec-Fetch-Site and
// Origin) and a CSRF token in every form.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy(""))
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := crossOrigin.Check(r); err != nil {
			s.fail(w, r, http.StatusForbidden, "This form was sent from another site; open activityd and try again.")
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

var crossOrigin = http.NewCrossOriginProtection()

// staticFiles lets browsers cache the embedded assets for a day.
func staticFiles(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
