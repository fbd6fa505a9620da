package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/notify"
	"github.com/activityd/activityd/provider"
)

// Config is the configuration of activityd serve.
type Config struct {
	Addr string // listen address
	Data string // data directory: the SQLite database, the local issuer's key, self-signed TLS files
	DB   string // a postgres:// URL; empty means SQLite in Data

	TLS     string // "" or "self-signed"
	TLSCert string // certificate (chain) file
	TLSKey  string // its key file
	// TLSHosts are more names and addresses the self-signed certificate covers (a LAN name or
	// address, so that devices on the LAN can connect).
	TLSHosts []string

	LocalIssuer bool   // run the local token issuer
	IssuerName  string // the local issuer's iss
	IssuerKey   string // the local issuer's key file; empty means issuer-key.pem in Data
	// TrustIssuer and TrustJWKS name external issuers (such as Entra ID) whose tokens are accepted,
	// paired by position; TrustAudience gives each its accepted audience (paired too; an empty or
	// missing one means Audiences).
	TrustIssuer   []string
	TrustJWKS     []string
	TrustAudience []string
	// OIDC* name an external OpenID Connect provider people can sign in to the page with.
	OIDCIssuer, OIDCClientID, OIDCClientSecret, OIDCName, OIDCUsernameClaim string
	Audiences                                                               []string
	Scopes                                                                  []string

	Throttle    bool
	ReadLimits  []activity.Rate
	WriteLimits []activity.Rate

	DebugAddr         string // where to serve net/http/pprof; empty: nowhere
	MetricsAddr       string // where to serve /metrics; empty: nowhere
	LogFormat         string // text or json
	LogLevel          string // debug, info, warn or error
	PageSize          int
	MaxPageSize       int
	MaxBody           int64
	MaxHeaderBytes    int
	MaxJSONDepth      int
	MaxContentBytes   int
	MaxDeepInsert     int
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration // the most a body may go without bringing bytes
	MaxConns          int           // connections open at once; 0: 90 % of the open-file limit
	MaxConnsPerAddr   int           // of one client address; 0: no bound
	Purge             time.Duration // 0: no purge
	Shutdown          time.Duration

	// What one request may cost (issue "Hardening"): each bounds memory and time whatever the data.
	MaxPageBytes          int
	MaxExpandItems        int
	MaxExpandItemsPerPage int
	MaxBatchBytes         int
	MaxHistoryItems       int

	// Links and browsers.
	PublicURL      string   // scheme://host of every absolute link; empty: the request's
	TrustedProxies []string // addresses or CIDR prefixes whose X-Forwarded-Proto/-Host count
	CORSOrigins    []string // origins whose pages may call the API; "*" any

	// Webhooks.
	WebhookAllow    []string      // addresses or prefixes receivers may have although not public
	WebhookMaxRetry time.Duration // how long a failing receiver is retried

	// The change log and live streams.
	ChangeRetention time.Duration
	// AccessTokenTTL and RefreshTokenTTL are the lifetimes of the sign-in provider's tokens (a
	// refresh token's is renewed by each use).
	AccessTokenTTL, RefreshTokenTTL time.Duration
	Heartbeat                       time.Duration
	MaxStreamsPerUser               int
}

