package memcachedtest

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
)

// TLS is what StartTLS gives memcached's TLS listener (memcached -Z).
type TLS struct {
	// CertFile and KeyFile are the server's certificate chain and key, PEM.
	CertFile, KeyFile string
	// ClientCAFile, when set, makes memcached require a client certificate
	// issued by this CA (ssl_verify_mode=2): mutual TLS.
	ClientCAFile string
	// Ready is the client configuration the readiness check connects with
	// (with a client certificate when ClientCAFile is set).
	Ready *tls.Config
}

// StartTLS is Start for a memcached that speaks only TLS, configured by
// t. flags, when given, replace the default tuning flags; the TLS flags
// are added to them.
func StartTLS(tb testing.TB, t TLS, flags ...string) *Server {
	tb.Helper()
	if len(flags) == 0 {
		flags = defaultFlags
	}
	opts := []string{"ssl_chain_cert=" + t.CertFile, "ssl_key=" + t.KeyFile}
	if t.ClientCAFile != "" {
		opts = append(opts, "ssl_ca_cert="+t.ClientCAFile, "ssl_verify_mode=2")
	}
	flags = slices.Concat(flags, []string{"-Z", "-o", strings.Join(opts, ",")})
	dialer := &tls.Dialer{Config: t.Ready}
	s, err := launch("", dialer.DialContext, flags)
	return owned(tb, s, err)
}
