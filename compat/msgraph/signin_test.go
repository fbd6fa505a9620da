package msgraph

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"golang.org/x/oauth2"
)

// The SDK with tokens from activityd's own sign-in: an app registered with 'activityd app add', a
// person with 'activityd user add', tokens from golang.org/x/oauth2 (the authorization code grant
// with PKCE, and the device grant), and the person's part, the sign-in and consent pages, done over
// HTTP as a browser does it. The SDK gets the tokens through an azcore.TokenCredential, as it gets
// Entra's from azidentity.

// graphScope is the scope as the Graph SDKs and MSAL spell it.
const graphScope = "https://graph.microsoft.com/UserActivity.ReadWrite.CreatedByApp"

// cli runs an activityd command on the server's store (--data, and --db on PostgreSQL).
func cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	args = append(args, "--data", dataDir)
	if db := os.Getenv("ACTIVITYD_TEST_DB"); db != "" {
		args = append(args, "--db", db)
	}
	cmd := exec.Command(activityd, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("activityd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// person is someone at a browser: it keeps cookies and does not follow redirects, so that the test
// sees each step.
type person struct {
	t *testing.T
	c *http.Client
}

func newPerson(t *testing.T) *person {
	jar, _ := cookiejar.New(nil)
	return &person{t: t, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (p *person) do(method, u string, form url.Values) (*http.Response, string) {
	p.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = baseURL + u
	}
	var res *http.Response
	var err error
	if method == http.MethodPost {
		res, err = p.c.PostForm(u, form)
	} else {
		res, err = p.c.Get(u)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

var (
	csrfField    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)
)

// field returns the value of a form field of page, failing the test without it.
func (p *person) field(re *regexp.Regexp, page string) string {
	p.t.Helper()
	m := re.FindStringSubmatch(page)
	if m == nil {
		p.t.Fatalf("no field %s in the page:\n%.2000s", re, page)
	}
	return m[1]
}

// signIn opens start, which must send the person to the sign-in page, fills in its form and
// returns where the sign-in sends the browser next.
func (p *person) signIn(start, name, password string) string {
	p.t.Helper()
	res, _ := p.do(http.MethodGet, start, nil)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/signin?") {
		p.t.Fatalf("GET %s: %d to %q, want the sign-in page", start, res.StatusCode, loc)
	}
	res, page := p.do(http.MethodGet, loc, nil)
	if res.StatusCode != http.StatusOK {
		p.t.Fatalf("GET %s: %d", loc, res.StatusCode)
	}
	u, _ := url.Parse(loc)
	form := u.Query() // the request id or user code, as the form's hidden fields carry them
	form.Set("csrf", p.field(csrfField, page))
	form.Set("name", name)
	form.Set("password", password)
	res, page = p.do(http.MethodPost, "/signin", form)
	if res.StatusCode != http.StatusSeeOther {
		p.t.Fatalf("sign-in as %s: %d\n%.2000s", name, res.StatusCode, page)
	}
	return res.Header.Get("Location")
}

// allow opens the consent page at u, checks that it names want, and clicks Allow (posts its form
// to action); it returns the response.
func (p *person) allow(u, action string, want ...string) *http.Response {
	p.t.Helper()
	res, page := p.do(http.MethodGet, u, nil)
	if res.StatusCode != http.StatusOK {
		p.t.Fatalf("GET %s: %d\n%.1000s", u, res.StatusCode, page)
	}
	for _, w := range want {
		if !strings.Contains(page, w) {
			p.t.Errorf("the consent page %s does not say %q:\n%.3000s", u, w, page)
		}
	}
	res, page = p.do(http.MethodPost, action, url.Values{"csrf": {p.field(csrfField, page)},
		"request": {p.field(requestField, page)}, "answer": {"approve"}})
	if res.StatusCode >= 400 {
		p.t.Fatalf("POST %s (Allow): %d\n%.1000s", action, res.StatusCode, page)
	}
	return res
}

// oauthCredential hands the SDK the access token of an oauth2.Token and, once it has expired,
// refreshes it with its refresh token through an oauth2.TokenSource.
type oauthCredential struct {
	cfg *oauth2.Config

	mu     sync.Mutex
	tok    *oauth2.Token
	handed []string // the distinct access tokens handed to the SDK, in order
}

var _ azcore.TokenCredential = (*oauthCredential)(nil)

func (c *oauthCredential) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tok, err := c.cfg.TokenSource(ctx, c.tok).Token()
	if err != nil {
		return azcore.AccessToken{}, err
	}
	c.tok = tok
	if !slices.Contains(c.handed, tok.AccessToken) {
		c.handed = append(c.handed, tok.AccessToken)
	}
	return azcore.AccessToken{Token: tok.AccessToken, ExpiresOn: tok.Expiry}, nil
}

// expire makes the credential's access token expired, as it is an hour later.
func (c *oauthCredential) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	expired := *c.tok
	expired.Expiry = time.Now().Add(-time.Minute)
	c.tok = &expired
}

func (c *oauthCredential) token() oauth2.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	return *c.tok
}

