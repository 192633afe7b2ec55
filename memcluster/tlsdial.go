package memcluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// ErrTLS marks a connection that TLS refused: a failed handshake (a server
// certificate that does not verify, a plain-TCP server) or memcached
// refusing the client (no client certificate, or one it does not trust).
// Connection failures below TLS (refused, timed out) are not wrapped.
var ErrTLS = errors.New("memcluster: TLS to memcached failed")

// TLSDialer returns a DialContext for a *memcache.Client that reaches
// memcached over TLS with cfg (memcached -Z); Options.TLS uses it for every
// server. With an empty cfg.ServerName the server's host name or IP address
// is verified. Each new connection completes its handshake and then one
// "version" round trip before it is used: with TLS 1.3 a server refuses a
// client certificate only after the client's side of the handshake has
// finished, so without the round trip that refusal would surface later as
// a bare "connection reset" on the first command. It costs one round trip
// per new connection, none per operation (connections are pooled). A nil
// cfg is the zero tls.Config: the system's roots, Go's defaults.
func TLSDialer(cfg *tls.Config) func(ctx context.Context, network, address string) (net.Conn, error) {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	var d net.Dialer
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		raw, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		conf := cfg
		if cfg.ServerName == "" {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				raw.Close()
				return nil, err
			}
			conf = cfg.Clone()
			conf.ServerName = host
		}
		conn := tls.Client(raw, conf)
		if err := conn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("%w: %s: %w", ErrTLS, address, err)
		}
		if err := confirmTLS(ctx, conn); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: %s refused the connection after the handshake (check the client certificate): %w", ErrTLS, address, err)
		}
		return conn, nil
	}
}

// confirmTLS runs "version" on a fresh connection: memcached answers it
// once it has accepted the client, or sends the TLS alert that says why
// not.
func confirmTLS(ctx context.Context, conn net.Conn) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(memcache.DefaultTimeout)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("version\r\n")); err != nil {
		return err
	}
	// The reply is the only thing memcached sends until the next command,
	// so the buffered reader cannot take bytes the client needs later.
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("memcached answered %q to version", strings.TrimSpace(line))
	}
	return conn.SetDeadline(time.Time{})
}