// DefaultConfig returns the embedded default: SQLite and the local issuer in ./activityd-data,
// listening on 127.0.0.1:8080.
func DefaultConfig() Config {
	return Config{
		Addr: "127.0.0.1:8080", Data: "./activityd-data",
		LocalIssuer: true, IssuerName: auth.DefaultIssuer,
		Audiences: auth.GraphAudiences, Scopes: []string{auth.Scope, auth.ScopeAll},
		Throttle: true, ReadLimits: activity.GraphLimits().Reads, WriteLimits: activity.GraphLimits().Writes,
		LogFormat: "text", LogLevel: "info", PageSize: 100, MaxPageSize: 1000, MaxBody: 1 << 20,
		MaxHeaderBytes: 64 << 10, MaxJSONDepth: 32, MaxContentBytes: 64 << 10, MaxDeepInsert: 100,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, MaxConnsPerAddr: 1000,
		Purge: 10 * time.Minute, Shutdown: 15 * time.Second,
		MaxPageBytes: graph.DefaultMaxPageBytes, MaxExpandItems: graph.DefaultMaxExpandItems,
		MaxExpandItemsPerPage: graph.DefaultMaxExpandItemsPerPage, MaxBatchBytes: graph.DefaultMaxBatchBytes,
		MaxHistoryItems: activity.DefaultMaxHistoryItems, ChangeRetention: activity.DefaultChangeRetention,
		AccessTokenTTL: provider.DefaultAccessTTL, RefreshTokenTTL: provider.DefaultRefreshTTL,
		Heartbeat: graph.DefaultHeartbeat, MaxStreamsPerUser: graph.DefaultMaxStreamsPerUser,
		WebhookMaxRetry: notify.DefaultMaxRetry,
	}
}

// Limits of the numeric flags: beyond them a value is a mistake (or would overflow what it sizes).
const (
	maxMaxBody        = 1 << 30
	maxMaxHeaderBytes = 1 << 20
	maxMaxJSONDepth   = 1000
	maxMaxDeepInsert  = 10000
	maxMaxPageSize    = 10000
)

// Validate reports the first flag whose value cannot work, naming the flag and what it wants. It
// checks values only; files and directories are checked when the server starts, before it listens.
func (c *Config) Validate() error {
	for _, check := range []func() error{c.validateListen, c.validateStore, c.validateTLS, c.validateIssuers, c.validateLimits, c.validateCosts, c.validateLinks, c.validateRest} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateListen() error {
	if err := checkHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: want host:port, such as 127.0.0.1:8080 (%v)", c.Addr, err)
	}
	if c.MetricsAddr != "" {
		if err := checkHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr %q: want host:port, such as 127.0.0.1:9090, or nothing (%v)", c.MetricsAddr, err)
		}
		if c.MetricsAddr == c.Addr && !strings.HasSuffix(c.Addr, ":0") {
			return fmt.Errorf("--metrics-addr %q: want another address than --addr", c.MetricsAddr)
		}
	}
	if c.DebugAddr == "" {
		return nil
	}
	if err := checkHostPort(c.DebugAddr); err != nil {
		return fmt.Errorf("--debug-addr %q: want host:port, such as 127.0.0.1:6060, or nothing (%v)", c.DebugAddr, err)
	}
	if c.DebugAddr == c.Addr && !strings.HasSuffix(c.Addr, ":0") {
		return fmt.Errorf("--debug-addr %q: want another address than --addr", c.DebugAddr)
	}
	return nil
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

func (c *Config) validateStore() error {
	if c.Data == "" && dataNeeds(*c) != "" {
		return fmt.Errorf("--data: want a directory (it holds %s)", dataNeeds(*c))
	}
	if c.DB == "" {
		return nil
	}
	u, err := url.Parse(c.DB)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("--db %q: want a postgres:// URL", redact(c.DB))
	}
	return nil
}

func (c *Config) validateTLS() error {
	switch {
	case c.TLS != "" && c.TLS != "self-signed":
		return fmt.Errorf("--tls %q: want self-signed (or give --tls-cert and --tls-key)", c.TLS)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key: want both (a certificate and its key) or neither")
	case len(c.TLSHosts) > 0 && c.TLS != "self-signed":
		return fmt.Errorf("--tls-hosts: want --tls self-signed too (a certificate of your own names its hosts itself)")
	case !validHosts(c.TLSHosts):
		return fmt.Errorf("--tls-hosts %q: want host names or IP addresses, comma-separated, such as laptop.local,192.168.1.20", strings.Join(c.TLSHosts, ","))
	case c.TLS != "" && c.TLSCert != "":
		return errors.New("--tls self-signed and --tls-cert: want one or the other")
	}
	return nil
}

