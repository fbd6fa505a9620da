// Package admin is the operators' API: the server's accounts, their signed-in devices and apps,
// and the registered apps (OAuth clients), over HTTP with JSON, as the activityd user and app
// commands manage them on the server's machine.
//
// Every request carries a bearer access token of the local issuer with the scope activityd.admin
// (auth.ScopeAdmin) whose account is, at the time of the request, an enabled administrator
// (provider.Account.Admin); a token of another issuer, or without that scope, is refused (401 or
// 403), and so is the token of an account that lost the role since. Errors are Graph's error
// envelope, as on the API. Routes, under Prefix:
//
//	GET    /users                       {"value": [user, …]}, by name
//	POST   /users                       {"name", "password", "admin"?} → 201 user
//	GET    /users/{name}                user
//	PATCH  /users/{name}                {"password"?, "disabled"?, "admin"?} → user; disabling signs every device out
//	DELETE /users/{name}[?keepData=true] {"activitiesDeleted", "devicesSignedOut"}: the account and its activities
//	GET    /users/{name}/devices        {"value": [device, …]}, most recently used first
//	DELETE /users/{name}/devices/{id}   204: that device's refresh tokens end now, its access tokens within their lifetime
//	GET    /apps                        {"value": [app, …]}
//	POST   /apps                        {"id", "name"?, "redirectUris"} → 201 app
//	DELETE /apps/{id}                   {"devicesSignedOut"}: the app, and every grant of it
//
// A user is {"id" (the oid of its tokens), "name", "admin", "disabled", "created"}; a device is
// {"id", "appId", "scopes", "created", "lastUsed", "lastAddress", "userAgent", "expires"}; an app
// is {"id", "name", "redirectUris", "created"}. Times are RFC 3339 in UTC.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/provider"
)

// Prefix is where the admin API is served.
const Prefix = "/admin/v1/"

// MaxBody bounds a request body (a user or an app with its redirect URIs).
const MaxBody = 64 << 10

// Server serves the admin API.
type Server struct {
	// Verify checks a bearer token for the admin API: the local issuer's, with auth.ScopeAdmin.
	Verify func(ctx context.Context, token string) (activity.Principal, error)
	// Issuer is the local issuer's name (iss), whose accounts these are.
	Issuer   string
	Accounts *provider.Accounts
	Grants   *provider.GrantStore
	Apps     *provider.Apps
	// Forget deletes every activity of the person p (all apps) and says how many it deleted.
	Forget func(ctx context.Context, p activity.Principal) (activity.Forgotten, error)
	// Principal is the person of an account, as Forget wants it.
	Principal func(provider.Account) activity.Principal
	// Wrap serves a route with the API's request ids, log, metrics and error envelope
	// (graph.Server.Wrap).
	Wrap func(route string, h func(w http.ResponseWriter, r *http.Request) error) http.Handler
	// Refused, when set, hears the reason of each request refused for its token (as
	// graph.Server.Refused): "missing", or the verifier's.
	Refused func(reason string)
}

