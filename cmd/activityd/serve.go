package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on --debug-addr
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/sqlite"
)

// serve runs the server until ctx is done, then shuts it down gracefully.
func serve(ctx context.Context, cfg Config, logOut io.Writer) error {
	logger, err := newLogger(cfg, logOut)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
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
			return err
		}
		verifier.Issuers = append(verifier.Issuers, issuer.Issuer())
	}
	if cfg.TrustIssuer != "" {
		verifier.Issuers = append(verifier.Issuers, auth.Issuer{Name: cfg.TrustIssuer, Keys: &auth.RemoteKeys{URL: cfg.TrustJWKS}})
	}

	service := activity.NewService(store)
	service.MaxContentBytes, service.MaxDeepInsert = cfg.MaxContentBytes, cfg.MaxDeepInsert
	api := graph.NewServer(service, verifier, logger)
	// The secret behind public ids and skiptokens is the store's, so that every process on it, and
	// every restart, gives the same ids.
	secret, err := store.Secret(ctx, "graph", graph.SecretSize)
	if err != nil {
		return fmt.Errorf("read the store's secret: %w", err)
	}
	api.SetSecret(secret)
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

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler(api, issuer),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		// Above this net/http answers 431 itself, in plain text; below it graph answers 431 in
		// Graph's envelope at --max-header-bytes.
		MaxHeaderBytes: max(1<<20, 2*cfg.MaxHeaderBytes),
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	var wg sync.WaitGroup
	bg, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	wg.Go(func() {
		_ = service.RunPurge(bg, cfg.Purge, 1000, func(err error) {
			logger.Error("purge expired", slog.String("error", err.Error()))
		})
	})

	certFile, keyFile := cfg.TLSCert, cfg.TLSKey
	if cfg.TLS == "self-signed" {
		var ca string
		if certFile, keyFile, ca, err = ensureSelfSigned(cfg.Data, selfSignedHosts(cfg.Addr)); err != nil {
			ln.Close()
			return fmt.Errorf("self-signed certificate: %w", err)
		}
		logger.Info("serving https with a self-signed certificate; trust its CA, e.g. NODE_EXTRA_CA_CERTS", slog.String("ca", ca))
	}
	scheme := "http"
	if cfg.DebugAddr != "" {
		// net/http/pprof registers on DefaultServeMux, which nothing else here uses.
		debug := &http.Server{Addr: cfg.DebugAddr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := debug.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				logger.Error("debug listener", slog.String("error", err.Error()))
			}
		}()
		defer debug.Close()
	}
	errc := make(chan error, 1)
	if certFile != "" {
		scheme = "https"
		go func() { errc <- srv.ServeTLS(ln, certFile, keyFile) }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	logger.Info("listening", slog.String("addr", ln.Addr().String()),
		slog.String("graph", scheme+"://"+ln.Addr().String()+"/v1.0"), slog.String("store", storeName(cfg)))

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
	stopBackground()
	wg.Wait()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: requests still in flight after %s", cfg.Shutdown)
	}
	return err
}

// openStore opens PostgreSQL when --db is set, else SQLite in the data directory.
func openStore(ctx context.Context, cfg Config) (activity.Store, error) {
	if cfg.DB != "" {
		return postgres.Open(ctx, cfg.DB)
	}
	return sqlite.Open(ctx, filepath.Join(cfg.Data, "activityd.db"))
}

func storeName(cfg Config) string {
	if cfg.DB != "" {
		return "postgres " + redact(cfg.DB)
	}
	return "sqlite " + filepath.Join(cfg.Data, "activityd.db")
}

// issuerKeyFile is the local issuer's key: the --issuer-key file, or issuer-key.pem in the data directory.
func issuerKeyFile(data, key string) string {
	if key != "" {
		return key
	}
	return filepath.Join(data, "issuer-key.pem")
}

// handler routes the non-Graph routes (health, discovery) to a ServeMux and everything else to the
// Graph server, without any path cleaning in front of it: the SDK's /me/activities//key form must reach
// it as sent, and unknown paths get a 404 in Graph's error envelope.
func handler(api http.Handler, issuer *auth.LocalIssuer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	if issuer != nil {
		mux.Handle("GET /.well-known/", issuer.Handler())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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

func newLogger(cfg Config, out io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", cfg.LogLevel, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(out, opts)), nil
	}
	return slog.New(slog.NewTextHandler(out, opts)), nil
}
