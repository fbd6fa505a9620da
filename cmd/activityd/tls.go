package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files of the self-signed TLS set-up in the data directory: a local CA, which a developer trusts
// once (NODE_EXTRA_CA_CERTS, the OS store), and a server certificate it signs.
//
// Each key file holds its key and then its certificate (chain), so that one file, written at once,
// is a consistent pair however many processes start together; the certificate files are copies made
// from them for clients. The CA is made once: the first process to link its file into place wins and
// every other one uses the winner's, as the local issuer's key does.
const (
	caCertFile  = "tls-ca.pem"     // the CA's certificate, for clients to trust
	caKeyFile   = "tls-ca-key.pem" // the CA's key, then its certificate
	tlsCertFile = "tls-cert.pem"   // the server's chain: its certificate, then the CA's
	tlsKeyFile  = "tls-key.pem"    // the server's key, then its chain
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

// ensureSelfSigned returns the server certificate in dir, with its key, and the CA's file, creating
// the local CA once and a server certificate whenever the existing one does not cover hosts, expires
// within a week or is not signed by the CA.
func ensureSelfSigned(dir string, hosts []string) (tls.Certificate, string, error) {
	caFile, keyFile := filepath.Join(dir, caCertFile), filepath.Join(dir, tlsKeyFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, "", err
	}
	ca, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	pair, err := loadServerPair(keyFile, ca, hosts)
	if err != nil {
		if err := createServerPair(keyFile, ca, caKey, hosts, errors.Is(err, fs.ErrNotExist)); err != nil {
			return tls.Certificate{}, "", err
		}
		// Whoever wrote last, what is on disk is a consistent pair signed by the one CA.
		if pair, err = loadServerPair(keyFile, ca, hosts); err != nil {
			return tls.Certificate{}, "", fmt.Errorf("%s: %w", keyFile, err)
		}
	}
	// The certificate file copies the chain of the key file. Should another process replace the key
	// file meanwhile, the copy is made again: the last writer leaves the copy of the last pair.
	for range 10 {
		var chain []byte
		for _, der := range pair.Certificate {
			chain = append(chain, pemBlocks(pemBlock{"CERTIFICATE", der})...)
		}
		if err := writeCopy(filepath.Join(dir, tlsCertFile), chain); err != nil {
			return tls.Certificate{}, "", err
		}
		again, err := loadServerPair(keyFile, ca, hosts)
		if err != nil {
			return tls.Certificate{}, "", fmt.Errorf("%s: %w", keyFile, err)
		}
		if bytes.Equal(again.Leaf.Raw, pair.Leaf.Raw) {
			break
		}
		pair = again
	}
	return pair, caFile, nil
}

// loadServerPair reads the server's key file and returns its pair when it covers hosts, is signed
// by ca and is valid for more than a week.
func loadServerPair(keyFile string, ca *x509.Certificate, hosts []string) (tls.Certificate, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	pair, err := tls.X509KeyPair(b, b)
	if err != nil {
		return tls.Certificate{}, err
	}
	switch {
	case pair.Leaf.CheckSignatureFrom(ca) != nil:
		return pair, errors.New("not signed by the local CA")
	case !covers(pair.Leaf, hosts):
		return pair, errors.New("does not cover every host")
	case time.Until(pair.Leaf.NotAfter) < 7*24*time.Hour:
		return pair, errors.New("expires within a week")
	}
	return pair, nil
}

// createServerPair writes a new server key and chain, signed by ca, to keyFile: in place of a missing
// file the first writer wins; an unusable one is replaced.
func createServerPair(keyFile string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, missing bool) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
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
		return err
	}
	data := pemBlocks(pemBlock{"PRIVATE KEY", mustPKCS8(key)}, pemBlock{"CERTIFICATE", der}, pemBlock{"CERTIFICATE", ca.Raw})
	if missing {
		_, err := writeOnce(keyFile, data)
		return err
	}
	return writeCopy(keyFile, data)
}

