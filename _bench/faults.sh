#!/usr/bin/env bash
# Fault scenarios under HTTP load: builds cmd/faultserver (a ginsession app),
# cmd/loadgen (the Go load generator) and cmd/slowproxy (a delaying TCP
# proxy), starts its own memcached processes on free loopback ports, and
# prints one table:
#
#   1. baseline        steady load on one memcached
#   2. killed 5 s      memcached killed mid-load, restarted (empty) 5 s later:
#                      5xx, time to recover, log lines during the outage
#   3. slow 300/800 ms every memcached answer delayed through slowproxy,
#                      against ginsession's per-operation Timeout (500 ms)
#   4. small memory    memcached -m 2 and 20k sessions: evictions
#   5. rolling restart three memcached, Replicas 2: one restarted empty, then
#                      another lost for good; users logged out
#
# Needs Go and memcached only. Each scenario runs at most 15 s (about a
# minute in all). The table also goes to _bench/results/faults-<time>.txt,
# the server logs of each scenario to _bench/results/faults-<time>/.
#
#   bash _bench/faults.sh
#
# Environment: CONNS (concurrent requests, default 32), LOAD (seconds of
# steady load in scenarios 1 and 3, default 5), MEMCACHED (binary, default
# memcached from PATH, else /usr/bin/memcached).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

CONNS="${CONNS:-32}"
LOAD="${LOAD:-5}"
MEMCACHED="${MEMCACHED:-$(command -v memcached || echo /usr/bin/memcached)}"
[[ -x "$MEMCACHED" ]] || {
	echo "faults.sh: memcached not found (apt-get install -y memcached)" >&2
	exit 1
}

work="$(mktemp -d)"
stamp="$(date +%Y%m%d-%H%M%S)"
logs="results/faults-$stamp"
mkdir -p "$logs"
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "faults.sh: building cmd/faultserver, cmd/loadgen, cmd/slowproxy" >&2
go build -o "$work/" ./cmd/faultserver ./cmd/loadgen ./cmd/slowproxy
gen="$work/loadgen"

now_ms() { date +%s%3N; }
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$2"; } # key file

wait_port() { # port
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "faults.sh: nothing listening on 127.0.0.1:$1" >&2
	return 1
}

declare -A mc_pid
mc_start() { # port [megabytes]
	local user=()
	[[ "$(id -u)" == 0 ]] && user=(-u nobody)
	"$MEMCACHED" -l 127.0.0.1 -p "$1" -U 0 -t 2 -m "${2:-64}" "${user[@]}" &
	mc_pid[$1]=$!
	pids+=($!)
	wait_port "$1"
}
mc_kill() { # port: as a crash would
	kill -9 "${mc_pid[$1]}" 2>/dev/null || true
	wait "${mc_pid[$1]}" 2>/dev/null || true
}
mc_stat() { # port name
	exec 3<>"/dev/tcp/127.0.0.1/$1"
	printf 'stats\r\nquit\r\n' >&3
	tr -d '\r' <&3 | awk -v k="$2" '$2 == k {print $3}'
	exec 3<&-
}

server_pid=
server_start() { # log file, then faultserver flags; sets url
	local log="$1" port
	shift
	port="$("$gen" freeport)"
	"$work/faultserver" -addr "127.0.0.1:$port" "$@" 2>"$log" &
	server_pid=$!
	pids+=("$server_pid")
	wait_port "$port"
	url="http://127.0.0.1:$port"
}
server_stop() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
}

table="$work/table"
printf '| scenario | requests | req/s | p50 | p99 | 5xx | result |\n|---|---:|---:|---:|---:|---:|---|\n' >"$table"
row() { # scenario, load output file, result
	printf '| %s | %s | %s | %s ms | %s ms | %s | %s |\n' "$1" "$(kv requests "$2")" "$(kv rps "$2")" \
		"$(kv p50_ms "$2")" "$(kv p99_ms "$2")" "$(kv s5xx "$2")" "$3" >>"$table"
}
lines() { wc -l <"$1" | tr -d ' '; }

# 1. Baseline.
echo "faults.sh: 1. baseline (${LOAD} s)" >&2
m1="$("$gen" freeport)"
mc_start "$m1"
server_start "$logs/s1.log" -memcached "127.0.0.1:$m1"
"$gen" login -url "$url" -n 64 -out "$work/c1" >/dev/null
"$gen" load -url "$url" -cookies "$work/c1" -duration "${LOAD}s" -conns "$CONNS" >"$work/l1"
row "1. baseline, one memcached" "$work/l1" "$(kv ok "$work/l1") answered 2xx, $(kv neterr "$work/l1") transport errors"
server_stop

# 2. memcached killed for 5 s mid-load, restarted empty.
echo "faults.sh: 2. memcached killed for 5 s (12 s)" >&2
server_start "$logs/s2.log" -memcached "127.0.0.1:$m1"
"$gen" login -url "$url" -n 64 -out "$work/c2" >/dev/null
"$gen" load -url "$url" -cookies "$work/c2" -duration 12s -conns "$CONNS" >"$work/l2" &
load_pid=$!
sleep 3
n_kill="$(lines "$logs/s2.log")"
mc_kill "$m1"
t_kill="$(now_ms)"
sleep 5
mc_start "$m1"
t_back="$(now_ms)"
n_back="$(lines "$logs/s2.log")"
wait "$load_pid"
n_end="$(lines "$logs/s2.log")"
last5xx="$(kv last5xx "$work/l2")"
recover=$(((last5xx > t_back ? last5xx - t_back : 0)))
row "2. memcached killed 5 s, restarted empty" "$work/l2" \
	"last 5xx ${recover} ms after the restart; $((n_back - n_kill)) log lines in the $(((t_back - t_kill) / 1000)) s outage ($((n_end - n_kill)) in all); $(kv anon "$work/l2") requests anonymous after it (the restart emptied memcached)"
