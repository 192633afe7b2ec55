package memcachedtest

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// command sends one text-protocol command to the server at addr and
// returns the lines of its answer, up to and including the line for which
// last reports true.
func command(addr, cmd string, last func(line string) bool) ([]string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("memcachedtest: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(cmd + "\r\n")); err != nil {
		return nil, fmt.Errorf("memcachedtest: %w", err)
	}
	r := bufio.NewReader(conn)
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("memcachedtest: %q: %w", cmd, err)
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if last(line) {
			return lines, nil
		}
	}
}

// Stats returns the general statistics ("stats") of the server at addr,
// such as "cmd_get", "cmd_set" and "get_misses", as numbers; non-numeric
// values are left out.
func Stats(addr string) (map[string]int64, error) {
	lines, err := command(addr, "stats", func(l string) bool { return l == "END" || strings.HasPrefix(l, "ERROR") })
	if err != nil {
		return nil, err
	}
	stats := make(map[string]int64, len(lines))
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "STAT" {
			continue
		}
		if n, err := strconv.ParseInt(f[2], 10, 64); err == nil {
			stats[f[1]] = n
		}
	}
	return stats, nil
}

// TTL returns the seconds the item at key has left on the server at addr
// (-1: it never expires) and whether the server holds the key, with
// memcached's meta get (memcached 1.6 and later).
func TTL(addr, key string) (secs int64, ok bool, err error) {
	lines, err := command(addr, "mg "+key+" t", func(string) bool { return true })
	if err != nil {
		return 0, false, err
	}
	f := strings.Fields(lines[0])
	switch {
	case len(f) == 1 && f[0] == "EN":
		return 0, false, nil
	case len(f) == 2 && f[0] == "HD" && strings.HasPrefix(f[1], "t"):
		secs, err := strconv.ParseInt(f[1][1:], 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("memcachedtest: meta get answer %q", lines[0])
		}
		return secs, true, nil
	}
	return 0, false, fmt.Errorf("memcachedtest: meta get answer %q", lines[0])
}
