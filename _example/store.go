package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession"
)

// pingTimeout bounds the start-up check of each memcached server.
const pingTimeout = 500 * time.Millisecond

// store is the session store the app runs on.
type store struct {
	// memcached lists the servers in use; empty with the memory client.
	memcached []string

	// client is the in-process store, when memcached was unreachable.
	client ginsession.Client

	// description tells the user which store is in use (page footer).
	description string
}

// openStore pings each memcached server once. When at least one answers,
// sessions go to the listed servers (ginsession fails over between them);
// when none does, it logs a warning and falls back to the in-process
// memory client, so the example runs on a machine without memcached.
func openStore(servers []string, logger *slog.Logger) store {
	var up []string
	for _, addr := range servers {
		if err := ping(addr); err != nil {
			logger.Warn("memcached server unreachable", "server", addr, "error", err)
			continue
		}
		up = append(up, addr)
	}
	if len(up) == 0 {
		logger.Warn("no memcached server answered: using the in-process memory store; sessions end when the app stops (start memcached or pass -memcached host:port)",
			"servers", strings.Join(servers, ","))
		return store{
			client:      ginsession.NewMemoryClient(),
			description: "in-process memory store (sessions end at restart)",
		}
	}
	if len(up) < len(servers) {
		logger.Warn("some memcached servers are down; sessions on them are unavailable until they return", "up", strings.Join(up, ","))
	}
	logger.Info("session store: memcached", "servers", strings.Join(servers, ","))
	return store{
		memcached:   servers,
		description: "memcached at " + strings.Join(servers, ", "),
	}
}

// ping checks that a memcached server answers within pingTimeout.
func ping(addr string) error {
	var ss memcache.ServerList
	if err := ss.SetServers(addr); err != nil {
		return fmt.Errorf("bad address: %w", err)
	}
	c := memcache.NewFromSelector(&ss)
	c.Timeout = pingTimeout
	c.MaxIdleConns = 1
	if err := c.Ping(); err != nil {
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("no answer within %v", pingTimeout)
		}
		return err
	}
	return nil
}
