// Package tlstest makes throwaway certificate authorities for tests: a CA,
// server certificates for the loopback address and client certificates,
// generated at test time with crypto/x509 (nothing is checked in) and
// written as PEM files that a memcached started as another user can read.
package tlstest

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
	"testing"
	"time"
)

// CA is a certificate authority that lives for one test.
type CA struct {
	// File is the CA certificate as a PEM file (memcached's ssl_ca_cert).
	File string
	// Pool holds the CA certificate, for a tls.Config's RootCAs.
	Pool *x509.CertPool
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

// Pair is a certificate and its key, as PEM files and as a tls.Certificate.
type Pair struct {
	CertFile, KeyFile string
	TLS               tls.Certificate
}

// NewCA makes a CA named name whose files live in a directory that is
// removed when the test ends. The directory and files are readable by
// everyone: the memcached under test may run as nobody.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	dir, err := os.MkdirTemp("", "tlstest-")
	if err != nil {
		tb.Fatalf("tlstest: %v", err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatalf("tlstest: %v", err)
	}
	key := newKey(tb)
	tmpl := template(tb, name)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("tlstest: create CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("tlstest: %v", err)
	}
	ca := &CA{Pool: x509.NewCertPool(), cert: cert, key: key, dir: dir}
	ca.Pool.AddCert(cert)
	ca.File = ca.write(tb, name+"-ca.pem", "CERTIFICATE", der)
	return ca
}

// Server issues a server certificate for 127.0.0.1, ::1 and localhost.
func (ca *CA) Server(tb testing.TB, name string) Pair {
	tb.Helper()
	return ca.issue(tb, name, x509.ExtKeyUsageServerAuth, func(c *x509.Certificate) {
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		c.DNSNames = []string{"localhost"}
	})
}

// Client issues a client certificate named name.
func (ca *CA) Client(tb testing.TB, name string) Pair {
	tb.Helper()
	return ca.issue(tb, name, x509.ExtKeyUsageClientAuth, func(*x509.Certificate) {})
}

// issue signs a leaf certificate for usage, completed by fill.
func (ca *CA) issue(tb testing.TB, name string, usage x509.ExtKeyUsage, fill func(*x509.Certificate)) Pair {
	tb.Helper()
	key := newKey(tb)
	tmpl := template(tb, name)
	tmpl.KeyUsage, tmpl.ExtKeyUsage = x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{usage}
	fill(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatalf("tlstest: issue %s: %v", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("tlstest: %v", err)
	}
	return Pair{
		CertFile: ca.write(tb, name+".pem", "CERTIFICATE", der),
		KeyFile:  ca.write(tb, name+"-key.pem", "PRIVATE KEY", keyDER),
		TLS:      tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
}

// write stores one PEM block in the CA's directory and returns its path.
func (ca *CA) write(tb testing.TB, name, blockType string, der []byte) string {
	tb.Helper()
	path := filepath.Join(ca.dir, name)
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatalf("tlstest: %v", err)
	}
	return path
}

// template returns a certificate template named name with a random serial,
// valid from an hour ago for a day.
func template(tb testing.TB, name string) *x509.Certificate {
	tb.Helper()
	return &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
}

// newKey returns a fresh P-256 key.
func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("tlstest: %v", err)
	}
	return key
}

// serial returns a random certificate serial number.
func serial(tb testing.TB) *big.Int {
	tb.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		tb.Fatalf("tlstest: %v", err)
	}
	return n
}