func (c *Config) validateIssuers() error {
	switch {
	case !c.LocalIssuer && len(c.TrustIssuer) == 0:
		return errors.New("--local-issuer=false: want --trust-issuer and --trust-jwks then (no issuer would be trusted)")
	case len(c.TrustIssuer) != len(c.TrustJWKS):
		return fmt.Errorf("--trust-issuer and --trust-jwks: want as many of each, paired in order (the issuers and their keys); got %d and %d", len(c.TrustIssuer), len(c.TrustJWKS))
	case len(c.TrustAudience) > len(c.TrustIssuer):
		return fmt.Errorf("--trust-audience: %d audiences for %d trusted issuers: want at most one per issuer, in their order", len(c.TrustAudience), len(c.TrustIssuer))
	}
	if c.LocalIssuer {
		if err := checkIssuerURL(c.IssuerName); err != nil {
			return fmt.Errorf("--issuer-name %q: want %v", c.IssuerName, err)
		}
	}
	for i, iss := range c.TrustIssuer {
		if err := checkIssuerURL(strings.Replace(iss, "{tid}", "tid", 1)); err != nil || strings.Count(iss, "{tid}") > 1 {
			return fmt.Errorf("--trust-issuer %q: want an https URL, with at most one {tid}, such as https://login.microsoftonline.com/{tid}/v2.0", iss)
		}
		if c.LocalIssuer && iss == c.IssuerName {
			return fmt.Errorf("--trust-issuer %q: want another issuer than the local one (--issuer-name)", iss)
		}
		if slices.Index(c.TrustIssuer, iss) != i {
			return fmt.Errorf("--trust-issuer %q: given twice", iss)
		}
		if err := auth.CheckJWKSURL(c.TrustJWKS[i]); err != nil {
			return fmt.Errorf("--trust-jwks %q: want an https URL (http only to a loopback address), such as https://login.microsoftonline.com/common/discovery/v2.0/keys", c.TrustJWKS[i])
		}
	}
	if c.OIDCIssuer != "" {
		if err := checkIssuerURL(c.OIDCIssuer); err != nil {
			return fmt.Errorf("--oidc-issuer %q: want %v", c.OIDCIssuer, err)
		}
		if err := auth.CheckJWKSURL(c.OIDCIssuer); err != nil {
			return fmt.Errorf("--oidc-issuer %q: want https (http only to a loopback address)", c.OIDCIssuer)
		}
		if c.OIDCClientID == "" {
			return errors.New("--oidc-issuer: want --oidc-client-id too (activityd's client id at the provider)")
		}
		if !c.LocalIssuer {
			return errors.New("--oidc-issuer: the accounts it signs people in to are the local issuer's; it needs --local-issuer")
		}
	}
	for _, a := range c.TrustAudience {
		if !printable(a) {
			return fmt.Errorf("--trust-audience %q: want audiences of printable characters, at most 256 bytes each", a)
		}
	}
	if len(c.Audiences) == 0 {
		return errors.New("--audience: want at least one audience, such as api://<client id>")
	}
	for _, a := range c.Audiences {
		if !printable(a) {
			return fmt.Errorf("--audience %q: want audiences of printable characters, at most 256 bytes each", a)
		}
	}
	if len(c.Scopes) == 0 {
		return fmt.Errorf("--scopes: want at least one scope, such as %s", auth.Scope)
	}
	for _, s := range c.Scopes {
		if !printable(s) || strings.ContainsFunc(s, unicode.IsSpace) {
			return fmt.Errorf("--scopes %q: want scope names without spaces", s)
		}
	}
	return nil
}

// checkIssuerURL says what an issuer's iss must be: an absolute http(s) URL without query or fragment
// (OpenID Connect Discovery §4.3), short enough to be a claim a Verifier accepts.
func checkIssuerURL(iss string) error {
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || !printable(iss) {
		return errors.New("an absolute https URL without query or fragment, at most 256 bytes")
	}
	return nil
}

