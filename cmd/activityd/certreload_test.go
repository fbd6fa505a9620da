package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePair writes a self-signed certificate for 127.0.0.1 named cn, and its key.
func writePair(t *testing.T, certFile, keyFile, cn string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(certFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	os.Rename(keyFile+".tmp", keyFile)
	os.Rename(certFile+".tmp", certFile)
}

// TestTLS_ReadsRenewedCertificate: a certificate renewed in place (--tls-cert, --tls-key) is served
// without a restart.
func TestTLS_ReadsRenewedCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePair(t, certFile, keyFile, "first")
	base := startServer(t, t.TempDir(), nil, "--tls-cert", certFile, "--tls-key", keyFile)
	addr := strings.TrimPrefix(base, "http://")
	served := func() string {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("served %q", got)
	}
	time.Sleep(1100 * time.Millisecond) // a file's time may have a resolution of a second
	writePair(t, certFile, keyFile, "renewed")
	deadline := time.Now().Add(5 * time.Second)
	for served() != "renewed" {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate is not served 5 s after it was written")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTLS_Hosts: --tls-hosts adds names and addresses to the self-signed certificate; a bad one is a
// usage error.
func TestTLS_Hosts(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil, "--tls", "self-signed", "--tls-hosts", "laptop.local,192.168.1.20")
	c, err := tls.Dial("tcp", strings.TrimPrefix(base, "http://"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	cert := c.ConnectionState().PeerCertificates[0]
	c.Close()
	if err := cert.VerifyHostname("laptop.local"); err != nil {
		t.Errorf("laptop.local: %v", err)
	}
	if err := cert.VerifyHostname("192.168.1.20"); err != nil {
		t.Errorf("192.168.1.20: %v", err)
	}
	if code, _, stderr := runMain(t, "serve", "--tls", "self-signed", "--tls-hosts", "bad host"); code != 2 || !strings.Contains(stderr, "--tls-hosts") {
		t.Errorf("a bad host: %d %q", code, stderr)
	}
}
