// Command ratios reads raw `go test -bench -benchmem` output of the
// ginsession comparison benchmarks and prints the median of every
// benchmark, the ratios between contenders, and PASS/FAIL against the
// project's performance targets:
//
//   - ginsession read and write within 1.10x of the floor's ns/op (with the
//     record MAC on);
//   - ginsession at least 1.7x faster than gin-contrib/sessions on read and write;
//   - a route that does not touch the session within 200 ns and 2 allocs of a bare Gin route;
//   - allocations per read at most the floor's + 3, per write the floor's + 6.
//
// Usage:
//
//	go run ./cmd/ratios [-strict] results/bench-*.txt
//
// With no file arguments it reads standard input. With -strict it exits 1
// when a target fails. It uses only the standard library.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Targets.
const (
	maxVsFloor       = 1.10  // ginsession ns/op ÷ floor ns/op, at most
	minVsPeer        = 1.7   // gincontrib ns/op ÷ ginsession ns/op, at least
	maxUntouchedNs   = 200.0 // ginsession untouched − bare, ns/op
	maxUntouchedAllo = 2.0   // ginsession untouched − bare, allocs/op
	maxReadAllocs    = 3.0   // ginsession read allocs − floor read allocs
	maxWriteAllocs   = 6.0   // ginsession write allocs − floor write allocs
)

// sample holds the repeated measurements of one benchmark.
type sample struct {
	ns, cpu, bytes, allocs []float64
}

// stats is the median and relative half-range of a series.
type stats struct {
	med, spread float64 // spread = (max-min)/2/med
	n           int
}