// loadOrCreateCA returns the local CA of dir, creating it when there is none, and makes sure that
// the CA's certificate file is the one in its key file.
func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certFile, keyFile := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	b, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		if b, err = createCA(keyFile); err != nil {
			return nil, nil, err
		}
	} else if err != nil {
		return nil, nil, err
	}
	cert, key, err := parseCA(b, certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	// A key file of the earlier layout gets its certificate (every process writes the same bytes).
	if err := writeCopy(keyFile, pemBlocks(pemBlock{"PRIVATE KEY", mustPKCS8(key)}, pemBlock{"CERTIFICATE", cert.Raw})); err != nil {
		return nil, nil, err
	}
	return cert, key, writeCopy(certFile, pemBlocks(pemBlock{"CERTIFICATE", cert.Raw}))
}

// createCA makes a CA and links its file into place, unless another process did first: then it
// returns the other's.
func createCA(keyFile string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "activityd local CA", Organization: []string{"activityd"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return writeOnce(keyFile, pemBlocks(pemBlock{"PRIVATE KEY", mustPKCS8(key)}, pemBlock{"CERTIFICATE", der}))
}

// parseCA reads the CA's key and certificate from its key file. A key file from before the two were
// kept together holds the key alone: the certificate is then taken from certFile, if it matches.
func parseCA(b []byte, certFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	var key *ecdsa.PrivateKey
	var cert *x509.Certificate
	for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if ec, ok := k.(*ecdsa.PrivateKey); err == nil && ok {
				key = ec
			}
		case "CERTIFICATE":
			cert, _ = x509.ParseCertificate(block.Bytes)
		}
	}
	if key == nil {
		return nil, nil, errors.New("holds no ECDSA private key")
	}
	if cert == nil {
		c, err := readCert(certFile)
		if err != nil {
			return nil, nil, fmt.Errorf("holds no certificate, and %s: %w", certFile, err)
		}
		cert = c
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("the CA's key and certificate do not match")
	}
	return cert, key, nil
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

type pemBlock struct {
	typ string
	der []byte
}

func pemBlocks(blocks ...pemBlock) []byte {
	var b []byte
	for _, block := range blocks {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: block.typ, Bytes: block.der})...)
	}
	return b
}

// writeTemp writes data to a new file of its own name beside path, readable by its owner only
// whatever the umask, and returns its name.
func writeTemp(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err = errors.Join(err, f.Chmod(0o600), f.Sync(), f.Close()); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// writeOnce puts data at path unless the file exists: the first writer wins, and every writer gets
// the winner's data back.
func writeOnce(path string, data []byte) ([]byte, error) {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	} else if err != nil {
		return nil, err
	}
	return data, nil
}

// writeCopy replaces path with data atomically, unless it holds data already.
func writeCopy(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

const certSynopsis = `Usage: activityd cert [flags]

Prints the path of the local CA that signs the certificate of 'activityd serve --tls self-signed',
creating both in the data directory when needed, so that a client can trust it:
  NODE_EXTRA_CA_CERTS=$(activityd cert)
`

// cert prints the path of the local CA that signs the self-signed server certificate, creating both
// when needed.
func cert(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	data, addr := "./activityd-data", "127.0.0.1:8080"
	fs := flag.NewFlagSet("activityd cert", flag.ContinueOnError)
	fs.StringVar(&data, "data", data, "data `directory` (as for serve)")
	fs.StringVar(&addr, "addr", addr, "listen `address` (as for serve); its host is put in the certificate")
	if err := parseFlags(fs, args, getenv); errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, certSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	if err := checkHostPort(addr); err != nil {
		return usagef("cert", "--addr %q: want host:port, such as 127.0.0.1:8080", addr)
	}
	warning, err := openDataDir(data)
	if err != nil {
		return err
	}
	if warning != "" {
		fmt.Fprintln(stderr, "activityd: warning:", warning)
	}
	_, ca, err := ensureSelfSigned(data, selfSignedHosts(addr))
	if err != nil {
		return fmt.Errorf("self-signed certificate in %s: %w", data, err)
	}
	abs, err := filepath.Abs(ca)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, abs)
	return err
}
