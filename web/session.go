package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/activityd/activityd"
)

// session is who is signed in to the page: the principal of the token they signed in with, until
// Expires. It lives in a cookie signed with HMAC-SHA256 (no server state, so every process on a
// store accepts it); SID keys the CSRF token of its forms.
type session struct {
	TenantID string `json:"t"`
	UserID   string `json:"u"`
	UserName string `json:"n,omitempty"`
	Issuer   string `json:"i"`
	AppID    string `json:"a"`
	Expires  int64  `json:"e"` // Unix seconds
	SID      string `json:"s"`
	// Account: signed in with an account (a password or the external provider), which must stay
	// enabled for the session to last.
	Account bool `json:"c,omitempty"`

	bearer bool // not a cookie: a bearer token of the privacy API (never stored)
}

func (ss *session) principal() activity.Principal {
	return activity.Principal{TenantID: ss.TenantID, UserID: ss.UserID, AppID: ss.AppID, UserName: ss.UserName, Issuer: ss.Issuer}
}

func (s *Server) cookieName() string {
	if s.Secure {
		return "__Host-activityd-session" // only set over TLS, for this host, for every path
	}
	return "activityd-session"
}

// sign returns msg with its HMAC under the page's key, both in base64url.
func (s *Server) sign(label string, msg []byte) string {
	return base64.RawURLEncoding.EncodeToString(msg) + "." + base64.RawURLEncoding.EncodeToString(s.mac(label, msg))
}

// verify returns the message of a value sign made with label, or false.
func (s *Server) verify(label, v string) ([]byte, bool) {
	body, sig, ok := strings.Cut(v, ".")
	if !ok {
		return nil, false
	}
	msg, err1 := base64.RawURLEncoding.DecodeString(body)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(label, msg)) {
		return nil, false
	}
	return msg, true
}

func (s *Server) mac(label string, msg []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write(msg)
	return m.Sum(nil)
}

// session returns the request's live session, or nil.
func (s *Server) session(r *http.Request) *session {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return nil
	}
	msg, ok := s.verify("session", c.Value)
	if !ok {
		return nil
	}
	var ss session
	if json.Unmarshal(msg, &ss) != nil || ss.UserID == "" || s.now().Unix() >= ss.Expires {
		return nil
	}
	// A disabled or removed account's sessions end at once, on every process.
	if ss.Account && s.Accounts != nil && !s.Accounts.Active(r.Context(), ss.principal()) {
		return nil
	}
	return &ss
}

// startSession signs p in: it sets the session cookie (HttpOnly, SameSite=Lax, Secure over TLS),
// which lasts SessionTTL, and never past the token it was signed in with (when that expires).
func (s *Server) startSession(w http.ResponseWriter, p activity.Principal, tokenExpires time.Time, account bool) {
	sid := make([]byte, 16)
	rand.Read(sid)
	ttl := orDefault(s.SessionTTL, DefaultSessionTTL)
	if !tokenExpires.IsZero() && tokenExpires.Sub(s.now()) < ttl {
		ttl = max(tokenExpires.Sub(s.now()), time.Second)
	}
	ss := session{TenantID: p.TenantID, UserID: p.UserID, UserName: p.UserName, Issuer: p.Issuer, AppID: p.AppID,
		Expires: s.now().Add(ttl).Unix(), SID: base64.RawURLEncoding.EncodeToString(sid), Account: account}
	msg, _ := json.Marshal(ss)
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: s.sign("session", msg), Path: "/",
		MaxAge: int(ttl / time.Second), HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
}

func (s *Server) endSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
}

// csrf returns the CSRF token of a session: every form that changes state carries it.
func (s *Server) csrf(ss *session) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", []byte(ss.SID)))
}

// tokenExpiry reads the exp claim of a token the verifier accepted; zero when it has none.
func tokenExpiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.Exp <= 0 {
		return time.Time{}
	}
	return time.Unix(claims.Exp, 0)
}

