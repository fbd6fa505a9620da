package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on --debug-addr
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/admin"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/notify"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/provider"
	"github.com/activityd/activityd/relyingparty"
	"github.com/activityd/activityd/sqlite"
	"github.com/activityd/activityd/web"
)

// serve runs the server until ctx is done, then shuts it down gracefully. Everything that can be
// wrong with the configuration, the data directory, the store or the listen addresses is reported
// before the server listens.
func serve(ctx context.Context, cfg Config, logOut io.Writer) error {
	logger := newLogger(cfg, logOut)
	// zitadel/oidc logs through slog's default (its WithLogger option is deprecated): into ours.
	slog.SetDefault(logger)
	gogc := setGCPercent()
	// Files named by flags first: a mistake there leaves no data directory behind.
	tlsConfig, err := loadTLSFiles(cfg, logger)
	if err != nil {
		return err
	}
	if needs := dataNeeds(cfg); needs != "" {
		warning, err := openDataDir(cfg.Data)
		if err != nil {
			return err
		}
		if warning != "" {
			logger.Warn(warning)
		}
		if cfg.DB != "" {
			msg := "the data directory holds " + needs
			if cfg.LocalIssuer && cfg.IssuerKey == "" {
				msg += " (--issuer-key puts the key elsewhere)"
			}
			logger.Info(msg, slog.String("dir", cfg.Data))
		}
	}
	if cfg.TLS == "self-signed" {
		if tlsConfig, err = selfSignedTLS(cfg, logger); err != nil {
			return err
		}
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	verifier := &auth.Verifier{Audiences: cfg.Audiences, Scopes: cfg.Scopes, Leeway: time.Minute}
	var issuer *auth.LocalIssuer
	if cfg.LocalIssuer {
		if issuer, err = auth.OpenLocalIssuer(issuerKeyFile(cfg.Data, cfg.IssuerKey), cfg.IssuerName); err != nil {
			return fmt.Errorf("local issuer: %w", err)
		}
		verifier.Issuers = append(verifier.Issuers, issuer.Issuer()) // first: Issuers[0], below
	}
	verifier.Logger = logger
	for i, name := range cfg.TrustIssuer {
		keys := &auth.RemoteKeys{URL: cfg.TrustJWKS[i]}
		trusted := auth.Issuer{Name: name, Keys: keys}
		if i < len(cfg.TrustAudience) && cfg.TrustAudience[i] != "" {
			trusted.Audiences = []string{cfg.TrustAudience[i]}
		}
		verifier.Issuers = append(verifier.Issuers, trusted)
		// Whether the issuer's keys can be fetched, said at start (in the background: the server
		// does not wait for it), rather than learnt from the first token that fails.
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if n, err := keys.Check(ctx); err != nil {
				logger.Warn("trusted issuer: its key set cannot be fetched; its tokens fail until it can",
					slog.String("issuer", name), slog.String("jwks", keys.URL), slog.String("error", err.Error()))
			} else {
				logger.Info("trusted issuer", slog.String("issuer", name), slog.String("jwks", keys.URL), slog.Int("keys", n))
			}
		}()
	}

	service := activity.NewService(store)
	service.MaxContentBytes, service.MaxDeepInsert = cfg.MaxContentBytes, cfg.MaxDeepInsert
	service.MaxHistoryItems = cfg.MaxHistoryItems
	api := graph.NewServer(service, verifier, logger)
	api.MaxPageBytes, api.MaxBatchBytes = cfg.MaxPageBytes, cfg.MaxBatchBytes
	api.MaxExpandItems, api.MaxExpandItemsPerPage = cfg.MaxExpandItems, cfg.MaxExpandItemsPerPage
	api.AllowedOrigins, api.Heartbeat, api.MaxStreamsPerUser = cfg.CORSOrigins, cfg.Heartbeat, cfg.MaxStreamsPerUser
	// Live streams wake when the store commits; on PostgreSQL, when any process does (Listen, below).
	api.Changes = &activity.Wakeups{}
	switch st := store.(type) {
	case *sqlite.Store:
		st.OnCommit = api.Changes.Notify
	case *postgres.Store:
		st.OnCommit = api.Changes.Notify
	}
	// The secret behind public ids and skiptokens is the store's, so that every process on it, and
	// every restart, gives the same ids.
	secret, err := store.Secret(ctx, "graph", graph.SecretSize)
	if err != nil {
		return fmt.Errorf("read the store's secret: %w", err)
	}
	api.SetSecret(secret)
	// Webhooks: the notifier validates new subscriptions' URLs and delivers from the change log.
	var notifier *notify.Notifier
	if ns, ok := store.(notify.Store); ok {
		allow, _ := parsePrefixes(cfg.WebhookAllow) // checked by Validate
		for _, p := range allow {
			if (p.Addr().Is4() && p.Bits() < 16) || (p.Addr().Is6() && p.Bits() < 48) {
				logger.Warn("--webhook-allow admits a wide range of addresses: webhooks may then reach hosts of your network that should not be reached from outside",
					slog.String("prefix", p.String()))
			}
		}
		notifier = notify.New(ns, graph.PublicIDs(secret), logger, notify.Config{Allow: allow})
		notifier.Changes, notifier.MaxRetry = api.Changes, cfg.WebhookMaxRetry
		api.Webhooks = notifier
	}
	// The timeline page: its own key (sessions, CSRF tokens), the API's public ids and export.
	webSecret, err := store.Secret(ctx, "web", web.SecretSize)
	if err != nil {
		return fmt.Errorf("read the store's secret: %w", err)
	}
	page := web.New(service, verifier, graph.PublicIDs(secret), api, webSecret, logger)
	var prov *provider.Provider
	var adminAPI http.Handler // with the provider: its accounts and apps
	if issuer != nil {
		// The signing keys live in the store from now on, shared by every process on it.
		if rs, ok := store.(activity.RecordStore); ok {
			if err := issuer.ShareKeys(ctx, rs); err != nil {
				return fmt.Errorf("local issuer: %w", err)
			}
		}
		if prov, err = newProvider(ctx, cfg, store, issuer, logger); err != nil {
			return err
		}
		if prov != nil {
			// Tokens of accounts disabled or deleted since they were issued are refused.
			revocations := prov.Accounts.Revocations()
			if err := revocations.Load(ctx); err != nil {
				return err
			}
			verifier.Issuers[0].Revoked = revocations.Revoked
			adminAPI = newAdmin(cfg, api, service, prov, verifier.Issuers[0], logger)
			accounts := pageAccounts{p: prov, issuer: issuer.Name}
			page.Accounts = accounts
			if cfg.OIDCIssuer != "" {
				page.External = externalSignIn{Client: relyingparty.New(relyingparty.Config{Issuer: cfg.OIDCIssuer,
					ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret, Name: cfg.OIDCName,
					UsernameClaim: cfg.OIDCUsernameClaim}), accounts: accounts}
			}
		}
	}
	page.Changes, page.Heartbeat, page.Secure = api.Changes, cfg.Heartbeat, tlsConfig != nil
	api.PageSize, api.MaxPageSize, api.MaxBodyBytes = cfg.PageSize, cfg.MaxPageSize, cfg.MaxBody
	api.MaxHeaderBytes, api.MaxJSONDepth = cfg.MaxHeaderBytes, cfg.MaxJSONDepth
	if cfg.Throttle {
		// Processes sharing PostgreSQL count in it, so that the limits hold across them.
		var counter activity.RequestCounter = activity.NewMemoryCounter()
		if c, ok := store.(activity.RequestCounter); ok {
			counter = c
		}
		api.Throttle = &activity.Throttle{Limits: activity.Limits{Reads: cfg.ReadLimits, Writes: cfg.WriteLimits}, Counter: counter}
	}

	if cfg.DebugAddr != "" {
		dln, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			return fmt.Errorf("--debug-addr %s: %w", cfg.DebugAddr, listenReason(err))
		}
		// net/http/pprof registers on DefaultServeMux, which nothing else here uses.
		debug := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := debug.Serve(dln); !errors.Is(err, http.ErrServerClosed) {
				logger.Error("debug listener", slog.String("error", err.Error()))
			}
		}()
		defer debug.Close()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", cfg.Addr, listenReason(err))
	}
	maxConns := cfg.MaxConns
	files, ferr := openFileLimit()
	if maxConns == 0 && ferr == nil && files < 1<<31 {
		maxConns = int(files) * 9 / 10 // the rest for the database, the log and the listener
	}
	ln = newLimitListener(ln, maxConns, cfg.MaxConnsPerAddr, tlsConfig == nil)
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-addr %s: %w", cfg.MetricsAddr, listenReason(err))
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", newMetrics(api, service, notifier, store, maxConns))
		metrics := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := metrics.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics listener", slog.String("error", err.Error()))
			}
		}()
		defer metrics.Close()
		logger.Info("metrics", slog.String("addr", "http://"+mln.Addr().String()+"/metrics"))
	}
	logger.Info("limits", slog.Uint64("open_files", files), slog.Int("max_conns", maxConns),
		slog.Int("max_conns_per_addr", cfg.MaxConnsPerAddr), slog.Duration("read_header_timeout", cfg.ReadHeaderTimeout),
		slog.Duration("read_timeout", cfg.ReadTimeout), slog.Int64("max_body", cfg.MaxBody), slog.Bool("tls", tlsConfig != nil),
		slog.String("gogc", gogc), slog.String("gomemlimit", memoryLimit()))
	if _, ok := store.(*sqlite.Store); ok {
		if err := sqlite.ConfigError(); err != nil {
			logger.Warn("sqlite setting not in effect: writes are slower, as durable", slog.String("error", err.Error()))
		}
	}
	origin, err := publicOrigin(cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           bodyDeadline(cfg.ReadTimeout, origin(handler(api, page, adminAPI, issuer, prov, store, logger))),
		ConnContext:       withConn,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		// Above this net/http answers 431 itself, in plain text; below it graph answers 431 in
		// Graph's envelope at --max-header-bytes.
		MaxHeaderBytes: max(1<<20, 2*cfg.MaxHeaderBytes),
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		TLSConfig:      tlsConfig,
	}

	// Streams never go idle: Shutdown ends them, and their clients resume elsewhere with Last-Event-ID.
	srv.RegisterOnShutdown(api.CloseStreams)

	var wg sync.WaitGroup
	bg, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	if pg, ok := store.(*postgres.Store); ok {
		wg.Go(func() { _ = pg.Listen(bg) })
		wg.Go(func() { pg.KeepStatistics(bg, logger) })
	}
	wg.Go(func() { trimChanges(bg, store, cfg.ChangeRetention, logger) })
	if issuer != nil {
		wg.Go(func() {
			issuer.Refresh(bg, func(err error) {
				logger.Warn("local issuer: cannot read the signing keys again", slog.String("error", err.Error()))
			})
		})
	}
	if notifier != nil {
		wg.Go(func() { _ = notifier.Run(bg) })
	}
	if prov != nil {
		wg.Go(func() {
			prov.Accounts.Revocations().Refresh(bg, func(err error) {
				logger.Warn("cannot read the revoked accounts again", slog.String("error", err.Error()))
			})
		})
	}
	if cfg.Purge > 0 {
		wg.Go(func() {
			_ = service.RunPurge(bg, cfg.Purge, 1000, func(err error) {
				logger.Log(bg, activity.LogLevel(store, err), "purge expired", slog.String("error", err.Error()))
			})
		})
	}

	errc := make(chan error, 1)
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	if prov != nil && tlsConfig == nil && !loopbackAddr(ln.Addr()) && !strings.HasPrefix(cfg.PublicURL, "https://") {
		logger.Warn("sign-in over plain http on a network address: passwords and tokens cross the network readable; serve TLS (--tls-cert, --tls self-signed) or put an https proxy in front (--public-url https://…)",
			slog.String("addr", ln.Addr().String()))
	}
	logger.Info("listening", slog.String("addr", ln.Addr().String()),
		slog.String("graph", scheme+"://"+ln.Addr().String()+"/v1.0"), slog.String("store", storeName(cfg)),
		slog.String("version", versionLine()))

	select {
	case err := <-errc:
		stopBackground()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Shutdown)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// What is still running after --shutdown-timeout (slow uploads, mostly) is cut short: its
		// clients retry, and a stop asked for is a stop done, so the exit status stays 0.
		logger.Warn("requests still in flight after the shutdown timeout were cut short", slog.Duration("shutdown_timeout", cfg.Shutdown))
		srv.Close()
		err = nil
	}
	stopBackground()
	wg.Wait()
	if err == nil {
		logger.Info("stopped")
	}
	return err
}