func (c *oauthCredential) handedOut() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.handed)
}

// newSDKWithCredential is the SDK as an application builds it for Entra with azidentity, with the
// credential and the server's host allowed to receive tokens.
func newSDKWithCredential(t *testing.T, cred azcore.TokenCredential) *sdk {
	t.Helper()
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{graphScope}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapter(auth)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(baseURL + "/v1.0")
	return &sdk{GraphServiceClient: msgraphsdk.NewGraphServiceClient(adapter), adapter: adapter}
}

// listKeys lists the appActivityIds the client sees.
func listKeys(t *testing.T, c *sdk) []string {
	t.Helper()
	list, err := c.Me().Activities().Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var keys []string
	for _, a := range list.GetValue() {
		keys = append(keys, *a.GetAppActivityId())
	}
	slices.Sort(keys)
	return keys
}

// TestSDK_SignInAuthorizationCode gives the SDK a token of the authorization code grant with PKCE:
// it creates, lists and deletes activities, the credential refreshing the token on the way.
func TestSDK_SignInAuthorizationCode(t *testing.T) {
	ctx := t.Context()
	cli(t, "", "app", "add", "compat-notes", "--name", "Compat Notes", "--redirect-uri", "http://127.0.0.1/callback")
	cli(t, "correct horse battery\n", "user", "add", "oauth-erin", "--password-stdin")
	cfg := &oauth2.Config{ClientID: "compat-notes", RedirectURL: "http://127.0.0.1:47613/callback",
		Scopes: []string{"openid", "offline_access", graphScope},
		Endpoint: oauth2.Endpoint{AuthURL: baseURL + "/oauth2/authorize", TokenURL: baseURL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}

	verifier, state := oauth2.GenerateVerifier(), rand.Text()
	p := newPerson(t)
	consent := p.signIn(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), "oauth-erin", "correct horse battery")
	res := p.allow(consent, "/consent", "Compat Notes", "UserActivity.ReadWrite.CreatedByApp")
	res, _ = p.do(http.MethodGet, res.Header.Get("Location"), nil) // the provider's callback sends it to the app
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || back.Host != "127.0.0.1:47613" || back.Path != "/callback" || back.Query().Get("state") != state || back.Query().Get("code") == "" {
		t.Fatalf("after Allow: %d to %q, want the app's redirect URI with a code and the state", res.StatusCode, res.Header.Get("Location"))
	}
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	cred := &oauthCredential{cfg: cfg, tok: tok}
	c := newSDKWithCredential(t, cred)
	for _, key := range []string{"oauth-1", "oauth-2"} {
		if _, err := c.Me().Activities().Post(ctx, newActivity(key, "Written with a signed-in token"), nil); err != nil {
			t.Fatalf("Post %s: %v", key, err)
		}
	}
	if keys := listKeys(t, c); !slices.Equal(keys, []string{"oauth-1", "oauth-2"}) {
		t.Fatalf("listed %v, want oauth-1 and oauth-2", keys)
	}
	if h := cred.handedOut(); len(h) != 1 || h[0] != tok.AccessToken {
		t.Fatalf("the SDK got %d access tokens, want the exchanged one only", len(h))
	}
	// The person and app of the token are the ones 'activityd token' names (oid, azp).
	if keys := listKeys(t, newSDK(t, token(t, "oauth-erin", "compat-notes"))); !slices.Equal(keys, []string{"oauth-1", "oauth-2"}) {
		t.Errorf("activityd token --user oauth-erin --app compat-notes lists %v", keys)
	}

	// An hour later: the SDK's next call gets a refreshed token, and the refresh token rotated.
	cred.expire()
	list, err := c.Me().Activities().Get(ctx, nil)
	if err != nil || len(list.GetValue()) != 2 {
		t.Fatalf("list after the refresh: %v", err)
	}
	if h := cred.handedOut(); len(h) != 2 {
		t.Fatalf("the SDK got %d access tokens, want a second one from the refresh", len(h))
	}
	if cred.token().RefreshToken == tok.RefreshToken {
		t.Error("the refresh token did not rotate")
	}
	for _, a := range list.GetValue() {
		if err := c.Me().Activities().ByUserActivityId(*a.GetId()).Delete(ctx, nil); err != nil {
			t.Fatalf("Delete %s: %v", *a.GetAppActivityId(), err)
		}
	}
	if keys := listKeys(t, c); len(keys) != 0 {
		t.Errorf("after Delete, listed %v", keys)
	}

	// Signed out (the refresh token revoked, RFC 7009): the next refresh fails, and so does the call.
	res, err = http.PostForm(baseURL+"/oauth2/revoke", url.Values{"client_id": {cfg.ClientID},
		"token": {cred.token().RefreshToken}, "token_type_hint": {"refresh_token"}})
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", err, res.Status)
	}
	res.Body.Close()
	cred.expire()
	_, err = c.Me().Activities().Get(ctx, nil)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("a call after the grant was revoked: %v, want the refresh's invalid_grant", err)
	}
}

