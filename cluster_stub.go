package ginsession

import (
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// TEMPORARY until cluster.go lands: a plain ServerList client.
func newClusterClient(servers []string, replicas int, timeout time.Duration, maxIdleConns int, downBackoff time.Duration) (Client, error) {
	c := memcache.New(servers...)
	c.Timeout = timeout
	c.MaxIdleConns = maxIdleConns
	return c, nil
}
