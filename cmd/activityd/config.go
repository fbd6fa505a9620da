package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
)

// Config is the configuration of activityd serve.
type Config struct {
	Addr string // listen address
	Data string // data directory: the SQLite database and the local issuer's key
	DB   string // a postgres:// URL; empty means SQLite in Data

	TLS     string // "" or "self-signed"
	TLSCert string // certificate (chain) file
	TLSKey  string // its key file

	LocalIssuer bool   // run the local token issuer
	IssuerName  string // the local issuer's iss
	IssuerKey   string // the local issuer's key file; empty means issuer-key.pem in Data
	// TrustIssuer and TrustJWKS name an external issuer (such as Entra ID) whose tokens are accepted.
	TrustIssuer string
	TrustJWKS   string
	Audiences   []string
	Scopes      []string

	Throttle    bool
	ReadLimits  []activity.Rate
	WriteLimits []activity.Rate

	DebugAddr         string // where to serve net/http/pprof; empty: nowhere
	LogFormat         string // text or json
	LogLevel          string
	PageSize          int
	MaxPageSize       int
	MaxBody           int64
	MaxHeaderBytes    int
	MaxJSONDepth      int
	MaxContentBytes   int
	MaxDeepInsert     int
	ReadHeaderTimeout time.Duration
	Purge             time.Duration
	Shutdown          time.Duration
}

// DefaultConfig returns the embedded default: SQLite and the local issuer in ./activityd-data,
// listening on 127.0.0.1:8080.
func DefaultConfig() Config {
	return Config{
		Addr: "127.0.0.1:8080", Data: "./activityd-data",
		LocalIssuer: true, IssuerName: auth.DefaultIssuer,
		Audiences: auth.GraphAudiences, Scopes: []string{auth.Scope},
		Throttle: true, ReadLimits: activity.GraphLimits().Reads, WriteLimits: activity.GraphLimits().Writes,
		LogFormat: "text", LogLevel: "info", PageSize: 100, MaxPageSize: 1000, MaxBody: 1 << 20,
		MaxHeaderBytes: 64 << 10, MaxJSONDepth: 32, MaxContentBytes: 64 << 10, MaxDeepInsert: 100,
		ReadHeaderTimeout: 10 * time.Second, Purge: 10 * time.Minute, Shutdown: 15 * time.Second,
	}
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Data == "":
		return errors.New("--data must name a directory")
	case c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://"):
		return fmt.Errorf("--db %q: want a postgres:// URL", redact(c.DB))
	case !c.LocalIssuer && c.TrustIssuer == "":
		return errors.New("no token issuer: keep --local-issuer or set --trust-issuer and --trust-jwks")
	case (c.TrustIssuer == "") != (c.TrustJWKS == ""):
		return errors.New("--trust-issuer and --trust-jwks go together")
	case c.TLS != "" && c.TLS != "self-signed":
		return fmt.Errorf("--tls %q: want self-signed (or give --tls-cert and --tls-key)", c.TLS)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case c.TLS != "" && c.TLSCert != "":
		return errors.New("--tls self-signed and --tls-cert exclude each other")
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	case c.MaxPageSize < 1 || c.MaxPageSize > 10000:
		return fmt.Errorf("--max-page-size %d: want 1 to 10000", c.MaxPageSize)
	case c.PageSize < 1 || c.PageSize > c.MaxPageSize:
		return fmt.Errorf("--page-size %d: want 1 to --max-page-size (%d)", c.PageSize, c.MaxPageSize)
	case c.MaxHeaderBytes < 4096 || c.MaxJSONDepth < 4 || c.MaxContentBytes < 1024 || c.MaxDeepInsert < 1:
		return errors.New("--max-header-bytes (at least 4096), --max-json-depth (4), --max-content-bytes (1024) and --max-deep-insert (1) are too small")
	case c.MaxBody < 1024:
		return fmt.Errorf("--max-body %d: want at least 1024", c.MaxBody)
	case len(c.Audiences) == 0:
		return errors.New("--audience must name at least one audience")
	}
	return nil
}

// redact hides the password of a URL for messages.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
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
	*f.rates, err = activity.ParseRates(s)
	return err
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

func parseServe(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("activityd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (port 0 picks a free port)")
	fs.StringVar(&c.Data, "data", c.Data, "data directory: SQLite database and local issuer key")
	fs.StringVar(&c.DB, "db", c.DB, "PostgreSQL URL (postgres://…); without it, SQLite in the data directory")
	fs.StringVar(&c.TLS, "tls", c.TLS, "self-signed: serve https with a certificate made in --data, signed by a local CA (see activityd cert)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "serve https with this certificate (chain) file")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "the key file of --tls-cert")
	fs.BoolVar(&c.LocalIssuer, "local-issuer", c.LocalIssuer, "accept tokens of the local issuer (activityd token)")
	fs.StringVar(&c.IssuerName, "issuer-name", c.IssuerName, "iss of the local issuer's tokens")
	fs.StringVar(&c.IssuerKey, "issuer-key", c.IssuerKey, "the local issuer's key file (default issuer-key.pem in --data); processes sharing a database share it")
	fs.StringVar(&c.TrustIssuer, "trust-issuer", c.TrustIssuer, "iss of an external issuer to trust; {tid} matches the token's tenant, e.g. https://login.microsoftonline.com/{tid}/v2.0")
	fs.StringVar(&c.TrustJWKS, "trust-jwks", c.TrustJWKS, "JWKS URL of the external issuer, e.g. https://login.microsoftonline.com/common/discovery/v2.0/keys")
	fs.Var(listFlag{&c.Audiences}, "audience", "accepted token audiences, comma-separated")
	fs.Var(listFlag{&c.Scopes}, "scopes", "accepted scopes (a token needs one), comma-separated")
	fs.BoolVar(&c.Throttle, "throttle", c.Throttle, "limit each user and app to --read-limits and --write-limits (429 with Retry-After)")
	fs.Var(rateFlag{&c.ReadLimits}, "read-limits", "GET requests allowed per user and app")
	fs.Var(rateFlag{&c.WriteLimits}, "write-limits", "PUT, POST, PATCH and DELETE requests allowed per user and app")
	fs.StringVar(&c.DebugAddr, "debug-addr", c.DebugAddr, "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; off when empty")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.IntVar(&c.PageSize, "page-size", c.PageSize, "page size when a client sends no Prefer: odata.maxpagesize")
	fs.IntVar(&c.MaxPageSize, "max-page-size", c.MaxPageSize, "the most Prefer: odata.maxpagesize gets")
	fs.Int64Var(&c.MaxBody, "max-body", c.MaxBody, "largest request body in bytes, after gzip decompression")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", c.MaxHeaderBytes, "largest request headers in bytes (431 above)")
	fs.IntVar(&c.MaxJSONDepth, "max-json-depth", c.MaxJSONDepth, "deepest nesting of a request body")
	fs.IntVar(&c.MaxContentBytes, "max-content-bytes", c.MaxContentBytes, "largest contentInfo, and visualElements.content, in bytes")
	fs.IntVar(&c.MaxDeepInsert, "max-deep-insert", c.MaxDeepInsert, "most history items in one activity body")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "how long a client may take to send its request headers")
	fs.DurationVar(&c.Purge, "purge-interval", c.Purge, "how often expired activities are purged")
	fs.DurationVar(&c.Shutdown, "shutdown-timeout", c.Shutdown, "how long a shutdown waits for requests in flight")
	if err := parseFlags(fs, args, getenv); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.Validate()
}
