package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/activityd/activityd"
	"golang.org/x/oauth2"
)

// Accounts is what the page needs of the sign-in provider (cmd/activityd adapts provider.Provider):
// passwords, the consent of authorization and device requests, and the person's signed-in devices.
type Accounts interface {
	// Authenticate returns the principal of the account name with password (the person's view:
	// AllApps), or an activity.Error to show: Unauthenticated for a wrong name or password alike,
	// Forbidden when attempts are limited. addr is the client's address.
	Authenticate(ctx context.Context, name, password, addr string) (activity.Principal, error)
	// Request returns an authorization request to consent to; Approve and Deny answer it and say
	// where the browser goes next (the provider's callback, or the app with access_denied).
	Request(ctx context.Context, id string) (Consent, error)
	Approve(ctx context.Context, id string, p activity.Principal) (string, error)
	Deny(ctx context.Context, id string) (string, error)
	// DeviceRequest returns the device authorization of a user code (RFC 8628); ApproveDevice and
	// DenyDevice answer it.
	DeviceRequest(ctx context.Context, userCode string, p activity.Principal) (Consent, error)
	ApproveDevice(ctx context.Context, userCode string, p activity.Principal) error
	DenyDevice(ctx context.Context, userCode string, p activity.Principal) error
	// Bound reports whether the browser of r started the authorization request id: only that
	// browser may answer it (a consent link sent to someone else is worth nothing).
	Bound(r *http.Request, id string) bool
	// Active reports whether the account of a page session signed in with it is still enabled.
	Active(ctx context.Context, p activity.Principal) bool
	// Devices lists the person's signed-in devices and apps; Revoke signs one out.
	Devices(ctx context.Context, p activity.Principal) ([]Device, error)
	Revoke(ctx context.Context, p activity.Principal, id string) error
}

// Consent is a request for access, as the consent page names it.
type Consent struct {
	ID      string // the authorization request's id or the device's user code
	AppID   string
	AppName string
	All     bool // the scope UserActivity.ReadWrite.All: every app's activities
	Admin   bool // the scope activityd.admin: the server's accounts and apps
	API     bool // any scope of the API (else the app only learns who signed in)
	Offline bool // the app stays signed in (a refresh token)
	// RedirectURI is where the browser goes with the answer (the app's, already checked).
	RedirectURI string
}

// Device is a signed-in device or app (an OAuth grant).
type Device struct {
	ID        string
	AppID     string
	AppName   string
	All       bool
	Created   time.Time
	LastUsed  time.Time
	Addr      string
	UserAgent string
}

// signinCookie holds the random value the sign-in form's CSRF token is made from: before a session
// exists, the form is tied to the browser by it (a signed double-submit cookie).
func (s *Server) signinCookie() string {
	if s.Secure {
		return "__Host-activityd-signin"
	}
	return "activityd-signin"
}

// signinCSRF returns the sign-in form's CSRF token for r, setting the cookie behind it when r has
// none.
func (s *Server) signinCSRF(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(s.signinCookie()); err == nil && len(c.Value) == 22 {
		v = c.Value
	} else {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		v = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: s.signinCookie(), Value: v, Path: "/", MaxAge: 3600,
			HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode})
	}
	return base64.RawURLEncoding.EncodeToString(s.mac("signin", []byte(v)))
}

func (s *Server) signinCSRFValid(r *http.Request) bool {
	c, err := r.Cookie(s.signinCookie())
	if err != nil || c.Value == "" {
		return false
	}
	want := base64.RawURLEncoding.EncodeToString(s.mac("signin", []byte(c.Value)))
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(want))
}

// next is where a sign-in continues: the consent page of an authorization request, the device
// page, or the timeline. It is built here from ids, never taken from the request as a URL, so no
// parameter can redirect elsewhere.
func next(r *http.Request) string {
	if id := r.FormValue("request"); id != "" {
		return "/consent?request=" + url.QueryEscape(id)
	}
	if code := r.FormValue("user_code"); code != "" {
		return "/device?user_code=" + url.QueryEscape(code)
	}
	if r.FormValue("device") != "" {
		return "/device"
	}
	return "/"
}

func (s *Server) signinData(w http.ResponseWriter, r *http.Request, extra map[string]any) map[string]any {
	data := map[string]any{"Local": loopback(r), "Accounts": s.Accounts != nil,
		"Request": r.FormValue("request"), "UserCode": r.FormValue("user_code"), "Device": r.FormValue("device")}
	if s.Accounts != nil {
		data["CSRF"] = s.signinCSRF(w, r)
	}
	if s.External != nil {
		q := url.Values{}
		for _, k := range []string{"request", "user_code", "device"} {
			if v := r.FormValue(k); v != "" {
				q.Set(k, v)
			}
		}
		data["ExternalName"], data["ExternalURL"] = s.External.Name(), "/signin/external?"+q.Encode()
	}
	for k, v := range extra {
		data[k] = v
	}
	return data
}

