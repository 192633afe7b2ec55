#!/usr/bin/env bash
# HTTP load test: builds cmd/server, starts memcached, and for each library
# runs wrk against the /read and /write routes of a real server on
# 127.0.0.1, replaying session cookies obtained from /login with curl.
# Prints requests/s and latency percentiles; raw wrk output goes to
# _bench/results/. Everything started here is stopped on exit.
#
#   bash _bench/load.sh
#   DURATION=5s CONNS=64 LIBS="ginsession gincontrib" bash _bench/load.sh
#
# Environment:
#   LIBS      contenders, default "floor ginsession gincontrib"
#   ROUTES    routes, default "read write" (also: new, untouched)
#   DURATION  wrk -d per run, default 10s
#   THREADS   wrk -t, default 2
#   CONNS     wrk -c, default 32
#   SESSIONS  distinct sessions (cookies) the connections rotate over, default 64
#   MAXIDLE   gomemcache MaxIdleConns of every contender, default 64
#   MEMCACHED_ADDR  use this memcached instead of starting one
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

LIBS="${LIBS:-floor ginsession gincontrib}"
ROUTES="${ROUTES:-read write}"
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
SESSIONS="${SESSIONS:-64}"
MAXIDLE="${MAXIDLE:-64}"

for tool in wrk curl; do
	command -v "$tool" >/dev/null || {
		echo "load.sh: $tool not found (apt-get install $tool)" >&2
		exit 1
	}
done

mkdir -p results
stamp="$(date +%Y%m%d-%H%M%S)"
out="results/load-$stamp.txt"
work="$(mktemp -d)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

wait_port() { # port
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "load.sh: nothing listening on 127.0.0.1:$1" >&2
	return 1
}

echo "load.sh: building cmd/server"
go build -o "$work/server" ./cmd/server

if [[ -z "${MEMCACHED_ADDR:-}" ]]; then
	[[ -x /usr/bin/memcached ]] || {
		echo "load.sh: /usr/bin/memcached not found (apt-get install memcached) and MEMCACHED_ADDR unset" >&2
		exit 1
	}
	mport="$(free_port)"
	user=()
	[[ "$(id -u)" == 0 ]] && user=(-u nobody)
	/usr/bin/memcached -l 127.0.0.1 -p "$mport" -U 0 -t 2 -m 1024 "${user[@]}" &
	pids+=($!)
	wait_port "$mport"
	MEMCACHED_ADDR="127.0.0.1:$mport"
fi

{
	echo "# ginsession load test, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3-)"
	echo "# memcached: $(/usr/bin/memcached -V 2>/dev/null || echo unknown) at $MEMCACHED_ADDR; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "# wrk -t$THREADS -c$CONNS -d$DURATION --latency, $SESSIONS sessions rotated per thread; MaxIdleConns $MAXIDLE"
	echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"

summary="$work/summary"
printf '| lib | route | requests/s | p50 | p90 | p99 | non-2xx | errors |\n|---|---|---:|---:|---:|---:|---:|---:|\n' >"$summary"

for lib in $LIBS; do
	port="$(free_port)"
	"$work/server" -lib "$lib" -addr "127.0.0.1:$port" -memcached "$MEMCACHED_ADDR" -maxidle "$MAXIDLE" 2>>"$work/server.log" &
	spid=$!
	pids+=("$spid")
	wait_port "$port"
	base="http://127.0.0.1:$port"

	# Sessions created through /login, one cookie each.
	lua="$work/$lib.lua"
	{
		echo "local cookies = {"
		for _ in $(seq "$SESSIONS"); do
			c="$(curl -sS -o /dev/null -D - "$base/login" | tr -d '\r' |
				sed -n 's/^[Ss]et-[Cc]ookie: \(session_id=[^;]*\).*/\1/p' | head -1)"
			[[ -n "$c" ]] || {
				echo "load.sh: $lib /login sent no session cookie" >&2
				exit 1
			}
			echo "  \"$c\","
		done
		echo "}"
		cat <<'EOF'
local n = 0
function setup(thread)
  thread:set("tid", n)
  n = n + 1
end
function init(args)
  i = (tid or 0) * 7919
end
function request()
  i = i + 1
  return wrk.format(nil, nil, { ["Cookie"] = cookies[(i % #cookies) + 1] })
end
EOF
	} >"$lua"

	for route in $ROUTES; do
		echo "load.sh: $lib /$route: wrk -t$THREADS -c$CONNS -d$DURATION" >&2
		res="$work/$lib-$route.txt"
		wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 5s --latency -s "$lua" "$base/$route" >"$res"
		{
			echo
			echo "## $lib /$route"
			cat "$res"
		} >>"$out"
		rps="$(awk '/^Requests\/sec:/ {print $2}' "$res")"
		p50="$(awk '$1 == "50%" {print $2}' "$res")"
		p90="$(awk '$1 == "90%" {print $2}' "$res")"
		p99="$(awk '$1 == "99%" {print $2}' "$res")"
		non2xx="$(awk '/Non-2xx/ {print $NF}' "$res")"
		errs="$(awk '/Socket errors/ {print $0}' "$res" | sed 's/.*Socket errors: //')"
		printf '| %s | /%s | %s | %s | %s | %s | %s | %s |\n' "$lib" "$route" "$rps" "$p50" "$p90" "$p99" "${non2xx:-0}" "${errs:-0}" >>"$summary"
	done

	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
done

echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
{
	echo
	echo "## summary"
	cat "$summary"
} >>"$out"
echo
cat "$summary"
echo
echo "raw wrk output: $here/$out"