// printable reports whether s could be a claim: at most 256 bytes, with no control characters.
func printable(s string) bool {
	return len(s) <= 256 && !strings.ContainsFunc(s, unicode.IsControl)
}

func (c *Config) validateLimits() error {
	switch {
	case c.MaxPageSize < 1 || c.MaxPageSize > maxMaxPageSize:
		return fmt.Errorf("--max-page-size %d: want 1 to %d", c.MaxPageSize, maxMaxPageSize)
	case c.PageSize < 1 || c.PageSize > c.MaxPageSize:
		return fmt.Errorf("--page-size %d: want 1 to --max-page-size (%d)", c.PageSize, c.MaxPageSize)
	case c.MaxBody < 1024 || c.MaxBody > maxMaxBody:
		return fmt.Errorf("--max-body %d: want 1024 to %d (bytes)", c.MaxBody, maxMaxBody)
	case c.MaxHeaderBytes < 4096 || c.MaxHeaderBytes > maxMaxHeaderBytes:
		return fmt.Errorf("--max-header-bytes %d: want 4096 to %d", c.MaxHeaderBytes, maxMaxHeaderBytes)
	case c.MaxJSONDepth < 4 || c.MaxJSONDepth > maxMaxJSONDepth:
		return fmt.Errorf("--max-json-depth %d: want 4 to %d", c.MaxJSONDepth, maxMaxJSONDepth)
	case c.MaxContentBytes < 1024 || int64(c.MaxContentBytes) > c.MaxBody:
		return fmt.Errorf("--max-content-bytes %d: want 1024 to --max-body (%d)", c.MaxContentBytes, c.MaxBody)
	case c.MaxDeepInsert < 1 || c.MaxDeepInsert > maxMaxDeepInsert:
		return fmt.Errorf("--max-deep-insert %d: want 1 to %d", c.MaxDeepInsert, maxMaxDeepInsert)
	case len(c.ReadLimits) == 0 && c.Throttle:
		return errors.New("--read-limits: want at least one rate, such as 400/5m (or --throttle=false)")
	case len(c.WriteLimits) == 0 && c.Throttle:
		return errors.New("--write-limits: want at least one rate, such as 100/5m (or --throttle=false)")
	}
	return nil
}

func (c *Config) validateCosts() error {
	switch {
	case c.MaxPageBytes < 64<<10 || c.MaxPageBytes > 1<<30:
		return fmt.Errorf("--max-page-bytes %d: want 65536 to 1073741824", c.MaxPageBytes)
	case c.MaxExpandItems < 1 || c.MaxExpandItems > 10000:
		return fmt.Errorf("--max-expand-items %d: want 1 to 10000", c.MaxExpandItems)
	case c.MaxExpandItemsPerPage < c.MaxExpandItems || c.MaxExpandItemsPerPage > 1000000:
		return fmt.Errorf("--max-expand-items-per-page %d: want --max-expand-items (%d) to 1000000", c.MaxExpandItemsPerPage, c.MaxExpandItems)
	case c.MaxBatchBytes < 1<<20 || c.MaxBatchBytes > 1<<30:
		return fmt.Errorf("--max-batch-bytes %d: want 1048576 to 1073741824", c.MaxBatchBytes)
	case c.MaxHistoryItems < 1 || c.MaxHistoryItems > 1000000:
		return fmt.Errorf("--max-history-items %d: want 1 to 1000000", c.MaxHistoryItems)
	case c.MaxStreamsPerUser < 1 || c.MaxStreamsPerUser > 10000:
		return fmt.Errorf("--max-streams-per-user %d: want 1 to 10000", c.MaxStreamsPerUser)
	case c.Heartbeat < time.Second:
		return fmt.Errorf("--heartbeat %s: want a duration of at least 1s, such as 15s", c.Heartbeat)
	case c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour:
		return fmt.Errorf("--access-token-ttl %s: want 1m to 24h (revoked devices keep their access token this long)", c.AccessTokenTTL)
	case c.RefreshTokenTTL < c.AccessTokenTTL:
		return fmt.Errorf("--refresh-token-ttl %s: want at least --access-token-ttl (%s)", c.RefreshTokenTTL, c.AccessTokenTTL)
	case c.ChangeRetention < time.Hour:
		return fmt.Errorf("--change-retention %s: want a duration of at least 1h, such as 720h", c.ChangeRetention)
	}
	return nil
}