// TestSDK_SignInDevice gives the SDK a token of the device grant (RFC 8628), the person entering
// the device's code on the /device page.
func TestSDK_SignInDevice(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cli(t, "", "app", "add", "compat-tv", "--name", "Compat TV", "--redirect-uri", "http://127.0.0.1/")
	cli(t, "correct horse battery\n", "user", "add", "oauth-dana", "--password-stdin")
	cfg := &oauth2.Config{ClientID: "compat-tv", Scopes: []string{"offline_access", graphScope},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: baseURL + "/oauth2/devicecode", TokenURL: baseURL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	if da.VerificationURI != baseURL+"/device" {
		t.Errorf("verification_uri %q, want %s/device", da.VerificationURI, baseURL)
	}
	// The person opens the page, signs in and types the code the device shows.
	p := newPerson(t)
	next := p.signIn("/device", "oauth-dana", "correct horse battery")
	if next != "/device" {
		t.Fatalf("sign-in from /device sent the browser to %q", next)
	}
	res := p.allow("/device?user_code="+url.QueryEscape(da.UserCode), "/device", "Compat TV", "UserActivity.ReadWrite.CreatedByApp")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("Allow on /device: %d", res.StatusCode)
	}
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("device token: %v", err)
	}

	c := newSDKWithCredential(t, &oauthCredential{cfg: cfg, tok: tok})
	created, err := c.Me().Activities().Post(ctx, newActivity("from-the-tv", "Watched on the TV"), nil)
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	if keys := listKeys(t, c); !slices.Equal(keys, []string{"from-the-tv"}) {
		t.Fatalf("listed %v, want from-the-tv", keys)
	}
	if err := c.Me().Activities().ByUserActivityId(*created.GetId()).Delete(ctx, nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if keys := listKeys(t, c); len(keys) != 0 {
		t.Errorf("after Delete, listed %v", keys)
	}
}
