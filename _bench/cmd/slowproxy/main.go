// Command slowproxy is a TCP proxy that delays everything the target
// sends back by a fixed time, as a slow or overloaded memcached would (see
// ../../faults.sh). Requests go through at once; each chunk of the answer
// is delivered delay after it arrived, in order, so pipelined requests are
// delayed, not serialized.
//
//	slowproxy -listen 127.0.0.1:21211 -target 127.0.0.1:11211 -delay 300ms
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:21211", "listen address")
	target := flag.String("target", "127.0.0.1:11211", "address to forward to")
	delay := flag.Duration("delay", 300*time.Millisecond, "delay added to every answer")
	flag.Parse()

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("slowproxy: %v", err)
	}
	for {
		conn, err := l.Accept()
		if err != nil {
			log.Fatalf("slowproxy: %v", err)
		}
		go proxy(conn, *target, *delay)
	}
}

// chunk is part of an answer and when it may be delivered.
type chunk struct {
	data []byte
	at   time.Time
}

// proxy joins client to a new connection to target, delaying the answers.
func proxy(client net.Conn, target string, delay time.Duration) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(server, client)
		_ = server.Close()
	}()
	queue := make(chan chunk, 1024)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := server.Read(buf)
			if n > 0 {
				queue <- chunk{buf[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		time.Sleep(time.Until(c.at))
		if _, err := client.Write(c.data); err != nil {
			return
		}
	}
}
