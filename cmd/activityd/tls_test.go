package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestCert_Concurrent starts many "activityd cert" at once on fresh data directories: each must
// succeed, and the certificate on disk must be signed by the CA on disk and match its key.
func TestCert_Concurrent(t *testing.T) {
	for round := range 5 {
		dir := filepath.Join(t.TempDir(), "data")
		const n = 12
		outs := make([]bytes.Buffer, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = run(t.Context(), []string{"cert", "--data", dir}, func(string) string { return "" }, &outs[i], io.Discard)
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d: cert %d of %d started at once: %v", round, i, n, errs[i])
			}
			if outs[i].String() != outs[0].String() {
				t.Fatalf("round %d: cert printed %q and %q", round, outs[0].String(), outs[i].String())
			}
		}
		checkTLSFiles(t, dir)
	}
}

// checkTLSFiles checks that the server certificate in dir verifies against the CA in dir for
// localhost, and that the key files hold the same certificates as the certificate files.
func checkTLSFiles(t *testing.T, dir string) {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(dir, caCertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", caCertFile)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, tlsCertFile), filepath.Join(dir, tlsKeyFile))
	if err != nil {
		t.Fatalf("the server certificate and key on disk: %v", err)
	}
	if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"}); err != nil {
		t.Errorf("the server certificate on disk is not signed by the CA on disk: %v", err)
	}
	caKey, _ := os.ReadFile(filepath.Join(dir, caKeyFile))
	if !bytes.Contains(caKey, bytes.TrimSpace(caPEM)) {
		t.Errorf("%s and %s hold different CAs", caCertFile, caKeyFile)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a temporary file is left: %s", e.Name())
		}
	}
	block, _ := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Errorf("%s does not start with a certificate", caCertFile)
	}
}

// TestCert_Replaces checks that a certificate that does not cover the listen host is replaced by one
// that does, signed by the same CA, and that files of the layout before keys and certificates were
// kept together are taken over.
func TestCert_Replaces(t *testing.T) {
	dir := t.TempDir()
	var first bytes.Buffer
	if err := run(t.Context(), []string{"cert", "--data", dir}, func(string) string { return "" }, &first, io.Discard); err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(filepath.Join(dir, caCertFile))
	if err := run(t.Context(), []string{"cert", "--data", dir, "--addr", "192.0.2.7:8443"}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, caCertFile)); !bytes.Equal(ca, again) {
		t.Error("the CA changed")
	}
	checkTLSFiles(t, dir)
	pair, _ := tls.LoadX509KeyPair(filepath.Join(dir, tlsCertFile), filepath.Join(dir, tlsKeyFile))
	if pair.Leaf.VerifyHostname("192.0.2.7") != nil {
		t.Error("the new certificate does not cover the listen host")
	}

	// The earlier layout: the CA's key file held the key alone, the server's key file too.
	caKey, _ := os.ReadFile(filepath.Join(dir, caKeyFile))
	block, _ := pem.Decode(caKey)
	os.WriteFile(filepath.Join(dir, caKeyFile), pem.EncodeToMemory(block), 0o600)
	serverKey, _ := os.ReadFile(filepath.Join(dir, tlsKeyFile))
	block, _ = pem.Decode(serverKey)
	os.WriteFile(filepath.Join(dir, tlsKeyFile), pem.EncodeToMemory(block), 0o600)
	if err := run(t.Context(), []string{"cert", "--data", dir}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatalf("cert on the earlier layout: %v", err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, caCertFile)); !bytes.Equal(ca, again) {
		t.Error("the CA of the earlier layout was not kept")
	}
	checkTLSFiles(t, dir)
}