// loopback reports whether r comes straight from this machine: its peer is a loopback address and
// it names no forwarding proxy (a proxy on this machine would make every client look local).
func loopback(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip", "Via", "True-Client-Ip", "Cf-Connecting-Ip", "X-Client-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// handlerFunc is a page handler for a signed-in person.
type handlerFunc func(w http.ResponseWriter, r *http.Request, ss *session) error

// page serves a GET for a signed-in person, and sends anyone else to sign in.
func (s *Server) page(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ss := s.session(r)
		if ss == nil {
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		if err := h(w, r, ss); err != nil {
			s.error(w, r, err)
		}
	}
}

// privacyAPI serves a privacy call made with a bearer token that grants the person's view (the
// scope UserActivity.ReadWrite.All), and otherwise passes the request on to next (the page's forms,
// with its cookie and CSRF token). A token is not sent by browsers on their own, so it needs no CSRF
// token.
func (s *Server) privacyAPI(h handlerFunc, next http.HandlerFunc) http.HandlerFunc {
	return s.bearerAPI(h, 64<<10, next)
}

// bearerAPI is privacyAPI with a body of at most maxBody bytes.
func (s *Server) bearerAPI(h handlerFunc, maxBody int64, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			next(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		r.Header.Set("Accept", "application/json")
		p, err := s.verifier.Verify(r.Context(), strings.TrimSpace(token))
		if err != nil {
			s.error(w, r, err)
			return
		}
		if !p.AllApps {
			s.fail(w, r, http.StatusForbidden, "The access token lacks the scope UserActivity.ReadWrite.All, which the privacy API needs.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		ss := &session{TenantID: p.TenantID, UserID: p.UserID, UserName: p.UserName, Issuer: p.Issuer, AppID: p.AppID, bearer: true}
		if err := h(w, r, ss); err != nil {
			s.error(w, r, err)
		}
	}
}

// form serves a POST for a signed-in person whose form carries the session's CSRF token.
func (s *Server) form(h handlerFunc) http.HandlerFunc { return s.formOf(h, 64<<10) }

// formOf is form with a body of at most maxBody bytes (a file upload's).
func (s *Server) formOf(h handlerFunc, maxBody int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.ContentLength > maxBody {
			s.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("This is larger than the %d MiB a form takes here; for a large import, run activityd import FILE (it sends a file of any size in parts).", maxBody>>20))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		ss := s.session(r)
		if ss == nil {
			s.fail(w, r, http.StatusUnauthorized, "You are signed out; sign in and try again.")
			return
		}
		token := r.PostFormValue("csrf")
		if token == "" {
			token = r.Header.Get("X-CSRF-Token")
		}
		if !hmac.Equal([]byte(token), []byte(s.csrf(ss))) {
			s.fail(w, r, http.StatusForbidden, "This form has expired or did not come from your timeline; reload the page and try again.")
			return
		}
		if err := h(w, r, ss); err != nil {
			s.error(w, r, err)
		}
	}
}

func (s *Server) handleSignInForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.session(r) != nil && s.Accounts != nil {
		http.Redirect(w, r, next(r), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "signin", s.signinData(w, r, nil))
}

// handleSignIn signs a person in with an access token of the local issuer (or a trusted one), from
// this machine only: until accounts exist, holding a token that `activityd token` made is the proof.
func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if s.Accounts != nil && r.PostFormValue("token") == "" {
		s.handlePasswordSignIn(w, r)
		return
	}
	if !loopback(r) {
		s.render(w, r, http.StatusForbidden, "signin", s.signinData(w, r, map[string]any{"Error": "A token signs in only on the machine activityd runs on."}))
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	p, err := s.verifier.Verify(r.Context(), token)
	if err == nil && !p.AllApps {
		// An app's token speaks for that app's activities only; the page shows and forgets all of them.
		err = activity.Errorf(activity.Forbidden, "That token is an app's: it lacks the scope UserActivity.ReadWrite.All, which the timeline needs. Make one with --scopes UserActivity.ReadWrite.All.")
	}
	if err != nil {
		msg := "That token was not accepted."
		if e := (*activity.Error)(nil); errors.As(err, &e) {
			msg = e.Message
		}
		s.render(w, r, http.StatusUnauthorized, "signin", s.signinData(w, r, map[string]any{"Error": msg}))
		return
	}
	s.startSession(w, p, tokenExpiry(token), false)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) handleSignOut(w http.ResponseWriter, r *http.Request, _ *session) error {
	s.endSession(w)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
	return nil
}