server_stop

# 3. memcached slowed by a delaying proxy. Users log in directly; the
# server under load reaches memcached through the proxy.
for delay in 300 800; do
	echo "faults.sh: 3. memcached answers delayed ${delay} ms (${LOAD} s)" >&2
	server_start "$logs/s3d.log" -memcached "127.0.0.1:$m1"
	"$gen" login -url "$url" -n 64 -out "$work/c3" >/dev/null
	server_stop
	pport="$("$gen" freeport)"
	"$work/slowproxy" -listen "127.0.0.1:$pport" -target "127.0.0.1:$m1" -delay "${delay}ms" &
	proxy_pid=$!
	pids+=("$proxy_pid")
	wait_port "$pport"
	server_start "$logs/s3.log" -memcached "127.0.0.1:$pport"
	"$gen" load -url "$url" -cookies "$work/c3" -duration "${LOAD}s" -conns "$CONNS" >"$work/l3"
	row "3. memcached ${delay} ms slower (Timeout 500 ms)" "$work/l3" \
		"$(kv ok "$work/l3") answered 2xx; $(lines "$logs/s3.log") log lines"
	server_stop
	kill "$proxy_pid" 2>/dev/null || true
	wait "$proxy_pid" 2>/dev/null || true
done
mc_kill "$m1"

# 4. Small memory: 20k sessions in 2 MB.
echo "faults.sh: 4. memcached -m 2, 20k sessions" >&2
m4="$("$gen" freeport)"
mc_start "$m4" 2
server_start "$logs/s4.log" -memcached "127.0.0.1:$m4"
"$gen" login -url "$url" -n 20000 -conns "$CONNS" -out "$work/c4" >"$work/g4"
"$gen" check -url "$url" -cookies "$work/c4" -conns "$CONNS" >"$work/k4"
printf '| %s | %s | | | | %s | %s |\n' "4. memcached -m 2, 20k sessions" "$(($(kv logins "$work/g4") + $(kv checked "$work/k4")))" \
	"$(($(kv s5xx "$work/k4") + $(kv s5xx "$work/g4")))" \
	"$(kv failed "$work/g4") failed logins ($(kv s5xx "$work/g4") 5xx, login p99 $(kv p99_ms "$work/g4") ms); of $(kv checked "$work/k4") sessions read back, $(kv in "$work/k4") logged in, $(kv out "$work/k4") fresh (evicted); $(mc_stat "$m4" evictions) evictions" >>"$table"
server_stop
mc_kill "$m4"

# 5. Rolling restart: three memcached, Replicas 2; A restarted empty, B
# lost once A has rejoined. Active users are read by the load throughout;
# idle users only before and after.
echo "faults.sh: 5. rolling restart, 3 servers, Replicas 2 (about 14 s)" >&2
ports=()
for _ in 1 2 3; do
	p="$("$gen" freeport)"
	mc_start "$p"
	ports+=("$p")
done
server_start "$logs/s5.log" -memcached "127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}" -replicas 2
"$gen" login -url "$url" -n 100 -out "$work/c5" >/dev/null
"$gen" login -url "$url" -n 100 -out "$work/c5idle" >/dev/null
"$gen" load -url "$url" -cookies "$work/c5" -duration 14s -conns "$CONNS" >"$work/l5" &
load_pid=$!
sleep 1
mc_kill "${ports[0]}"
mc_start "${ports[0]}"
t_restart="$(now_ms)"
until grep -q 'rejoined' "$logs/s5.log" || (($(now_ms) - t_restart > 8000)); do
	sleep 0.05
done
t_rejoin="$(now_ms)"
sleep 2
mc_kill "${ports[1]}"
wait "$load_pid"
"$gen" check -url "$url" -cookies "$work/c5" >"$work/k5"
"$gen" check -url "$url" -cookies "$work/c5idle" >"$work/k5idle"
row "5. rolling restart, 3 servers, Replicas 2" "$work/l5" \
	"logged out: $(kv out "$work/k5") of 100 active users, $(kv out "$work/k5idle") of 100 idle ones (not read between restart and loss: not healed); rejoined $(((t_rejoin - t_restart) / 100))00 ms after the restart (DownBackoff 5 s); log lines: $(grep -c 'server down' "$logs/s5.log") down (restarted and lost server), $(grep -c 'rejoined' "$logs/s5.log") rejoined"
server_stop

out="results/faults-$stamp.txt"
{
	echo "# ginsession fault scenarios, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# machine: $(nproc) CPUs, $(go version | cut -d' ' -f3-); $("$MEMCACHED" -V); $CONNS concurrent requests, 1 in 4 a write"
	echo
	cat "$table"
} | tee "$out"