func (c *Config) validateLinks() error {
	if c.PublicURL != "" {
		if _, err := graph.ParsePublicURL(c.PublicURL); err != nil {
			return fmt.Errorf("--public-url %q: want a URL of a scheme and a host only, such as https://activities.example.org", c.PublicURL)
		}
	}
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %v", err)
	}
	if _, err := parsePrefixes(c.WebhookAllow); err != nil {
		return fmt.Errorf("--webhook-allow: %v", err)
	}
	if c.WebhookMaxRetry < time.Second {
		return fmt.Errorf("--webhook-max-retry %s: want a duration of at least 1s, such as 4h", c.WebhookMaxRetry)
	}
	for _, o := range c.CORSOrigins {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("--cors-origins %q: want origins such as https://app.example.org or http://localhost:3000 (scheme and host only), or *", o)
		}
	}
	return nil
}

// parsePrefixes reads addresses and CIDR prefixes: 10.0.0.1, 10.0.0.0/8, ::1.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q: want addresses or CIDR prefixes, such as 127.0.0.1 or 10.0.0.0/8", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (c *Config) validateRest() error {
	switch {
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	case !validLevel(c.LogLevel):
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	case c.ReadHeaderTimeout <= 0:
		return fmt.Errorf("--read-header-timeout %s: want a positive duration, such as 10s", c.ReadHeaderTimeout)
	case c.ReadTimeout <= 0:
		return fmt.Errorf("--read-timeout %s: want a positive duration, such as 30s", c.ReadTimeout)
	case c.MaxConns < 0:
		return fmt.Errorf("--max-conns %d: want 0 (90 %% of the open-file limit) or a positive number", c.MaxConns)
	case c.MaxConnsPerAddr < 0:
		return fmt.Errorf("--max-conns-per-addr %d: want 0 (no bound) or a positive number", c.MaxConnsPerAddr)
	case c.Purge < 0 || (c.Purge > 0 && c.Purge < time.Second):
		return fmt.Errorf("--purge-interval %s: want 0 (no purge) or a duration of at least 1s, such as 10m", c.Purge)
	case c.Shutdown <= 0:
		return fmt.Errorf("--shutdown-timeout %s: want a positive duration, such as 15s", c.Shutdown)
	}
	return nil
}

// levels are the log levels --log-level takes.
var levels = map[string]int{"debug": -4, "info": 0, "warn": 4, "error": 8}

func validLevel(s string) bool {
	_, ok := levels[strings.ToLower(s)]
	return ok
}

// redact hides the password of a URL for messages.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

// parseRates parses limits such as "100/5m,8000/24h": a count of requests per period of at least a
// second.
func parseRates(s string) ([]activity.Rate, error) {
	var rates []activity.Rate
	for _, part := range strings.Split(s, ",") {
		n, per, ok := strings.Cut(strings.TrimSpace(part), "/")
		count, err1 := strconv.Atoi(n)
		d, err2 := time.ParseDuration(per)
		if !ok || err1 != nil || err2 != nil || count < 1 || d < time.Second {
			return nil, fmt.Errorf("%q is not a rate such as 100/5m", part)
		}
		rates = append(rates, activity.Rate{N: count, Per: d})
	}
	return rates, nil
}

// rateFlag is a list of rates such as 100/5m,8000/24h.
type rateFlag struct{ rates *[]activity.Rate }

