package main

import (
	"crypto/tls"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate of two files and reads them again when they change (checked
// at most once a second, on a handshake), so that a renewed certificate (certbot, an ACME client, a
// secret mount) is served without a restart. A pair that cannot be loaded leaves the one in use in
// place, and is logged.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu              sync.Mutex
	pair            *tls.Certificate
	certMod, keyMod time.Time
	checked         time.Time
}

func newCertReloader(certFile, keyFile string, logger *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, logger: logger}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.pair = &pair
	r.certMod, r.keyMod = modTime(certFile), modTime(keyFile)
	r.checked = time.Now()
	return r, nil
}

func modTime(name string) time.Time {
	st, err := os.Stat(name)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= time.Second {
		r.checked = time.Now()
		certMod, keyMod := modTime(r.certFile), modTime(r.keyFile)
		if !certMod.Equal(r.certMod) || !keyMod.Equal(r.keyMod) {
			if pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile); err != nil {
				r.logger.Warn("TLS certificate changed but cannot be loaded; serving the one before", slog.String("cert", r.certFile), slog.String("error", err.Error()))
			} else {
				r.pair = &pair
				r.logger.Info("TLS certificate read again", slog.String("cert", r.certFile))
			}
			r.certMod, r.keyMod = certMod, keyMod
		}
	}
	return r.pair, nil
}
