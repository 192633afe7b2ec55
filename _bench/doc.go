// Package bench compares ginsession with a raw-gomemcache floor and with
// gin-contrib/sessions' memcached store, all served through a real Gin
// engine against the same memcached process.
//
// It is its own module so that users of ginsession never download the
// comparison dependencies. Run the benchmarks and the ratio report with
//
//	bash _bench/run.sh
//
// and the HTTP load test (wrk against a real server) with
//
//	bash _bench/load.sh
//
// The benchmarks start their own memcached (memcached from PATH on a free
// loopback port, with internal/memcachedtest) unless MEMCACHED_ADDR names
// one, and skip with a message when memcached is not installed (the run
// fails instead under CI=true).
package bench
