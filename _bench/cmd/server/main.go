// Command server serves the comparison routes of one contender over real
// HTTP, for load tests with wrk (see ../../load.sh):
//
//	server -lib ginsession -addr 127.0.0.1:8080 -memcached 127.0.0.1:11211
//
// Routes: /login (creates a session and sends its cookie), /read, /write,
// /new, /untouched, as documented in package contenders. -lib bare serves
// only /untouched, with no middleware.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ginsession/ginsession/_bench/contenders"
)

func main() {
	lib := flag.String("lib", "ginsession", "contender: floor, ginsession, gincontrib or bare")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	mc := flag.String("memcached", "127.0.0.1:11211", "memcached address")
	maxIdle := flag.Int("maxidle", 64, "gomemcache MaxIdleConns of the contender's client")
	flag.Parse()

	engine, ok := contenders.New(*lib, *mc, *maxIdle)
	if !ok {
		fmt.Fprintf(os.Stderr, "server: unknown -lib %q (floor, ginsession, gincontrib, bare)\n", *lib)
		os.Exit(2)
	}
	srv := &http.Server{Addr: *addr, Handler: engine, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Printf("server: %s on http://%s (memcached %s, MaxIdleConns %d)", *lib, *addr, *mc, *maxIdle)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("server: %v", err)
	}
}