// Handler returns the admin API's handler, for the paths under Prefix.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, methods map[string]func(w http.ResponseWriter, r *http.Request, admin provider.Account) error) {
		mux.Handle(Prefix+pattern, s.Wrap("admin/"+pattern, func(w http.ResponseWriter, r *http.Request) error {
			h := methods[r.Method]
			if h == nil {
				allow := make([]string, 0, len(methods))
				for m := range methods {
					allow = append(allow, m)
				}
				slices.Sort(allow)
				w.Header().Set("Allow", strings.Join(allow, ", "))
				return graph.StatusError(http.StatusMethodNotAllowed, "notSupported", fmt.Sprintf("%s is not a method of %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			}
			admin, err := s.authenticate(r)
			if err != nil {
				return err
			}
			return h(w, r, admin)
		}))
	}
	route("users", map[string]func(http.ResponseWriter, *http.Request, provider.Account) error{
		http.MethodGet: s.listUsers, http.MethodPost: s.addUser})
	route("users/{name}", map[string]func(http.ResponseWriter, *http.Request, provider.Account) error{
		http.MethodGet: s.getUser, http.MethodPatch: s.patchUser, http.MethodDelete: s.deleteUser})
	route("users/{name}/devices", map[string]func(http.ResponseWriter, *http.Request, provider.Account) error{
		http.MethodGet: s.listDevices})
	route("users/{name}/devices/{id}", map[string]func(http.ResponseWriter, *http.Request, provider.Account) error{
		http.MethodDelete: s.revokeDevice})
	route("apps", map[string]func(http.ResponseWriter, *http.Request, provider.Account) error{
		http.MethodGet: s.listApps, http.MethodPost: s.addApp})
	route("apps/{id}", map[string]func(http.ResponseWriter, *http.Request, provider.Account) error{
		http.MethodDelete: s.removeApp})
	unknown := s.Wrap("admin/unknown", func(w http.ResponseWriter, r *http.Request) error {
		return activity.Errorf(activity.NotFound, "%.200s is not a route of the admin API (%susers, %sapps)", r.URL.EscapedPath(), Prefix, Prefix)
	})
	mux.Handle(Prefix, unknown)
	// A path that is not in its clean form (//, /./, /../) is no route: not a redirect, which would
	// resend a DELETE elsewhere; so is one outside Prefix.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		if clean := path.Clean(p); !strings.HasPrefix(p, Prefix) || (clean != p && clean+"/" != p) {
			unknown.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// authenticate returns the administrator a request's bearer token names.
func (s *Server) authenticate(r *http.Request) (provider.Account, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		s.refused("missing")
		return provider.Account{}, activity.Errorf(activity.Unauthenticated, "The admin API wants a bearer token with the scope activityd.admin (Authorization: Bearer TOKEN).")
	}
	p, err := s.Verify(r.Context(), strings.TrimSpace(token))
	if err != nil {
		if reason := graph.RefusalReason(err); reason != "" {
			s.refused(reason)
		}
		return provider.Account{}, err
	}
	graph.SetCaller(r, p)
	if p.Issuer != s.Issuer {
		return provider.Account{}, activity.Errorf(activity.Forbidden, "The admin API takes tokens of this server's own issuer only.")
	}
	a, err := s.Accounts.ByID(r.Context(), p.UserID)
	switch {
	case activity.ErrorCode(err) == activity.NotFound:
		return a, activity.Errorf(activity.Forbidden, "%s has no account here: only an administrator's account may use the admin API.", p.UserName)
	case err != nil:
		return a, err
	case a.Disabled:
		return a, activity.Errorf(activity.Forbidden, "The account %s is disabled.", a.Name)
	case !a.Admin:
		return a, activity.Errorf(activity.Forbidden, "%s is not an administrator (activityd user promote %s).", a.Name, a.Name)
	}
	return a, nil
}

func (s *Server) refused(reason string) {
	if s.Refused != nil {
		s.Refused(reason)
	}
}

// user is an account on the wire: never its password hash.
type user struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Admin    bool      `json:"admin"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created"`
}

