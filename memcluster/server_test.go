package memcluster

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestCASIDsAreTaggedPerServer(t *testing.T) {
	a, b := &server{index: 0}, &server{index: 4}
	id := a.tagCAS(12345)
	if raw, ok := a.untagCAS(id); !ok || raw != 12345 {
		t.Fatalf("untag own id: %d %v", raw, ok)
	}
	if _, ok := b.untagCAS(id); ok {
		t.Fatal("another server accepted a foreign CAS id")
	}
	if raw, ok := b.untagCAS(777); !ok || raw != 777 {
		t.Fatal("untagged ids must pass through")
	}
	last := &server{index: MaxServers - 1} // the largest tag fits the 8 bits
	if raw, ok := last.untagCAS(last.tagCAS(1)); !ok || raw != 1 || last.tagCAS(1)>>casTagShift != MaxServers {
		t.Fatalf("server %d: tag %#x", last.index, last.tagCAS(1))
	}
}

func TestErrorsOmitKeys(t *testing.T) {
	// A server that answers every get with a malformed line echoing the key,
	// which gomemcache quotes in its error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					f := strings.Fields(line)
					if len(f) < 2 {
						return
					}
					fmt.Fprintf(conn, "VALUE %s notanumber 1\r\n", f[1])
				}
			}()
		}
	}()
	_, addrs := startServers(t, 1)
	c := newTestClient(t, []string{l.Addr().String(), addrs[0]}, Options{Timeout: time.Second, MaxIdleConns: 2, DownBackoff: time.Minute})
	var key string
	for i := 0; ; i++ {
		if key = testKey(i); c.owners(key)[0] == l.Addr().String() {
			break
		}
	}
	_, err = c.Get(key)
	if err == nil || strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Fatalf("garbage answer: error %v, want one naming the server and not the key", err)
	}
	if !strings.HasPrefix(err.Error(), "memcluster: ") {
		t.Errorf("error %q does not start with \"memcluster: \"", err)
	}
	if c.servers[0].available(time.Now().UnixNano(), c.backoff) != admitUp {
		t.Fatal("a server that answers (badly) must not be marked down")
	}
}
