// Package faultproxy is a TCP proxy for tests that stands between a client
// and one server and whose behaviour can be switched while connections are
// open: pass traffic through, swallow it (a network partition: the server
// keeps running and keeps its data, the client hears nothing), or delay
// every answer (a slow or overloaded server).
//
// A memcached killed and restarted empty is not the proxy's job: stop and
// restart the process behind it (memcachedtest.Server.Stop and Restart keep
// the address), and the proxy forwards to whatever listens there.
package faultproxy

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what a Proxy does with traffic.
type Mode int32

// The modes of a Proxy.
const (
	// Pass forwards both directions unchanged.
	Pass Mode = iota
	// Swallow reads what the client sends and drops it, and drops what the
	// server still answers, on new and existing connections alike, so the
	// client waits until its own timeout. Nothing is closed: a partition
	// does not reset connections.
	Swallow
	// Slow forwards requests at once and delivers each chunk of an answer
	// a fixed delay after it arrived, in order.
	Slow
)

// String names the mode for logs and histories.
func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Swallow:
		return "swallow"
	case Slow:
		return "slow"
	}
	return fmt.Sprintf("Mode(%d)", int32(m))
}

// Proxy forwards connections from its own loopback address to a target.
type Proxy struct {
	// Addr is the "host:port" clients connect to.
	Addr string

	target string
	ln     net.Listener
	mode   atomic.Int32
	delay  atomic.Int64 // nanoseconds, for Slow

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // both ends of every open pair, closed by Close
	closed bool
	wg     sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target, in Pass
// mode. The caller closes it with Close.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Mode returns the current mode.
func (p *Proxy) Mode() Mode { return Mode(p.mode.Load()) }

// SetMode switches every connection, open or future, to m. Slow keeps the
// delay set by SetDelay.
func (p *Proxy) SetMode(m Mode) { p.mode.Store(int32(m)) }

// SetDelay sets the delay of Slow mode (answer chunks already queued keep
// theirs).
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Close stops listening, closes every open connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track registers c so that Close can close it; false when the proxy is
// already closed (c is then closed here).
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve pumps the client's requests. The server connection is dialed on the
// first request that is to be forwarded, so a connection opened during a
// partition stays silent instead of failing fast, as a real one would.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	var server net.Conn
	defer func() {
		if server != nil {
			p.untrack(server)
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 && p.Mode() != Swallow {
			if server == nil {
				s, derr := net.Dial("tcp", p.target)
				if derr != nil || !p.track(s) {
					return // target down: the client sees the connection close
				}
				server = s
				p.wg.Add(1)
				go p.answers(server, client)
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// chunk is part of an answer and when it may be delivered.
type chunk struct {
	data []byte
	at   time.Time
}

// answers pumps the server's answers to the client, dropping them in
// Swallow mode and delaying them in Slow mode. A queue keeps pipelined
// answers in order while each waits out its own delay.
func (p *Proxy) answers(server, client net.Conn) {
	defer p.wg.Done()
	queue := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range queue {
			time.Sleep(time.Until(c.at))
			if p.Mode() == Swallow {
				continue // answered during a partition: lost on the way
			}
			if _, err := client.Write(c.data); err != nil {
				// Drain so the reader is never blocked on a full queue.
				for range queue {
				}
				return
			}
		}
	}()
	for {
		buf := make([]byte, 32<<10)
		n, err := server.Read(buf)
		if n > 0 {
			at := time.Now()
			if p.Mode() == Slow {
				at = at.Add(time.Duration(p.delay.Load()))
			}
			queue <- chunk{buf[:n], at}
		}
		if err != nil {
			close(queue)
			<-done
			// The server closed (killed): close the client too, as the
			// network would have passed the reset on; during a partition
			// nothing reaches the client, and serve closes it when its
			// next forwarded request fails.
			if p.Mode() != Swallow {
				_ = client.Close()
			}
			_ = server.Close()
			return
		}
	}
}