func userOf(a provider.Account) user {
	return user{ID: a.ID, Name: a.Name, Admin: a.Admin, Disabled: a.Disabled, Created: a.Created.UTC()}
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ provider.Account) error {
	list, err := s.Accounts.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]user, 0, len(list))
	for _, a := range list {
		out = append(out, userOf(a))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ provider.Account) error {
	a, err := s.Accounts.Find(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, userOf(a))
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request, _ provider.Account) error {
	var in struct {
		Name     *string `json:"name"`
		Password *string `json:"password"`
		Admin    bool    `json:"admin"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if in.Name == nil || in.Password == nil {
		return activity.Errorf(activity.Invalid, "A new user wants a name and a password.")
	}
	a, err := s.Accounts.Add(r.Context(), *in.Name, *in.Password)
	if err != nil {
		return err
	}
	if in.Admin {
		if a, err = s.Accounts.SetAdmin(r.Context(), a.Name, true); err != nil {
			return err
		}
	}
	w.Header().Set("Location", Prefix+"users/"+url.PathEscape(a.Name))
	return writeJSON(w, http.StatusCreated, userOf(a))
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, admin provider.Account) error {
	var in struct {
		Password *string `json:"password"`
		Disabled *bool   `json:"disabled"`
		Admin    *bool   `json:"admin"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if in.Password == nil && in.Disabled == nil && in.Admin == nil {
		return activity.Errorf(activity.Invalid, "The body changes nothing: give password, disabled or admin (null is no change).")
	}
	ctx := r.Context()
	a, err := s.Accounts.Find(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	if a.ID == admin.ID && ((in.Disabled != nil && *in.Disabled) || (in.Admin != nil && !*in.Admin)) {
		return activity.Errorf(activity.Forbidden, "You cannot disable your own account or take its role: another administrator, or activityd user on the server, can.")
	}
	if in.Password != nil {
		if err := s.Accounts.SetPassword(ctx, a.Name, *in.Password); err != nil {
			return err
		}
	}
	if in.Admin != nil {
		if a, err = s.Accounts.SetAdmin(ctx, a.Name, *in.Admin); err != nil {
			return err
		}
	}
	if in.Disabled != nil {
		if a, err = s.Accounts.SetDisabled(ctx, a.Name, *in.Disabled); err != nil {
			return err
		}
		if *in.Disabled {
			if _, err := s.Grants.RevokeAll(ctx, a.ID); err != nil {
				return err
			}
		}
	}
	return writeJSON(w, http.StatusOK, userOf(a))
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, admin provider.Account) error {
	ctx := r.Context()
	keep := false
	if v := r.URL.Query().Get("keepData"); v != "" {
		switch v {
		case "true":
			keep = true
		case "false":
		default:
			return activity.Errorf(activity.Invalid, "keepData is true or false, not %q.", v)
		}
	}
	a, err := s.Accounts.Find(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	if a.ID == admin.ID {
		return activity.Errorf(activity.Forbidden, "You cannot delete your own account: another administrator, or activityd user rm on the server, can.")
	}
	// Signed out first, its access tokens too, so that no device writes while the activities go
	// (nor after, into a new account of the same name: it would have the same oid).
	if err := s.Accounts.RevokeTokens(ctx, a.ID); err != nil {
		return err
	}
	n, err := s.Grants.RevokeAll(ctx, a.ID)
	if err != nil {
		return err
	}
	var gone activity.Forgotten
	if !keep {
		// Not cut short by a client that hangs up: the account would stay half deleted.
		if gone, err = s.Forget(context.WithoutCancel(ctx), s.Principal(a)); err != nil {
			return err
		}
	}
	if _, err := s.Accounts.Remove(context.WithoutCancel(ctx), a.Name); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"activitiesDeleted": gone.Activities, "devicesSignedOut": n})
}

// device is a grant on the wire.
type device struct {
	ID          string    `json:"id"`
	AppID       string    `json:"appId"`
	Scopes      []string  `json:"scopes"`
	Created     time.Time `json:"created"`
	LastUsed    time.Time `json:"lastUsed"`
	LastAddress string    `json:"lastAddress,omitempty"`
	UserAgent   string    `json:"userAgent,omitempty"`
	Expires     time.Time `json:"expires"`
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, _ provider.Account) error {
	a, err := s.Accounts.Find(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	grants, err := s.Grants.List(r.Context(), a.ID)
	if err != nil {
		return err
	}
	out := make([]device, 0, len(grants))
	for _, g := range grants {
		out = append(out, device{ID: g.ID, AppID: g.ClientID, Scopes: g.Scopes, Created: g.Created.UTC(), LastUsed: g.LastUsed.UTC(),
			LastAddress: g.LastAddr, UserAgent: g.UserAgent, Expires: g.Expires.UTC()})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (s *Server) revokeDevice(w http.ResponseWriter, r *http.Request, _ provider.Account) error {
	a, err := s.Accounts.Find(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if err := s.Grants.Revoke(r.Context(), a.ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// app is an app on the wire.
type app struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	RedirectURIs []string  `json:"redirectUris"`
	Created      time.Time `json:"created"`
}

func appOf(a provider.App) app {
	uris := a.RedirectURIs
	if uris == nil {
		uris = []string{}
	}
	return app{ID: a.ID, Name: a.DisplayName(), RedirectURIs: uris, Created: a.Created.UTC()}
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, _ provider.Account) error {
	list, err := s.Apps.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]app, 0, len(list))
	for _, a := range list {
		out = append(out, appOf(a))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (s *Server) addApp(w http.ResponseWriter, r *http.Request, _ provider.Account) error {
	var in struct {
		ID           string   `json:"id"`
		Name         string   `json:"name"`
		RedirectURIs []string `json:"redirectUris"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if len(in.RedirectURIs) == 0 {
		return activity.Errorf(activity.Invalid, "An app wants at least one redirect URI in redirectUris (an app that only uses the device grant can give http://127.0.0.1/).")
	}
	if len(in.RedirectURIs) > 20 || len(in.Name) > 200 {
		return activity.Errorf(activity.Invalid, "An app has at most 20 redirect URIs and a name of at most 200 bytes.")
	}
	a, err := s.Apps.Add(r.Context(), provider.App{ID: in.ID, Name: in.Name, RedirectURIs: in.RedirectURIs})
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"apps/"+url.PathEscape(a.ID))
	return writeJSON(w, http.StatusCreated, appOf(a))
}

func (s *Server) removeApp(w http.ResponseWriter, r *http.Request, _ provider.Account) error {
	if r.PathValue("id") == provider.CLIAppID {
		return activity.Errorf(activity.Forbidden, "%s is the app of activityd login; it cannot be removed.", provider.CLIAppID)
	}
	if err := s.Apps.Remove(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	// Its grants and tokens end too: registered again under this id, the app gets none back.
	ctx := context.WithoutCancel(r.Context())
	if err := s.Accounts.Revocations().RevokeApp(ctx, r.PathValue("id"), time.Now()); err != nil {
		return err
	}
	n, err := s.Grants.RevokeApp(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"devicesSignedOut": n})
}

// readJSON decodes the request's JSON object into v, a pointer to a struct: at most MaxBody bytes,
// one object and nothing after it, each member one of v's (by its exact json name) at most once,
// of the member's type. Errors: 400 naming the member, 408 for a body that stopped arriving, 413,
// 415 for another media type than application/json (RFC 8259 §11).
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return graph.StatusError(http.StatusUnsupportedMediaType, "invalidRequest", fmt.Sprintf("The body must be JSON (Content-Type: application/json), not %.100q.", ct))
		}
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return graph.StatusError(http.StatusUnsupportedMediaType, "invalidRequest", fmt.Sprintf("The admin API takes bodies without Content-Encoding, not %.40q.", enc))
	}
	if r.ContentLength > MaxBody {
		return graph.StatusError(http.StatusRequestEntityTooLarge, "invalidRequest", fmt.Sprintf("The body is larger than %d bytes.", MaxBody))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return graph.StatusError(http.StatusRequestEntityTooLarge, "invalidRequest", fmt.Sprintf("The body is larger than %d bytes.", MaxBody))
	case errors.Is(err, os.ErrDeadlineExceeded):
		return graph.StatusError(http.StatusRequestTimeout, "requestTimeout", "The request body stopped arriving before its end.")
	case err != nil:
		return activity.Errorf(activity.Invalid, "The request body could not be read.")
	case len(bytes.TrimSpace(body)) == 0:
		return activity.Errorf(activity.Invalid, "The request wants a JSON object as its body.")
	case !json.Valid(body):
		return activity.Errorf(activity.Invalid, "The body is not one JSON value (RFC 8259).")
	}
	known := jsonNames(v)
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, _ := dec.Token(); t != json.Delim('{') {
		return activity.Errorf(activity.Invalid, "The body must be a JSON object.")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, _ := dec.Token()
		name, _ := t.(string)
		switch {
		case !known[name]:
			return activity.Errorf(activity.Invalid, "The body has the member %.100q, which this route does not take (it takes %s).", name, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		case seen[name]:
			return activity.Errorf(activity.Invalid, "The body has the member %q twice.", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return activity.Errorf(activity.Invalid, "The body is not one JSON value (RFC 8259).")
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// The member's own type ([]string), not that of the element that failed.
			want, t := te.Type, reflect.TypeOf(v).Elem()
			for i := range t.NumField() {
				if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name == te.Field {
					want = t.Field(i).Type
				}
			}
			return activity.Errorf(activity.Invalid, "The member %q must be %s, not a JSON %s.", te.Field, kindName(want), te.Value)
		}
		return activity.Errorf(activity.Invalid, "The body is not the JSON object this route takes.")
	}
	return nil
}

// jsonNames returns the json member names of the struct v points to.
func jsonNames(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	names := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}

// kindName names a member's Go type as JSON: "a string", "true or false", "a list of strings".
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(kindName(t.Elem()), "a ") + "s"
	}
	return "a " + t.Kind().String()
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
