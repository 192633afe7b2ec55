// Command _example is the ginsession demo app: the Gin counterpart of the
// Tornado seed with a LoginHandler, a MainHandler behind @authenticated and
// sessions in memcached.
//
// Run it with:
//
//	cd _example && go run .
//
// and open the URL it prints. Flags (each with an environment fallback):
// -addr (ADDR), -memcached (MEMCACHED), -idle (SESSION_IDLE),
// -remember-for (SESSION_REMEMBER_FOR), -stamp-check (SESSION_STAMP_CHECK)
// and -insecure-cookie (INSECURE_COOKIE); SESSION_SECRET comes from the
// environment only. Without a reachable memcached the app falls back to an
// in-process memory store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ginsession example:", err)
		os.Exit(1)
	}
}

// run parses the configuration, builds the app and serves it until SIGINT or
// SIGTERM, then shuts down gracefully.
func run(args []string) error {
	cfg, err := parseConfig(args, os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	slog.SetDefault(logger)
	cfg.logger = logger
	cfg.accessLog = os.Stderr
	if cfg.randomSecret {
		logger.Info("SESSION_SECRET is not set: using a random secret, so sessions end when the app restarts")
	}
	if os.Getenv(gin.EnvGinMode) == "" {
		gin.SetMode(gin.ReleaseMode)
	}

	handler, err := newApp(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	host := browseHost(cfg.addr)
	if !cfg.insecureCookie && !isLoopback(host) {
		logger.Warn("serving plain HTTP on a hostname other than localhost: browsers drop the Secure session cookie there; put HTTPS in front or pass -insecure-cookie", "host", host)
	}
	fmt.Printf("ginsession example: open http://%s/\n", net.JoinHostPort(host, portOf(ln.Addr())))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C kills the process
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// browseHost returns the host to put in the printed URL: the listen host, or
// localhost when listening on all interfaces.
func browseHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "localhost"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "localhost"
	}
	return host
}

// isLoopback reports whether host is localhost or a loopback address, where
// browsers accept Secure cookies over plain HTTP.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// portOf returns the port of a listener address.
func portOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return strconv.Itoa(t.Port)
	}
	_, port, _ := net.SplitHostPort(a.String())
	return port
}