// handlePasswordSignIn signs a person in with their account's name and password.
func (s *Server) handlePasswordSignIn(w http.ResponseWriter, r *http.Request) {
	if !s.signinCSRFValid(r) {
		s.render(w, r, http.StatusForbidden, "signin", s.signinData(w, r, map[string]any{"Error": "This form has expired; try again."}))
		return
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	p, err := s.Accounts.Authenticate(r.Context(), r.PostFormValue("name"), r.PostFormValue("password"), host)
	if err != nil {
		status, msg := http.StatusUnauthorized, "The name or the password is not right."
		var e *activity.Error
		if errors.As(err, &e) && e.Code == activity.Forbidden {
			status, msg = http.StatusTooManyRequests, e.Message
			w.Header().Set("Retry-After", "60")
		} else if !errors.As(err, &e) || e.Code != activity.Unauthenticated {
			s.error(w, r, err)
			return
		}
		s.render(w, r, status, "signin", s.signinData(w, r, map[string]any{"Error": msg, "Name": r.PostFormValue("name")}))
		return
	}
	s.startSession(w, p, time.Time{}, true)
	http.Redirect(w, r, next(r), http.StatusSeeOther)
}

// errNotBound is an authorization request this browser did not start.
var errNotBound = activity.Errorf(activity.Invalid, "This sign-in request did not start in this browser: start again from the app.")

// handleConsent shows an app's authorization request to the signed-in person.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request, ss *session) error {
	if !s.Accounts.Bound(r, r.FormValue("request")) {
		return errNotBound
	}
	c, err := s.Accounts.Request(r.Context(), r.FormValue("request"))
	if err != nil {
		return err
	}
	// The answer's redirects end at the app: the form must be allowed to go there.
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy(cspOrigin(c.RedirectURI)))
	s.renderPage(w, r, ss, "consent", map[string]any{"Consent": c, "Action": "/consent"})
	return nil
}

// handleConsentAnswer approves or denies an authorization request and sends the browser on.
func (s *Server) handleConsentAnswer(w http.ResponseWriter, r *http.Request, ss *session) error {
	id := r.PostFormValue("request")
	if !s.Accounts.Bound(r, id) {
		return errNotBound
	}
	var to string
	var err error
	if r.PostFormValue("answer") == "approve" {
		to, err = s.Accounts.Approve(r.Context(), id, ss.principal())
	} else {
		to, err = s.Accounts.Deny(r.Context(), id)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// handleDevice asks for a device's user code (RFC 8628 §3.3), then shows its request.
func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request, ss *session) error {
	code := strings.TrimSpace(r.FormValue("user_code"))
	data := map[string]any{"UserCode": code}
	if code != "" {
		c, err := s.Accounts.DeviceRequest(r.Context(), code, ss.principal())
		var e *activity.Error
		switch {
		case err == nil:
			data["Consent"], data["Action"] = c, "/device"
		case errors.As(err, &e) && (e.Code == activity.NotFound || e.Code == activity.Forbidden):
			data["Error"] = e.Message
		default:
			return err
		}
	}
	s.renderPage(w, r, ss, "device", data)
	return nil
}

// handleDeviceAnswer approves or denies a device's request.
func (s *Server) handleDeviceAnswer(w http.ResponseWriter, r *http.Request, ss *session) error {
	code := r.PostFormValue("request")
	approve := r.PostFormValue("answer") == "approve"
	var err error
	if approve {
		err = s.Accounts.ApproveDevice(r.Context(), code, ss.principal())
	} else {
		err = s.Accounts.DenyDevice(r.Context(), code, ss.principal())
	}
	if err != nil {
		return err
	}
	s.renderPage(w, r, ss, "device", map[string]any{"Answered": true, "Approved": approve})
	return nil
}

// handleDevices lists the person's signed-in devices and apps.
func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request, ss *session) error {
	devices, err := s.Accounts.Devices(r.Context(), ss.principal())
	if err != nil {
		return err
	}
	s.renderPage(w, r, ss, "devices", map[string]any{"Devices": devices, "Revoked": r.FormValue("revoked") != ""})
	return nil
}

// handleDeviceRevoke signs a device or app out.
func (s *Server) handleDeviceRevoke(w http.ResponseWriter, r *http.Request, ss *session) error {
	if err := s.Accounts.Revoke(r.Context(), ss.principal(), r.PostFormValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/devices?revoked=1", http.StatusSeeOther)
	return nil
}

// signedIn serves a page that needs a session, sending anyone else to sign in and come back (to
// the same request, by id).
func (s *Server) signedIn(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if s.Accounts == nil {
			http.NotFound(w, r)
			return
		}
		ss := s.session(r)
		if ss == nil {
			q := url.Values{}
			for _, k := range []string{"request", "user_code"} {
				if v := r.FormValue(k); v != "" {
					q.Set(k, v)
				}
			}
			if r.URL.Path == "/device" {
				q.Set("device", "1")
			}
			http.Redirect(w, r, "/signin?"+q.Encode(), http.StatusSeeOther)
			return
		}
		if err := h(w, r, ss); err != nil {
			s.error(w, r, err)
		}
	}
}