func summarize(xs []float64) stats {
	if len(xs) == 0 {
		return stats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var med float64
	if n := len(s); n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	st := stats{med: med, n: len(s)}
	if med > 0 {
		st.spread = (s[len(s)-1] - s[0]) / 2 / med
	}
	return st
}

// line matches a benchmark result line, e.g.
// "BenchmarkRead/floor-2  7444  117338 ns/op  83000 cpu-ns/op  792 B/op  10 allocs/op",
// capturing the name (without the -GOMAXPROCS suffix) and the metrics.
var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+((?:\s+[0-9.e+]+ \S+)+)\s*$`)

// parse collects the samples of every benchmark in r into data.
func parse(r io.Reader, data map[string]*sample) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		s := data[m[1]]
		if s == nil {
			s = &sample{}
			data[m[1]] = s
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "cpu-ns/op":
				s.cpu = append(s.cpu, v)
			case "B/op":
				s.bytes = append(s.bytes, v)
			case "allocs/op":
				s.allocs = append(s.allocs, v)
			}
		}
	}
	return sc.Err()
}

// report prints the tables and returns the number of failed targets.
type report struct {
	w      io.Writer
	data   map[string]*sample
	failed int
	graded int
}

// get returns the summaries of benchmark name, and whether it was measured.
func (r *report) get(name string) (ns, allocs stats, ok bool) {
	s := r.data[name]
	if s == nil || len(s.ns) == 0 {
		return stats{}, stats{}, false
	}
	return summarize(s.ns), summarize(s.allocs), true
}

// cpu returns the cpu-ns/op summary of benchmark name.
func (r *report) cpu(name string) (stats, bool) {
	s := r.data[name]
	if s == nil || len(s.cpu) == 0 {
		return stats{}, false
	}
	return summarize(s.cpu), true
}

// cpuTable prints the benchmark process's CPU time per request.
func (r *report) cpuTable() {
	fmt.Fprintln(r.w, "CPU time per request of the benchmark process (cpu-ns/op: Gin + library + memcached client,")
	fmt.Fprintln(r.w, "GC and scheduler included, memcached's own CPU excluded), medians:")
	fmt.Fprintln(r.w)
	fmt.Fprintln(r.w, "| workload | floor / bare | ginsession | gincontrib | ginsession − base | ginsession/base | gincontrib/ginsession |")
	fmt.Fprintln(r.w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, w := range append(slices.Clone(workloads), "Untouched", "UntouchedParallel") {
		base := "floor"
		if strings.HasPrefix(w, "Untouched") {
			base = "bare"
		}
		b, bok := r.cpu("Benchmark" + w + "/" + base)
		g, gok := r.cpu("Benchmark" + w + "/ginsession")
		c, cok := r.cpu("Benchmark" + w + "/gincontrib")
		if !bok && !gok && !cok {
			continue
		}
		delta := "-"
		if bok && gok {
			delta = fmt.Sprintf("%+.1fµs", (g.med-b.med)/1e3)
		}
		fmt.Fprintf(r.w, "| %s | %s | %s | %s | %s | %s | %s |\n", w,
			fmtNs(b, bok), fmtNs(g, gok), fmtNs(c, cok), delta,
			ratio(g, b, bok && gok), ratio(c, g, gok && cok))
	}
	fmt.Fprintln(r.w)
}

// fmtNs formats a ns/op median with its spread.
func fmtNs(st stats, ok bool) string {
	if !ok {
		return "-"
	}
	var v string
	switch {
	case st.med >= 1e6:
		v = fmt.Sprintf("%.2fms", st.med/1e6)
	case st.med >= 1e3:
		v = fmt.Sprintf("%.1fµs", st.med/1e3)
	default:
		v = fmt.Sprintf("%.0fns", st.med)
	}
	return fmt.Sprintf("%s ±%.0f%%", v, st.spread*100)
}

// ratio formats a/b.
func ratio(a, b stats, ok bool) string {
	if !ok || b.med == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a.med/b.med)
}

// workloads are the session workloads with floor, ginsession and gincontrib.
var workloads = []string{"Read", "ReadParallel", "Write", "WriteParallel", "NewVisitor", "NewVisitorParallel"}

func (r *report) medians() {
	fmt.Fprintln(r.w, "Medians (ns/op ±half the min-max range; allocs/op) and ratios of medians:")
	fmt.Fprintln(r.w)
	fmt.Fprintln(r.w, "| workload | floor | ginsession | gincontrib | ginsession/floor | gincontrib/ginsession | gincontrib/floor | allocs floor / ginsession / gincontrib |")
	fmt.Fprintln(r.w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, w := range workloads {
		fn, fa, fok := r.get("Benchmark" + w + "/floor")
		gn, ga, gok := r.get("Benchmark" + w + "/ginsession")
		cn, ca, cok := r.get("Benchmark" + w + "/gincontrib")
		if !fok && !gok && !cok {
			continue
		}
		fmt.Fprintf(r.w, "| %s | %s | %s | %s | %s | %s | %s | %s / %s / %s |\n", w,
			fmtNs(fn, fok), fmtNs(gn, gok), fmtNs(cn, cok),
			ratio(gn, fn, fok && gok), ratio(cn, gn, gok && cok), ratio(cn, fn, fok && cok),
			fmtAllocs(fa, fok), fmtAllocs(ga, gok), fmtAllocs(ca, cok))
	}
	fmt.Fprintln(r.w)
	fmt.Fprintln(r.w, "Untouched route (middleware installed, session never used) vs a bare Gin route;")
	fmt.Fprintln(r.w, "ginset is a middleware that only stores a pointer with gin's c.Set, as any")
	fmt.Fprintln(r.w, "middleware passing per-request state through c.Keys must:")
	fmt.Fprintln(r.w)
	fmt.Fprintln(r.w, "| workload | bare | ginset | Δ ns | Δ allocs | ginsession | Δ ns | Δ allocs | gincontrib | Δ ns | Δ allocs |")
	fmt.Fprintln(r.w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, w := range []string{"Untouched", "UntouchedParallel"} {
		bn, ba, bok := r.get("Benchmark" + w + "/bare")
		if !bok {
			continue
		}
		fmt.Fprintf(r.w, "| %s | %s, %s allocs |", w, fmtNs(bn, true), fmtAllocs(ba, true))
		for _, lib := range []string{"ginset", "ginsession", "gincontrib"} {
			n, a, ok := r.get("Benchmark" + w + "/" + lib)
			if !ok {
				fmt.Fprint(r.w, " - | - | - |")
				continue
			}
			fmt.Fprintf(r.w, " %s, %s allocs | %+.0f | %+.0f |", fmtNs(n, true), fmtAllocs(a, true), n.med-bn.med, a.med-ba.med)
		}
		fmt.Fprintln(r.w)
	}
	fmt.Fprintln(r.w)
}

// fmtAllocs formats an allocs/op median.
func fmtAllocs(st stats, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(st.med, 'f', -1, 64)
}

// check prints one target row.
func (r *report) check(target, measured, limit string, pass, ok bool) {
	res := "PASS"
	switch {
	case !ok:
		res, measured = "n/a", "not measured"
	case !pass:
		res = "FAIL"
		r.failed++
	}
	if ok {
		r.graded++
	}
	fmt.Fprintf(r.w, "| %s | %s | %s | %s |\n", target, measured, limit, res)
}

func (r *report) targets() {
	fmt.Fprintln(r.w, "Targets, on medians:")
	fmt.Fprintln(r.w)
	fmt.Fprintln(r.w, "| target | measured | limit | result |")
	fmt.Fprintln(r.w, "|---|---:|---:|---|")
	for _, w := range []string{"Read", "Write", "ReadParallel", "WriteParallel"} {
		fn, _, fok := r.get("Benchmark" + w + "/floor")
		gn, _, gok := r.get("Benchmark" + w + "/ginsession")
		ok := fok && gok && fn.med > 0
		var q float64
		if ok {
			q = gn.med / fn.med
		}
		r.check(w+": ginsession ns/op ÷ floor", fmt.Sprintf("%.3fx", q), fmt.Sprintf("≤ %.2fx", maxVsFloor), q <= maxVsFloor, ok)
	}
	for _, w := range []string{"Read", "Write", "ReadParallel", "WriteParallel"} {
		fn, _, fok := r.get("Benchmark" + w + "/floor")
		gn, _, gok := r.get("Benchmark" + w + "/ginsession")
		cn, _, cok := r.get("Benchmark" + w + "/gincontrib")
		ok := gok && cok && gn.med > 0
		var q float64
		measured := ""
		if ok {
			q = cn.med / gn.med
			measured = fmt.Sprintf("%.3fx", q)
			if fok && fn.med > 0 {
				// No library can beat the floor: gincontrib ÷ floor bounds
				// this ratio (memcached round trips dominate when it is low).
				measured += fmt.Sprintf(" (ceiling gincontrib÷floor %.2fx)", cn.med/fn.med)
			}
		}
		r.check(w+": gincontrib ns/op ÷ ginsession", measured, fmt.Sprintf("≥ %.2fx", minVsPeer), q >= minVsPeer, ok)
	}
	for _, w := range []string{"Untouched", "UntouchedParallel"} {
		bn, ba, bok := r.get("Benchmark" + w + "/bare")
		un, ua, uok := r.get("Benchmark" + w + "/ginsession")
		ok := bok && uok
		r.check(w+": ginsession − bare, ns/op", fmt.Sprintf("%+.0f ns", un.med-bn.med), fmt.Sprintf("≤ %.0f ns", maxUntouchedNs), un.med-bn.med <= maxUntouchedNs, ok)
		r.check(w+": ginsession − bare, allocs/op", fmt.Sprintf("%+.0f", ua.med-ba.med), fmt.Sprintf("≤ %.0f", maxUntouchedAllo), ua.med-ba.med <= maxUntouchedAllo, ok)
	}
	for _, a := range []struct {
		workload string
		limit    float64
	}{{"Read", maxReadAllocs}, {"ReadParallel", maxReadAllocs}, {"Write", maxWriteAllocs}, {"WriteParallel", maxWriteAllocs}} {
		_, fa, fok := r.get("Benchmark" + a.workload + "/floor")
		_, ga, gok := r.get("Benchmark" + a.workload + "/ginsession")
		r.check(a.workload+": ginsession allocs/op − floor", fmt.Sprintf("%+.0f (%.0f vs %.0f)", ga.med-fa.med, ga.med, fa.med), fmt.Sprintf("≤ +%.0f", a.limit), ga.med-fa.med <= a.limit, fok && gok)
	}
	fmt.Fprintln(r.w)
	fmt.Fprintf(r.w, "%d of %d measured targets met.\n", r.graded-r.failed, r.graded)
}

func main() {
	strict := flag.Bool("strict", false, "exit with status 1 when a target fails")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: ratios [-strict] [bench-output.txt ...]")
		flag.PrintDefaults()
	}
	flag.Parse()

	data := map[string]*sample{}
	if flag.NArg() == 0 {
		if err := parse(os.Stdin, data); err != nil {
			fmt.Fprintln(os.Stderr, "ratios:", err)
			os.Exit(2)
		}
	}
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ratios:", err)
			os.Exit(2)
		}
		err = parse(f, data)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "ratios:", err)
			os.Exit(2)
		}
	}
	if len(data) == 0 {
		fmt.Fprintln(os.Stderr, "ratios: no benchmark results found")
		os.Exit(2)
	}
	names := make([]string, 0, len(data))
	for n := range data {
		names = append(names, n)
	}
	slices.Sort(names)
	counts := map[int]int{}
	for _, n := range names {
		counts[len(data[n].ns)]++
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d with %d samples", counts[k], k))
	}
	fmt.Printf("%d benchmarks: %s\n\n", len(names), strings.Join(parts, ", "))

	r := &report{w: os.Stdout, data: data}
	r.medians()
	r.cpuTable()
	r.targets()
	if *strict && r.failed > 0 {
		os.Exit(1)
	}
}
