package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files of the self-signed TLS set-up in the data directory: a local CA, which a developer trusts
// once (NODE_EXTRA_CA_CERTS, the OS store), and a server certificate it signs.
const (
	caCertFile  = "tls-ca.pem"
	caKeyFile   = "tls-ca-key.pem"
	tlsCertFile = "tls-cert.pem"
	tlsKeyFile  = "tls-key.pem"
)

// selfSignedHosts are the names the server certificate covers: localhost, the loopback addresses,
// and the listen host when it names one.
func selfSignedHosts(addr string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "" && h != "0.0.0.0" && h != "::" && !slices.Contains(hosts, h) {
		hosts = append(hosts, h)
	}
	return hosts
}

// ensureSelfSigned returns the server certificate and key files in dir, creating the local CA once
// and a server certificate whenever the existing one does not cover hosts or expires within a week.
func ensureSelfSigned(dir string, hosts []string) (certFile, keyFile, caFile string, err error) {
	certFile, keyFile, caFile = filepath.Join(dir, tlsCertFile), filepath.Join(dir, tlsKeyFile), filepath.Join(dir, caCertFile)
	if leaf, err := readCert(certFile); err == nil && covers(leaf, hosts) && time.Until(leaf.NotAfter) > 7*24*time.Hour {
		if _, err := os.Stat(keyFile); err == nil {
			return certFile, keyFile, caFile, nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", "", err
	}
	ca, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return "", "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "activityd"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return "", "", "", err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", mustPKCS8(key)); err != nil {
		return "", "", "", err
	}
	// The chain: the server certificate, then the CA.
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})...)
	if err := writeFile(certFile, chain); err != nil {
		return "", "", "", err
	}
	return certFile, keyFile, caFile, nil
}

func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certFile, keyFile := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	if cert, err := readCert(certFile); err == nil {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", keyFile, err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, nil, fmt.Errorf("%s holds no PEM block", keyFile)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if key, ok := k.(*ecdsa.PrivateKey); err == nil && ok {
			return cert, key, nil
		}
		return nil, nil, fmt.Errorf("%s is not an ECDSA key", keyFile)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "activityd local CA", Organization: []string{"activityd"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	if err := writePEM(keyFile, "PRIVATE KEY", mustPKCS8(key)); err != nil {
		return nil, nil, err
	}
	return cert, key, writePEM(certFile, "CERTIFICATE", der)
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func covers(cert *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func mustPKCS8(key *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	return der
}

func writePEM(path, typ string, der []byte) error {
	return writeFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// writeFile replaces path atomically, readable by its owner only.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// cert prints the path of the local CA that signs the self-signed server certificate, creating both
// when needed, so that a client can trust it: NODE_EXTRA_CA_CERTS=$(activityd cert).
func cert(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	data, addr := "./activityd-data", "127.0.0.1:8080"
	fs := flag.NewFlagSet("activityd cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&data, "data", data, "data directory (as for serve)")
	fs.StringVar(&addr, "addr", addr, "listen address (as for serve); its host is put in the certificate")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	_, _, ca, err := ensureSelfSigned(data, selfSignedHosts(addr))
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(ca)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, abs)
	return err
}