// withAccounts serves h when the page has accounts, else 404.
func (s *Server) withAccounts(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Accounts == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}
}

// External signs people in through an external OpenID Connect provider (cmd/activityd adapts
// relyingparty.Client and the accounts): AuthURL starts a sign-in, SignIn finishes it with the code
// the provider sent back and returns the person's principal (the person's view).
type External interface {
	Name() string
	AuthURL(ctx context.Context, redirectURL, state, nonce, verifier string) (string, error)
	SignIn(ctx context.Context, redirectURL, code, verifier, nonce string) (activity.Principal, error)
}

// externalFlow is what a sign-in through the external provider keeps in a signed cookie between
// leaving for the provider and coming back: the state (CSRF, RFC 6749 §10.12), the nonce, the PKCE
// verifier and where to go next.
type externalFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"`
}

func (s *Server) flowCookie() string {
	if s.Secure {
		return "__Host-activityd-external"
	}
	return "activityd-external"
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// baseURL is the scheme and host of this server as the request names it (graph.PublicOrigin sets
// them from --public-url when there is one).
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

// ExternalCallbackPath is the redirect URI to register at the external provider, under the server's
// URL.
const ExternalCallbackPath = "/signin/external/callback"

// handleExternalStart sends the browser to the external provider.
func (s *Server) handleExternalStart(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	flow := externalFlow{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Next: next(r),
		Expires: s.now().Add(10 * time.Minute).Unix()}
	to, err := s.External.AuthURL(r.Context(), baseURL(r)+ExternalCallbackPath, flow.State, flow.Nonce, flow.Verifier)
	if err != nil {
		s.logger.Warn("external sign-in", "error", err)
		s.render(w, r, http.StatusBadGateway, "signin", s.signinData(w, r, map[string]any{"Error": "The sign-in provider cannot be reached; try again later, or sign in with your password."}))
		return
	}
	msg, _ := json.Marshal(flow)
	http.SetCookie(w, &http.Cookie{Name: s.flowCookie(), Value: s.sign("external", msg), Path: "/", MaxAge: 600,
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// handleExternalCallback finishes a sign-in through the external provider.
func (s *Server) handleExternalCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	fail := func(status int, msg string) {
		s.render(w, r, status, "signin", s.signinData(w, r, map[string]any{"Error": msg}))
	}
	var flow externalFlow
	c, err := r.Cookie(s.flowCookie())
	if err != nil {
		fail(http.StatusBadRequest, "This sign-in did not start here, or took longer than 10 minutes: try again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.flowCookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
	msg, ok := s.verify("external", c.Value)
	if !ok || json.Unmarshal(msg, &flow) != nil || s.now().Unix() >= flow.Expires {
		fail(http.StatusBadRequest, "This sign-in did not start here, or took longer than 10 minutes: try again.")
		return
	}
	if !hmac.Equal([]byte(r.FormValue("state")), []byte(flow.State)) {
		fail(http.StatusBadRequest, "This sign-in answer is not for this browser (its state differs): try again.")
		return
	}
	if e := r.FormValue("error"); e != "" {
		fail(http.StatusUnauthorized, "The sign-in provider said no ("+e+").")
		return
	}
	p, err := s.External.SignIn(r.Context(), baseURL(r)+ExternalCallbackPath, r.FormValue("code"), flow.Verifier, flow.Nonce)
	if err != nil {
		var e *activity.Error
		if errors.As(err, &e) && (e.Code == activity.Forbidden || e.Code == activity.Unauthenticated) {
			fail(http.StatusForbidden, e.Message)
			return
		}
		s.logger.Warn("external sign-in", "error", err)
		fail(http.StatusBadGateway, "The sign-in provider's answer was not accepted; try again.")
		return
	}
	s.startSession(w, p, time.Time{}, true)
	http.Redirect(w, r, flow.Next, http.StatusSeeOther)
}

// withExternal serves h when the page has an external provider, else 404.
func (s *Server) withExternal(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.External == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}
}

// cspOrigin returns the CSP source expression of a redirect URI: its origin (scheme://host:port) for
// http and https, its scheme ("com.example.app:") for a private-use one; empty when it holds a
// character a source expression may not (W3C CSP Level 3 §2.3.1).
func cspOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return ""
	}
	src := u.Scheme + ":"
	if u.Scheme == "http" || u.Scheme == "https" {
		src = u.Scheme + "://" + u.Host
	}
	for _, c := range src {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-+:/[]", c)) {
			return ""
		}
	}
	return src
}
