// Command loadgen drives cmd/faultserver for ../../faults.sh, so the fault
// scenarios need nothing but Go and memcached. Three modes, each printing
// one line of key=value figures on stdout:
//
//	loadgen login -url http://127.0.0.1:8080 -n 100 -out cookies.txt
//	    logs in users u0..u(n-1) and saves their session cookies
//	loadgen load  -url ... -cookies cookies.txt -duration 10s -conns 32 -writes 4
//	    replays the cookies on /me (every -writes-th request on /write)
//	    from -conns workers; counts statuses, latency percentiles and the
//	    times of the first and last 5xx (Unix milliseconds)
//	loadgen check -url ... -cookies cookies.txt
//	    loads /me once per cookie: still logged in (200), logged out (401), 5xx
//	loadgen freeport
//	    prints a free loopback TCP port
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen login|load|check|freeport [flags]")
		os.Exit(2)
	}
	if os.Args[1] == "freeport" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		_ = l.Close()
		return
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	n := fs.Int("n", 100, "login: users to log in")
	out := fs.String("out", "cookies.txt", "login: file to save the cookies to")
	cookiesFile := fs.String("cookies", "cookies.txt", "load, check: cookies saved by login")
	duration := fs.Duration("duration", 10*time.Second, "load: how long")
	conns := fs.Int("conns", 32, "concurrent requests")
	writes := fs.Int("writes", 4, "load: every n-th request goes to /write (0: none)")
	_ = fs.Parse(os.Args[2:])

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: *conns, DisableCompression: true,
	}}
	var err error
	switch os.Args[1] {
	case "login":
		err = login(client, *base, *n, *conns, *out)
	case "load":
		err = load(client, *base, *cookiesFile, *duration, *conns, *writes)
	case "check":
		err = check(client, *base, *cookiesFile, *conns)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// get requests base+path with cookie and returns the status (0 for a
// transport error) and the Set-Cookie header's session cookie, if any.
func get(client *http.Client, url, cookie string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, ""
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, ""
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	set, _, _ := strings.Cut(resp.Header.Get("Set-Cookie"), ";")
	return resp.StatusCode, set
}

// parallel runs fn(i) for i in [0, n) on conns workers.
func parallel(n, conns int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		})
	}
	wg.Wait()
}

func login(client *http.Client, base string, n, conns int, out string) error {
	cookies := make([]string, n)
	var t tally
	start := time.Now()
	parallel(n, conns, func(i int) {
		began := time.Now()
		code, set := get(client, fmt.Sprintf("%s/login?user=u%d", base, i), "")
		if code == http.StatusOK && set == "" {
			code = -1 // answered without a session cookie
		}
		t.add(code, time.Since(began))
		if code == http.StatusOK {
			cookies[i] = set
		}
	})
	cookies = slices.DeleteFunc(cookies, func(c string) bool { return c == "" })
	fmt.Printf("logins=%d failed=%d s5xx=%d neterr=%d seconds=%.1f p99_ms=%.1f\n",
		len(cookies), n-len(cookies), t.s5xx, t.neterr, time.Since(start).Seconds(), t.percentile(0.99))
	return os.WriteFile(out, []byte(strings.Join(cookies, "\n")+"\n"), 0o644)
}

func readCookies(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cookies []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			cookies = append(cookies, line)
		}
	}
	if len(cookies) == 0 {
		return nil, fmt.Errorf("%s: no cookies", path)
	}
	return cookies, sc.Err()
}

// tally counts outcomes; its methods are safe for concurrent use.
type tally struct {
	mu                            sync.Mutex
	ok, anon, s5xx, other, neterr int
	first5xx, last5xx             int64
	lat                           []time.Duration
}

func (t *tally) add(code int, took time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lat = append(t.lat, took)
	switch {
	case code == 0:
		t.neterr++
	case code < 300:
		t.ok++
	case code == http.StatusUnauthorized:
		t.anon++
	case code >= 500:
		t.s5xx++
		now := time.Now().UnixMilli()
		if t.first5xx == 0 {
			t.first5xx = now
		}
		t.last5xx = now
	default:
		t.other++
	}
}

// percentile returns the p-th percentile latency in milliseconds.
func (t *tally) percentile(p float64) float64 {
	if len(t.lat) == 0 {
		return 0
	}
	slices.Sort(t.lat)
	return float64(t.lat[int(p*float64(len(t.lat)-1))].Microseconds()) / 1000
}

func load(client *http.Client, base, cookiesFile string, duration time.Duration, conns, writes int) error {
	cookies, err := readCookies(cookiesFile)
	if err != nil {
		return err
	}
	var t tally
	var seq atomic.Int64
	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := int(seq.Add(1))
				path := "/me"
				if writes > 0 && i%writes == 0 {
					path = "/write"
				}
				began := time.Now()
				code, _ := get(client, base+path, cookies[i%len(cookies)])
				t.add(code, time.Since(began))
			}
		})
	}
	wg.Wait()
	took := time.Since(start).Seconds()
	total := len(t.lat)
	fmt.Printf("requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.1f ok=%d anon=%d s5xx=%d other=%d neterr=%d first5xx=%d last5xx=%d\n",
		total, float64(total)/took, t.percentile(0.50), t.percentile(0.99), t.ok, t.anon, t.s5xx, t.other, t.neterr, t.first5xx, t.last5xx)
	return nil
}

func check(client *http.Client, base, cookiesFile string, conns int) error {
	cookies, err := readCookies(cookiesFile)
	if err != nil {
		return err
	}
	var t tally
	parallel(len(cookies), conns, func(i int) {
		began := time.Now()
		code, _ := get(client, base+"/me", cookies[i])
		t.add(code, time.Since(began))
	})
	fmt.Printf("checked=%d in=%d out=%d s5xx=%d other=%d neterr=%d\n", len(cookies), t.ok, t.anon, t.s5xx, t.other, t.neterr)
	return nil
}