// listenReason is why a listen failed, without the operation and address the message names already:
// "bind: address already in use".
func listenReason(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// loadTLSFiles returns the TLS configuration of --tls-cert and --tls-key, or nil without them,
// reading both files now so that a missing or mismatched one is reported before the server listens,
// naming its flag.
func loadTLSFiles(cfg Config, logger *slog.Logger) (*tls.Config, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	for _, f := range []struct{ flag, path string }{{"--tls-cert", cfg.TLSCert}, {"--tls-key", cfg.TLSKey}} {
		if _, err := os.ReadFile(f.path); err != nil {
			return nil, fmt.Errorf("%s %s: %s", f.flag, f.path, reason(err))
		}
	}
	reloader, err := newCertReloader(cfg.TLSCert, cfg.TLSKey, logger)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s and --tls-key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	return &tls.Config{GetCertificate: reloader.GetCertificate, MinVersion: tls.VersionTLS12}, nil
}

// selfSignedTLS returns the TLS configuration of --tls self-signed, making the certificate (and its
// CA) in the data directory when needed.
func selfSignedTLS(cfg Config, logger *slog.Logger) (*tls.Config, error) {
	hosts := selfSignedHosts(cfg.Addr)
	for _, h := range cfg.TLSHosts {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	pair, ca, err := ensureSelfSigned(cfg.Data, hosts)
	if err != nil {
		return nil, fmt.Errorf("--tls self-signed: certificate in %s: %w", cfg.Data, err)
	}
	logger.Info("serving https with a self-signed certificate; trust its CA, e.g. NODE_EXTRA_CA_CERTS", slog.String("ca", ca), slog.Any("hosts", hosts))
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// openStore opens PostgreSQL when --db is set, else SQLite in the data directory.
func openStore(ctx context.Context, cfg Config) (activity.Store, error) {
	if cfg.DB != "" {
		return postgres.Open(ctx, cfg.DB)
	}
	path := sqliteFile(cfg.Data)
	if err := prepareSQLite(path); err != nil {
		return nil, err
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := protectSQLite(path); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

func storeName(cfg Config) string {
	if cfg.DB != "" {
		return "postgres " + redact(cfg.DB)
	}
	return "sqlite " + sqliteFile(cfg.Data)
}

// issuerKeyFile is the local issuer's key: the --issuer-key file, or issuer-key.pem in the data directory.
func issuerKeyFile(data, key string) string {
	if key != "" {
		return key
	}
	return filepath.Join(data, "issuer-key.pem")
}

// readiness is what /readyz asks a store: that it answers and its migrations are all applied. A store
// without it counts as ready once open.
type readiness interface {
	Ready(ctx context.Context) error
}

// readyTimeout bounds a /readyz check: a load balancer's probe wants an answer, not a hang.
const readyTimeout = 2 * time.Second

// handler routes the non-Graph routes (health, discovery) to a ServeMux and everything else to the
// Graph server, without any path cleaning in front of it: the SDK's /me/activities//key form must reach
// it as sent, and unknown paths get a 404 in Graph's error envelope. /healthz says the process is alive;
// /readyz that it can serve (its store answers, with its migrations applied), else 503 with the reason.
func handler(api, page, adminAPI http.Handler, issuer *auth.LocalIssuer, prov *provider.Provider, store any, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	for _, pattern := range []string{"/{$}", "/timeline", "/timeline/events", "/signin", "/signin/", "/signout", "/privacy", "/privacy/",
		"/consent", "/device", "/devices", "/devices/", "/static/"} {
		mux.Handle(pattern, page)
	}
	if prov != nil {
		h := prov.Handler(auth.BaseURL)
		for _, path := range provider.Paths {
			mux.Handle(path, h)
		}
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	var notReady atomic.Bool // logged once per change, not on every probe
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s, ok := store.(readiness); ok {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := s.Ready(ctx); err != nil {
				if !notReady.Swap(true) {
					logger.Warn("not ready", slog.String("error", err.Error()))
				}
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "not ready: "+shortReason(err)+"\n")
				return
			}
			if notReady.Swap(false) {
				logger.Info("ready again")
			}
		}
		io.WriteString(w, "ok\n")
	})
	if issuer != nil {
		mux.Handle("GET /.well-known/", issuer.Handler())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if adminAPI != nil && strings.HasPrefix(r.URL.Path, "/admin/") {
			adminAPI.ServeHTTP(w, r) // as sent: it answers paths that are not clean itself (404, not a redirect)
			return
		}
		p := strings.ToLower(r.URL.Path)
		if !strings.HasPrefix(p, "/v1.0/") && !strings.HasPrefix(p, "/beta/") {
			if _, pattern := mux.Handler(r); pattern != "" {
				mux.ServeHTTP(w, r)
				return
			}
		}
		api.ServeHTTP(w, r)
	})
}

// newAdmin returns the admin API (package admin) of the provider's accounts and apps: for tokens of
// the local issuer with the scope activityd.admin only, which the Graph routes refuse.
func newAdmin(cfg Config, api *graph.Server, service *activity.Service, prov *provider.Provider, local auth.Issuer, logger *slog.Logger) http.Handler {
	verifier := &auth.Verifier{Issuers: []auth.Issuer{local}, Audiences: cfg.Audiences,
		Scopes: []string{auth.ScopeAdmin}, Leeway: time.Minute, Logger: logger}
	s := &admin.Server{
		Verify: verifier.Verify, Issuer: local.Name,
		Accounts: prov.Accounts, Grants: prov.Grants, Apps: prov.Apps,
		Forget: func(ctx context.Context, p activity.Principal) (activity.Forgotten, error) {
			return service.Forget(ctx, p, activity.Forget{All: true})
		},
		Principal: func(a provider.Account) activity.Principal {
			return activity.Principal{TenantID: auth.LocalTenant, UserID: a.ID, UserName: a.Name, Issuer: local.Name, AllApps: true}
		},
		Wrap: api.Wrap,
		// Counted with the API's refusals (the metrics set api.Refused before the server serves).
		Refused: func(reason string) {
			if f := api.Refused; f != nil {
				f(reason)
			}
		},
	}
	return s.Handler()
}

// shortReason is the first line of err, at most 200 bytes: enough for an operator reading a probe.
func shortReason(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

func newLogger(cfg Config, out io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.Level(levels[strings.ToLower(cfg.LogLevel)])}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

// publicOrigin is the middleware that decides the scheme and host of links (--public-url,
// --trusted-proxies).
func publicOrigin(cfg Config) (func(http.Handler) http.Handler, error) {
	var public *url.URL
	if cfg.PublicURL != "" {
		var err error
		if public, err = graph.ParsePublicURL(cfg.PublicURL); err != nil {
			return nil, fmt.Errorf("--public-url: %w", err)
		}
	}
	trusted, err := parsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	return graph.PublicOrigin(public, trusted), nil
}

// trimChanges deletes changes older than retention from the change log, every hour and in batches,
// until ctx is done.
func trimChanges(ctx context.Context, store activity.Store, retention time.Duration, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		for {
			n, err := store.TrimChanges(ctx, time.Now().Add(-retention), 1000)
			if err != nil && ctx.Err() == nil {
				logger.Log(ctx, activity.LogLevel(store, err), "trim the change log", slog.String("error", err.Error()))
			}
			if err != nil || n < 1000 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// loopbackAddr reports whether a listener's address is a loopback one.
func loopbackAddr(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// defaultGCPercent is the garbage collector's target that serve sets unless GOGC is set: a
// collection when the heap has grown by twice what was live, where Go's default is once. A request
// allocates its rows and its JSON and keeps nothing, so the live heap stays small (tens of MB) and
// the collector's work is mostly per request: at Go's default it took 13 % of the CPU of a list, and
// this setting gave 1.16 to 1.43 times the reads for 13 MB more peak RSS (BENCHMARKS.md §15).
const defaultGCPercent = 200

// setGCPercent sets defaultGCPercent unless the GOGC environment variable decides (the runtime has
// read it, and takes 100 for a value it cannot parse), and returns what applies, for the start-up
// log: the runtime's own value, and GOGC as given when it is set.
func setGCPercent() string {
	env, set := os.LookupEnv("GOGC")
	if !set || env == "" {
		debug.SetGCPercent(defaultGCPercent)
		return strconv.Itoa(defaultGCPercent)
	}
	applies := debug.SetGCPercent(100) // reads it back: SetGCPercent returns the value it replaces
	debug.SetGCPercent(applies)
	v := strconv.Itoa(applies)
	if applies < 0 {
		v = "off"
	}
	return fmt.Sprintf("%s (GOGC=%q)", v, env)
}

// memoryLimit is the runtime's soft memory limit (GOMEMLIMIT), in bytes, or "none", for the
// start-up log: with GOGC=off it is what makes the collector run.
func memoryLimit() string {
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 { // -1 reads it without a change
		return strconv.FormatInt(limit, 10)
	}
	return "none"
}