func (f rateFlag) String() string {
	if f.rates == nil {
		return ""
	}
	parts := make([]string, len(*f.rates))
	for i, r := range *f.rates {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func (f rateFlag) Set(s string) (err error) {
	rates, err := parseRates(s)
	if err == nil {
		*f.rates = rates
	}
	return err
}

func (rateFlag) wanted() string {
	return "rates such as 100/5m,8000/24h (requests per period, each period at least 1s)"
}

// listFlag is a comma-separated list.
type listFlag struct{ list *[]string }

func (l listFlag) String() string {
	if l.list == nil {
		return ""
	}
	return strings.Join(*l.list, ",")
}

func (l listFlag) Set(s string) error {
	*l.list = nil
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.list = append(*l.list, v)
		}
	}
	return nil
}

const serveSynopsis = `Usage: activityd serve [flags]

Runs the server. With no flags: SQLite and a local token issuer in ./activityd-data, on
http://127.0.0.1:8080/v1.0. Every flag is checked before the server listens.
`

// serveFlags is the flag set of activityd serve, bound to c: the one list of its flags, which the
// README's configuration table is checked against (TestREADME_ConfigurationTable).
func serveFlags(c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("activityd serve", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen `address`; port 0 picks a free port (logged as addr=)")
	fs.StringVar(&c.Data, "data", c.Data, "data `directory`: the SQLite database, the local issuer's key, --tls self-signed files;\ncreated 0700 when needed (not with --db unless the issuer key or TLS files go there)")
	fs.StringVar(&c.DB, "db", c.DB, "PostgreSQL `URL` (postgres://…); without it, SQLite in the data directory")
	fs.StringVar(&c.TLS, "tls", c.TLS, "self-signed: serve https with a certificate made in --data, signed by a local CA (see activityd cert)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "serve https with this certificate (chain) `file`")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "the key `file` of --tls-cert (both are read again when they change: a renewed certificate needs no restart)")
	fs.Var(listFlag{&c.TLSHosts}, "tls-hosts", "more `names` and addresses the --tls self-signed certificate covers, comma-separated, e.g. laptop.local,192.168.1.20 (for devices on a LAN)")
	fs.BoolVar(&c.LocalIssuer, "local-issuer", c.LocalIssuer, "accept tokens of the local issuer (activityd token)")
	fs.StringVar(&c.IssuerName, "issuer-name", c.IssuerName, "iss of the local issuer's tokens (an https `URL`)")
	fs.StringVar(&c.IssuerKey, "issuer-key", c.IssuerKey, "the local issuer's key `file` (default issuer-key.pem in --data); processes sharing a database share it")
	fs.Var(listFlag{&c.TrustIssuer}, "trust-issuer", "iss of external issuers to trust (https `URLs`, comma-separated or the flag repeated); {tid} matches the\ntoken's tenant, e.g. https://login.microsoftonline.com/{tid}/v2.0")
	fs.Var(listFlag{&c.TrustJWKS}, "trust-jwks", "https `URLs` of the external issuers' keys, one per --trust-issuer in its order,\ne.g. https://login.microsoftonline.com/common/discovery/v2.0/keys")
	fs.Var(listFlag{&c.TrustAudience}, "trust-audience", "the accepted `audience` of each --trust-issuer, in its order (empty: --audience)")
	fs.StringVar(&c.OIDCIssuer, "oidc-issuer", c.OIDCIssuer, "an OpenID Connect provider people may sign in to the page with (its issuer `URL`, https)")
	fs.StringVar(&c.OIDCClientID, "oidc-client-id", c.OIDCClientID, "activityd's client `id` at --oidc-issuer; register the redirect URI PUBLIC-URL/signin/external/callback")
	fs.StringVar(&c.OIDCClientSecret, "oidc-client-secret", c.OIDCClientSecret, "activityd's client `secret` at --oidc-issuer, if it has one (prefer ACTIVITYD_OIDC_CLIENT_SECRET)")
	fs.StringVar(&c.OIDCName, "oidc-name", c.OIDCName, "the provider's `name` on the sign-in button (default: its host)")
	fs.StringVar(&c.OIDCUsernameClaim, "oidc-username-claim", "preferred_username", "the ID token `claim` naming the account a person signs in to")
	fs.Var(listFlag{&c.Audiences}, "audience", "accepted token `audiences`, comma-separated, e.g. api://<client id>")
	fs.Var(listFlag{&c.Scopes}, "scopes", "accepted `scopes` (a token needs one), comma-separated")
	fs.BoolVar(&c.Throttle, "throttle", c.Throttle, "limit each user and app to --read-limits and --write-limits (429 with Retry-After)")
	fs.Var(rateFlag{&c.ReadLimits}, "read-limits", "GET requests allowed per user and app, as `rates` such as 400/5m,12000/24h")
	fs.Var(rateFlag{&c.WriteLimits}, "write-limits", "PUT, POST, PATCH and DELETE requests allowed per user and app, as `rates`")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve Prometheus metrics at /metrics on this `address`, e.g. 127.0.0.1:9090 (a listener of its own, for the scraper only); off when empty")
	fs.StringVar(&c.DebugAddr, "debug-addr", c.DebugAddr, "serve Go's profiler (/debug/pprof/) on this `address`, e.g. 127.0.0.1:6060; off when empty")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log `format`: text or json")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log `level`: debug, info, warn or error")
	fs.IntVar(&c.PageSize, "page-size", c.PageSize, "page size when a client sends no Prefer: odata.maxpagesize (1 to --max-page-size)")
	fs.IntVar(&c.MaxPageSize, "max-page-size", c.MaxPageSize, "the most Prefer: odata.maxpagesize gets (1 to 10000)")
	fs.Int64Var(&c.MaxBody, "max-body", c.MaxBody, "largest request body in `bytes`, after gzip decompression (1024 to 1073741824)")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", c.MaxHeaderBytes, "largest request headers in `bytes` (431 above; 4096 to 1048576)")
	fs.IntVar(&c.MaxJSONDepth, "max-json-depth", c.MaxJSONDepth, "deepest nesting of a request body (4 to 1000)")
	fs.IntVar(&c.MaxContentBytes, "max-content-bytes", c.MaxContentBytes, "largest contentInfo, and visualElements.content, in `bytes` (1024 to --max-body)")
	fs.IntVar(&c.MaxDeepInsert, "max-deep-insert", c.MaxDeepInsert, "most history items in one activity body (1 to 10000)")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "how long a client may take to send its request headers (positive)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "how long a request body may go without bringing bytes (positive): a stalled upload lets go of its connection, a slow one that moves completes")
	fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "connections open at once, past which new ones get 503; 0: 90% of the open-file limit")
	fs.IntVar(&c.MaxConnsPerAddr, "max-conns-per-addr", c.MaxConnsPerAddr, "connections one client address may hold open, past which its new ones get 503; 0: no bound (behind a proxy every client has its address)")
	fs.DurationVar(&c.Purge, "purge-interval", c.Purge, "how often expired activities are purged; 0 turns the purge off (expired rows stay hidden)")
	fs.DurationVar(&c.Shutdown, "shutdown-timeout", c.Shutdown, "how long a shutdown (SIGTERM, Ctrl-C) waits for requests in flight (positive)")
	fs.IntVar(&c.MaxPageBytes, "max-page-bytes", c.MaxPageBytes, "a page of activities ends early, with a nextLink, past this many `bytes` (65536 to 1073741824)")
	fs.IntVar(&c.MaxExpandItems, "max-expand-items", c.MaxExpandItems, "most history items $expand=historyItems gives each activity, the rest behind historyItems@odata.nextLink (1 to 10000)")
	fs.IntVar(&c.MaxExpandItemsPerPage, "max-expand-items-per-page", c.MaxExpandItemsPerPage, "most history items of one expanded page; its page size shrinks to fit (--max-expand-items to 1000000)")
	fs.IntVar(&c.MaxBatchBytes, "max-batch-bytes", c.MaxBatchBytes, "most `bytes` of all the answers of one $batch; a step past it gets a 413 of its own (1048576 to 1073741824)")
	fs.IntVar(&c.MaxHistoryItems, "max-history-items", c.MaxHistoryItems, "most history items one activity may hold; a write past it is a 400 (1 to 1000000)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "`URL` (scheme and host) of every absolute link the server writes: nextLinks, @odata.context,\nLocation, the discovery document; e.g. https://activities.example.org. Without it, links follow the request")
	fs.Var(listFlag{&c.TrustedProxies}, "trusted-proxies", "`addresses` or CIDR prefixes of reverse proxies whose X-Forwarded-Proto and X-Forwarded-Host count, comma-separated")
	fs.Var(listFlag{&c.CORSOrigins}, "cors-origins", "`origins` whose web pages may call the API (CORS), comma-separated, e.g. https://app.example.org; * allows any; none by default")
	fs.Var(listFlag{&c.WebhookAllow}, "webhook-allow", "`addresses` or CIDR prefixes a webhook receiver may have although they are not public (loopback, private, link-local); none by default")
	fs.DurationVar(&c.WebhookMaxRetry, "webhook-max-retry", c.WebhookMaxRetry, "how long deliveries to a failing webhook receiver are retried before a 'missed' lifecycle notification (at least 1s)")
	fs.DurationVar(&c.AccessTokenTTL, "access-token-ttl", c.AccessTokenTTL, "how long an access token of the sign-in provider lasts (1m to 24h); a signed-out device keeps its own this long")
	fs.DurationVar(&c.RefreshTokenTTL, "refresh-token-ttl", c.RefreshTokenTTL, "how long a device stays signed in without being used (each use renews it)")
	fs.DurationVar(&c.ChangeRetention, "change-retention", c.ChangeRetention, "how long the change log keeps a change; delta tokens and stream ids older than this get 410 (at least 1h)")
	fs.DurationVar(&c.Heartbeat, "heartbeat", c.Heartbeat, "how often an idle live stream sends a comment (at least 1s)")
	fs.IntVar(&c.MaxStreamsPerUser, "max-streams-per-user", c.MaxStreamsPerUser, "most live streams one user may have open, 429 above (1 to 10000)")
	return fs
}

// parseServe reads the configuration of activityd serve from args and the environment. On -h it
// prints the usage on stdout and returns nil, nil.
func parseServe(args []string, getenv func(string) string, stdout io.Writer) (*Config, error) {
	c := DefaultConfig()
	fs := serveFlags(&c)
	if err := parseFlags(fs, args, getenv); errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, serveSynopsis)
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, &usageError{cmd: "serve", err: fromEnvironment(err, fs, getenv)}
	}
	return &c, nil
}

