#!/usr/bin/env bash
# Runs the ginsession comparison benchmarks (floor, ginsession, gincontrib)
# against one memcached, saves the raw output under _bench/results/, and
# prints benchstat's table and the ratio/target report of cmd/ratios.
#
#   bash _bench/run.sh                  # all benchmarks, 6 rounds
#   COUNT=10 BENCH='Read|Write' bash _bench/run.sh
#
# Environment:
#   COUNT          rounds (samples per benchmark), default 6 (at least 5 advised)
#   BENCH          -bench regexp, default "."
#   BENCHTIME      -benchtime per sample, default 0.5s
#   INTERLEAVE     1 (default): build the test binary once and run it COUNT
#                  times with -count 1, so every round measures all contenders
#                  one after another and slow phases of a shared machine hit
#                  them alike; 0: one `go test -count COUNT` (each benchmark's
#                  samples back to back)
#   MEMCACHED_ADDR use this memcached instead of starting one
#   BENCH_MAXIDLE  gomemcache MaxIdleConns of every contender, default 64
#   BENCH_PARALLELISM  RunParallel goroutines per GOMAXPROCS, default 4
#   STRICT=1       exit 1 when a target fails
#   AWAKE=1        keep every CPU busy with a SCHED_IDLE spin loop during the
#                  run. On VMs whose idle vCPUs halt (wake-ups through the
#                  hypervisor), a loopback memcached round trip can cost
#                  100+ µs of wake-up latency; the spinners (which yield to
#                  any other task) cut that, making serial results less noisy.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

COUNT="${COUNT:-6}"
BENCH="${BENCH:-.}"
BENCHTIME="${BENCHTIME:-0.5s}"
INTERLEAVE="${INTERLEAVE:-1}"
BENCHSTAT="golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"

mkdir -p results
stamp="$(date +%Y%m%d-%H%M%S)"
raw="results/bench-$stamp.txt"

mc_pid=""
spin_pids=()
cleanup() {
	for p in $mc_pid "${spin_pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

if [[ -z "${MEMCACHED_ADDR:-}" ]]; then
	if [[ ! -x /usr/bin/memcached ]]; then
		echo "run.sh: /usr/bin/memcached not found (apt-get install memcached) and MEMCACHED_ADDR unset" >&2
		exit 1
	fi
	port="$(free_port)"
	user=()
	[[ "$(id -u)" == 0 ]] && user=(-u nobody)
	/usr/bin/memcached -l 127.0.0.1 -p "$port" -U 0 -t 2 -m 1024 "${user[@]}" &
	mc_pid=$!
	export MEMCACHED_ADDR="127.0.0.1:$port"
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
fi

{
	echo "# ginsession comparison benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3-)"
	echo "# memcached: $(/usr/bin/memcached -V 2>/dev/null || echo unknown) at $MEMCACHED_ADDR"
	echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# COUNT=$COUNT BENCH=$BENCH BENCHTIME=$BENCHTIME INTERLEAVE=$INTERLEAVE AWAKE=${AWAKE:-0} BENCH_MAXIDLE=${BENCH_MAXIDLE:-64} BENCH_PARALLELISM=${BENCH_PARALLELISM:-4}"
} >"$raw"

echo "run.sh: memcached at $MEMCACHED_ADDR; writing $raw"
load1="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$load1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
	echo "run.sh: WARNING: load average $load1 on $(nproc) CPUs: other work is running and will skew the results" >&2
fi
failed=0
if [[ "${AWAKE:-0}" == 1 ]]; then
	for _ in $(seq "$(nproc)"); do
		chrt -i 0 bash -c 'while :; do :; done' &
		spin_pids+=($!)
	done
	echo "run.sh: AWAKE=1: $(nproc) SCHED_IDLE spinners running" >&2
fi
if [[ "$INTERLEAVE" == 1 ]]; then
	bin="results/bench.test"
	go test -c -o "$bin" .
	for i in $(seq "$COUNT"); do
		echo "run.sh: round $i/$COUNT (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
		"./$bin" -test.run '^$' -test.bench "$BENCH" -test.benchmem \
			-test.benchtime "$BENCHTIME" -test.count 1 | tee -a "$raw" || failed=1
	done
else
	go test -run '^$' -bench "$BENCH" -benchmem -benchtime "$BENCHTIME" -count "$COUNT" . | tee -a "$raw" || failed=1
fi
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$raw"

# benchstat compares columns against the first one. A copy of the raw
# output names each contender as a lib= key, with the floor (session
# workloads) and the bare Gin route (Untouched) both as "baseline".
stat="results/bench-$stamp.benchstat.txt"
sed -E 's#^(Benchmark[A-Za-z]+)/(floor|bare)-#\1/lib=baseline-#; s#^(Benchmark[A-Za-z]+)/(ginsession|gincontrib)-#\1/lib=\2-#' "$raw" >"$stat"
echo
echo "== benchstat (baseline = floor for session workloads, bare Gin for Untouched)"
go run "$BENCHSTAT" -col '/lib@(baseline ginsession gincontrib)' "$stat"
echo
echo "== ratios $raw"
strict=()
[[ "${STRICT:-0}" == 1 ]] && strict=(-strict)
go run ./cmd/ratios "${strict[@]}" "$raw"
if [[ "$failed" == 1 ]]; then
	echo "run.sh: some benchmarks failed (see $raw); the tables above use the samples that completed" >&2
	exit 1
fi