// fromEnvironment names the variable in a check's message about a flag ("--heartbeat 0s: want …")
// whose value came from the environment, not the command line: "ACTIVITYD_HEARTBEAT (--heartbeat)
// 0s: want …".
func fromEnvironment(err error, fs *flag.FlagSet, getenv func(string) string) error {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "--")
	if !ok {
		return err
	}
	name := rest
	if i := strings.IndexAny(rest, " :"); i >= 0 {
		name = rest[:i]
	}
	onCommandLine := false
	fs.Visit(func(f *flag.Flag) { onCommandLine = onCommandLine || f.Name == name })
	if onCommandLine || fs.Lookup(name) == nil || getenv(envFlag(name)) == "" {
		return err
	}
	return errors.New(envFlag(name) + " (--" + name + ")" + strings.TrimPrefix(rest, name))
}

// validHosts reports whether each of hosts is an IP address or a DNS name (letters, digits, hyphens
// and dots, labels of at most 63 characters).
func validHosts(hosts []string) bool {
	for _, h := range hosts {
		if net.ParseIP(h) != nil {
			continue
		}
		if h == "" || len(h) > 253 {
			return false
		}
		for _, label := range strings.Split(h, ".") {
			if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
				return false
			}
			for _, c := range label {
				if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
					return false
				}
			}
		}
	}
	return true
}
